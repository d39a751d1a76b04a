/* vit.c: ViT set-up, sizes, buffers and the forward/backward of the whole backbone.
 * The token embedding (patches, resize maps, CLS, position) is in vit_embed.c and one
 * transformer block in vit_block.c. Layout: x[B, T, C], token 0 is CLS. */
#include "vit.h"

#include "common.h"
#include "resize.h"
#include "rng.h"
#include "vit_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *vit_config_error(const VitConfig *c)
{
    static char msg[256];

    if (c->S <= 0 || c->CH <= 0)
        snprintf(msg, sizeof msg, "--image %d / --channels %d: both must be >= 1", c->S, c->CH);
    else if (c->P0 <= 0 || c->P0 > c->S)
        snprintf(msg, sizeof msg, "--p0 %d: the base patch must be in [1, image side %d]",
                 c->P0, c->S);
    else if (c->C <= 0 || c->L <= 0 || c->NH <= 0 || c->mlp_ratio <= 0)
        snprintf(msg, sizeof msg, "--width %d, --depth %d, --heads %d, --mlp-ratio %d: "
                 "each must be >= 1", c->C, c->L, c->NH, c->mlp_ratio);
    else if (c->C % c->NH != 0)
        snprintf(msg, sizeof msg, "--width %d is not divisible by --heads %d; "
                 "the width must be a multiple of the number of heads", c->C, c->NH);
    else if (c->C % 4 != 0)
        snprintf(msg, sizeof msg, "--width %d: must be a multiple of 4 (the 2-D sin-cos "
                 "position initialisation splits it in four)", c->C);
    else
        return NULL;
    return msg;
}


const char *vit_shape_error(const VitConfig *c, VitShape sh)
{
    static char msg[256];
    int S = vit_input_side(c, sh);

    if (sh.S < 0 || S > 2 * c->S)
        snprintf(msg, sizeof msg, "image side %d: inputs must be in [1, %d] pixels (twice the "
                 "configured side)", sh.S, 2 * c->S);
    else if (sh.P <= 0)
        snprintf(msg, sizeof msg, "--patch %d: the patch side must be in [1, %d]", sh.P, S);
    else if (sh.P > S)
        snprintf(msg, sizeof msg, "--patch %d: the image (%d pixels) is smaller than one patch;"
                 " the patch side must be in [1, %d]", sh.P, S, S);
    else if (!(sh.keep > 0.0f && sh.keep <= 1.0f))
        snprintf(msg, sizeof msg, "--keep %g: the keep ratio must be in (0, 1]", sh.keep);
    else
        return NULL;
    return msg;
}


int vit_input_side(const VitConfig *cfg, VitShape sh)
{
    return sh.S > 0 ? sh.S : cfg->S;
}


int vit_grid_side(const VitConfig *cfg, VitShape sh)
{
    return resize_grid_side(vit_input_side(cfg, sh), sh.P);
}


int vit_num_patches(const VitConfig *cfg, VitShape sh)
{
    int G = vit_grid_side(cfg, sh);
    return G * G;
}


int vit_kept_tokens(const VitConfig *cfg, VitShape sh)
{
    int NP = vit_num_patches(cfg, sh);
    int TK = (int)lround((double)sh.keep * NP);

    return TK < 1 ? 1 : (TK > NP ? NP : TK);
}


void vit_init(Vit *m, const VitConfig *cfg, ParamTable *t, const Backend *be)
{
    const char *err = vit_config_error(cfg);
    int C = cfg->C, F = cfg->mlp_ratio * cfg->C;
    char name[PARAM_NAME_MAX];

    if (err != NULL)
        user_error("%s", err);
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    m->be = be;
    m->F = F;
    m->G0 = resize_grid_side(cfg->S, cfg->P0);
    m->NP0 = m->G0 * m->G0;
    m->first = t->total;

    m->patch_w = params_add(t, "patch_embed.proj.weight", INIT_XAVIER, 1,
                            C, cfg->CH, cfg->P0, cfg->P0);
    m->patch_b = params_add(t, "patch_embed.proj.bias", INIT_ZERO, 0, C, 0, 0, 0);
    m->cls = params_add(t, "cls_token", INIT_NORMAL, 0, 1, 1, C, 0);
    t->info[t->count - 1].init_scale = 1e-6f; /* MoCo v3: CLS starts near zero */
    m->pos = params_add(t, "pos_embed", INIT_SINCOS2D, 0, m->NP0, C, 0, 0);

    m->blocks = xcalloc((size_t)cfg->L, sizeof(VitBlockParams));
    for (int l = 0; l < cfg->L; l++) {
        VitBlockParams *b = &m->blocks[l];
#define ADD(field, suffix, init, decay, d0, d1) \
        snprintf(name, sizeof name, "blocks.%d.%s", l, suffix); \
        b->field = params_add(t, name, init, decay, d0, d1, 0, 0)
        ADD(ln1_w, "norm1.weight", INIT_ONE, 0, C, 0);
        ADD(ln1_b, "norm1.bias", INIT_ZERO, 0, C, 0);
        ADD(qkv_w, "attn.qkv.weight", INIT_XAVIER, 1, 3 * C, C);
        t->info[t->count - 1].fan_out = C; /* q, k and v each get their own xavier range */
        ADD(qkv_b, "attn.qkv.bias", INIT_ZERO, 0, 3 * C, 0);
        ADD(proj_w, "attn.proj.weight", INIT_XAVIER, 1, C, C);
        ADD(proj_b, "attn.proj.bias", INIT_ZERO, 0, C, 0);
        ADD(ln2_w, "norm2.weight", INIT_ONE, 0, C, 0);
        ADD(ln2_b, "norm2.bias", INIT_ZERO, 0, C, 0);
        ADD(fc1_w, "mlp.fc1.weight", INIT_XAVIER, 1, F, C);
        ADD(fc1_b, "mlp.fc1.bias", INIT_ZERO, 0, F, 0);
        ADD(fc2_w, "mlp.fc2.weight", INIT_XAVIER, 1, C, F);
        ADD(fc2_b, "mlp.fc2.bias", INIT_ZERO, 0, C, 0);
#undef ADD
    }
    m->lnf_w = params_add(t, "norm.weight", INIT_ONE, 0, C, 0, 0, 0);
    m->lnf_b = params_add(t, "norm.bias", INIT_ZERO, 0, C, 0, 0, 0);
    m->count = t->total - m->first;
}


