/* cost.h: `hasten cost`: the per-sample cost of one training step for every strategy of a
 * grid on this machine and backend, as the median of repeated timed steps after warm-up,
 * relative to strategy 0, with the FLOP model beside it. */
#ifndef HASTEN_COST_H
#define HASTEN_COST_H

#include "method.h"
#include "strategy.h"

#define COST_COLS 6

typedef struct {
    double flops_per_sample, seconds_per_step, cost_units, cost_units_flop, rel_cost, rel_flops;
} CostRow;

/* Times every strategy (reps timed steps after warmup untimed ones) on random images, and
 * the unit: a forward pass of B samples through the uncompressed backbone. Prints one line
 * per strategy. Returns rows [n]; *unit_seconds gets the seconds of one unit (per sample). */
CostRow *cost_measure(Method *me, const Strategy *s, size_t n, int B, int reps, int warmup,
                      double *unit_seconds);

/* Reads /cost and /strategies of a study file: the measured budget units per sample of s;
 * user error naming the file when s is not in the table. */
double cost_lookup(const char *study_path, Strategy s);

#endif
