/* train_data.c: batches and augmented views of a training step (see train_data.h). */
#include "train_data.h"

#include "common.h"
#include "rng.h"

#include <string.h>

void train_data_init(TrainData *td, const Dataset *d, const Method *me, int B,
                     unsigned long long seed)
{
    int CH = d->channels, S = me->vcfg.S;
    size_t maxpix = 0;

    memset(td, 0, sizeof(*td));
    td->d = d;
    td->be = me->be;
    td->B = B;
    td->seed = seed;
    td->nviews = method_num_views(me);
    HASSERT(td->nviews <= AUG_MAX_VIEWS);
    for (int v = 0; v < td->nviews; v++) {
        td->side[v] = method_view_side(me, v);
        if (me->kind == METHOD_MOCO)
            td->recipe[v] = aug_recipe_moco(v, CH, S);
        else if (me->kind == METHOD_SIMCLR)
            td->recipe[v] = aug_recipe_simclr(CH, S);
        else if (v < 2)
            td->recipe[v] = aug_recipe_dino_global(v, me->mcfg.local_crops, CH, S);
        else
            td->recipe[v] = aug_recipe_dino_local(CH, S, td->side[v]);
        size_t n = (size_t)B * CH * td->side[v] * td->side[v];
        td->dev[v] = td->be->alloc(n * sizeof(float));
        maxpix = n > maxpix ? n : maxpix;
    }
    td->host = xmalloc(maxpix * sizeof(float));
    td->idx = xmalloc((size_t)B * sizeof(int32_t));
    td->perm = xmalloc(d->n * sizeof(int32_t));
    td->perm_epoch = -1;
}


void train_data_free(TrainData *td)
{
    for (int v = 0; v < td->nviews; v++)
        td->be->free(td->dev[v]);
    free(td->host);
    free(td->idx);
    free(td->perm);
    memset(td, 0, sizeof(*td));
}


/* Fisher-Yates permutation of the epoch, from its own stream. */
static void epoch_perm(TrainData *td, long epoch)
{
    size_t n = td->d->n;
    Rng r = rng_stream(td->seed, RNG_DATA_ORDER, (uint64_t)epoch, 0);

    for (size_t i = 0; i < n; i++)
        td->perm[i] = (int32_t)i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rng_below(&r, i + 1);
        int32_t t = td->perm[i];
        td->perm[i] = td->perm[j];
        td->perm[j] = t;
    }
    td->perm_epoch = epoch;
}


void train_data_step(TrainData *td, long step)
{
    const Dataset *d = td->d;

    /* Sample j of step s is the (s*B + j)-th of the concatenated epoch permutations. */
    for (int j = 0; j < td->B; j++) {
        unsigned long long g = (unsigned long long)step * td->B + (unsigned long long)j;
        long epoch = (long)(g / d->n);
        if (epoch != td->perm_epoch)
            epoch_perm(td, epoch);
        td->idx[j] = td->perm[g % d->n];
    }
    train_data_views(td, (uint64_t)step);
}


void train_data_views(TrainData *td, uint64_t stream)
{
    const Dataset *d = td->d;

    for (int v = 0; v < td->nviews; v++) {
        size_t n = (size_t)td->B * d->channels * td->side[v] * td->side[v];
        augment_batch(td->host, d->pixels, td->idx, td->B, d->channels, d->height, d->width,
                      &td->recipe[v], td->seed, stream, v);
        td->be->upload(td->dev[v], td->host, n * sizeof(float));
    }
}
