/* cuda_matmul.cu: every matrix product of the CUDA backend goes through cuBLAS. cuBLAS is
 * column-major, and a row-major X[r,c] with row stride ld is, read column-major, X^T with
 * leading dimension ld; so row-major C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T:
 * the operands swap places and M, N swap, with each transpose flag kept as it is.
 * Linear layers: inp[N,IC], w[OC,IC] (PyTorch layout), b[OC], out[N,OC] = inp @ w^T + b. */
#include "cuda_common.h"
#include "cuda_ops.h"

/* The bias pass: 128 threads divide the usual widths (384, 768, 1152, 1536) evenly; up to
 * 2048 blocks down the rows leave each thread a few dozen rows of a long batch. */
#define BIAS_THREADS 128
#define BIAS_ROW_BLOCKS 2048


static cublasOperation_t cuda_op(int trans)
{
    return trans ? CUBLAS_OP_T : CUBLAS_OP_N;
}


void cuda_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc)
{
    CHECK_CUBLAS(cublasSgemm(cuda_cublas, cuda_op(transB), cuda_op(transA), N, M, K,
                             &alpha, B, ldb, A, lda, &beta, C, ldc));
}


/* The same swap for `batch` products at once; entry i's matrices start i*sA, i*sB, i*sC
 * floats after entry 0's. */
void cuda_gemm_strided(int transA, int transB, int M, int N, int K, float alpha,
                       const float *A, int lda, long long sA, const float *B, int ldb,
                       long long sB, float beta, float *C, int ldc, long long sC, int batch)
{
    CHECK_CUBLAS(cublasSgemmStridedBatched(cuda_cublas, cuda_op(transB), cuda_op(transA),
                                           N, M, K, &alpha, B, ldb, sB, A, lda, sA,
                                           &beta, C, ldc, sC, batch));
}


/* out[N,OC] += b[OC] on every row. A thread keeps one column's bias and walks rows
 * blockIdx.y, blockIdx.y + gridDim.y, ...: no 64-bit division per element. */
__global__ static void add_bias_kernel(float *out, const float *b, int N, int OC)
{
    int k = blockIdx.x * blockDim.x + threadIdx.x;
    float bk;

    if (k >= OC)
        return;
    bk = b[k];
    for (int n = blockIdx.y; n < N; n += gridDim.y)
        out[(size_t)n * OC + k] += bk;
}


/* out[N,OC] = inp[N,IC] @ w[OC,IC]^T + b[OC]: the product, then a second pass adds the bias,
 * the same one addition per element as the CPU's (bias written first, sgemm with beta = 1). */
void cuda_matmul_forward(float *out, const float *inp, const float *w, const float *b,
                         int N, int IC, int OC)
{
    size_t n = (size_t)N * OC;

    if (n == 0)
        return;
    cuda_gemm(0, 1, N, OC, IC, 1.0f, inp, IC, w, IC, 0.0f, out, OC);

    if (b != NULL) {
        dim3 grid((OC + BIAS_THREADS - 1) / BIAS_THREADS,
                  N < BIAS_ROW_BLOCKS ? N : BIAS_ROW_BLOCKS);
        add_bias_kernel<<<grid, BIAS_THREADS>>>(out, b, N, OC);
        CHECK_LAUNCH();
    }
}


/* Backward of out = inp @ w^T + b, adding into each gradient that is not NULL (beta = 1):
 * dinp[N,IC] += dout[N,OC] @ w[OC,IC]; dw[OC,IC] += dout^T @ inp; db[OC] += sum_n dout[n,:]. */
void cuda_matmul_backward(float *dinp, float *dw, float *db, const float *dout,
                          const float *inp, const float *w, int N, int IC, int OC)
{
    if (dinp != NULL)
        cuda_gemm(0, 0, N, IC, OC, 1.0f, dout, OC, w, IC, 1.0f, dinp, IC);

    if (dw != NULL)
        cuda_gemm(1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);

    if (db != NULL)
        cuda_colsum(db, dout, N, OC, 1);
}
