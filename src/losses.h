/* losses.h: the three self-supervised losses (MoCo v3, SimCLR NT-Xent, DINO) with gradients.
 * Host-side C on float32 row-major arrays; sums and log-sum-exps are accumulated in double
 * with the row maximum subtracted before exp, so every loss stays finite for extreme logits.
 *
 * Gradient convention: each function OVERWRITES its gradient output (it does not add into
 * it, unlike the backend's _backward kernels). A caller that needs a sum (MoCo's symmetric
 * ctr(q1,k2) + ctr(q2,k1) uses disjoint q buffers, so it never does) adds the results itself.
 * Gradients are those of the returned (mean) loss; inputs and outputs must not overlap.
 * Training runs the same losses from backend ops on device memory (loss_backend.h); these
 * plain double loops stay as the independent reference that test_losses holds it to. DINO's
 * centre update (dino_center_apply) is used by training as it is: the centre lives on the
 * host. */
#ifndef HASTEN_LOSSES_H
#define HASTEN_LOSSES_H

/* ---- MoCo v3 ---- */

/* ctr(q, k) = 2*tau * mean_n CE(q k^T / tau, label n).
 * q, k: [N, D], already L2-normalised by the caller (normalisation is its own layer).
 * dq: [N, D], overwritten with d ctr / dq. k is the momentum branch: no gradient.
 * Returns the loss. Cost O(N^2 D), rows in parallel with OpenMP. */
float loss_moco_ctr(float *dq, const float *q, const float *k, int N, int D, float tau);


/* ---- SimCLR ---- */

/* NT-Xent over N2 = 2N rows: z [N2, D] L2-normalised, rows i and i + N2/2 are twins.
 * s_ij = z_i . z_j / tau; l_i = -log(exp(s_i,twin) / sum_{k != i} exp(s_ik)): the self pair is
 * masked out of the sum, never computed and subtracted. Loss = mean_i l_i.
 * dz: [N2, D], overwritten with dL/dz (every row gets gradient through every logit).
 * N2 must be even and >= 2. Memory O(N2), cost O(N2^2 D) (the similarities are computed
 * twice rather than stored as an N2 x N2 matrix). */
float loss_ntxent(float *dz, const float *z, int N2, int D, float tau);


/* ---- DINO ---- */

/* Teacher probabilities pt = softmax((t - center) / tau_t) row by row.
 * pt, t: [R, K]; center: [K] (NULL means zero). */
void dino_teacher_probs(float *pt, const float *t, const float *center, int R, int K,
                        float tau_t);

/* One (teacher view, student view) pair: mean_b( -sum_k pt[b,k] * log_softmax(s[b]/tau_s)_k ).
 * s, pt: [B, K]; pt rows are probabilities (e.g. from dino_teacher_probs).
 * ds: [B, K], overwritten with the gradient w.r.t. s (may be NULL). Returns the loss. */
float loss_dino_pair(float *ds, const float *s, const float *pt, int B, int K, float tau_s);

/* The full multi-crop loss:
 * L = (1/n_pairs) sum_{a < n_global} sum_{v < n_crops, v != a} pair(s[v], softmax((t[a]-c)/tau_t))
 * with n_pairs = n_global * (n_crops - 1) (= 2*n_crops - 2 for the usual 2 global crops).
 * s: student logits [n_crops, B, K], the first n_global crops are the global ones.
 * t: teacher logits [n_global, B, K] (no gradient); center: [K].
 * ds: [n_crops, B, K], overwritten with dL/ds.
 * center_update_sum: [K] or NULL; when given, overwritten with the sum of the teacher logits
 * over all n_global*B rows, for a caller that all-reduces it across processes before
 * dino_center_apply(). The centre itself is NOT updated here: DINO updates it after the loss.
 * Requires 1 <= n_global < n_crops or n_global == n_crops >= 2. Returns the loss. */
float loss_dino(float *ds, float *center_update_sum, const float *s, const float *t,
                const float *center, int n_global, int n_crops, int B, int K,
                float tau_s, float tau_t);

/* c = momentum * c + (1 - momentum) * mean over all n_global*B rows of t ([n_global, B, K]).
 * DINO uses momentum 0.9. */
void dino_center_update(float *center, const float *t, int n_global, int B, int K,
                        float momentum);

/* The same from a precomputed row sum: c = m c + (1 - m) * sum / count. */
void dino_center_apply(float *center, const float *sum, long count, int K, float momentum);

#endif