void vit_free(Vit *m)
{
    for (int i = 0; i < m->nmaps; i++) {
        struct VitMaps *mp = &m->maps[i];
        float *bufs[] = {mp->pinv, mp->posmap, mp->imgmap, mp->w_p, mp->pos_g, mp->dw_p,
                         mp->dpos_g};
        for (size_t j = 0; j < sizeof bufs / sizeof bufs[0]; j++)
            if (bufs[j] != NULL)
                m->be->free(bufs[j]);
    }
    free(m->blocks);
    memset(m, 0, sizeof(*m));
}


static float *dalloc(const Backend *be, size_t nfloats)
{
    return be->alloc(nfloats * sizeof(float));
}


void vit_acts_init(VitActs *a, const Vit *m, int maxB, int keep_grads)
{
    const VitConfig *c = &m->cfg;
    const Backend *be = m->be;
    size_t B = (size_t)maxB, T = (size_t)m->NP0 + 1, C = (size_t)c->C, F = (size_t)m->F;
    size_t NH = (size_t)c->NH, N = B * T;
    int nb = keep_grads ? c->L : 1;
    size_t maxpix = 0;

    /* The largest patch grid in pixels is below S + P for any P (G = round(S / P)). */
    maxpix = (size_t)(2 * c->S) * (size_t)(2 * c->S);
    memset(a, 0, sizeof(*a));
    a->maxB = maxB;
    a->maxT = (int)T;
    a->keep_grads = keep_grads;
    a->img = dalloc(be, B * (size_t)c->CH * maxpix);
    a->imgtmp = dalloc(be, B * (size_t)c->CH * maxpix);
    a->patches = dalloc(be, B * (size_t)m->NP0 * (size_t)(c->CH * c->P0 * c->P0) * 4);
    a->emb = dalloc(be, N * C);
    a->x0 = dalloc(be, N * C);
    a->blocks = xcalloc((size_t)nb, sizeof(VitBlockActs));
    for (int l = 0; l < nb; l++) {
        VitBlockActs *k = &a->blocks[l];
        k->ln1 = dalloc(be, N * C);
        k->mean1 = dalloc(be, N);
        k->rstd1 = dalloc(be, N);
        k->qkv = dalloc(be, N * 3 * C);
        k->att = dalloc(be, B * NH * T * T);
        k->atty = dalloc(be, N * C);
        k->xmid = dalloc(be, N * C);
        k->ln2 = dalloc(be, N * C);
        k->mean2 = dalloc(be, N);
        k->rstd2 = dalloc(be, N);
        k->fch = dalloc(be, N * F);
        k->xout = dalloc(be, N * C);
    }
    a->cls_row = dalloc(be, B * C);
    a->lnf_mean = dalloc(be, B);
    a->lnf_rstd = dalloc(be, B);
    a->out = dalloc(be, B * C);
    a->idx = be->alloc(N * sizeof(int32_t));

    /* Scratch shared by forward temporaries (dC, dF) and the backward. */
    a->dC = dalloc(be, N * C);
    a->dF = dalloc(be, N * F);
    if (keep_grads) {
        a->dres = dalloc(be, N * C);
        a->dC2 = dalloc(be, N * C);
        a->d3C = dalloc(be, N * 3 * C);
        a->dF2 = dalloc(be, N * F);
        a->datt = dalloc(be, B * NH * T * T);
        a->dcls = dalloc(be, B * C);
        a->demb = dalloc(be, N * C);
    }
}


