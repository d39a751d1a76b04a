/* cuda_optim.cu: the parameter update and the momentum-encoder EMA, over flat parameter
 * vectors p[n] (every tensor of the model laid end to end) with moments m[n], v[n]. */
#include "cuda_common.h"
#include "cuda_ops.h"
#include "adamw_element.h"

#include <math.h>

/* One AdamW step per element; bc1, bc2 are the bias corrections 1 - b1^t, 1 - b2^t. */
__global__ static void adamw_kernel(float *p, float *m, float *v, const float *g,
                                    const float *decay, size_t n, float lr, float b1, float b2,
                                    float eps, float wd, float bc1, float bc2)
{
    GRID_STRIDE_LOOP(i, n) {
        adamw_element(p + i, m + i, v + i, g[i], decay ? decay[i] : 1.0f, lr, b1, b2, eps, wd,
                      bc1, bc2);
    }
}


/* AdamW with decoupled weight decay, for each i:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= lr * (m / (1-b1^t) / (sqrt(v / (1-b2^t)) + eps) + wd * decay[i] * p).
 * decay[i] in {0, 1}; decay NULL means every element decays. The bias corrections are
 * computed once on the host in double, as the CPU does: b2^t for t in the thousands loses
 * digits in float. */
void cuda_adamw_step(float *p, float *m, float *v, const float *g, const float *decay,
                     size_t n, float lr, float b1, float b2, float eps, float wd, int t)
{
    float bc1 = (float)(1.0 - pow((double)b1, t));
    float bc2 = (float)(1.0 - pow((double)b2, t));

    if (n == 0)
        return;
    adamw_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(p, m, v, g, decay, n, lr, b1, b2, eps, wd,
                                               bc1, bc2);
    CHECK_LAUNCH();
}


/* target = mom * target + (1 - mom) * online. */
__global__ static void ema_kernel(float *target, const float *online, size_t n, float mom)
{
    GRID_STRIDE_LOOP(i, n)
        target[i] = mom * target[i] + (1.0f - mom) * online[i];
}


void cuda_ema_update(float *target, const float *online, size_t n, float mom)
{
    if (n == 0)
        return;
    ema_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(target, online, n, mom);
    CHECK_LAUNCH();
}
