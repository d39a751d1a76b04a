/* cpu_elementwise.c: flat elementwise ops over n floats (any tensor shape, row-major).
 * `omp simd` vectorises without restrict, so an aliased call (out == a) stays correct: each
 * element is read before it is written, at the same index. */
#include "cpu_ops.h"

/* out = a + b */
void cpu_add(float *out, const float *a, const float *b, size_t n)
{
    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}


/* dst += src */
void cpu_accumulate(float *dst, const float *src, size_t n)
{
    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}


/* x *= s */
void cpu_scale(float *x, float s, size_t n)
{
    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
}


/* y = a*x + b*y */
void cpu_axpby(float *y, float a, const float *x, float b, size_t n)
{
    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = a * x[i] + b * y[i];
}
