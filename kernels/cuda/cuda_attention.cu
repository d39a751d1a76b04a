/* cuda_attention.cu: multi-head self-attention without a mask. qkv[B,T,3C] holds q, k, v side
 * by side; head h reads columns h*hs..h*hs+hs-1 of each, so for a fixed h its Q, K, V in batch
 * entry b are [T,hs] matrices with row stride 3C, one batch entry T*3C floats after the last.
 * cuBLAS reads them in place: one strided-batched product over the B entries per head (NH
 * calls per product), with no permuted copy of qkv. att[B,NH,T,T] keeps the probabilities;
 * head h's [T,T] blocks are NH*T*T floats apart. */
#include "cuda_common.h"
#include "cuda_ops.h"

/* Row-wise softmax of s[rows,T] in place, one warp per row. The row max is subtracted before
 * exp so no exp can overflow, whatever the scores. */
__global__ static void softmax_rows_kernel(float *s, int rows, int T)
{
    int r = blockIdx.x * CUDA_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    float *row = s + (size_t)r * T;
    float mx, sum = 0.0f, inv;

    if (r >= rows)
        return;
    mx = row[0];
    for (int j = lane; j < T; j += 32)
        mx = row[j] > mx ? row[j] : mx;
    mx = warp_max(mx);

    for (int j = lane; j < T; j += 32) {
        float e = expf(row[j] - mx);
        row[j] = e;
        sum += e;
    }
    inv = 1.0f / warp_sum(sum);

    for (int j = lane; j < T; j += 32)
        row[j] *= inv;
}


/* dS = P * (dP - rowsum(dP * P)), the softmax backward, in place over dp[rows,T]. */
__global__ static void softmax_rows_backward_kernel(float *dp, const float *p, int rows, int T)
{
    int r = blockIdx.x * CUDA_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    float *d = dp + (size_t)r * T;
    const float *pr = p + (size_t)r * T;
    float dot = 0.0f;

    if (r >= rows)
        return;
    for (int j = lane; j < T; j += 32)
        dot += d[j] * pr[j];
    dot = warp_sum(dot);

    for (int j = lane; j < T; j += 32)
        d[j] = pr[j] * (d[j] - dot);
}


/* out[B,T,C], att[B,NH,T,T], qkv[B,T,3C]. Per (b, h): P = softmax(Q K^T / sqrt(hs)),
 * out_h = P V. The scale rides on the first product's alpha, as on the CPU. */
void cuda_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C, rows = B * NH * T;
    float scale = 1.0f / sqrtf((float)hs);
    long long s_qkv = (long long)T * C3, s_att = (long long)NH * T * T, s_out = (long long)T * C;

    HASSERT(C % NH == 0);
    if (rows <= 0)
        return;

    for (int h = 0; h < NH; h++) {
        const float *q = qkv + (size_t)h * hs, *k = q + C;
        cuda_gemm_strided(0, 1, T, T, hs, scale, q, C3, s_qkv, k, C3, s_qkv,
                          0.0f, att + (size_t)h * T * T, T, s_att, B);
    }

    softmax_rows_kernel<<<cuda_row_grid(rows), CUDA_WARPS * 32>>>(att, rows, T);
    CHECK_LAUNCH();

    for (int h = 0; h < NH; h++) {
        const float *v = qkv + (size_t)h * hs + 2 * C;
        cuda_gemm_strided(0, 0, T, hs, T, 1.0f, att + (size_t)h * T * T, T, s_att, v, C3, s_qkv,
                          0.0f, out + (size_t)h * hs, C, s_out, B);
    }
}


/* Backward of the forward above, adding into dqkv[B,T,3C]; scratch[B,NH,T,T] holds dP, then
 * dS. With S = scale Q K^T, P = softmax(S), out = P V:
 *   dP = dout V^T;  dS = P * (dP - rowsum(dP * P));
 *   dQ += scale dS K;  dK += scale dS^T Q;  dV += P^T dout.
 * The three products of a head write disjoint columns of dqkv, and beta = 1 adds. */
void cuda_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                             const float *att, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C, rows = B * NH * T;
    float scale = 1.0f / sqrtf((float)hs);
    long long s_qkv = (long long)T * C3, s_att = (long long)NH * T * T, s_out = (long long)T * C;

    HASSERT(C % NH == 0);
    if (rows <= 0 || dqkv == NULL)
        return;

    for (int h = 0; h < NH; h++) {
        const float *v = qkv + (size_t)h * hs + 2 * C;
        cuda_gemm_strided(0, 1, T, T, hs, 1.0f, dout + (size_t)h * hs, C, s_out, v, C3, s_qkv,
                          0.0f, scratch + (size_t)h * T * T, T, s_att, B);
    }

    softmax_rows_backward_kernel<<<cuda_row_grid(rows), CUDA_WARPS * 32>>>(scratch, att, rows,
                                                                           T);
    CHECK_LAUNCH();

    for (int h = 0; h < NH; h++) {
        size_t off = (size_t)h * hs;
        const float *q = qkv + off, *k = q + C;
        const float *ds = scratch + (size_t)h * T * T, *p = att + (size_t)h * T * T;
        float *dq = dqkv + off, *dk = dq + C, *dv = dq + 2 * C;

        cuda_gemm_strided(0, 0, T, hs, T, scale, ds, T, s_att, k, C3, s_qkv,
                          1.0f, dq, C3, s_qkv, B);
        cuda_gemm_strided(1, 0, T, hs, T, scale, ds, T, s_att, q, C3, s_qkv,
                          1.0f, dk, C3, s_qkv, B);
        cuda_gemm_strided(1, 0, T, hs, T, 1.0f, p, T, s_att, dout + off, C, s_out,
                          1.0f, dv, C3, s_qkv, B);
    }
}
