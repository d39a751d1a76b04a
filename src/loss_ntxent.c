/* loss_ntxent.c: SimCLR's NT-Xent loss over 2N L2-normalised views.
 * z: [N2, D] row-major with N2 = 2N; rows i and i + N are the two views of one image. */
#include "losses.h"
#include "loss_util.h"
#include "common.h"


/* The row's twin: i + N for the first view, i - N for the second. */
static int ntxent_twin(int i, int N)
{
    return i < N ? i + N : i - N;
}


/* lse[i] = log sum_{k != i} exp(z_i.z_k / tau); returns sum_i (lse[i] - s_i,twin), summed in
 * row order so that the loss does not depend on the thread count.
 * The self pair is skipped, not computed and subtracted: exp(s_ii) = exp(1/tau) would
 * dominate (and at tau = 0.01 swamp) the very sum it would then be removed from. */
static double ntxent_row_lse(double *lse, const float *z, int N2, int D, double inv_tau)
{
    double *row_loss = xmalloc(sizeof(double) * (size_t)N2);

    #pragma omp parallel
    {
        double *logit = xmalloc(sizeof(double) * (size_t)N2);

        #pragma omp for schedule(static)
        for (int i = 0; i < N2; i++) {
            const float *zi = z + (size_t)i * D;
            int n = 0;

            for (int k = 0; k < N2; k++)
                if (k != i)
                    logit[n++] = loss_dot(zi, z + (size_t)k * D, D) * inv_tau;
            lse[i] = loss_logsumexp(logit, n);
            row_loss[i] = lse[i]
                          - loss_dot(zi, z + (size_t)ntxent_twin(i, N2 / 2) * D, D) * inv_tau;
        }
        free(logit);
    }

    double total = 0.0;
    for (int i = 0; i < N2; i++)
        total += row_loss[i];
    free(row_loss);
    return total;
}


/* L = (1/N2) sum_i (lse_i - s_i,twin(i)). The logit s_ik (k != i) enters row i's term with
 * dL/ds_ik = (p_ik - [k == twin(i)]) / N2, p_ik = exp(s_ik - lse_i), and, through the
 * symmetry s_ik = s_ki, row k's term with (p_ki - [i == twin(k)]) / N2. As
 * ds_ik/dz_i = z_k / tau and twin is an involution,
 * dz_i = (1 / (tau N2)) sum_{k != i} (exp(s_ik - lse_i) + exp(s_ik - lse_k)
 *                                    - 2 [k == twin(i)]) z_k. */
float loss_ntxent(float *dz, const float *z, int N2, int D, float tau)
{
    HASSERT(N2 >= 2 && N2 % 2 == 0 && D >= 1 && tau > 0.0f);

    double inv_tau = 1.0 / (double)tau;
    double *lse = xmalloc(sizeof(double) * (size_t)N2);
    double total = ntxent_row_lse(lse, z, N2, D, inv_tau);
    double gscale = inv_tau / (double)N2;

    #pragma omp parallel
    {
        double *grow = xmalloc(sizeof(double) * (size_t)D);

        #pragma omp for schedule(static)
        for (int i = 0; i < N2; i++) {
            const float *zi = z + (size_t)i * D;
            int twin = ntxent_twin(i, N2 / 2);

            for (int d = 0; d < D; d++)
                grow[d] = 0.0;
            for (int k = 0; k < N2; k++) {
                if (k == i)
                    continue;
                const float *zk = z + (size_t)k * D;
                double s = loss_dot(zi, zk, D) * inv_tau;
                double g = exp(s - lse[i]) + exp(s - lse[k]) - (k == twin ? 2.0 : 0.0);
                for (int d = 0; d < D; d++)
                    grow[d] += g * (double)zk[d];
            }
            for (int d = 0; d < D; d++)
                dz[(size_t)i * D + d] = (float)(gscale * grow[d]);
        }
        free(grow);
    }
    free(lse);
    return (float)(total / (double)N2);
}
