/* method.h: one interface over the three self-supervised methods (MoCo v3, SimCLR, DINO), so
 * the trainer, the checkpoints, the cost table and the gradient statistics treat them alike.
 * Every method keeps its trainable tensors in one flat vector p (gradient g, AdamW moments
 * m and v), its BatchNorm running statistics in buf, and, when it has one, a target branch
 * (momentum encoder or teacher) whose parameters p_t mirror p[0, target_count). */
#ifndef HASTEN_METHOD_H
#define HASTEN_METHOD_H

#include "backend.h"
#include "dino.h"
#include "moco.h"
#include "params.h"
#include "simclr.h"
#include "strategy.h"
#include "vit.h"

typedef enum { METHOD_MOCO = 0, METHOD_SIMCLR = 1, METHOD_DINO = 2 } MethodKind;

typedef struct {
    int hidden, out;      /* head widths */
    int prototypes;       /* DINO: K */
    int local_crops;      /* DINO: number of local crops */
    int local_side;       /* DINO: their side in pixels */
    float tau;            /* MoCo / SimCLR temperature */
} MethodConfig;

typedef struct {
    Strategy strat;
    float lr, wd, momentum, teacher_temp;
    int freeze_last_layer;
    int freeze_center;    /* DINO: leave the centre as it is (gradient statistics) */
    uint64_t seed, step;
} MethodStep;

typedef struct {
    MethodKind kind;
    VitConfig vcfg;
    MethodConfig mcfg;
    const Backend *be;
    void *impl;
    /* views into the implementation */
    ParamTable *params, *buffers;
    Vit *vit;
    float *p, *g, *m, *v, *decay, *p_t, *buf, *buf_t;
    size_t target_count;
    int *adam_t;
    VitActs *eval_acts;   /* inference buffers of the backbone */
    float *extra;         /* host state outside the vectors (DINO's centre), or NULL */
    size_t extra_n;
    const char *extra_name;
    int maxB;
} Method;

const char *method_name(MethodKind k);
int method_parse(const char *s); /* -1 when unknown */

void method_init(Method *me, MethodKind kind, const VitConfig *vcfg, const MethodConfig *mcfg,
                 const Backend *be, int maxB, uint64_t seed);
void method_free(Method *me);

/* Number of augmented inputs a step takes, and the side of input v (0: the model's S). */
int method_num_views(const Method *me);
int method_view_side(const Method *me, int v);

/* Target-branch update, loss and gradient into me->g (zeroed first); parameters unchanged. */
double method_grad(Method *me, float *const *views, int B, const MethodStep *st);

/* Clips the gradient to a global L2 norm (clip > 0), then the AdamW update. Returns the
 * gradient norm before clipping. */
double method_update(Method *me, const MethodStep *st, float clip);

/* FLOPs of one step of B images under a strategy (multiply-adds count 2). */
double method_step_flops(const Method *me, Strategy s, int B);

/* Backbone features (CLS after the final norm) of B images [B, CH, S, S] (device) into
 * host memory out[B, C]: the online backbone for MoCo and SimCLR, the teacher for DINO. */
void method_features(Method *me, const float *img, int B, float *out);

#endif
