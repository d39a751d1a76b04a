/* cost.h: `hasten cost`: the per-sample cost of one training step for every strategy of a
 * grid on this machine and backend, as the median of repeated timed steps after warm-up,
 * relative to strategy 0, with the FLOP model beside it. */
#ifndef HASTEN_COST_H
#define HASTEN_COST_H

#include "dataset.h"
#include "method.h"
#include "strategy.h"

#define COST_COLS 6

typedef struct {
    double flops_per_sample, seconds_per_step, cost_units, cost_units_flop, rel_cost, rel_flops;
} CostRow;

/* Times every strategy's step, gradient and optimizer update (reps timed steps after warmup
 * untimed ones) on random images, plus data_seconds for the data pipeline, which every step
 * pays whatever its strategy; and the unit: a forward pass of B samples through the
 * uncompressed backbone. Prints one line per strategy. Returns rows [n]; *unit_seconds gets
 * the seconds of one unit (per sample). */
CostRow *cost_measure(Method *me, const Strategy *s, size_t n, int B, int reps, int warmup,
                      double data_seconds, double *unit_seconds);

/* Median seconds per step of the training data pipeline (batch sampling, augmentation of
 * every view, upload) on dataset d: a fixed cost of each step that shortening the token
 * sequence does not reduce, so a cost table without it overstates the speed-up. */
double cost_data_seconds(const Method *me, const Dataset *d, int B, int reps, int warmup);

/* Reads /cost and /strategies of a study file: the measured budget units per sample of s;
 * user error naming the file when s is not in the table. */
double cost_lookup(const char *study_path, Strategy s);

#endif
