/* cuda_activations.cu: GELU (exact erf form, as nn.GELU()) and ReLU over n floats, any shape,
 * with CUDA's erff and expf (accurate to a few ulp; no fast-math). */
#include "cuda_common.h"
#include "cuda_ops.h"

#define GELU_RSQRT2 0.70710678118654752f
#define GELU_RSQRT2PI 0.39894228040143268f


/* out = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 the standard normal CDF. */
__global__ static void gelu_forward_kernel(float *out, const float *inp, size_t n)
{
    GRID_STRIDE_LOOP(i, n) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * GELU_RSQRT2));
    }
}


/* d/dx [x Phi(x)] = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi); dinp += dout * it. */
__global__ static void gelu_backward_kernel(float *dinp, const float *inp, const float *dout,
                                            size_t n)
{
    GRID_STRIDE_LOOP(i, n) {
        float x = inp[i], z = x * GELU_RSQRT2;
        float cdf = 0.5f * (1.0f + erff(z));
        float pdf = GELU_RSQRT2PI * expf(-z * z);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}


/* Written as "x < 0 ? 0 : x" so a NaN passes through, as in PyTorch, for all_finite to catch. */
__global__ static void relu_forward_kernel(float *out, const float *inp, size_t n)
{
    GRID_STRIDE_LOOP(i, n)
        out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
}


/* The derivative at exactly 0 is taken as 0, as PyTorch does. */
__global__ static void relu_backward_kernel(float *dinp, const float *inp, const float *dout,
                                            size_t n)
{
    GRID_STRIDE_LOOP(i, n)
        dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
}


void cuda_gelu_forward(float *out, const float *inp, size_t n)
{
    if (n == 0)
        return;
    gelu_forward_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(out, inp, n);
    CHECK_LAUNCH();
}


void cuda_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
    if (n == 0 || dinp == NULL)
        return;
    gelu_backward_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(dinp, inp, dout, n);
    CHECK_LAUNCH();
}


void cuda_relu_forward(float *out, const float *inp, size_t n)
{
    if (n == 0)
        return;
    relu_forward_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(out, inp, n);
    CHECK_LAUNCH();
}


void cuda_relu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
    if (n == 0 || dinp == NULL)
        return;
    relu_backward_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(dinp, inp, dout, n);
    CHECK_LAUNCH();
}
