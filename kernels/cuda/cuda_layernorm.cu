/* cuda_layernorm.cu: layer norm over the last dim of inp[N,C] (N = B*T tokens, C width), with
 * weight w[C] and bias b[C]; the forward saves mean[N] and rstd[N] = 1/sqrt(var + eps) for
 * the backward. One warp per row (lanes stride the row, warp shuffles reduce); the backward's
 * dw and db, sums down columns, are a separate column reduction without atomics. */
#include "cuda_common.h"
#include "cuda_ops.h"

/* out[n,:] = (inp[n,:] - mean) * rstd * w + b, with the biased variance as nn.LayerNorm.
 * Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2, which cancels
 * badly when |mean| >> std; the row is in L1 by the second pass. */
__global__ static void layernorm_forward_kernel(float *out, float *mean, float *rstd,
                                                const float *inp, const float *w,
                                                const float *b, int N, int C, float eps)
{
    int n = blockIdx.x * CUDA_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    const float *x = inp + (size_t)n * C;
    float *o = out + (size_t)n * C;
    float m = 0.0f, v = 0.0f, s;

    if (n >= N)
        return;
    for (int c = lane; c < C; c += 32)
        m += x[c];
    m = warp_sum(m) / (float)C;

    for (int c = lane; c < C; c += 32)
        v += (x[c] - m) * (x[c] - m);
    v = warp_sum(v);
    s = 1.0f / sqrtf(v / (float)C + eps);

    for (int c = lane; c < C; c += 32)
        o[c] = (x[c] - m) * s * w[c] + b[c];
    if (lane == 0) {
        mean[n] = m;
        rstd[n] = s;
    }
}


void cuda_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                            const float *w, const float *b, int N, int C, float eps)
{
    if (N <= 0)
        return;
    layernorm_forward_kernel<<<cuda_row_grid(N), CUDA_WARPS * 32>>>(out, mean, rstd, inp, w, b,
                                                                    N, C, eps);
    CHECK_LAUNCH();
}


/* dinp of y = norm * w + b, norm = (x - mean) * rstd, one warp per row. With dnorm = dout * w:
 *   dinp += rstd * (dnorm - mean_c(dnorm) - norm * mean_c(dnorm * norm)). */
__global__ static void layernorm_dinp_kernel(float *dinp, const float *dout, const float *inp,
                                             const float *w, const float *mean,
                                             const float *rstd, int N, int C)
{
    int n = blockIdx.x * CUDA_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    const float *x = inp + (size_t)n * C;
    const float *dy = dout + (size_t)n * C;
    float *dx = dinp + (size_t)n * C;
    float m, s, sd = 0.0f, sdn = 0.0f;

    if (n >= N)
        return;
    m = mean[n];
    s = rstd[n];
    for (int c = lane; c < C; c += 32) {
        float dn = w[c] * dy[c];
        sd += dn;
        sdn += dn * (x[c] - m) * s;
    }
    sd = warp_sum(sd) / (float)C;
    sdn = warp_sum(sdn) / (float)C;

    for (int c = lane; c < C; c += 32)
        dx[c] += s * (w[c] * dy[c] - sd - (x[c] - m) * s * sdn);
}


/* Partial column sums over the rows of chunk blockIdx.y, in double:
 * part[r,c] = sum_n dout * norm (for dw), part[R+r,c] = sum_n dout (for db), R = gridDim.y. */
__global__ static void layernorm_dwdb_partial_kernel(double *part, const float *dout,
                                                     const float *inp, const float *mean,
                                                     const float *rstd, int N, int C,
                                                     int rows_per)
{
    __shared__ double rw[COL_TY][COL_TX], rb[COL_TY][COL_TX];
    int c = blockIdx.x * COL_TX + threadIdx.x;
    int n0 = blockIdx.y * rows_per, n1 = min(n0 + rows_per, N);
    double aw = 0.0, ab = 0.0;

    if (c < C) {
        for (int n = n0 + threadIdx.y; n < n1; n += COL_TY) {
            float dy = dout[(size_t)n * C + c];
            aw += dy * (inp[(size_t)n * C + c] - mean[n]) * rstd[n];
            ab += dy;
        }
    }
    rw[threadIdx.y][threadIdx.x] = aw;
    rb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();

    if (threadIdx.y == 0 && c < C) {
        for (int y = 1; y < COL_TY; y++) {
            aw += rw[y][threadIdx.x];
            ab += rb[y][threadIdx.x];
        }
        part[(size_t)blockIdx.y * C + c] = aw;
        part[(size_t)(gridDim.y + blockIdx.y) * C + c] = ab;
    }
}


/* dw[c] += sum_r part[r,c]; db[c] += sum_r part[R+r,c]; chunks in order. */
__global__ static void layernorm_dwdb_finish_kernel(float *dw, float *db, const double *part,
                                                    int R, int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    double sw = 0.0, sb = 0.0;

    if (c >= C)
        return;
    for (int r = 0; r < R; r++) {
        sw += part[(size_t)r * C + c];
        sb += part[(size_t)(R + r) * C + c];
    }
    if (dw != NULL)
        dw[c] += (float)sw;
    if (db != NULL)
        db[c] += (float)sb;
}


/* Backward of the forward above, adding into each gradient that is not NULL:
 * dinp as layernorm_dinp_kernel; dw += sum_n dout * norm; db += sum_n dout. */
void cuda_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                             const float *inp, const float *w, const float *mean,
                             const float *rstd, int N, int C)
{
    int R = cuda_col_chunks(N), rows_per = (N + R - 1) / R;
    double *part;

    if (N <= 0 || C <= 0)
        return;

    if (dinp != NULL) {
        layernorm_dinp_kernel<<<cuda_row_grid(N), CUDA_WARPS * 32>>>(dinp, dout, inp, w, mean,
                                                                     rstd, N, C);
        CHECK_LAUNCH();
    }
    if (dw == NULL && db == NULL)
        return;

    part = (double *)cuda_scratch(SCRATCH_PARTIALS, (size_t)2 * R * C * sizeof(double));
    layernorm_dwdb_partial_kernel<<<dim3((C + COL_TX - 1) / COL_TX, R), dim3(COL_TX, COL_TY)>>>(
        part, dout, inp, mean, rstd, N, C, rows_per);
    CHECK_LAUNCH();
    layernorm_dwdb_finish_kernel<<<(C + CUDA_BLOCK - 1) / CUDA_BLOCK, CUDA_BLOCK>>>(dw, db, part,
                                                                                    R, C);
    CHECK_LAUNCH();
}
