/* guarded_backend.h: the CPU backend behind pointers the host cannot dereference, so that a
 * machine without a GPU can show that a code path touches backend memory only through the
 * interface, as it must for the CUDA backend. A "device" pointer is the host pointer with bit
 * 55 set: non-canonical on x86-64 with 4-level paging, above every mapping with 5-level paging,
 * outside the 48-bit space and below the ignored top byte on arm64, so any load or store
 * through it faults, while pointer arithmetic (p + offset, as the model does on its flat
 * vectors) still maps back exactly.
 * Every op clears the bit and calls the CPU op. guarded_install_handler() turns the fault into
 * one line naming the cause instead of a bare segmentation fault. */
#ifndef HASTEN_GUARDED_BACKEND_H
#define HASTEN_GUARDED_BACKEND_H

#include "backend.h"

#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#define GUARD_BIT ((uintptr_t)1 << 55)

/* Host pointer of a guarded pointer (NULL stays NULL: "not wanted"). */
#define H(p) ((p) == NULL ? NULL : (void *)((uintptr_t)(p) & ~GUARD_BIT))
#define HF(p) ((float *)H(p))
#define HCF(p) ((const float *)H(p))
#define HI(p) ((const int32_t *)H(p))

static const Backend *guard_cpu(void)
{
    return backend_cpu();
}


static void *g_alloc(size_t bytes)
{
    return (void *)((uintptr_t)guard_cpu()->alloc(bytes) | GUARD_BIT);
}

static void g_free(void *p) { guard_cpu()->free(H(p)); }
static void g_upload(void *d, const void *s, size_t n) { guard_cpu()->upload(H(d), s, n); }
static void g_download(void *d, const void *s, size_t n) { guard_cpu()->download(d, H(s), n); }
static void g_copy(void *d, const void *s, size_t n) { guard_cpu()->copy(H(d), H(s), n); }
static void g_zero(void *p, size_t n) { guard_cpu()->zero(H(p), n); }
static void g_sync(void) { guard_cpu()->sync(); }


static void g_gemm(int tA, int tB, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc)
{
    guard_cpu()->gemm(tA, tB, M, N, K, alpha, HCF(A), lda, HCF(B), ldb, beta, HF(C), ldc);
}

static void g_mm_fwd(float *out, const float *inp, const float *w, const float *b, int N,
                     int IC, int OC)
{
    guard_cpu()->matmul_forward(HF(out), HCF(inp), HCF(w), HCF(b), N, IC, OC);
}

static void g_mm_bwd(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int IC, int OC)
{
    guard_cpu()->matmul_backward(HF(dinp), HF(dw), HF(db), HCF(dout), HCF(inp), HCF(w), N, IC,
                                 OC);
}


static void g_add(float *o, const float *a, const float *b, size_t n)
{
    guard_cpu()->add(HF(o), HCF(a), HCF(b), n);
}

static void g_acc(float *d, const float *s, size_t n)
{
    guard_cpu()->accumulate(HF(d), HCF(s), n);
}
static void g_scale(float *x, float s, size_t n) { guard_cpu()->scale(HF(x), s, n); }

static void g_axpby(float *y, float a, const float *x, float b, size_t n)
{
    guard_cpu()->axpby(HF(y), a, HCF(x), b, n);
}

static void g_sum_rows(float *o, const float *x, int N, int K)
{
    guard_cpu()->sum_rows(HF(o), HCF(x), N, K);
}

static double g_sumsq(const float *x, size_t n) { return guard_cpu()->sumsq(HCF(x), n); }
static int g_finite(const float *x, size_t n) { return guard_cpu()->all_finite(HCF(x), n); }


static void g_gelu_f(float *o, const float *i, size_t n)
{
    guard_cpu()->gelu_forward(HF(o), HCF(i), n);
}

static void g_relu_f(float *o, const float *i, size_t n)
{
    guard_cpu()->relu_forward(HF(o), HCF(i), n);
}

static void g_gelu_b(float *di, const float *i, const float *d, size_t n)
{
    guard_cpu()->gelu_backward(HF(di), HCF(i), HCF(d), n);
}

static void g_relu_b(float *di, const float *i, const float *d, size_t n)
{
    guard_cpu()->relu_backward(HF(di), HCF(i), HCF(d), n);
}


static void g_ln_f(float *out, float *mean, float *rstd, const float *inp, const float *w,
                   const float *b, int N, int C, float eps)
{
    guard_cpu()->layernorm_forward(HF(out), HF(mean), HF(rstd), HCF(inp), HCF(w), HCF(b), N, C,
                                   eps);
}

static void g_ln_b(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                   const float *w, const float *mean, const float *rstd, int N, int C)
{
    guard_cpu()->layernorm_backward(HF(dinp), HF(dw), HF(db), HCF(dout), HCF(inp), HCF(w),
                                    HCF(mean), HCF(rstd), N, C);
}

static void g_bn_f(float *out, float *mean, float *rstd, float *rm, float *rv, const float *inp,
                   const float *w, const float *b, int N, int C, float eps, float mom, int train)
{
    guard_cpu()->batchnorm_forward(HF(out), HF(mean), HF(rstd), HF(rm), HF(rv), HCF(inp),
                                   HCF(w), HCF(b), N, C, eps, mom, train);
}

static void g_bn_b(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                   const float *w, const float *mean, const float *rstd, int N, int C)
{
    guard_cpu()->batchnorm_backward(HF(dinp), HF(dw), HF(db), HCF(dout), HCF(inp), HCF(w),
                                    HCF(mean), HCF(rstd), N, C);
}

