/* cpu_optim.c: the parameter update and the momentum-encoder EMA, over flat parameter
 * vectors p[n] (every tensor of the model laid end to end) with moments m[n], v[n]. */
#include "adamw_element.h"
#include "cpu_ops.h"

#include <math.h>

/* AdamW with decoupled weight decay, for each i:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= lr * (m / (1-b1^t) / (sqrt(v / (1-b2^t)) + eps) + wd * decay[i] * p).
 * decay[i] in {0, 1}; decay NULL means every element decays. The bias corrections are
 * computed once in double: b2^t for t in the thousands loses digits in float. */
void cpu_adamw_step(float *p, float *m, float *v, const float *g, const float *decay,
                    size_t n, float lr, float b1, float b2, float eps, float wd, int t)
{
    float bc1 = (float)(1.0 - pow((double)b1, t));
    float bc2 = (float)(1.0 - pow((double)b2, t));

    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        adamw_element(p + i, m + i, v + i, g[i], decay ? decay[i] : 1.0f, lr, b1, b2, eps, wd,
                      bc1, bc2);
}


/* target = mom * target + (1 - mom) * online. */
void cpu_ema_update(float *target, const float *online, size_t n, float mom)
{
    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        target[i] = mom * target[i] + (1.0f - mom) * online[i];
}
