/* cuda_reduce.cu: reductions in double: column sums of x[N,K], sums of squares, finiteness.
 * No atomics: each block writes its partial sum and a second kernel adds the partials in a
 * fixed order, so for given sizes the result is the same on every run. */
#include "cuda_common.h"
#include "cuda_ops.h"

#define SUMSQ_BLOCKS 1024


/* part[r,k] = sum of x[n,k] over the rows n of chunk r (rows_per rows), in double.
 * Block (COL_TX, COL_TY) over columns blockIdx.x*COL_TX.., chunk blockIdx.y. */
__global__ static void colsum_partial_kernel(double *part, const float *x, int N, int K,
                                             int rows_per)
{
    __shared__ double red[COL_TY][COL_TX];
    int k = blockIdx.x * COL_TX + threadIdx.x;
    int n0 = blockIdx.y * rows_per, n1 = min(n0 + rows_per, N);
    double acc = 0.0;

    if (k < K)
        for (int n = n0 + threadIdx.y; n < n1; n += COL_TY)
            acc += x[(size_t)n * K + k];
    red[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();

    if (threadIdx.y == 0 && k < K) {
        for (int y = 1; y < COL_TY; y++)
            acc += red[y][threadIdx.x];
        part[(size_t)blockIdx.y * K + k] = acc;
    }
}


/* out[k] (+)= sum_r part[r,k], chunks in order. */
__global__ static void colsum_finish_kernel(float *out, const double *part, int R, int K,
                                            int accumulate)
{
    int k = blockIdx.x * blockDim.x + threadIdx.x;
    double s;

    if (k >= K)
        return;
    s = accumulate ? (double)out[k] : 0.0;
    for (int r = 0; r < R; r++)
        s += part[(size_t)r * K + k];
    out[k] = (float)s;
}


/* out[k] (+)= sum_n x[n,k] for x[N,K], accumulated in double; accumulate != 0 adds into out. */
void cuda_colsum(float *out, const float *x, int N, int K, int accumulate)
{
    int R = cuda_col_chunks(N), rows_per = (N + R - 1) / R;
    double *part;

    if (K <= 0)
        return;
    if (N <= 0) {
        if (!accumulate)
            cuda_zero(out, (size_t)K * sizeof(float));
        return;
    }

    part = (double *)cuda_scratch(SCRATCH_PARTIALS, (size_t)R * K * sizeof(double));
    colsum_partial_kernel<<<dim3((K + COL_TX - 1) / COL_TX, R), dim3(COL_TX, COL_TY)>>>(
        part, x, N, K, rows_per);
    CHECK_LAUNCH();
    colsum_finish_kernel<<<(K + CUDA_BLOCK - 1) / CUDA_BLOCK, CUDA_BLOCK>>>(out, part, R, K,
                                                                           accumulate);
    CHECK_LAUNCH();
}


void cuda_sum_rows(float *out, const float *x, int N, int K)
{
    cuda_colsum(out, x, N, K, 0);
}


/* part[block] = sum of x[i]^2 over the block's grid-stride share, in double. */
__global__ static void sumsq_partial_kernel(double *part, const float *x, size_t n)
{
    double acc = 0.0;

    GRID_STRIDE_LOOP(i, n)
        acc += (double)x[i] * x[i];
    acc = block_sum_double(acc);
    if (threadIdx.x == 0)
        part[blockIdx.x] = acc;
}


/* out[0] = sum of part[0..nb-1], one block. */
__global__ static void sumsq_finish_kernel(double *out, const double *part, int nb)
{
    double acc = 0.0;

    for (int i = threadIdx.x; i < nb; i += blockDim.x)
        acc += part[i];
    acc = block_sum_double(acc);
    if (threadIdx.x == 0)
        out[0] = acc;
}


/* sum_i x[i]^2 in double: gradient norms of a few million parameters lose digits in float.
 * The block count depends only on n, so the order of additions is fixed. Waits for the GPU:
 * the value returns to the host. */
double cuda_sumsq(const float *x, size_t n)
{
    unsigned nb = cuda_grid(n);
    double *part, *res, s;

    if (n == 0)
        return 0.0;
    nb = nb < SUMSQ_BLOCKS ? nb : SUMSQ_BLOCKS;
    part = (double *)cuda_scratch(SCRATCH_PARTIALS, nb * sizeof(double));
    res = (double *)cuda_scratch(SCRATCH_RESULT, sizeof(double));

    sumsq_partial_kernel<<<nb, CUDA_BLOCK>>>(part, x, n);
    CHECK_LAUNCH();
    sumsq_finish_kernel<<<1, CUDA_BLOCK>>>(res, part, (int)nb);
    CHECK_LAUNCH();
    cuda_download(&s, res, sizeof s);
    return s;
}


/* *bad = 1 when some x[i] is NaN or +-inf: an exponent field of all ones marks both. Every
 * writer stores the same value, so the race between blocks is harmless. */
__global__ static void nonfinite_kernel(int *bad, const float *x, size_t n)
{
    int found = 0;

    GRID_STRIDE_LOOP(i, n)
        found |= (__float_as_uint(x[i]) & 0x7f800000u) == 0x7f800000u;
    if (__syncthreads_or(found) && threadIdx.x == 0)
        *bad = 1;
}


/* 1 when every element is finite. Waits for the GPU: the answer returns to the host. */
int cuda_all_finite(const float *x, size_t n)
{
    int *bad, h = 0;

    if (n == 0)
        return 1;
    bad = (int *)cuda_scratch(SCRATCH_RESULT, sizeof(int));

    cuda_zero(bad, sizeof(int));
    nonfinite_kernel<<<cuda_grid(n), CUDA_BLOCK>>>(bad, x, n);
    CHECK_LAUNCH();
    cuda_download(&h, bad, sizeof h);
    return !h;
}
