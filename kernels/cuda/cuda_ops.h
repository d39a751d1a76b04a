/* cuda_ops.h: the CUDA backend's host functions, one per member of struct Backend (backend.h
 * holds each contract), and the helpers the kernel files share. Pointers are device memory
 * with the shapes named in backend.h; every function enqueues on the one (default) stream. */
#ifndef HASTEN_CUDA_OPS_H
#define HASTEN_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

/* cuda_memory.cu */
void *cuda_alloc(size_t bytes);
void cuda_free(void *p);
void cuda_upload(void *dst, const void *host_src, size_t bytes);
void cuda_download(void *host_dst, const void *src, size_t bytes);
void cuda_copy(void *dst, const void *src, size_t bytes);
void cuda_zero(void *p, size_t bytes);
void cuda_sync(void);

/* cuda_matmul.cu */
void cuda_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);
void cuda_matmul_forward(float *out, const float *inp, const float *w, const float *b,
                         int N, int IC, int OC);
void cuda_matmul_backward(float *dinp, float *dw, float *db, const float *dout,
                          const float *inp, const float *w, int N, int IC, int OC);
/* Row-major C[i] = alpha op(A[i]) op(B[i]) + beta C[i] for i < batch, the matrices of batch
 * entry i starting sA, sB, sC floats after those of entry i-1. */
void cuda_gemm_strided(int transA, int transB, int M, int N, int K, float alpha,
                       const float *A, int lda, long long sA, const float *B, int ldb,
                       long long sB, float beta, float *C, int ldc, long long sC, int batch);

/* cuda_reduce.cu */
void cuda_colsum(float *out, const float *x, int N, int K, int accumulate);
void cuda_sum_rows(float *out, const float *x, int N, int K);
double cuda_sumsq(const float *x, size_t n);
int cuda_all_finite(const float *x, size_t n);

/* cuda_elementwise.cu */
void cuda_add(float *out, const float *a, const float *b, size_t n);
void cuda_accumulate(float *dst, const float *src, size_t n);
void cuda_scale(float *x, float s, size_t n);
void cuda_axpby(float *y, float a, const float *x, float b, size_t n);

/* cuda_activations.cu */
void cuda_gelu_forward(float *out, const float *inp, size_t n);
void cuda_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void cuda_relu_forward(float *out, const float *inp, size_t n);
void cuda_relu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* cuda_layernorm.cu */
void cuda_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                            const float *w, const float *b, int N, int C, float eps);
void cuda_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                             const float *inp, const float *w, const float *mean,
                             const float *rstd, int N, int C);

/* cuda_batchnorm.cu */
void cuda_batchnorm_forward(float *out, float *mean, float *rstd, float *run_mean,
                            float *run_var, const float *inp, const float *w, const float *b,
                            int N, int C, float eps, float momentum, int train);
void cuda_batchnorm_backward(float *dinp, float *dw, float *db, const float *dout,
                             const float *inp, const float *w, const float *mean,
                             const float *rstd, int N, int C);

/* cuda_rownorms.cu */
void cuda_l2norm_forward(float *out, float *norm, const float *inp, int N, int C, float eps);
void cuda_l2norm_backward(float *dinp, const float *dout, const float *inp,
                          const float *norm, int N, int C, float eps);
void cuda_weightnorm_forward(float *w, float *vnorm, const float *v, const float *g,
                             int OC, int IC);
void cuda_weightnorm_backward(float *dv, float *dg, const float *dw, const float *v,
                              const float *g, const float *vnorm, int OC, int IC);

/* cuda_attention.cu */
void cuda_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
void cuda_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                             const float *att, int B, int T, int C, int NH);

/* cuda_tokens.cu */
void cuda_patchify(float *out, const float *img, const int32_t *idx,
                   int B, int CH, int G, int P, int TK);
void cuda_tokens_forward(float *x, const float *emb, const float *cls, const float *pos,
                         const int32_t *idx, int B, int TK, int NP, int C);
void cuda_tokens_backward(float *demb, float *dcls, float *dpos, const float *dx,
                          const int32_t *idx, int B, int TK, int NP, int C);
void cuda_select_row(float *out, const float *x, int B, int T, int C, int row);
void cuda_select_row_backward(float *dx, const float *dout, int B, int T, int C, int row);

/* cuda_xent.cu */
void cuda_xent_rows(float *loss, float *dlogits, const float *logits, const float *target,
                    int N, int K, int shift, int mask_self, float scale, float gscale);
void cuda_softmax_rows(float *out, const float *inp, const float *center, int N, int K,
                       float inv_temp);

/* cuda_optim.cu */
void cuda_adamw_step(float *p, float *m, float *v, const float *g, const float *decay,
                     size_t n, float lr, float b1, float b2, float eps, float wd, int t);
void cuda_ema_update(float *target, const float *online, size_t n, float mom);

#endif
