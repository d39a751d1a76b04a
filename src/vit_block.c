/* vit_block.c: one pre-LN transformer block, x[N, C] with N = B * T:
 *   xmid = xin + proj(attn(LN1(xin)));  xout = xmid + fc2(gelu(fc1(LN2(xmid)))).
 * The GELU output is not kept: the backward recomputes it, which saves 4C floats per token
 * and layer (a quarter of the activation memory) for one cheap elementwise pass. */
#include "vit_internal.h"

#include "common.h"

void vit_block_forward(Vit *m, VitBlockActs *k, VitActs *a, const float *params,
                       const VitBlockParams *p, const float *xin)
{
    const Backend *be = m->be;
    int B = a->B, T = a->T, C = m->cfg.C, NH = m->cfg.NH, F = m->F, N = B * T;
    float eps = m->cfg.ln_eps;
    size_t NC = (size_t)N * C;

    be->layernorm_forward(k->ln1, k->mean1, k->rstd1, xin, params + p->ln1_w,
                          params + p->ln1_b, N, C, eps);
    be->matmul_forward(k->qkv, k->ln1, params + p->qkv_w, params + p->qkv_b, N, C, 3 * C);
    be->attention_forward(k->atty, k->att, k->qkv, B, T, C, NH);
    be->matmul_forward(a->dC, k->atty, params + p->proj_w, params + p->proj_b, N, C, C);
    be->add(k->xmid, xin, a->dC, NC);

    be->layernorm_forward(k->ln2, k->mean2, k->rstd2, k->xmid, params + p->ln2_w,
                          params + p->ln2_b, N, C, eps);
    be->matmul_forward(k->fch, k->ln2, params + p->fc1_w, params + p->fc1_b, N, C, F);
    be->gelu_forward(a->dF, k->fch, (size_t)N * F);
    be->matmul_forward(a->dC, a->dF, params + p->fc2_w, params + p->fc2_b, N, F, C);
    be->add(k->xout, k->xmid, a->dC, NC);
}


/* On entry a->dres holds dL/dxout; on exit it holds dL/dxin. */
void vit_block_backward(Vit *m, VitBlockActs *k, VitActs *a, const float *params, float *grads,
                        const VitBlockParams *p, const float *xin)
{
    const Backend *be = m->be;
    int B = a->B, T = a->T, C = m->cfg.C, NH = m->cfg.NH, F = m->F, N = B * T;
    size_t NC = (size_t)N * C * sizeof(float), NF = (size_t)N * F * sizeof(float);

    /* xout = xmid + fc2(g), g = gelu(fch): dres already is dxmid's residual share. */
    be->gelu_forward(a->dF, k->fch, (size_t)N * F);
    be->zero(a->dF2, NF);
    be->matmul_backward(a->dF2, grads + p->fc2_w, grads + p->fc2_b, a->dres, a->dF,
                        params + p->fc2_w, N, F, C);
    be->zero(a->dF, NF);
    be->gelu_backward(a->dF, k->fch, a->dF2, (size_t)N * F);
    be->zero(a->dC, NC);
    be->matmul_backward(a->dC, grads + p->fc1_w, grads + p->fc1_b, a->dF, k->ln2,
                        params + p->fc1_w, N, C, F);
    be->layernorm_backward(a->dres, grads + p->ln2_w, grads + p->ln2_b, a->dC, k->xmid,
                           params + p->ln2_w, k->mean2, k->rstd2, N, C);

    /* xmid = xin + proj(attn(qkv(LN1(xin)))). */
    be->zero(a->dC, NC);
    be->matmul_backward(a->dC, grads + p->proj_w, grads + p->proj_b, a->dres, k->atty,
                        params + p->proj_w, N, C, C);
    be->zero(a->d3C, 3 * NC);
    be->attention_backward(a->d3C, a->datt, a->dC, k->qkv, k->att, B, T, C, NH);
    be->zero(a->dC2, NC);
    be->matmul_backward(a->dC2, grads + p->qkv_w, grads + p->qkv_b, a->d3C, k->ln1,
                        params + p->qkv_w, N, C, 3 * C);
    be->layernorm_backward(a->dres, grads + p->ln1_w, grads + p->ln1_b, a->dC2, xin,
                           params + p->ln1_w, k->mean1, k->rstd1, N, C);
}
