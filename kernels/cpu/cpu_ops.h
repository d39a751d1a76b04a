/* cpu_ops.h: the CPU backend's kernels, one per member of struct Backend (backend.h holds each
 * contract), and the helpers the kernel files share. Tensors are float32 row-major host arrays
 * with the shapes named in backend.h. */
#ifndef HASTEN_CPU_OPS_H
#define HASTEN_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Below this many elements an OpenMP fork costs more than the loop it would split. Written
 * as `if (parallel: ...)` on `parallel for simd`: a bare `if` also applies to the simd part
 * (OpenMP 5.0) and a false one turns vectorisation off, 12x slower on GELU. */
#define CPU_PAR_MIN 32768

/* cpu_memory.c */
void *cpu_alloc(size_t bytes);
void cpu_free(void *p);
void cpu_upload(void *dst, const void *host_src, size_t bytes);
void cpu_download(void *host_dst, const void *src, size_t bytes);
void cpu_copy(void *dst, const void *src, size_t bytes);
void cpu_zero(void *p, size_t bytes);
void cpu_sync(void);

/* cpu_matmul.c */
void cpu_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void cpu_matmul_forward(float *out, const float *inp, const float *w, const float *b,
                        int N, int IC, int OC);
void cpu_matmul_backward(float *dinp, float *dw, float *db, const float *dout,
                         const float *inp, const float *w, int N, int IC, int OC);

/* cpu_reduce.c */
void cpu_colsum(float *out, const float *x, int N, int K, int accumulate);
void cpu_sum_rows(float *out, const float *x, int N, int K);
double cpu_sumsq(const float *x, size_t n);
int cpu_all_finite(const float *x, size_t n);

/* cpu_elementwise.c */
void cpu_add(float *out, const float *a, const float *b, size_t n);
void cpu_accumulate(float *dst, const float *src, size_t n);
void cpu_scale(float *x, float s, size_t n);
void cpu_axpby(float *y, float a, const float *x, float b, size_t n);

/* cpu_activations.c */
void cpu_gelu_forward(float *out, const float *inp, size_t n);
void cpu_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void cpu_relu_forward(float *out, const float *inp, size_t n);
void cpu_relu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* cpu_layernorm.c */
void cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                           const float *w, const float *b, int N, int C, float eps);
void cpu_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, const float *mean,
                            const float *rstd, int N, int C);

/* cpu_batchnorm.c */
void cpu_batchnorm_forward(float *out, float *mean, float *rstd, float *run_mean,
                           float *run_var, const float *inp, const float *w, const float *b,
                           int N, int C, float eps, float momentum, int train);
void cpu_batchnorm_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, const float *mean,
                            const float *rstd, int N, int C);

/* cpu_rownorms.c */
void cpu_l2norm_forward(float *out, float *norm, const float *inp, int N, int C, float eps);
void cpu_l2norm_backward(float *dinp, const float *dout, const float *inp,
                         const float *norm, int N, int C, float eps);
void cpu_weightnorm_forward(float *w, float *vnorm, const float *v, const float *g,
                            int OC, int IC);
void cpu_weightnorm_backward(float *dv, float *dg, const float *dw, const float *v,
                             const float *g, const float *vnorm, int OC, int IC);

/* cpu_attention.c */
void cpu_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
void cpu_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                            const float *att, int B, int T, int C, int NH);

/* cpu_tokens.c */
void cpu_patchify(float *out, const float *img, const int32_t *idx,
                  int B, int CH, int G, int P, int TK);
void cpu_tokens_forward(float *x, const float *emb, const float *cls, const float *pos,
                        const int32_t *idx, int B, int TK, int NP, int C);
void cpu_tokens_backward(float *demb, float *dcls, float *dpos, const float *dx,
                         const int32_t *idx, int B, int TK, int NP, int C);
void cpu_select_row(float *out, const float *x, int B, int T, int C, int row);
void cpu_select_row_backward(float *dx, const float *dout, int B, int T, int C, int row);

/* cpu_xent.c */
void cpu_xent_rows(float *loss, float *dlogits, const float *logits, const float *target,
                   int N, int K, int shift, int mask_self, float scale, float gscale);
void cpu_softmax_rows(float *out, const float *inp, const float *center, int N, int K,
                      float inv_temp);

/* cpu_optim.c */
void cpu_adamw_step(float *p, float *m, float *v, const float *g, const float *decay,
                    size_t n, float lr, float b1, float b2, float eps, float wd, int t);
void cpu_ema_update(float *target, const float *online, size_t n, float mom);

#endif
