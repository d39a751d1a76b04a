/* cpu_matmul.c: every matrix product of the CPU backend goes through OpenBLAS's cblas_sgemm.
 * Linear layers: inp[N,IC], w[OC,IC] (PyTorch layout), b[OC], out[N,OC] = inp @ w^T + b. */
#include "cpu_ops.h"
#include "common.h"

#include <cblas.h>

void cpu_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}


/* out[N,OC] = inp[N,IC] @ w[OC,IC]^T + b[OC]. The bias is written first and sgemm adds onto
 * it (beta = 1), which saves a second pass over out. */
void cpu_matmul_forward(float *out, const float *inp, const float *w, const float *b,
                        int N, int IC, int OC)
{
    float beta = 0.0f;

    if (b != NULL) {
        #pragma omp parallel for if ((size_t)N * OC >= CPU_PAR_MIN) schedule(static)
        for (int n = 0; n < N; n++) {
            float *restrict o = out + (size_t)n * OC;
            #pragma omp simd
            for (int k = 0; k < OC; k++)
                o[k] = b[k];
        }
        beta = 1.0f;
    }

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC,
                1.0f, inp, IC, w, IC, beta, out, OC);
}


/* Backward of out = inp @ w^T + b, adding into each gradient that is not NULL:
 * dinp[N,IC] += dout[N,OC] @ w[OC,IC]; dw[OC,IC] += dout^T @ inp; db[OC] += sum_n dout[n,:]. */
void cpu_matmul_backward(float *dinp, float *dw, float *db, const float *dout,
                         const float *inp, const float *w, int N, int IC, int OC)
{
    if (dinp != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC,
                    1.0f, dout, OC, w, IC, 1.0f, dinp, IC);

    if (dw != NULL)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N,
                    1.0f, dout, OC, inp, IC, 1.0f, dw, IC);

    if (db != NULL)
        cpu_colsum(db, dout, N, OC, 1);
}
