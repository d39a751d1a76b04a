/* dino.h: DINO on the ViT. Student = backbone -> head: 3-layer MLP (C -> hidden -> hidden ->
 * bottleneck, GELU, no BN, biases) -> L2 -> weight-normalised linear to K prototypes (gain
 * fixed at 1, norm_last_layer). Teacher = EMA copy of the whole student, no gradient.
 * Multi-crop: 2 global crops [B, CH, S, S] and L local crops [B, CH, Sl, Sl]; the teacher
 * sees the 2 globals, the student every crop. The student crops are processed ONE AT A TIME
 * (forward, loss terms of that crop, backward), so only one crop's activations are alive. */
#ifndef HASTEN_DINO_H
#define HASTEN_DINO_H

#include "backend.h"
#include "head.h"
#include "loss_backend.h"
#include "params.h"
#include "vit.h"

typedef struct {
    int hidden, bottleneck, K; /* head widths: C -> hidden -> hidden -> bottleneck -> K */
    float tau_s;               /* student temperature, 0.1 */
    float center_momentum;     /* 0.9 */
} DinoConfig;

typedef struct {
    VitConfig vcfg;
    DinoConfig dcfg;
    const Backend *be;
    ParamTable params, buffers;   /* layout [backbone | head]; no buffers (no BN) */
    Vit vit;
    Head head, head_t;            /* student and teacher views of the same layer stack */
    size_t last_first, last_count; /* the last (weight-normalised) layer's span */
    float *p, *g, *m, *v, *decay, *p_t;
    VitActs acts, acts_t;
    int maxB, adam_t;
    float *center;                /* [K] host: the teacher centre (checkpointed state) */
    float *h_tsum;                /* [K] host: column sums of the last call's teacher logits */
    float *d_t;                   /* [2, B, K] device: teacher logits of the last call */
    float *d_pt;                  /* [3, B, K] device: teacher probabilities of globals 0, 1
                                   * and their sum (the target of a local crop) */
    float *d_center, *d_tsum;     /* [K] device: centre copy, teacher column sums */
    float *d_ds;                  /* [B, K] device: one crop's loss gradient */
    LossBufs lb;                  /* one crop's row losses */
    int32_t *idx;                 /* kept-token scratch (host) */
} Dino;

/* One training step's settings. The zero value of the two flags is DINO's usual step. */
typedef struct {
    VitShape online;         /* student's global crops; locals use its P and keep at side Sl */
    VitShape target;         /* teacher's global crops */
    float lr, wd;            /* AdamW */
    float momentum;          /* teacher EMA momentum (sched_momentum(0.996, t)) */
    float tau_t;             /* teacher temperature (sched_teacher_temp(0.04, 0.07, w, t)) */
    uint64_t seed, step;     /* token-dropout streams */
    int freeze_last_layer;   /* 1: zero the last layer's gradient (DINO's first epoch) */
    int freeze_center;       /* 1: leave the centre unchanged (gradient checks, statistics) */
} DinoStep;

void dino_init(Dino *d, const VitConfig *vcfg, const DinoConfig *dcfg, const Backend *be,
               int maxB, uint64_t seed);
void dino_free(Dino *d);

/* The shape a local crop of side S_local runs at under the student's global shape: same keep
 * ratio, same patch side when it fits in the crop, else one patch of the whole crop. */
VitShape dino_local_shape(VitShape online, int S_local);

/* The teacher EMA update, then the multi-crop loss
 *   L = 1/n_pairs sum_{a in globals} sum_{v != a} CE(teacher_probs(a), student(v)),
 * n_pairs = 2 (2 + L) - 2, and its gradient with respect to the student (into d->g, zeroed
 * first), without changing the student; then the centre update from the 2 global teacher
 * outputs (unless st->freeze_center). globals: 2 device pointers [B, CH, S, S]; locals: L
 * device pointers [B, CH, S_local, S_local] (may be NULL when L == 0). Returns the loss. */
double dino_grad(Dino *d, const float *const *globals, const float *const *locals, int L,
                 int S_local, int B, const DinoStep *st);

/* dino_grad followed by the AdamW update. Returns the loss. */
double dino_step(Dino *d, const float *const *globals, const float *const *locals, int L,
                 int S_local, int B, const DinoStep *st);

/* FLOPs of one step of B images: student forward + backward (3x forward) of 2 globals and
 * L locals, teacher forward of the 2 globals. The loss (row softmaxes over K) is not counted. */
double dino_step_flops(const Dino *d, VitShape online, VitShape target, int L, int S_local,
                       int B);

#endif
