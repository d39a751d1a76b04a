/* cpu_xent.c: softmax and softmax cross-entropy over the rows of logits[N,K], the last step
 * of the self-supervised losses (MoCo and SimCLR over similarity rows, DINO over prototype
 * scores). Rows run in parallel; each row's max, exp sum and log are taken in double. */
#include "cpu_ops.h"
#include "common.h"

#include <math.h>

/* log sum_k exp(scale x[k]) over the row, column skip left out (skip < 0: none). The max is
 * subtracted first, so no term overflows and the sum lies in [1, K] whatever the logits. */
static double xent_row_lse(const float *x, int K, double scale, int skip)
{
    double mx = -INFINITY, sum = 0.0;

    for (int k = 0; k < K; k++)
        if (k != skip && scale * x[k] > mx)
            mx = scale * x[k];
    for (int k = 0; k < K; k++)
        if (k != skip)
            sum += exp(scale * x[k] - mx);
    return mx + log(sum);
}


/* One row of xent_rows (backend.h): t is the target row or NULL for the one-hot label. */
static float xent_row(float *dx, const float *x, const float *t, int K, int label, int skip,
                      double scale, double gscale)
{
    double lse = xent_row_lse(x, K, scale, skip), m = 0.0, tx = 0.0;

    for (int k = 0; k < K; k++) {
        double tk = t != NULL ? (double)t[k] : (k == label ? 1.0 : 0.0);
        if (k != skip) {
            m += tk;
            tx += tk * scale * x[k];
        }
    }

    /* d(m lse - sum_k t_k x_k)/dx_k = m p_k - t_k, and dx_k/dlogit_k = scale */
    if (dx != NULL)
        for (int k = 0; k < K; k++) {
            double tk = t != NULL ? (double)t[k] : (k == label ? 1.0 : 0.0);
            dx[k] = k == skip ? 0.0f
                              : (float)(gscale * scale * (m * exp(scale * x[k] - lse) - tk));
        }
    return (float)(m * lse - tx);
}


void cpu_xent_rows(float *loss, float *dlogits, const float *logits, const float *target,
                   int N, int K, int shift, int mask_self, float scale, float gscale)
{
    HASSERT(N >= 0 && K >= 1 && shift >= 0);
    HASSERT(!mask_self || (N <= K && K >= 2));

    #pragma omp parallel for schedule(static) if ((size_t)N * K >= CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        size_t off = (size_t)n * K;
        int label = (int)(((long)n + shift) % K);
        loss[n] = xent_row(dlogits != NULL ? dlogits + off : NULL, logits + off,
                           target != NULL ? target + off : NULL, K, label, mask_self ? n : -1,
                           (double)scale, (double)gscale);
    }
}


void cpu_softmax_rows(float *out, const float *inp, const float *center, int N, int K,
                      float inv_temp)
{
    HASSERT(N >= 0 && K >= 1);

    #pragma omp parallel for schedule(static) if ((size_t)N * K >= CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * K;
        float *o = out + (size_t)n * K;
        double mx = -INFINITY, sum = 0.0, lse;

        /* (x - c) / T in double, recomputed in each pass rather than stored: no scratch */
        for (int k = 0; k < K; k++) {
            double v = ((double)x[k] - (center != NULL ? (double)center[k] : 0.0)) * inv_temp;
            mx = v > mx ? v : mx;
        }
        for (int k = 0; k < K; k++)
            sum += exp(((double)x[k] - (center != NULL ? (double)center[k] : 0.0)) * inv_temp
                       - mx);
        lse = mx + log(sum);
        for (int k = 0; k < K; k++)
            o[k] = (float)exp(((double)x[k] - (center != NULL ? (double)center[k] : 0.0))
                              * inv_temp - lse);
    }
}
