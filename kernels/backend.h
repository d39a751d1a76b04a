/* backend.h: the compute interface the model calls; the CPU and CUDA backends implement it.
 * Every tensor is float32, row-major, in the backend's memory ("device" pointers; on the CPU
 * they are ordinary host pointers). The model never dereferences them: it moves data with
 * upload/download. Conventions, as in llm.c:
 *   - arguments in the order outputs, inputs, weights, sizes;
 *   - every _backward ADDS into the gradients it is given (dinp, dw, db), so callers zero
 *     gradient buffers once and residual branches simply accumulate; a NULL gradient pointer
 *     means "not wanted" and is skipped;
 *   - weights of a linear layer are [OC, IC] (PyTorch / timm layout): out = inp @ w^T + b.
 * Dimension names: B batch, T tokens, C width, NH heads, N rows (B*T), K classes. */
#ifndef HASTEN_BACKEND_H
#define HASTEN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct Backend Backend;

struct Backend {
    const char *name; /* "cpu" or "cuda" */

    /* ---- memory ---- */
    void *(*alloc)(size_t bytes);            /* zero-filled; dies on failure */
    void (*free)(void *p);
    void (*upload)(void *dst, const void *host_src, size_t bytes);
    void (*download)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);
    void (*zero)(void *p, size_t bytes);
    void (*sync)(void);

    /* ---- dense algebra ---- */
    /* C[M,N] = alpha * op(A) @ op(B) + beta * C, row-major, op = transpose when trans != 0;
     * lda/ldb/ldc are row strides of the stored matrices. */
    void (*gemm)(int transA, int transB, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

    /* out[N,OC] = inp[N,IC] @ w[OC,IC]^T + b[OC] (b may be NULL). */
    void (*matmul_forward)(float *out, const float *inp, const float *w, const float *b,
                           int N, int IC, int OC);
    /* dinp[N,IC] += dout @ w;  dw[OC,IC] += dout^T @ inp;  db[OC] += sum_n dout[n,:]. */
    void (*matmul_backward)(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int IC, int OC);

    /* ---- elementwise and reductions ---- */
    void (*add)(float *out, const float *a, const float *b, size_t n);   /* out = a + b */
    void (*accumulate)(float *dst, const float *src, size_t n);          /* dst += src */
    void (*scale)(float *x, float s, size_t n);                          /* x *= s */
    void (*axpby)(float *y, float a, const float *x, float b, size_t n); /* y = a*x + b*y */
    /* out[k] = sum over n of x[n,k] for x[N,K] (column sums, accumulated in double). */
    void (*sum_rows)(float *out, const float *x, int N, int K);
    /* sum of squares of x[n] (accumulated in double). */
    double (*sumsq)(const float *x, size_t n);
    /* 1 when every x[n] is finite. */
    int (*all_finite)(const float *x, size_t n);

    /* ---- activations ---- */
    /* GELU with the exact erf form, as PyTorch's nn.GELU(): x * 0.5 * (1 + erf(x / sqrt 2)). */
    void (*gelu_forward)(float *out, const float *inp, size_t n);
    void (*gelu_backward)(float *dinp, const float *inp, const float *dout, size_t n);
    void (*relu_forward)(float *out, const float *inp, size_t n);
    void (*relu_backward)(float *dinp, const float *inp, const float *dout, size_t n);

    /* ---- normalisation ---- */
    /* Layer norm over the last dim C of inp[N,C] with eps; saves mean[N] and rstd[N]. */
    void (*layernorm_forward)(float *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, int N, int C, float eps);
    void (*layernorm_backward)(float *dinp, float *dw, float *db, const float *dout,
                               const float *inp, const float *w, const float *mean,
                               const float *rstd, int N, int C);
    /* BatchNorm1d over the batch dim of inp[N,C]. train != 0: batch statistics (biased
     * variance for normalising), saved in mean[C], rstd[C], and running stats updated as
     * run = (1-momentum)*run + momentum*batch (unbiased variance, as PyTorch);
     * train == 0: running stats used and nothing updated. w and b may be NULL (affine-free). */
    void (*batchnorm_forward)(float *out, float *mean, float *rstd, float *run_mean,
                              float *run_var, const float *inp, const float *w, const float *b,
                              int N, int C, float eps, float momentum, int train);
    /* Backward of the train-mode forward. */
    void (*batchnorm_backward)(float *dinp, float *dw, float *db, const float *dout,
                               const float *inp, const float *w, const float *mean,
                               const float *rstd, int N, int C);
    /* out[n,:] = inp[n,:] / max(||inp[n,:]||, eps); norm[N] saved. */
    void (*l2norm_forward)(float *out, float *norm, const float *inp, int N, int C, float eps);
    void (*l2norm_backward)(float *dinp, const float *dout, const float *inp,
                            const float *norm, int N, int C, float eps);
    /* Weight normalisation of rows: w[OC,IC] = g[OC] * v[OC,IC] / ||v[OC,:]|| (g NULL means
     * g = 1, the norm_last_layer setting of DINO); vnorm[OC] saved. */
    void (*weightnorm_forward)(float *w, float *vnorm, const float *v, const float *g,
                               int OC, int IC);
    void (*weightnorm_backward)(float *dv, float *dg, const float *dw, const float *v,
                                const float *g, const float *vnorm, int OC, int IC);

    /* ---- attention ---- */
    /* Multi-head self-attention without a causal mask. qkv[B,T,3C] holds q, k, v side by side
     * (head h uses columns h*hs..h*hs+hs-1 of each); out[B,T,C]; att[B,NH,T,T] saves the
     * softmax probabilities for the backward; scale is 1/sqrt(hs). */
    void (*attention_forward)(float *out, float *att, const float *qkv,
                              int B, int T, int C, int NH);
    /* dqkv += d/dqkv; scratch must hold B*NH*T*T floats. */
    void (*attention_backward)(float *dqkv, float *scratch, const float *dout,
                               const float *qkv, const float *att, int B, int T, int C, int NH);

    /* ---- tokens and patches ---- */
    /* Cuts image patches of the kept tokens. img[B,CH,H,W] with H = W = G*P;
     * idx[B,TK] lists kept patch indices (row-major in the G x G grid);
     * out[B,TK,CH*P*P] flattened in (channel, row, column) order, the order of the
     * patch-embedding weight [C, CH, P, P]. */
    void (*patchify)(float *out, const float *img, const int32_t *idx,
                     int B, int CH, int G, int P, int TK);
    /* Assembles the token sequence x[B,1+TK,C]: x[b,0] = cls[C];
     * x[b,1+j] = emb[b,j] + pos[idx[b,j]], pos[G*G,C]. */
    void (*tokens_forward)(float *x, const float *emb, const float *cls, const float *pos,
                           const int32_t *idx, int B, int TK, int NP, int C);
    /* demb[b,j] += dx[b,1+j]; dcls += sum_b dx[b,0]; dpos[idx[b,j]] += dx[b,1+j]. */
    void (*tokens_backward)(float *demb, float *dcls, float *dpos, const float *dx,
                            const int32_t *idx, int B, int TK, int NP, int C);
    /* out[b,:] = x[b, row, :] for x[B,T,C] (takes the CLS row, row = 0). */
    void (*select_row)(float *out, const float *x, int B, int T, int C, int row);
    /* dx[b, row, :] += dout[b,:]. */
    void (*select_row_backward)(float *dx, const float *dout, int B, int T, int C, int row);

    /* ---- softmax losses over rows ---- */
    /* Softmax cross-entropy of each row of x = scale * logits[N,K] against a target; the row
     * max is subtracted before exp and the sums and the log are taken in double.
     * Target row t[n,:]: target[n,:] when target != NULL (non-negative weights, m_n their
     * sum: 1 for probabilities, m for a sum of m probability rows); when target is NULL, the
     * one-hot label column (n + shift) % K (shift >= 0; m_n = 1).
     * mask_self != 0 leaves column n out of row n (needs N <= K, K >= 2): as if its logit
     * were -inf, and target[n,n] is ignored.
     * loss[N] is OVERWRITTEN with loss[n] = m_n lse_n - sum_k t[n,k] x[n,k]
     * (= -sum_k t[n,k] log softmax(x[n,:])_k), lse_n = log sum_k exp x[n,k].
     * dlogits[N,K] (NULL: not wanted) is OVERWRITTEN, not added, with
     * gscale * d loss[n] / d logits[n,k] = gscale * scale * (m_n softmax(x[n,:])_k - t[n,k]),
     * 0 in a masked column: gscale = 1/N gives the gradient of the mean loss. */
    void (*xent_rows)(float *loss, float *dlogits, const float *logits, const float *target,
                      int N, int K, int shift, int mask_self, float scale, float gscale);
    /* out[n,:] = softmax((inp[n,:] - center) * inv_temp) for inp[N,K], out overwritten;
     * center [K] or NULL (zero). Max subtracted, sum and log in double, as xent_rows. */
    void (*softmax_rows)(float *out, const float *inp, const float *center, int N, int K,
                         float inv_temp);

    /* ---- optimizer and EMA over flat parameter vectors ---- */
    /* AdamW with decoupled weight decay: for each i,
     *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
     *   p -= lr * (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd * decay[i] * p)
     * decay[i] in {0, 1} marks the parameters that take weight decay; t >= 1 is the step. */
    void (*adamw_step)(float *p, float *m, float *v, const float *g, const float *decay,
                       size_t n, float lr, float b1, float b2, float eps, float wd, int t);
    /* EMA: target = mom * target + (1 - mom) * online. */
    void (*ema_update)(float *target, const float *online, size_t n, float mom);
};

/* The CPU backend (OpenBLAS sgemm + OpenMP). */
const Backend *backend_cpu(void);

/* The CUDA backend, or NULL when hasten was built without CUDA or no GPU is present. */
const Backend *backend_cuda(void);

/* 1 when the CUDA backend's matrix products use TF32 tensor cores (HASTEN_TF32=1 in the
 * environment when backend_cuda() first succeeded); 0 for strict FP32, before that, or in a
 * build without CUDA. For benchmarks to report. */
int backend_cuda_tf32(void);

/* "cpu" or "cuda"; dies with a message naming --device when the name is unknown or the
 * device is not available. */
const Backend *backend_by_name(const char *name);

#endif
