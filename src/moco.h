/* moco.h: MoCo v3 on the ViT: online = backbone -> projector (3-layer MLP, BN) -> predictor
 * (2-layer MLP, BN) -> L2; target = EMA copy of backbone + projector -> L2, no gradient.
 * Loss ctr(q1, k2) + ctr(q2, k1), ctr = 2 tau CE(q k^T / tau, diagonal).
 * The two views are processed one after the other (BatchNorm statistics are per view, as in
 * the reference code, so this is exact) and only one view's activations are alive at a time. */
#ifndef HASTEN_MOCO_H
#define HASTEN_MOCO_H

#include "backend.h"
#include "head.h"
#include "loss_backend.h"
#include "params.h"
#include "vit.h"

typedef struct {
    int hidden, out;   /* projector/predictor widths: C -> hidden -> hidden -> out */
    float tau;         /* 0.2 */
} MocoConfig;

typedef struct {
    VitConfig vcfg;
    MocoConfig mcfg;
    const Backend *be;
    ParamTable params, buffers;
    Vit vit;
    Head proj, pred, proj_t;
    size_t target_count;    /* the target branch mirrors params [0, target_count) */
    float *p, *g, *m, *v, *decay, *p_t, *buf, *buf_t;
    VitActs acts, acts_t;
    int maxB, adam_t;
    float *d_k[2], *d_dq;   /* [maxB, out] device: keys of both views, the loss gradient */
    LossBufs lb;            /* the loss's similarity scratch, maxB x maxB */
} Moco;

/* One training step's settings. */
typedef struct {
    VitShape online, target; /* compression of each branch */
    float lr, wd, momentum;  /* AdamW learning rate and decay; EMA momentum of the target */
    uint64_t seed, step;     /* token-dropout streams */
} MocoStep;

void moco_init(Moco *mo, const VitConfig *vcfg, const MocoConfig *mcfg, const Backend *be,
               int maxB, uint64_t seed);
void moco_free(Moco *mo);

/* The EMA update of the target branch, then the loss and its gradient with respect to the
 * online parameters (into mo->g, zeroed first) on two augmented views img1, img2
 * [B, CH, S, S] (device), without changing the online parameters. Returns the loss. */
double moco_grad(Moco *mo, const float *img1, const float *img2, int B, const MocoStep *st);

/* moco_grad followed by the AdamW update. Returns the loss. */
double moco_step(Moco *mo, const float *img1, const float *img2, int B, const MocoStep *st);

/* FLOPs of one step of B images (both views): online forward + backward (3x forward), target
 * forward. */
double moco_step_flops(const Moco *mo, VitShape online, VitShape target, int B);

#endif
