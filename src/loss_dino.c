/* loss_dino.c: DINO's cross-entropy between the centred, sharpened teacher softmax and the
 * student softmax over multi-crop views, and the teacher centre update.
 * Student logits s: [n_crops, B, K] (global crops first); teacher logits t: [n_global, B, K]. */
#include "losses.h"
#include "loss_util.h"
#include "common.h"


void dino_teacher_probs(float *pt, const float *t, const float *center, int R, int K,
                        float tau_t)
{
    HASSERT(R >= 1 && K >= 1 && tau_t > 0.0f);

    #pragma omp parallel
    {
        double *x = xmalloc(sizeof(double) * (size_t)K);
        double inv_tau = 1.0 / (double)tau_t;

        #pragma omp for schedule(static)
        for (int r = 0; r < R; r++) {
            const float *tr = t + (size_t)r * K;
            for (int k = 0; k < K; k++)
                x[k] = ((double)tr[k] - (center ? (double)center[k] : 0.0)) * inv_tau;
            double lse = loss_logsumexp(x, K);
            for (int k = 0; k < K; k++)
                pt[(size_t)r * K + k] = (float)exp(x[k] - lse);
        }
        free(x);
    }
}


/* One student row against the sum of m teacher rows, ptsum = sum_a pt_a (each summing to 1):
 * returns -sum_k ptsum_k log P_s,k with log P_s = log_softmax(s / tau_s), and writes
 * ds_k = gscale * (m P_s,k - ptsum_k) / tau_s, the derivative of gscale times that return
 * value (d(-log P_s,j)/ds_k = (P_s,k - [j == k]) / tau_s). x is K doubles of scratch. */
static double dino_student_row(float *ds, const float *s, const double *ptsum, double m,
                               int K, double inv_tau_s, double gscale, double *x)
{
    double loss = 0.0;

    for (int k = 0; k < K; k++)
        x[k] = (double)s[k] * inv_tau_s;
    double lse = loss_logsumexp(x, K);
    for (int k = 0; k < K; k++)
        loss -= ptsum[k] * (x[k] - lse);
    if (ds != NULL)
        for (int k = 0; k < K; k++)
            ds[k] = (float)(gscale * inv_tau_s * (m * exp(x[k] - lse) - ptsum[k]));
    return loss;
}


/* Sums n per-row losses in row order: an OpenMP reduction would make the last bits of the
 * loss depend on the thread count. Frees the array. */
static double dino_sum_rows(double *row_loss, int n)
{
    double total = 0.0;

    for (int i = 0; i < n; i++)
        total += row_loss[i];
    free(row_loss);
    return total;
}


float loss_dino_pair(float *ds, const float *s, const float *pt, int B, int K, float tau_s)
{
    HASSERT(B >= 1 && K >= 1 && tau_s > 0.0f);

    double *row_loss = xmalloc(sizeof(double) * (size_t)B);

    #pragma omp parallel
    {
        double *x = xmalloc(sizeof(double) * (size_t)K);
        double *ptd = xmalloc(sizeof(double) * (size_t)K);

        #pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            size_t off = (size_t)b * K;
            for (int k = 0; k < K; k++)
                ptd[k] = (double)pt[off + k];
            row_loss[b] = dino_student_row(ds ? ds + off : NULL, s + off, ptd, 1.0, K,
                                           1.0 / (double)tau_s, 1.0 / (double)B, x);
        }
        free(x);
        free(ptd);
    }
    return (float)(dino_sum_rows(row_loss, B) / (double)B);
}


/* Each student row (v, b) meets every teacher row (a, b) with a != v, so the pair sum
 * collapses to one student row against ptsum = sum_{a != v} pt[a, b] with m of them:
 * one log-softmax per student row however many teacher views there are. */
static double dino_all_rows(float *ds, const float *s, const float *pt, int n_global,
                            int n_crops, int B, int K, double inv_tau_s, double gscale)
{
    double *row_loss = xmalloc(sizeof(double) * (size_t)n_crops * B);

    #pragma omp parallel
    {
        double *x = xmalloc(sizeof(double) * (size_t)K);
        double *ptsum = xmalloc(sizeof(double) * (size_t)K);

        #pragma omp for schedule(static)
        for (int vb = 0; vb < n_crops * B; vb++) {
            int v = vb / B, b = vb % B, m = 0;
            for (int k = 0; k < K; k++)
                ptsum[k] = 0.0;
            for (int a = 0; a < n_global; a++) {
                if (a == v)
                    continue;
                const float *pa = pt + ((size_t)a * B + b) * K;
                for (int k = 0; k < K; k++)
                    ptsum[k] += (double)pa[k];
                m++;
            }
            size_t off = (size_t)vb * K;
            row_loss[vb] = dino_student_row(ds + off, s + off, ptsum, (double)m, K, inv_tau_s,
                                            gscale, x);
        }
        free(x);
        free(ptsum);
    }
    return dino_sum_rows(row_loss, n_crops * B);
}


float loss_dino(float *ds, float *center_update_sum, const float *s, const float *t,
                const float *center, int n_global, int n_crops, int B, int K,
                float tau_s, float tau_t)
{
    HASSERT(n_global >= 1 && n_crops >= 2 && n_global <= n_crops);
    HASSERT(B >= 1 && K >= 1 && tau_s > 0.0f && tau_t > 0.0f);

    size_t nt = (size_t)n_global * B * K;
    float *pt = xmalloc(sizeof(float) * nt);
    dino_teacher_probs(pt, t, center, n_global * B, K, tau_t);

    double n_pairs = (double)n_global * (double)(n_crops - 1);
    double total = dino_all_rows(ds, s, pt, n_global, n_crops, B, K, 1.0 / (double)tau_s,
                                 1.0 / (n_pairs * (double)B));
    free(pt);

    if (center_update_sum != NULL)
        for (int k = 0; k < K; k++) {
            double acc = 0.0;
            for (int r = 0; r < n_global * B; r++)
                acc += (double)t[(size_t)r * K + k];
            center_update_sum[k] = (float)acc;
        }
    return (float)(total / (n_pairs * (double)B));
}


void dino_center_apply(float *center, const float *sum, long count, int K, float momentum)
{
    HASSERT(count >= 1 && K >= 1);

    double m = (double)momentum;
    for (int k = 0; k < K; k++)
        center[k] = (float)(m * (double)center[k] + (1.0 - m) * (double)sum[k] / (double)count);
}


void dino_center_update(float *center, const float *t, int n_global, int B, int K,
                        float momentum)
{
    HASSERT(n_global >= 1 && B >= 1 && K >= 1);

    long R = (long)n_global * B;
    double m = (double)momentum;
    for (int k = 0; k < K; k++) {
        double acc = 0.0;
        for (long r = 0; r < R; r++)
            acc += (double)t[(size_t)r * K + k];
        center[k] = (float)(m * (double)center[k] + (1.0 - m) * acc / (double)R);
    }
}