static void g_l2_f(float *out, float *norm, const float *inp, int N, int C, float eps)
{
    guard_cpu()->l2norm_forward(HF(out), HF(norm), HCF(inp), N, C, eps);
}

static void g_l2_b(float *dinp, const float *dout, const float *inp, const float *norm, int N,
                   int C, float eps)
{
    guard_cpu()->l2norm_backward(HF(dinp), HCF(dout), HCF(inp), HCF(norm), N, C, eps);
}

static void g_wn_f(float *w, float *vnorm, const float *v, const float *g, int OC, int IC)
{
    guard_cpu()->weightnorm_forward(HF(w), HF(vnorm), HCF(v), HCF(g), OC, IC);
}

static void g_wn_b(float *dv, float *dg, const float *dw, const float *v, const float *g,
                   const float *vnorm, int OC, int IC)
{
    guard_cpu()->weightnorm_backward(HF(dv), HF(dg), HCF(dw), HCF(v), HCF(g), HCF(vnorm), OC,
                                     IC);
}


static void g_att_f(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    guard_cpu()->attention_forward(HF(out), HF(att), HCF(qkv), B, T, C, NH);
}

static void g_att_b(float *dqkv, float *scratch, const float *dout, const float *qkv,
                    const float *att, int B, int T, int C, int NH)
{
    guard_cpu()->attention_backward(HF(dqkv), HF(scratch), HCF(dout), HCF(qkv), HCF(att), B, T,
                                    C, NH);
}


static void g_patchify(float *out, const float *img, const int32_t *idx, int B, int CH, int G,
                       int P, int TK)
{
    guard_cpu()->patchify(HF(out), HCF(img), HI(idx), B, CH, G, P, TK);
}

static void g_tok_f(float *x, const float *emb, const float *cls, const float *pos,
                    const int32_t *idx, int B, int TK, int NP, int C)
{
    guard_cpu()->tokens_forward(HF(x), HCF(emb), HCF(cls), HCF(pos), HI(idx), B, TK, NP, C);
}

static void g_tok_b(float *demb, float *dcls, float *dpos, const float *dx, const int32_t *idx,
                    int B, int TK, int NP, int C)
{
    guard_cpu()->tokens_backward(HF(demb), HF(dcls), HF(dpos), HCF(dx), HI(idx), B, TK, NP, C);
}

static void g_sel(float *out, const float *x, int B, int T, int C, int row)
{
    guard_cpu()->select_row(HF(out), HCF(x), B, T, C, row);
}

static void g_sel_b(float *dx, const float *dout, int B, int T, int C, int row)
{
    guard_cpu()->select_row_backward(HF(dx), HCF(dout), B, T, C, row);
}


static void g_xent(float *loss, float *dl, const float *l, const float *t, int N, int K,
                   int shift, int mask_self, float scale, float gscale)
{
    guard_cpu()->xent_rows(HF(loss), HF(dl), HCF(l), HCF(t), N, K, shift, mask_self, scale,
                           gscale);
}

static void g_softmax(float *o, const float *x, const float *c, int N, int K, float inv_temp)
{
    guard_cpu()->softmax_rows(HF(o), HCF(x), HCF(c), N, K, inv_temp);
}


static void g_adamw(float *p, float *m, float *v, const float *g, const float *decay, size_t n,
                    float lr, float b1, float b2, float eps, float wd, int t)
{
    guard_cpu()->adamw_step(HF(p), HF(m), HF(v), HCF(g), HCF(decay), n, lr, b1, b2, eps, wd, t);
}

static void g_ema(float *t, const float *o, size_t n, float mom)
{
    guard_cpu()->ema_update(HF(t), HCF(o), n, mom);
}


static const Backend guarded_backend = {
    .name = "cpu-guarded",
    .alloc = g_alloc, .free = g_free, .upload = g_upload, .download = g_download,
    .copy = g_copy, .zero = g_zero, .sync = g_sync,
    .gemm = g_gemm, .matmul_forward = g_mm_fwd, .matmul_backward = g_mm_bwd,
    .add = g_add, .accumulate = g_acc, .scale = g_scale, .axpby = g_axpby,
    .sum_rows = g_sum_rows, .sumsq = g_sumsq, .all_finite = g_finite,
    .gelu_forward = g_gelu_f, .gelu_backward = g_gelu_b,
    .relu_forward = g_relu_f, .relu_backward = g_relu_b,
    .layernorm_forward = g_ln_f, .layernorm_backward = g_ln_b,
    .batchnorm_forward = g_bn_f, .batchnorm_backward = g_bn_b,
    .l2norm_forward = g_l2_f, .l2norm_backward = g_l2_b,
    .weightnorm_forward = g_wn_f, .weightnorm_backward = g_wn_b,
    .attention_forward = g_att_f, .attention_backward = g_att_b,
    .patchify = g_patchify, .tokens_forward = g_tok_f, .tokens_backward = g_tok_b,
    .select_row = g_sel, .select_row_backward = g_sel_b,
    .xent_rows = g_xent, .softmax_rows = g_softmax,
    .adamw_step = g_adamw, .ema_update = g_ema,
};

#undef H
#undef HF
#undef HCF
#undef HI


/* A fault through a guarded pointer is a host dereference of backend memory. */
static void guarded_on_fault(int sig)
{
    static const char msg[] = "FAIL host code dereferenced backend memory (a guarded pointer "
                              "faulted): it would crash under the CUDA backend\n";

    (void)sig;
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0)
        _exit(3);
    _exit(3);
}


static inline void guarded_install_handler(void)
{
    signal(SIGSEGV, guarded_on_fault);
    signal(SIGBUS, guarded_on_fault);
}


static inline const Backend *guarded_backend_get(void)
{
    return &guarded_backend;
}

#endif
