/* cuda_batchnorm.cu: BatchNorm1d over the batch dim of inp[N,C] (N samples, C features), as
 * PyTorch: training normalises with the biased batch variance and moves the running variance
 * towards the unbiased one. One block per 32 adjacent columns walks all N rows: statistics in
 * double, reduced in shared memory in a fixed order, then the same block writes its columns.
 * N is a batch (heads only), so a block's serial share of rows stays small. */
#include "cuda_common.h"
#include "cuda_ops.h"

/* The total of v over the COL_TY threads of this thread's column, summed in the same order by
 * every thread, which all receive it. Every thread of the block must call. */
static __device__ double bn_column_sum(double v)
{
    __shared__ double red[COL_TY][COL_TX];
    double s = 0.0;

    red[threadIdx.y][threadIdx.x] = v;
    __syncthreads();
    for (int y = 0; y < COL_TY; y++)
        s += red[y][threadIdx.x];
    __syncthreads(); /* red is reused by the next call */
    return s;
}


/* Batch mean and biased variance of column c (two passes, in double); c < C on entry or not,
 * so every thread reaches the shared reductions. */
static __device__ void bn_column_stats(double *mu, double *var, const float *inp, int N, int C,
                                       int c)
{
    double acc = 0.0;

    if (c < C)
        for (int n = threadIdx.y; n < N; n += COL_TY)
            acc += inp[(size_t)n * C + c];
    *mu = bn_column_sum(acc) / N;

    acc = 0.0;
    if (c < C) {
        for (int n = threadIdx.y; n < N; n += COL_TY) {
            double d = inp[(size_t)n * C + c] - *mu;
            acc += d * d;
        }
    }
    *var = bn_column_sum(acc) / N;
}


/* See cuda_batchnorm_forward. Block (COL_TX, COL_TY) over columns blockIdx.x*COL_TX... */
__global__ static void batchnorm_forward_kernel(float *out, float *mean, float *rstd,
                                                float *run_mean, float *run_var,
                                                const float *inp, const float *w,
                                                const float *b, int N, int C, float eps,
                                                float momentum, int train)
{
    __shared__ float sm[COL_TX], ss[COL_TX];
    int c = blockIdx.x * COL_TX + threadIdx.x;
    double mu = 0.0, var = 0.0;

    if (train)
        bn_column_stats(&mu, &var, inp, N, C, c);

    if (threadIdx.y == 0 && c < C) {
        float fm, fs;
        if (train) {
            double unbiased = var * N / (N - 1);
            fm = (float)mu;
            fs = (float)(1.0 / sqrt(var + eps));
            if (run_mean != NULL)
                run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * fm;
            if (run_var != NULL)
                run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * unbiased);
        } else {
            fm = run_mean[c];
            fs = (float)(1.0 / sqrt((double)run_var[c] + eps));
        }
        if (mean != NULL)
            mean[c] = fm;
        if (rstd != NULL)
            rstd[c] = fs;
        sm[threadIdx.x] = fm;
        ss[threadIdx.x] = fs;
    }
    __syncthreads();

    if (c >= C)
        return;
    for (int n = threadIdx.y; n < N; n += COL_TY) {
        float y = (inp[(size_t)n * C + c] - sm[threadIdx.x]) * ss[threadIdx.x];
        out[(size_t)n * C + c] = (w ? y * w[c] : y) + (b ? b[c] : 0.0f);
    }
}


/* out[N,C] = (inp - mean) * rstd * w + b; train != 0 uses and saves batch statistics in
 * mean[C], rstd[C] and updates run_mean/run_var (either may be NULL: not tracked);
 * train == 0 normalises with the running statistics, updates nothing, and (when mean and
 * rstd are not NULL) stores the statistics it used there. w and b may be NULL. */
void cuda_batchnorm_forward(float *out, float *mean, float *rstd, float *run_mean,
                            float *run_var, const float *inp, const float *w, const float *b,
                            int N, int C, float eps, float momentum, int train)
{
    HASSERT(!train || N > 1); /* PyTorch refuses too: one sample has no variance */
    HASSERT(train || (run_mean != NULL && run_var != NULL));
    if (C <= 0)
        return;

    batchnorm_forward_kernel<<<(C + COL_TX - 1) / COL_TX, dim3(COL_TX, COL_TY)>>>(
        out, mean, rstd, run_mean, run_var, inp, w, b, N, C, eps, momentum, train);
    CHECK_LAUNCH();
}


/* See cuda_batchnorm_backward. Block (COL_TX, COL_TY) over columns blockIdx.x*COL_TX... */
__global__ static void batchnorm_backward_kernel(float *dinp, float *dw, float *db,
                                                 const float *dout, const float *inp,
                                                 const float *w, const float *mean,
                                                 const float *rstd, int N, int C)
{
    int c = blockIdx.x * COL_TX + threadIdx.x;
    double sb = 0.0, sw = 0.0;
    float gm, gn;

    if (c < C) {
        for (int n = threadIdx.y; n < N; n += COL_TY) {
            float dy = dout[(size_t)n * C + c];
            sb += dy;
            sw += dy * (inp[(size_t)n * C + c] - mean[c]) * rstd[c];
        }
    }
    sb = bn_column_sum(sb);
    sw = bn_column_sum(sw);
    if (c >= C)
        return;

    if (threadIdx.y == 0) {
        if (dw != NULL)
            dw[c] += (float)sw;
        if (db != NULL)
            db[c] += (float)sb;
    }
    if (dinp == NULL)
        return;

    gm = (float)(sb / N);
    gn = (float)(sw / N);
    for (int n = threadIdx.y; n < N; n += COL_TY) {
        size_t i = (size_t)n * C + c;
        float nrm = (inp[i] - mean[c]) * rstd[c];
        float g = rstd[c] * (w ? w[c] : 1.0f);
        dinp[i] += g * (dout[i] - gm - nrm * gn);
    }
}


/* Backward of the train-mode forward, y = norm * w + b with norm = (x - mean) * rstd and
 * mean, var functions of the whole column. Per column, with Sb = sum_n dout and
 * Sw = sum_n dout * norm:
 *   dinp += rstd * w * (dout - Sb / N - norm * Sw / N);  dw += Sw;  db += Sb. */
void cuda_batchnorm_backward(float *dinp, float *dw, float *db, const float *dout,
                             const float *inp, const float *w, const float *mean,
                             const float *rstd, int N, int C)
{
    if (C <= 0 || N <= 0)
        return;

    batchnorm_backward_kernel<<<(C + COL_TX - 1) / COL_TX, dim3(COL_TX, COL_TY)>>>(
        dinp, dw, db, dout, inp, w, mean, rstd, N, C);
    CHECK_LAUNCH();
}
