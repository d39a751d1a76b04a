/* loss_backend.c: MoCo v3, NT-Xent and DINO losses from backend ops (see loss_backend.h).
 * Similarities and input gradients by gemm, each row's softmax cross-entropy by xent_rows;
 * only the per-row losses come back to the host, and they are summed there. */
#include "loss_backend.h"
#include "common.h"


void loss_bufs_init(LossBufs *lb, const Backend *be, int maxN, int maxK)
{
    size_t nk = (size_t)maxN * (size_t)maxK;

    HASSERT(maxN >= 1 && maxK >= 0);
    lb->be = be;
    lb->maxN = maxN;
    lb->maxK = maxK;
    lb->logits = nk > 0 ? be->alloc(nk * sizeof(float)) : NULL;
    lb->dlogits = nk > 0 ? be->alloc(nk * sizeof(float)) : NULL;
    lb->row = be->alloc((size_t)maxN * sizeof(float));
    lb->h_row = xmalloc((size_t)maxN * sizeof(float));
}


void loss_bufs_free(LossBufs *lb)
{
    if (lb->be != NULL) {
        lb->be->free(lb->logits);
        lb->be->free(lb->dlogits);
        lb->be->free(lb->row);
    }
    free(lb->h_row);
    lb->logits = lb->dlogits = lb->row = lb->h_row = NULL;
}


/* Sum of the N row losses, downloaded and added in row order: the same bits whatever the
 * backend's thread count or reduction order. */
static double rows_sum(LossBufs *lb, int N)
{
    double total = 0.0;

    lb->be->download(lb->h_row, lb->row, (size_t)N * sizeof(float));
    for (int n = 0; n < N; n++)
        total += lb->h_row[n];
    return total;
}


/* ctr = 2 tau mean_n CE(q k^T / tau, label n). With l = q k^T, xent_rows at scale 1/tau and
 * gscale 2 tau / N gives dl = (2 / N) (softmax - onehot), and dq = dl k (k: no gradient). */
double loss_moco_ctr_be(LossBufs *lb, float *dq, const float *q, const float *k, int N, int D,
                        float tau)
{
    const Backend *be = lb->be;

    HASSERT(N >= 1 && N <= lb->maxN && N <= lb->maxK && D >= 1 && tau > 0.0f);
    be->gemm(0, 1, N, N, D, 1.0f, q, D, k, D, 0.0f, lb->logits, N);
    be->xent_rows(lb->row, lb->dlogits, lb->logits, NULL, N, N, 0, 0, 1.0f / tau,
                  2.0f * tau / (float)N);
    be->gemm(0, 0, N, D, N, 1.0f, lb->dlogits, N, k, D, 0.0f, dq, D);
    return 2.0 * (double)tau * rows_sum(lb, N) / (double)N;
}


/* L = mean_i CE over k != i of z_i.z_k / tau against the twin i + N2/2 (mod N2). With
 * S = z z^T, xent_rows' gradient G = dL/dS has a zero diagonal (the masked self pair), and
 * as S is symmetric dz = G z + G^T z. */
double loss_ntxent_be(LossBufs *lb, float *dz, const float *z, int N2, int D, float tau)
{
    const Backend *be = lb->be;

    HASSERT(N2 >= 2 && N2 % 2 == 0 && N2 <= lb->maxN && N2 <= lb->maxK && D >= 1);
    HASSERT(tau > 0.0f);
    be->gemm(0, 1, N2, N2, D, 1.0f, z, D, z, D, 0.0f, lb->logits, N2);
    be->xent_rows(lb->row, lb->dlogits, lb->logits, NULL, N2, N2, N2 / 2, 1, 1.0f / tau,
                  1.0f / (float)N2);
    be->gemm(0, 0, N2, D, N2, 1.0f, lb->dlogits, N2, z, D, 0.0f, dz, D);
    be->gemm(1, 0, N2, D, N2, 1.0f, lb->dlogits, N2, z, D, 1.0f, dz, D);
    return rows_sum(lb, N2) / (double)N2;
}


void dino_targets_be(const Backend *be, float *pt, const float *t, const float *center, int B,
                     int K, float tau_t)
{
    size_t nk = (size_t)B * K;

    HASSERT(B >= 1 && K >= 1 && tau_t > 0.0f);
    be->softmax_rows(pt, t, center, 2 * B, K, 1.0f / tau_t);
    be->add(pt + 2 * nk, pt, pt + nk, nk);
}


/* The crop's rows meet m = 1 (global) or 2 (local) teacher rows; the summed target makes
 * xent_rows' loss the sum of the m pair losses and its gradient sum_a (P_s - pt_a) / tau_s,
 * which gscale = 1 / (B n_pairs) turns into this crop's share of the mean. */
double loss_dino_crop_be(LossBufs *lb, float *ds, const float *s, const float *pt, int v,
                         int n_pairs, int B, int K, float tau_s)
{
    const float *target = pt + (size_t)(v < 2 ? 1 - v : 2) * B * K;
    double share = (double)B * (double)n_pairs;

    HASSERT(B >= 1 && B <= lb->maxN && K >= 1 && v >= 0 && n_pairs >= 1 && tau_s > 0.0f);
    lb->be->xent_rows(lb->row, ds, s, target, B, K, 0, 0, 1.0f / tau_s, (float)(1.0 / share));
    return rows_sum(lb, B) / share;
}
