/* loss_util.h: helpers private to the loss files (loss_*.c); not part of the public API. */
#ifndef HASTEN_LOSS_UTIL_H
#define HASTEN_LOSS_UTIL_H

#include <math.h>

/* log(sum_i exp(x[i])) for n >= 1. The maximum is subtracted before exp so that no term
 * overflows and the largest term is exactly exp(0) = 1: the sum lies in [1, n] and its log is
 * exact to double rounding even for logits of 1e4 or more. */
static inline double loss_logsumexp(const double *x, int n)
{
    double mx = x[0], sum = 0.0;

    for (int i = 1; i < n; i++)
        if (x[i] > mx)
            mx = x[i];
    for (int i = 0; i < n; i++)
        sum += exp(x[i] - mx);
    return mx + log(sum);
}


/* Dot product of two float rows, accumulated in double. */
static inline double loss_dot(const float *a, const float *b, int D)
{
    double acc = 0.0;

    for (int d = 0; d < D; d++)
        acc += (double)a[d] * (double)b[d];
    return acc;
}

#endif