void vit_acts_free(VitActs *a, const Vit *m)
{
    const Backend *be = m->be;
    int nb = a->keep_grads ? m->cfg.L : 1;
    void *top[] = {a->img, a->imgtmp, a->patches, a->emb, a->x0, a->cls_row, a->lnf_mean,
                   a->lnf_rstd, a->out, a->idx, a->dres, a->dC, a->dC2, a->d3C, a->dF, a->dF2,
                   a->datt, a->dcls, a->demb};

    for (int l = 0; l < nb; l++) {
        VitBlockActs *k = &a->blocks[l];
        void *bl[] = {k->ln1, k->mean1, k->rstd1, k->qkv, k->att, k->atty, k->xmid, k->ln2,
                      k->mean2, k->rstd2, k->fch, k->xout};
        for (size_t j = 0; j < sizeof bl / sizeof bl[0]; j++)
            be->free(bl[j]);
    }
    for (size_t j = 0; j < sizeof top / sizeof top[0]; j++)
        if (top[j] != NULL)
            be->free(top[j]);
    free(a->blocks);
    memset(a, 0, sizeof(*a));
}


void vit_draw_tokens(int32_t *idx, int B, int NP, int TK, uint64_t seed, uint64_t step, int view)
{
    for (int b = 0; b < B; b++) {
        int32_t *row = idx + (size_t)b * TK;

        if (TK == NP) {
            for (int j = 0; j < NP; j++) row[j] = j;
            continue;
        }

        /* Selection sampling (Knuth's algorithm S): each patch is kept with probability
         * (needed / remaining), which yields a uniform subset already in sorted order. */
        Rng r = rng_stream(seed, RNG_TOKEN_DROP, step, (uint64_t)b * 8 + (uint64_t)view);
        int need = TK, j = 0;
        for (int i = 0; i < NP && need > 0; i++)
            if (rng_uniform(&r) * (NP - i) < need) {
                row[j++] = i;
                need--;
            }
    }
}


void vit_forward(Vit *m, VitActs *a, const float *params, const float *img,
                 const int32_t *idx_host, int B, VitShape sh)
{
    const VitConfig *c = &m->cfg;
    const char *err = vit_shape_error(c, sh);
    const float *x;

    if (err != NULL)
        user_error("%s", err);
    HASSERT(B <= a->maxB);
    a->B = B;
    a->P = sh.P;
    a->S = vit_input_side(c, sh);
    a->G = vit_grid_side(c, sh);
    a->TK = vit_kept_tokens(c, sh);
    a->T = 1 + a->TK;
    HASSERT(a->T <= a->maxT || sh.P < c->P0);
    HASSERT((size_t)a->T * (size_t)B <= (size_t)a->maxT * (size_t)a->maxB);
    m->be->upload(a->idx, idx_host, (size_t)B * a->TK * sizeof(int32_t));

    vit_embed_forward(m, a, params, img);

    x = a->x0;
    for (int l = 0; l < c->L; l++) {
        VitBlockActs *k = &a->blocks[a->keep_grads ? l : 0];
        vit_block_forward(m, k, a, params, &m->blocks[l], x);
        x = k->xout;
    }

    /* Only the CLS row is used downstream, so the final LN runs on that row alone. */
    m->be->select_row(a->cls_row, x, B, a->T, c->C, 0);
    m->be->layernorm_forward(a->out, a->lnf_mean, a->lnf_rstd, a->cls_row,
                             params + m->lnf_w, params + m->lnf_b, B, c->C, c->ln_eps);
}


void vit_backward(Vit *m, VitActs *a, const float *params, float *grads, const float *dout)
{
    const VitConfig *c = &m->cfg;
    const Backend *be = m->be;
    int B = a->B, T = a->T, C = c->C;

    HASSERT(a->keep_grads);

    /* out = LN(cls_row): back to the CLS row, then into the residual stream. */
    be->zero(a->dcls, (size_t)B * C * sizeof(float));
    be->layernorm_backward(a->dcls, grads + m->lnf_w, grads + m->lnf_b, dout, a->cls_row,
                           params + m->lnf_w, a->lnf_mean, a->lnf_rstd, B, C);
    be->zero(a->dres, (size_t)B * T * C * sizeof(float));
    be->select_row_backward(a->dres, a->dcls, B, T, C, 0);

    for (int l = c->L - 1; l >= 0; l--) {
        const float *xin = l > 0 ? a->blocks[l - 1].xout : a->x0;
        vit_block_backward(m, &a->blocks[l], a, params, grads, &m->blocks[l], xin);
    }

    vit_embed_backward(m, a, params, grads);
}


double vit_flops_forward(const VitConfig *c, VitShape sh, int B)
{
    double T = 1 + vit_kept_tokens(c, sh), TK = T - 1, C = c->C, F = (double)c->mlp_ratio * C;
    double per_block = 2 * T * (3 * C * C + C * C + 2 * C * F) + 4 * T * T * C;
    double embed = 2 * TK * (double)(c->CH * sh.P * sh.P) * C;

    return (double)B * (embed + c->L * per_block);
}
