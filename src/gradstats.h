/* gradstats.h: `hasten gradstats`: at a checkpoint, K independent minibatch gradients of the
 * online network per strategy (fresh samples, augmentations and masks each time, target
 * branch and DINO centre frozen), accumulated in one pass, and compared with the gradients of
 * strategy 0: bias², variance, cost-adjusted variance, CA-MSE, with jackknife intervals.
 * Table /gradstats (and /gradstats_groups per parameter group) of the study file. */
#ifndef HASTEN_GRADSTATS_H
#define HASTEN_GRADSTATS_H

#include "dataset.h"
#include "method.h"
#include "strategy.h"

#define GS_COLS 31
extern const char *const GS_COLUMNS[GS_COLS];

/* The CA-MSE used to compare strategies: max(bias², 0) + c·V of a /gradstats row (relative
 * to |mean g_0|² when relative). A debiased bias² below zero means the bias is not resolved
 * from the noise of the draws; counting it as negative would reward that noise. */
double gs_camse_clamped(const double *row, int relative);

typedef struct {
    int draws, ref_draws, batch;
    double var_scale;   /* measured batch / training batch: variance scaled to training */
    int per_group;      /* also per parameter group */
    unsigned long long seed;
} GradstatsConfig;

typedef struct {
    double *rows;       /* [n, GS_COLS] */
    double *group_rows; /* [n * ngroups, GS_COLS + 1] (group index after the strategy) */
    int ngroups;
    char **group_names;
} GradstatsStage;

/* One stage: me holds the checkpoint (stage fraction and step go into the rows); rel_cost
 * [n] is each strategy's cost relative to strategy 0. */
GradstatsStage gradstats_stage(Method *me, const Dataset *train, const Strategy *s, size_t n,
                               const double *rel_cost, double fraction, long step, int stage,
                               const GradstatsConfig *cfg);
void gradstats_stage_free(GradstatsStage *g);

#endif
