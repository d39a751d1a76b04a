/* train.h: `hasten train`: self-supervised pretraining under a compute budget, with stage
 * checkpoints, periodic kNN evaluation and exact resume, all recorded in one HDF5 run file:
 *   /config            attributes: every setting and the version
 *   /checkpoints/<step> params, target, adam_m, adam_v, buffers, target_buffers (timm names),
 *                      dino_center; attributes step, adam_t, budget_spent, fraction, wall_seconds
 *   /curve             [n, 8] step, budget, wall_s, loss, lr, P, keep, grad_norm
 *   /eval              [n, 5] step, budget, fraction, knn_top1, linear_top1 (NaN: not run)
 * Budget unit: one forward pass of one sample through the uncompressed base model. */
#ifndef HASTEN_TRAIN_H
#define HASTEN_TRAIN_H

#include "h5io.h"
#include "method.h"
#include "strategy.h"
#include "vit.h"

#define TRAIN_MAX_STAGES 32

typedef struct {
    MethodKind method;
    MethodConfig mcfg;
    VitConfig vcfg;
    char dataset[32], data_path[512];
    int subset_train, subset_test;   /* 0: all */
    int B;
    double budget;                   /* budget units */
    double lr, min_lr, warmup;       /* base lr (for batch 256: scaled by B/256), warm-up frac */
    int decay_poly;                  /* 0 cosine, 1 polynomial */
    double alpha, wd, clip, mom0;
    double tt0, tt1, tt_warmup;      /* DINO teacher temperature warm-up */
    double freeze_last;              /* DINO: last layer frozen for this fraction of training */
    Schedule sched;
    char sched_src[512];             /* "constant" or the schedule file's path */
    char cost_path[512];             /* study file with a cost table, "" for the FLOP model */
    unsigned long long seed;
    int nstages;
    double stages[TRAIN_MAX_STAGES]; /* checkpoint fractions */
    double eval_every;               /* fraction between kNN evaluations, 0: none */
    int eval_train, eval_test, knn_k;
    char device[16], out[512];
    int quiet;
} TrainConfig;

/* Defaults of the given method for a dataset of images S x S x CH. */
void train_config_default(TrainConfig *c, MethodKind m, int S, int CH);

/* Runs or resumes (resume_step >= 0: from that checkpoint; -1: from the last one). */
int train_run(TrainConfig *c, int resume, long resume_step);

/* Cost per sample of one step under strategy s in budget units. */
double train_cost_per_sample(const TrainConfig *c, const Method *me, Strategy s);

/* Writes every field of c as attributes of /config; reads them back (path names the file in
 * messages). */
void train_config_write(hid_t f, const TrainConfig *c);
void train_config_read(hid_t f, TrainConfig *c, const char *path);

#endif
