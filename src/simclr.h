/* simclr.h: SimCLR on the ViT: backbone -> projector (2-layer MLP C -> hidden -> out, BN +
 * ReLU on the hidden layer, affine-free BN on the output as SimCLR v2's projector) -> L2.
 * Both views go through the same network and weights, concatenated into ONE batch of 2B rows
 * [view 1 | view 2], so BatchNorm statistics are over 2B as in SimCLR and row i's twin is
 * row i + B in the NT-Xent loss. There is no target branch: both views use the step's online
 * compression (VitShape). Activations are kept for 2 * maxB rows. */
#ifndef HASTEN_SIMCLR_H
#define HASTEN_SIMCLR_H

#include "backend.h"
#include "head.h"
#include "loss_backend.h"
#include "params.h"
#include "vit.h"

typedef struct {
    int hidden, out;   /* projector widths: C -> hidden -> out */
    int out_bn;        /* 1: affine-free BN on the projector output (SimCLR v2); 0: none (v1) */
    float tau;         /* NT-Xent temperature, 0.2 */
} SimclrConfig;

typedef struct {
    VitConfig vcfg;
    SimclrConfig scfg;
    const Backend *be;
    ParamTable params, buffers;   /* layout [backbone | projector] */
    Vit vit;
    Head proj;                    /* ends with the L2 normalisation */
    float *p, *g, *m, *v, *decay, *buf;
    float *img2;                  /* [2 maxB, CH, S, S] the two views side by side */
    VitActs acts;                 /* sized for 2 maxB rows */
    int maxB, adam_t;
    int32_t *idx;                 /* [2 maxB, NP0-or-more] kept tokens of both views (host) */
    float *d_dz;                  /* [2 maxB, out] device: the loss gradient */
    LossBufs lb;                  /* the loss's similarity scratch, 2 maxB x 2 maxB */
} Simclr;

/* One training step's settings. */
typedef struct {
    VitShape online;         /* compression of both views (there is no target branch) */
    float lr, wd;            /* AdamW learning rate and decay */
    uint64_t seed, step;     /* token-dropout streams: view 1 uses view id 0, view 2 id 1 */
} SimclrStep;

/* maxB: the largest batch per view; the network runs on 2 maxB rows. */
void simclr_init(Simclr *s, const VitConfig *vcfg, const SimclrConfig *scfg, const Backend *be,
                 int maxB, uint64_t seed);
void simclr_free(Simclr *s);

/* The NT-Xent loss over the 2B rows of views img1, img2 [B, CH, S, S] (device, S the
 * online shape's input side) and its gradient with respect to every parameter (into s->g,
 * zeroed first), without changing the parameters (BatchNorm running statistics do move).
 * Returns the loss. */
double simclr_grad(Simclr *s, const float *img1, const float *img2, int B, const SimclrStep *st);

/* simclr_grad followed by the AdamW update. Returns the loss. */
double simclr_step(Simclr *s, const float *img1, const float *img2, int B, const SimclrStep *st);

/* FLOPs of one step of B images (2B rows): forward + backward (3x forward) of backbone and
 * projector. The NT-Xent itself (three 2B x 2B x out gemms) is not counted. */
double simclr_step_flops(const Simclr *s, VitShape online, int B);

#endif
