/* loss_moco.c: MoCo v3's contrastive loss ctr(q, k) = 2 tau CE(q k^T / tau, diagonal labels).
 * q, k: [N, D] row-major, L2-normalised by the caller; only q receives a gradient. */
#include "losses.h"
#include "loss_util.h"
#include "common.h"


/* Forward, per row n: l_nm = q_n.k_m / tau; loss_n = lse_m(l_nm) - l_nn.
 * Backward: d loss_n / d l_nm = p_nm - [m == n] with p = softmax_m(l_n), and
 * d l_nm / d q_n = k_m / tau, so with the 2 tau / N scale
 * dq_n = (2 / N) sum_m (p_nm - [m == n]) k_m. */
float loss_moco_ctr(float *dq, const float *q, const float *k, int N, int D, float tau)
{
    HASSERT(N >= 1 && D >= 1 && tau > 0.0f);

    /* per-row losses summed in row order afterwards: an OpenMP reduction would make the last
     * bits of the loss depend on the thread count */
    double *row_loss = xmalloc(sizeof(double) * (size_t)N);

    #pragma omp parallel
    {
        /* per-thread scratch: one row of logits and one gradient row, in double */
        double *logit = xmalloc(sizeof(double) * (size_t)N);
        double *grow = xmalloc(sizeof(double) * (size_t)D);
        double inv_tau = 1.0 / (double)tau;
        double gscale = 2.0 / (double)N;

        #pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *qn = q + (size_t)n * D;

            for (int m = 0; m < N; m++)
                logit[m] = loss_dot(qn, k + (size_t)m * D, D) * inv_tau;
            double lse = loss_logsumexp(logit, N);
            row_loss[n] = lse - logit[n];

            for (int d = 0; d < D; d++)
                grow[d] = 0.0;
            for (int m = 0; m < N; m++) {
                double g = exp(logit[m] - lse) - (m == n ? 1.0 : 0.0);
                const float *km = k + (size_t)m * D;
                for (int d = 0; d < D; d++)
                    grow[d] += g * (double)km[d];
            }
            for (int d = 0; d < D; d++)
                dq[(size_t)n * D + d] = (float)(gscale * grow[d]);
        }
        free(logit);
        free(grow);
    }

    double total = 0.0;
    for (int n = 0; n < N; n++)
        total += row_loss[n];
    free(row_loss);
    return (float)(2.0 * (double)tau * total / (double)N);
}
