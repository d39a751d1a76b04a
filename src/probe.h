/* probe.h: the two evaluations of frozen features, a weighted kNN vote (DINO's eval_knn) and a
 * linear probe (multinomial logistic regression with an L2 penalty).
 * Features are host float32 row-major [n, D]; labels are int32 in [0, K). Both probes are
 * deterministic: the same inputs give the same predictions for any thread count. */
#ifndef HASTEN_PROBE_H
#define HASTEN_PROBE_H

#include "backend.h"

#include <stddef.h>
#include <stdint.h>

/* ---- kNN ---- */

#define KNN_DEFAULT_K 20    /* DINO's eval_knn: 20 "usually works best" */
#define KNN_DEFAULT_T 0.07f /* temperature of the weights exp(s / T) */

/* Top-1 accuracy in [0, 1] of a weighted cosine kNN: train rows are the memory, test rows the
 * queries. Both sides are L2-normalised (on copies, eps 1e-12), similarities come from
 * be->gemm on chunks of queries sized from memory (any ntest >= 1 works). The k nearest
 * (k clamped to ntrain; ties broken towards the lower train index) vote with weights
 * exp(s / T); class score = sum of the weights of its neighbours; prediction = argmax, ties
 * to the lowest class. pred_out [ntest] receives the predictions when not NULL.
 * Dies (HASSERT) on a label outside [0, nclasses), ntrain or ntest of 0, k < 1 or T <= 0. */
double knn_top1(const Backend *be, const float *train_feat, const int32_t *train_lab,
                size_t ntrain, const float *test_feat, const int32_t *test_lab, size_t ntest,
                int D, int nclasses, int k, float T, int32_t *pred_out);

/* As knn_top1 with the number of queries per gemm fixed (chunk >= 1, clamped to ntest);
 * chunk 0 means "from memory", which is what knn_top1 does. Exposed so tests can cross
 * chunk boundaries on small sets. */
double knn_top1_chunked(const Backend *be, const float *train_feat, const int32_t *train_lab,
                        size_t ntrain, const float *test_feat, const int32_t *test_lab,
                        size_t ntest, int D, int nclasses, int k, float T, size_t chunk,
                        int32_t *pred_out);

/* kNN on raw pixels, the baseline a learned feature must beat. Images are uint8 [n, P] with
 * P = pixels_per_image (all channels flattened). Each pixel becomes x / 255 - mean_train[p],
 * the mean taken per dimension over the TRAIN images only (no test statistics leak in); then
 * the same cosine kNN as knn_top1. Centring matters: raw pixels are all >= 0, so without it
 * every cosine is dominated by the shared background and overall brightness. */
double knn_top1_pixels(const Backend *be, const uint8_t *train_px, const int32_t *train_lab,
                       size_t ntrain, const uint8_t *test_px, const int32_t *test_lab,
                       size_t ntest, size_t pixels_per_image, int nclasses, int k, float T,
                       int32_t *pred_out);


/* ---- linear probe ---- */

#define LINPROBE_NLAMBDA 6
#define LINPROBE_MAX_ITER 200     /* BFGS iterations per fit */
#define LINPROBE_GRAD_TOL 1e-5    /* stop when ||grad||_2 of the mean loss is below this */
#define LINPROBE_HELDOUT_FRAC 0.1 /* part of train held out to choose lambda */

typedef struct {
    double test_top1;                       /* of the refit on all of train */
    double train_top1;                      /* same model, on all of train */
    double lambda;                          /* chosen from lambdas[] */
    double lambdas[LINPROBE_NLAMBDA];       /* the grid, ascending */
    double heldout_top1[LINPROBE_NLAMBDA];  /* per lambda; NAN when ntrain < 2 (no search) */
    int iters[LINPROBE_NLAMBDA];            /* BFGS iterations of each search fit */
    int refit_iters;
    int capped;                             /* fits stopped by LINPROBE_MAX_ITER, not converged */
    size_t nheldout;                        /* 0 when ntrain < 2 */
    double seconds;                         /* wall time of the whole call */
} LinProbeResult;

/* Fits softmax regression W [K, D], b [K] on standardised train features (train mean and std;
 * a constant dimension becomes 0) and reports its test top-1. lambda is chosen from the grid
 * 1e-6 .. 1e-1 by accuracy on a held-out 10% of train (at least 1, at most ntrain - 1 rows,
 * drawn by rng_stream(seed, RNG_EVAL, 0, 0); ties go to the larger lambda), then the model is
 * refit on all of train with it. Optimiser: GSL's vector_bfgs2, warm-started along the grid.
 * Dies on a label outside [0, nclasses) or an empty set. */
LinProbeResult linprobe_fit_eval(const float *train_feat, const int32_t *train_lab,
                                 size_t ntrain, const float *test_feat, const int32_t *test_lab,
                                 size_t ntest, int D, int nclasses, uint64_t seed);

/* The objective: mean over n of -log softmax(W x_n + b)[y_n] + lambda/2 ||W||^2 (b is not
 * penalised). theta = [W (K*D, row k = class k), b (K)]. grad [K*D + K] is overwritten with
 * the gradient when not NULL. Softmax with the max subtracted; sums in double. Rows are cut
 * into fixed blocks, so the result does not depend on the thread count. */
double linprobe_loss_grad(double *grad, const double *theta, const float *X, const int32_t *y,
                          size_t N, int D, int K, double lambda);

/* argmax_k (W x_n + b)[k] for each row into pred [N]; returns the accuracy against y
 * (y may be NULL: returns 0). */
double linprobe_predict(int32_t *pred, const double *theta, const float *X, const int32_t *y,
                        size_t N, int D, int K);

#endif
