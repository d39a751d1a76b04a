/* vit_embed.c: from images to the token sequence x0[B, T, C], and back to the gradients of
 * the patch-embedding weight (kept at the base patch P0), its bias, the CLS token and the
 * position grid (kept at G0 x G0). At another patch side P the image is resized to G*P
 * pixels, the weight is mapped by the pseudo-inverse resize w_P = w_P0 pinv(B^T)^T and the
 * grid by the bilinear map R; both maps are linear, so their backward is their transpose. */
#include "vit_internal.h"

#include "common.h"
#include "resize.h"

#include <string.h>

/* Uploads a host double matrix as floats. */
static float *upload_matrix(const Backend *be, const double *src, size_t n)
{
    float *tmp = xmalloc(n * sizeof(float));
    float *dev = be->alloc(n * sizeof(float));

    for (size_t i = 0; i < n; i++)
        tmp[i] = (float)src[i];
    be->upload(dev, tmp, n * sizeof(float));
    free(tmp);
    return dev;
}


/* The resize maps of patch side P, built once and kept on the device. */
static struct VitMaps *vit_maps(Vit *m, int P, int S)
{
    const VitConfig *c = &m->cfg;
    const Backend *be = m->be;
    struct VitMaps *mp;
    int G = resize_grid_side(S, P), GP = G * P;

    for (int i = 0; i < m->nmaps; i++)
        if (m->maps[i].P == P && m->maps[i].S == S)
            return &m->maps[i];
    HASSERT(m->nmaps < (int)(sizeof m->maps / sizeof m->maps[0]));
    mp = &m->maps[m->nmaps++];
    memset(mp, 0, sizeof(*mp));
    mp->P = P;
    mp->S = S;
    mp->G = G;

    if (P != c->P0) {
        size_t n = (size_t)P * P * c->P0 * c->P0, nw = (size_t)c->C * c->CH * P * P;
        mp->pinv = be->alloc(n * sizeof(float));
        be->upload(mp->pinv, resize_pinv_matrix(c->P0, P), n * sizeof(float));
        mp->w_p = be->alloc(nw * sizeof(float));
        mp->dw_p = be->alloc(nw * sizeof(float));
    }
    if (G != m->G0) {
        double *R = resize_bilinear_2d(G, G, m->G0, m->G0);
        mp->posmap = upload_matrix(be, R, (size_t)G * G * m->NP0);
        free(R);
        mp->pos_g = be->alloc((size_t)G * G * c->C * sizeof(float));
        mp->dpos_g = be->alloc((size_t)G * G * c->C * sizeof(float));
    }
    if (GP != S) {
        /* Separable image resize: only the 1-D map is needed, [GP, S]. */
        double *R = xmalloc((size_t)GP * S * sizeof(double));
        resize_bilinear_1d(R, GP, S);
        mp->imgmap = upload_matrix(be, R, (size_t)GP * S);
        free(R);
    }
    return mp;
}


/* img[B*CH, S, S] -> out[B*CH, GP, GP]: the width pass is one GEMM with the map on the
 * right, the height pass one GEMM per image plane with the map on the left. */
static void resize_images(const Backend *be, float *out, float *tmp, const float *img,
                          const float *R, int planes, int S, int GP)
{
    be->gemm(0, 1, planes * S, GP, S, 1.0f, img, S, R, S, 0.0f, tmp, GP);
    for (int i = 0; i < planes; i++)
        be->gemm(0, 0, GP, GP, S, 1.0f, R, S, tmp + (size_t)i * S * GP, GP, 0.0f,
                 out + (size_t)i * GP * GP, GP);
}


void vit_embed_forward(Vit *m, VitActs *a, const float *params, const float *img)
{
    const VitConfig *c = &m->cfg;
    const Backend *be = m->be;
    struct VitMaps *mp = vit_maps(m, a->P, a->S);
    int B = a->B, P = a->P, G = a->G, TK = a->TK, K0 = c->P0 * c->P0;
    const float *src = img, *w = params + m->patch_w, *pos = params + m->pos;

    if (mp->imgmap != NULL) {
        resize_images(be, a->img, a->imgtmp, img, mp->imgmap, B * c->CH, a->S, G * P);
        src = a->img;
    }
    be->patchify(a->patches, src, a->idx, B, c->CH, G, P, TK);

    /* w_P[C*CH, P*P] = w_P0[C*CH, P0*P0] @ pinv^T, pinv being [P*P, P0*P0]. */
    if (mp->pinv != NULL) {
        be->gemm(0, 1, c->C * c->CH, P * P, K0, 1.0f, w, K0, mp->pinv, K0, 0.0f, mp->w_p, P * P);
        w = mp->w_p;
    }
    be->matmul_forward(a->emb, a->patches, w, params + m->patch_b, B * TK, c->CH * P * P, c->C);

    /* pos_G[G*G, C] = R[G*G, G0*G0] @ pos_G0[G0*G0, C]. */
    if (mp->posmap != NULL) {
        be->gemm(0, 0, G * G, c->C, m->NP0, 1.0f, mp->posmap, m->NP0, pos, c->C, 0.0f,
                 mp->pos_g, c->C);
        pos = mp->pos_g;
    }
    be->tokens_forward(a->x0, a->emb, params + m->cls, pos, a->idx, B, TK, G * G, c->C);
}


/* On entry a->dres holds dL/dx0. */
void vit_embed_backward(Vit *m, VitActs *a, const float *params, float *grads)
{
    const VitConfig *c = &m->cfg;
    const Backend *be = m->be;
    struct VitMaps *mp = vit_maps(m, a->P, a->S);
    int B = a->B, P = a->P, G = a->G, TK = a->TK, K0 = c->P0 * c->P0;
    const float *w = mp->pinv != NULL ? mp->w_p : params + m->patch_w;
    float *dpos = grads + m->pos, *dw = grads + m->patch_w;

    if (mp->posmap != NULL) {
        dpos = mp->dpos_g;
        be->zero(dpos, (size_t)G * G * c->C * sizeof(float));
    }
    be->zero(a->demb, (size_t)B * TK * c->C * sizeof(float));
    be->tokens_backward(a->demb, grads + m->cls, dpos, a->dres, a->idx, B, TK, G * G, c->C);

    if (mp->pinv != NULL) {
        dw = mp->dw_p;
        be->zero(dw, (size_t)c->C * c->CH * P * P * sizeof(float));
    }
    be->matmul_backward(NULL, dw, grads + m->patch_b, a->demb, a->patches, w, B * TK,
                        c->CH * P * P, c->C);

    /* Transposes of the two maps: dw_P0 += dw_P @ pinv, dpos_G0 += R^T @ dpos_G. */
    if (mp->pinv != NULL)
        be->gemm(0, 0, c->C * c->CH, K0, P * P, 1.0f, mp->dw_p, P * P, mp->pinv, K0, 1.0f,
                 grads + m->patch_w, K0);
    if (mp->posmap != NULL)
        be->gemm(1, 0, m->NP0, c->C, G * G, 1.0f, mp->posmap, m->NP0, mp->dpos_g, c->C, 1.0f,
                 grads + m->pos, c->C);
}
