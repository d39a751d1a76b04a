/* eval.c: features through a method's backbone, and the kNN probe on them. */
#include "eval.h"

#include "augment.h"
#include "common.h"
#include "probe.h"

#include <string.h>

float *eval_features(Method *me, const Dataset *d, size_t n)
{
    int B = me->maxB, C = me->vcfg.C, S = me->vcfg.S, CH = d->channels;
    AugRecipe rec = aug_recipe_eval(CH, S);
    float *feat = xmalloc((n > 0 ? n : 1) * (size_t)C * sizeof(float));
    float *host = xmalloc((size_t)B * CH * S * S * sizeof(float));
    float *dev = me->be->alloc((size_t)B * CH * S * S * sizeof(float));
    int32_t *idx = xmalloc((size_t)B * sizeof(int32_t));

    for (size_t i0 = 0; i0 < n; i0 += (size_t)B) {
        int nb = (int)(n - i0 < (size_t)B ? n - i0 : (size_t)B);
        for (int j = 0; j < nb; j++)
            idx[j] = (int32_t)(i0 + (size_t)j);
        augment_eval_batch(host, d->pixels, idx, nb, CH, d->height, d->width, &rec);
        me->be->upload(dev, host, (size_t)nb * CH * S * S * sizeof(float));
        method_features(me, dev, nb, feat + i0 * (size_t)C);
    }
    me->be->free(dev);
    free(host);
    free(idx);
    return feat;
}


double eval_knn(const Method *me, const float *ftrain, const Dataset *train, size_t ntrain,
                const float *ftest, const Dataset *test, size_t ntest, int k)
{
    return knn_top1(me->be, ftrain, train->labels, ntrain, ftest, test->labels, ntest,
                    me->vcfg.C, train->num_classes, k, 0.07f, NULL);
}
