/* checkpoint.h: the state of a training run in an HDF5 group /checkpoints/<step>:
 *   params/<name>, target/<name>, adam_m/<name>, adam_v/<name>, buffers/<name>,
 *   target_buffers/<name> (timm-style names), extra/<name> (e.g. DINO's centre),
 *   attributes step, adam_t, budget_spent, fraction, wall_seconds, seed, rng.
 * Random draws are counter-based streams keyed by (seed, step, sample), so seed and step are
 * the whole random state. */
#ifndef HASTEN_CHECKPOINT_H
#define HASTEN_CHECKPOINT_H

#include "h5io.h"
#include "method.h"

typedef struct {
    long step;
    double budget_spent, fraction, wall_seconds;
    unsigned long long seed;
} TrainState;

/* "/checkpoints/000000001234": zero-padded so that names sort in step order. */
void checkpoint_name(char *out, size_t n, long step);

void checkpoint_write(hid_t f, const Method *me, const TrainState *st);

/* Loads the checkpoint of `step` (-1: the last one) into me and st; user error when the file
 * has none, or when a tensor is missing or has another shape (path names the file). */
void checkpoint_read(hid_t f, const char *path, long step, Method *me, TrainState *st);

/* Steps of the checkpoints in the file, ascending; *n gets the count. */
long *checkpoint_list(hid_t f, size_t *n);

#endif
