/* cpu_activations.c: GELU (exact erf form, as nn.GELU()) and ReLU over n floats, any shape.
 * The erf and exp are cpu_mathfn.h's vectorisable ones: libm's calls would keep these loops
 * scalar, and the MLP's GELU runs on B*T*F elements per block. */
#include "cpu_ops.h"
#include "cpu_mathfn.h"

#define GELU_RSQRT2 0.70710678118654752f
#define GELU_RSQRT2PI 0.39894228040143268f

/* out = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 the standard normal CDF. */
void cpu_gelu_forward(float *out, const float *inp, size_t n)
{
    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + cpu_erff(x * GELU_RSQRT2));
    }
}


/* d/dx [x Phi(x)] = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi); dinp += dout * it.
 * With z = x / sqrt 2, exp(-z^2) is both phi's exponential and the one erf(z) needs. */
void cpu_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], z = x * GELU_RSQRT2;
        float e = cpu_expf(-z * z);
        float cdf = 0.5f * (1.0f + cpu_erff_given_exp(z, e));
        float pdf = GELU_RSQRT2PI * e;
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}


/* Written as "x < 0 ? 0 : x" so a NaN passes through, as in PyTorch, for all_finite to catch. */
void cpu_relu_forward(float *out, const float *inp, size_t n)
{
    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
}


/* The derivative at exactly 0 is taken as 0, as PyTorch does. */
void cpu_relu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
}
