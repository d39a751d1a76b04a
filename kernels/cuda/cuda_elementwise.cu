/* cuda_elementwise.cu: flat elementwise ops over n floats (any tensor shape, row-major), one
 * grid-stride kernel each. Each element is read before it is written at the same index, so an
 * aliased call (out == a) is correct, as on the CPU. */
#include "cuda_common.h"
#include "cuda_ops.h"

__global__ static void add_kernel(float *out, const float *a, const float *b, size_t n)
{
    GRID_STRIDE_LOOP(i, n)
        out[i] = a[i] + b[i];
}


__global__ static void accumulate_kernel(float *dst, const float *src, size_t n)
{
    GRID_STRIDE_LOOP(i, n)
        dst[i] += src[i];
}


__global__ static void scale_kernel(float *x, float s, size_t n)
{
    GRID_STRIDE_LOOP(i, n)
        x[i] *= s;
}


__global__ static void axpby_kernel(float *y, float a, const float *x, float b, size_t n)
{
    GRID_STRIDE_LOOP(i, n)
        y[i] = a * x[i] + b * y[i];
}


/* out = a + b */
void cuda_add(float *out, const float *a, const float *b, size_t n)
{
    if (n == 0)
        return;
    add_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(out, a, b, n);
    CHECK_LAUNCH();
}


/* dst += src */
void cuda_accumulate(float *dst, const float *src, size_t n)
{
    if (n == 0)
        return;
    accumulate_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(dst, src, n);
    CHECK_LAUNCH();
}


/* x *= s */
void cuda_scale(float *x, float s, size_t n)
{
    if (n == 0)
        return;
    scale_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(x, s, n);
    CHECK_LAUNCH();
}


/* y = a*x + b*y */
void cuda_axpby(float *y, float a, const float *x, float b, size_t n)
{
    if (n == 0)
        return;
    axpby_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(y, a, x, b, n);
    CHECK_LAUNCH();
}
