/* train_data.h: the images of one training step: which samples (epoch permutations drawn
 * from the seed, so a step's batch depends only on (seed, step)), and their augmented views
 * uploaded to the backend. */
#ifndef HASTEN_TRAIN_DATA_H
#define HASTEN_TRAIN_DATA_H

#include "augment.h"
#include "dataset.h"
#include "method.h"

typedef struct {
    const Dataset *d;
    const Backend *be;
    int B, nviews;
    unsigned long long seed;
    AugRecipe recipe[AUG_MAX_VIEWS];
    int side[AUG_MAX_VIEWS];
    float *host;              /* one view's images, host */
    float *dev[AUG_MAX_VIEWS]; /* each view, device */
    int32_t *idx;
    int32_t *perm;            /* the permutation of the current epoch */
    long perm_epoch;
} TrainData;

void train_data_init(TrainData *td, const Dataset *d, const Method *me, int B,
                     unsigned long long seed);
void train_data_free(TrainData *td);

/* Fills td->dev[v] with the views of step `step`. */
void train_data_step(TrainData *td, long step);

/* Augments the samples already in td->idx with the streams of `stream` (any number not used
 * by training steps) and uploads the views. */
void train_data_views(TrainData *td, uint64_t stream);

#endif
