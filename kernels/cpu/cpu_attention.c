/* cpu_attention.c: multi-head self-attention without a mask. qkv[B,T,3C] holds q, k, v side
 * by side; head h reads columns h*hs..h*hs+hs-1 of each, so its Q, K, V are [T,hs] matrices
 * with row stride 3C that sgemm reads in place. att[B,NH,T,T] keeps the probabilities. */
#include "cpu_ops.h"
#include "cpu_mathfn.h"
#include "common.h"

#include <cblas.h>
#include <math.h>

/* Row-wise softmax of s[T,T] in place. The row max is subtracted before exp so no exp can
 * overflow, whatever the scores. */
static void softmax_rows(float *s, int T)
{
    for (int i = 0; i < T; i++) {
        float *restrict row = s + (size_t)i * T;
        float mx = row[0], sum = 0.0f, inv;

        #pragma omp simd reduction(max:mx)
        for (int j = 0; j < T; j++)
            mx = row[j] > mx ? row[j] : mx;

        #pragma omp simd reduction(+:sum)
        for (int j = 0; j < T; j++) {
            row[j] = cpu_expf(row[j] - mx);
            sum += row[j];
        }
        inv = 1.0f / sum;

        #pragma omp simd
        for (int j = 0; j < T; j++)
            row[j] *= inv;
    }
}


/* out[B,T,C], att[B,NH,T,T], qkv[B,T,3C]. Per (b, h): P = softmax(Q K^T / sqrt(hs)),
 * out_h = P V. The (b, h) pairs are the parallel loop; OpenBLAS's OpenMP build runs each
 * sgemm on the calling thread inside the region, so there is one level of threads. */
void cpu_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);

    HASSERT(C % NH == 0);

    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hs;
            const float *k = q + C;
            const float *v = q + 2 * C;
            float *p = att + ((size_t)b * NH + h) * T * T;
            float *o = out + (size_t)b * T * C + (size_t)h * hs;

            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs,
                        scale, q, C3, k, C3, 0.0f, p, T);
            softmax_rows(p, T);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T,
                        1.0f, p, T, v, C3, 0.0f, o, C);
        }
    }
}


/* dS = P * (dP - rowsum(dP * P)), the softmax backward, in place over dP[T,T]. */
static void softmax_rows_backward(float *dp, const float *p, int T)
{
    for (int i = 0; i < T; i++) {
        float *restrict d = dp + (size_t)i * T;
        const float *restrict pr = p + (size_t)i * T;
        float dot = 0.0f;

        #pragma omp simd reduction(+:dot)
        for (int j = 0; j < T; j++)
            dot += d[j] * pr[j];

        #pragma omp simd
        for (int j = 0; j < T; j++)
            d[j] = pr[j] * (d[j] - dot);
    }
}


/* Backward of the forward above, adding into dqkv[B,T,3C]; scratch[B,NH,T,T] holds dP, then
 * dS. With S = scale Q K^T, P = softmax(S), out = P V:
 *   dP = dout V^T;  dS = P * (dP - rowsum(dP * P));
 *   dQ += scale dS K;  dK += scale dS^T Q;  dV += P^T dout. */
void cpu_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                            const float *att, int B, int T, int C, int NH)
{
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);

    HASSERT(C % NH == 0);

    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            size_t off = (size_t)b * T * C3 + (size_t)h * hs;
            const float *q = qkv + off, *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
            const float *p = att + ((size_t)b * NH + h) * T * T;
            float *ds = scratch + ((size_t)b * NH + h) * T * T;
            const float *dout_h = dout + (size_t)b * T * C + (size_t)h * hs;

            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs,
                        1.0f, dout_h, C, v, C3, 0.0f, ds, T);
            softmax_rows_backward(ds, p, T);

            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T,
                        scale, ds, T, k, C3, 1.0f, dq, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T,
                        scale, ds, T, q, C3, 1.0f, dk, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T,
                        1.0f, p, T, dout_h, C, 1.0f, dv, C3);
        }
    }
}
