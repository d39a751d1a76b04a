/* vit.h: the Vision Transformer backbone: patch embedding kept at the base patch P0 and
 * mapped to any patch P by the pseudo-inverse resize, a learnable position grid G0 x G0
 * resized bilinearly to G x G, a CLS token, per-sample random token dropout after the
 * position embedding, pre-LN blocks, a final LN, and the CLS output [B, C].
 * Activations are token-major: x[B, T, C] with T = 1 + kept patches (CLS first). */
#ifndef HASTEN_VIT_H
#define HASTEN_VIT_H

#include "backend.h"
#include "params.h"

#include <stdint.h>

typedef struct {
    int S;          /* image side in pixels */
    int CH;         /* image channels */
    int P0;         /* base patch side */
    int C;          /* width */
    int L;          /* depth */
    int NH;         /* heads */
    int mlp_ratio;  /* F = mlp_ratio * C */
    float ln_eps;   /* 1e-6 as timm's ViT */
} VitConfig;

/* A compression setting of one forward pass: patch side and keep ratio. */
typedef struct {
    int P;
    float keep;
    int S;          /* side of the input images; 0: the configured S (DINO's local crops are
                       smaller and run through the same network with fewer tokens) */
} VitShape;

/* Offsets of one block's tensors in the flat parameter vector. */
typedef struct {
    size_t ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} VitBlockParams;

/* Saved activations of one block for the backward pass. */
typedef struct {
    float *ln1, *mean1, *rstd1, *qkv, *att, *atty, *xmid, *ln2, *mean2, *rstd2, *fch, *xout;
} VitBlockActs;

typedef struct Vit Vit;

/* The per-pass state: sizes of the current pass and the buffers sized for the largest. */
typedef struct {
    int maxB, maxT;
    int B, T, TK, G, P, S;  /* sizes of the last forward (S: input image side) */
    int keep_grads;         /* 0: inference only, one block's buffers reused by every block */
    float *img;             /* [B, CH, G*P, G*P] image resized to the patch grid */
    float *imgtmp;          /* [B, CH, S, G*P] the image after the width pass */
    float *patches;         /* [B, TK, CH*P*P] */
    float *emb;             /* [B, TK, C] */
    float *x0;              /* [B, T, C] tokens entering block 0 */
    VitBlockActs *blocks;   /* L entries (1 when keep_grads == 0) */
    float *cls_row, *lnf_mean, *lnf_rstd; /* [B, C], [B], [B] */
    float *out;             /* [B, C] final CLS features */
    int32_t *idx;           /* [B, TK] kept patch indices, device copy */
    /* scratch for the backward */
    float *dres, *dC, *dC2, *d3C, *dF, *dF2, *datt, *dcls, *demb;
} VitActs;

struct Vit {
    VitConfig cfg;
    int G0, NP0, F;
    size_t patch_w, patch_b, cls, pos;
    VitBlockParams *blocks;
    size_t lnf_w, lnf_b;
    size_t first, count; /* the backbone's span in the flat vector */
    const Backend *be;
    /* resize maps cached per patch side on the device: [P*P, P0*P0], [G*G, G0*G0], image */
    struct VitMaps {
        int P, S, G;
        float *pinv, *posmap, *imgmap, *w_p, *pos_g, *dw_p, *dpos_g;
    } maps[16];
    int nmaps;
};

/* Checks a configuration; returns NULL when valid, else a message naming the setting. */
const char *vit_config_error(const VitConfig *cfg);
const char *vit_shape_error(const VitConfig *cfg, VitShape sh);

/* Registers the backbone's tensors (timm names) in t and keeps their offsets. */
void vit_init(Vit *m, const VitConfig *cfg, ParamTable *t, const Backend *be);
void vit_free(Vit *m);

int vit_input_side(const VitConfig *cfg, VitShape sh);
int vit_grid_side(const VitConfig *cfg, VitShape sh);
int vit_num_patches(const VitConfig *cfg, VitShape sh);
int vit_kept_tokens(const VitConfig *cfg, VitShape sh);

void vit_acts_init(VitActs *a, const Vit *m, int maxB, int keep_grads);
void vit_acts_free(VitActs *a, const Vit *m);

/* Kept patch indices idx[B, TK] (host): sorted, distinct, drawn from the stream of
 * (seed, step, sample, view); all patches in order when keep == 1. */
void vit_draw_tokens(int32_t *idx, int B, int NP, int TK, uint64_t seed, uint64_t step,
                     int view);

/* Forward of images img[B, CH, S, S] (device) with kept indices idx_host[B, TK].
 * Writes a->out [B, C]. params is the flat parameter vector (device). */
void vit_forward(Vit *m, VitActs *a, const float *params, const float *img,
                 const int32_t *idx_host, int B, VitShape sh);

/* Backward from dout [B, C] (device); adds into grads (device flat vector). */
void vit_backward(Vit *m, VitActs *a, const float *params, float *grads, const float *dout);

/* FLOPs of one forward of B images at shape sh (multiply-adds count 2). */
double vit_flops_forward(const VitConfig *cfg, VitShape sh, int B);

#endif
