/* loss_backend.h: the losses of losses.h composed from backend ops (gemm, xent_rows,
 * softmax_rows, add) on backend memory, so a training step moves only the B row losses to
 * the host. losses.h stays the independent host reference the tests compare these with.
 * Gradients are OVERWRITTEN, as in losses.h; inputs and outputs must not overlap. */
#ifndef HASTEN_LOSS_BACKEND_H
#define HASTEN_LOSS_BACKEND_H

#include "backend.h"

/* Scratch for up to maxN rows of up to maxK similarity columns: logits and dlogits
 * [maxN, maxK] and row losses [maxN] on the backend, row losses [maxN] on the host. */
typedef struct {
    const Backend *be;
    int maxN, maxK;
    float *logits, *dlogits, *row;
    float *h_row;
} LossBufs;

/* maxK may be 0 when only loss_dino_crop_be is used (it needs no similarity matrix). */
void loss_bufs_init(LossBufs *lb, const Backend *be, int maxN, int maxK);
void loss_bufs_free(LossBufs *lb);

/* loss_moco_ctr (losses.h) on the backend: q, k [N, D] device; dq [N, D] device. */
double loss_moco_ctr_be(LossBufs *lb, float *dq, const float *q, const float *k, int N, int D,
                        float tau);

/* loss_ntxent (losses.h) on the backend: z [N2, D] device; dz [N2, D] device. */
double loss_ntxent_be(LossBufs *lb, float *dz, const float *z, int N2, int D, float tau);

/* DINO's teacher targets: pt[0..1] = softmax((t[a] - center) / tau_t) of the two globals and
 * pt[2] = pt[0] + pt[1]. pt [3, B, K], t [2, B, K], center [K] (NULL: zero), all device. */
void dino_targets_be(const Backend *be, float *pt, const float *t, const float *center, int B,
                     int K, float tau_t);

/* Student crop v's share of loss_dino (losses.h, two globals): its pairs with every teacher
 * global a != v, each divided by n_pairs, as one cross-entropy against the sum of their
 * targets (pt[1 - v] for a global crop v < 2, pt[2] for a local one).
 * s, ds [B, K] device; pt from dino_targets_be. */
double loss_dino_crop_be(LossBufs *lb, float *ds, const float *s, const float *pt, int v,
                         int n_pairs, int B, int K, float tau_s);

#endif
