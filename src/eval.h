/* eval.h: features of a dataset through a method's backbone and the kNN / linear probes. */
#ifndef HASTEN_EVAL_H
#define HASTEN_EVAL_H

#include "dataset.h"
#include "method.h"

/* CLS features [n, C] (host, from xmalloc) of the first n images of d under the evaluation
 * transform (no augmentation, normalised as in training). */
float *eval_features(Method *me, const Dataset *d, size_t n);

/* kNN top-1 (cosine, k, T = 0.07, train as memory) of test against train features. */
double eval_knn(const Method *me, const float *ftrain, const Dataset *train, size_t ntrain,
                const float *ftest, const Dataset *test, size_t ntest, int k);

#endif
