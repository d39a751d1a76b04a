/* linprobe.c: the linear probe, multinomial logistic regression with an L2 penalty on frozen
 * features standardised with the train statistics, fitted by GSL's vector_bfgs2; lambda is
 * chosen on a held-out part of train, then the model is refit on all of train.
 * Layout: X [N, D] float32 row-major; theta = [W (K rows of D), b (K)] in double. */
#include "probe.h"
#include "common.h"
#include "rng.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows per block of the loss. Blocks are fixed by N alone and their partial sums are added in
 * block order, so the loss and gradient are bitwise the same for any thread count. */
#define LP_BLOCK_ROWS 512
#define LP_STD_EPS 1e-12

static const double lp_grid[LINPROBE_NLAMBDA] = { 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1 };


/* Loss and (when g != NULL) gradient of the rows [n0, n1) of one block, unnormalised:
 *   loss = sum_n lse(z_n) - z_n[y_n],   z_n = W x_n + b,
 *   dW[k,:] += (softmax(z_n)[k] - [k == y_n]) x_n,   db[k] += the same coefficient.
 * z holds K doubles of scratch. */
static double lp_block(double *g, double *z, const double *theta, const float *X,
                       const int32_t *y, size_t n0, size_t n1, int D, int K)
{
    const double *W = theta, *b = theta + (size_t)K * D;
    double loss = 0.0;

    for (size_t n = n0; n < n1; n++) {
        const float *x = X + n * D;
        double zmax = -INFINITY;
        for (int k = 0; k < K; k++) {
            const double *w = W + (size_t)k * D;
            double s = b[k];
            #pragma omp simd reduction(+:s)
            for (int d = 0; d < D; d++)
                s += w[d] * x[d];
            z[k] = s;
            zmax = fmax(zmax, s);
        }

        /* log-sum-exp with the max subtracted: exp never overflows, whatever the logits. */
        double sum = 0.0;
        for (int k = 0; k < K; k++)
            sum += exp(z[k] - zmax);
        double lse = zmax + log(sum);
        loss += lse - z[y[n]];
        if (g == NULL)
            continue;

        for (int k = 0; k < K; k++) {
            double c = exp(z[k] - lse) - (k == y[n]);
            double *gw = g + (size_t)k * D;
            #pragma omp simd
            for (int d = 0; d < D; d++)
                gw[d] += c * x[d];
            g[(size_t)K * D + k] += c;
        }
    }
    return loss;
}


double linprobe_loss_grad(double *grad, const double *theta, const float *X, const int32_t *y,
                          size_t N, int D, int K, double lambda)
{
    size_t P = (size_t)K * D + K;
    size_t nblk = (N + LP_BLOCK_ROWS - 1) / LP_BLOCK_ROWS;
    double *part_loss = xcalloc(nblk, sizeof(double));
    double *part_grad = grad != NULL ? xcalloc(nblk * P, sizeof(double)) : NULL;

    HASSERT(N >= 1 && D >= 1 && K >= 1);
    #pragma omp parallel
    {
        double *z = xmalloc((size_t)K * sizeof(double));
        #pragma omp for schedule(dynamic, 1)
        for (size_t blk = 0; blk < nblk; blk++) {
            size_t n0 = blk * LP_BLOCK_ROWS;
            size_t n1 = n0 + LP_BLOCK_ROWS < N ? n0 + LP_BLOCK_ROWS : N;
            part_loss[blk] = lp_block(part_grad != NULL ? part_grad + blk * P : NULL, z, theta,
                                      X, y, n0, n1, D, K);
        }
        free(z);
    }

    /* mean over rows + lambda/2 ||W||^2; the bias is not penalised. */
    double loss = 0.0, wsq = 0.0;
    for (size_t blk = 0; blk < nblk; blk++)
        loss += part_loss[blk];
    for (size_t i = 0; i < (size_t)K * D; i++)
        wsq += theta[i] * theta[i];
    loss = loss / (double)N + 0.5 * lambda * wsq;

    if (grad != NULL) {
        memset(grad, 0, P * sizeof(double));
        for (size_t blk = 0; blk < nblk; blk++)
            for (size_t i = 0; i < P; i++)
                grad[i] += part_grad[blk * P + i];
        for (size_t i = 0; i < P; i++)
            grad[i] /= (double)N;
        for (size_t i = 0; i < (size_t)K * D; i++)
            grad[i] += lambda * theta[i];
    }
    free(part_loss);
    free(part_grad);
    return loss;
}


double linprobe_predict(int32_t *pred, const double *theta, const float *X, const int32_t *y,
                        size_t N, int D, int K)
{
    const double *W = theta, *b = theta + (size_t)K * D;
    size_t correct = 0;

    #pragma omp parallel for schedule(static) reduction(+:correct)
    for (size_t n = 0; n < N; n++) {
        const float *x = X + n * D;
        int32_t best = 0;
        double zbest = -INFINITY;
        for (int k = 0; k < K; k++) {
            const double *w = W + (size_t)k * D;
            double s = b[k];
            #pragma omp simd reduction(+:s)
            for (int d = 0; d < D; d++)
                s += w[d] * x[d];
            if (s > zbest) { /* strict: ties go to the lowest class */
                zbest = s;
                best = k;
            }
        }
        if (pred != NULL)
            pred[n] = best;
        if (y != NULL)
            correct += (best == y[n]);
    }
    return y != NULL ? (double)correct / (double)N : 0.0;
}


/* ---- the GSL objective ---- */

typedef struct {
    const float *X;
    const int32_t *y;
    size_t N;
    int D, K;
    double lambda;
} LpProblem;


static double lp_f(const gsl_vector *v, void *params)
{
    const LpProblem *p = params;
    HASSERT(v->stride == 1);
    return linprobe_loss_grad(NULL, v->data, p->X, p->y, p->N, p->D, p->K, p->lambda);
}


static void lp_fdf(const gsl_vector *v, void *params, double *f, gsl_vector *g)
{
    const LpProblem *p = params;
    HASSERT(v->stride == 1 && g->stride == 1);
    *f = linprobe_loss_grad(g->data, v->data, p->X, p->y, p->N, p->D, p->K, p->lambda);
}


static void lp_df(const gsl_vector *v, void *params, gsl_vector *g)
{
    double f;
    lp_fdf(v, params, &f, g);
}


/* Minimises the objective from theta (warm start) and leaves the result in theta. Stops at
 * LINPROBE_MAX_ITER iterations, at ||grad|| < LINPROBE_GRAD_TOL, or when BFGS can make no
 * more progress (GSL_ENOPROG: the line search found no lower point, i.e. converged as far as
 * double precision allows). Returns the iterations done; *capped counts a stop at the cap. */
static int lp_fit(double *theta, int *capped, const float *X, const int32_t *y, size_t N, int D,
                  int K, double lambda)
{
    size_t P = (size_t)K * D + K;
    LpProblem prob = { X, y, N, D, K, lambda };
    gsl_multimin_function_fdf F = { lp_f, lp_df, lp_fdf, P, &prob };
    gsl_vector *x0 = gsl_vector_alloc(P);
    gsl_multimin_fdfminimizer *m =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, P);
    CHECK_ALLOC(x0);
    CHECK_ALLOC(m);

    memcpy(x0->data, theta, P * sizeof(double));
    /* First trial step 0.1 along the normalised descent direction; 0.1 is the Wolfe
     * curvature parameter GSL recommends for bfgs2. */
    gsl_multimin_fdfminimizer_set(m, &F, x0, 0.1, 0.1);

    int it = 0;
    while (it < LINPROBE_MAX_ITER &&
           gsl_multimin_test_gradient(m->gradient, LINPROBE_GRAD_TOL) == GSL_CONTINUE) {
        it++;
        if (gsl_multimin_fdfminimizer_iterate(m) != GSL_SUCCESS)
            break;
    }

    memcpy(theta, m->x->data, P * sizeof(double));
    if (capped != NULL)
        *capped += it == LINPROBE_MAX_ITER &&
                   gsl_multimin_test_gradient(m->gradient, LINPROBE_GRAD_TOL) == GSL_CONTINUE;
    gsl_multimin_fdfminimizer_free(m);
    gsl_vector_free(x0);
    return it;
}


/* ---- data preparation ---- */

/* Per-dimension mean and 1/std (population) of X [N, D] in double; a dimension with std below
 * LP_STD_EPS gets 1/std = 0, so it becomes 0 instead of amplified rounding noise. */
static void lp_stats(double *mean, double *istd, const float *X, size_t N, int D)
{
    for (int d = 0; d < D; d++)
        mean[d] = istd[d] = 0.0;
    for (size_t n = 0; n < N; n++)
        for (int d = 0; d < D; d++)
            mean[d] += X[n * D + d];
    for (int d = 0; d < D; d++)
        mean[d] /= (double)N;
    for (size_t n = 0; n < N; n++)
        for (int d = 0; d < D; d++) {
            double c = X[n * D + d] - mean[d];
            istd[d] += c * c;
        }
    for (int d = 0; d < D; d++) {
        double sd = sqrt(istd[d] / (double)N);
        istd[d] = sd > LP_STD_EPS ? 1.0 / sd : 0.0;
    }
}


/* out[i,:] = (X[rows[i],:] - mean) * istd for i < n (rows NULL: the identity). */
static float *lp_standardised(const float *X, const size_t *rows, size_t n, int D,
                              const double *mean, const double *istd)
{
    float *out = xmalloc(n * (size_t)D * sizeof(float));

    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        const float *x = X + (rows != NULL ? rows[i] : i) * D;
        for (int d = 0; d < D; d++)
            out[i * D + d] = (float)((x[d] - mean[d]) * istd[d]);
    }
    return out;
}


static void lp_check_labels(const int32_t *lab, size_t n, int K, const char *which)
{
    for (size_t i = 0; i < n; i++)
        if (lab[i] < 0 || lab[i] >= K)
            die_at(__FILE__, __LINE__, __func__, NULL, "%s label %ld at row %zu is outside [0, %d)",
                   which, (long)lab[i], i, K);
}


/* The held-out rows: a seeded Fisher-Yates shuffle of 0..N-1; the first nval are held out and
 * the rest (in increasing order, for locality) fit. */
static size_t *lp_split(size_t N, size_t nval, uint64_t seed)
{
    size_t *perm = xmalloc(N * sizeof(size_t));
    Rng r = rng_stream(seed, RNG_EVAL, 0, 0);

    for (size_t i = 0; i < N; i++)
        perm[i] = i;
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = (size_t)rng_below(&r, i + 1);
        size_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }

    /* Sort the fit part: mark held-out rows, then list the others in order. */
    unsigned char *held = xcalloc(N, 1);
    for (size_t i = 0; i < nval; i++)
        held[perm[i]] = 1;
    size_t f = nval;
    for (size_t i = 0; i < N; i++)
        if (!held[i])
            perm[f++] = i;
    free(held);
    return perm;
}


LinProbeResult linprobe_fit_eval(const float *train_feat, const int32_t *train_lab,
                                 size_t ntrain, const float *test_feat, const int32_t *test_lab,
                                 size_t ntest, int D, int nclasses, uint64_t seed)
{
    double t0 = now_seconds();
    int K = nclasses;
    size_t P = (size_t)K * D + K;
    LinProbeResult res;

    HASSERT(ntrain >= 1 && ntest >= 1 && D >= 1 && K >= 1);
    lp_check_labels(train_lab, ntrain, K, "train");
    lp_check_labels(test_lab, ntest, K, "test");
    memset(&res, 0, sizeof(res));

    double *mean = xmalloc((size_t)D * sizeof(double));
    double *istd = xmalloc((size_t)D * sizeof(double));
    lp_stats(mean, istd, train_feat, ntrain, D);
    float *Xtr = lp_standardised(train_feat, NULL, ntrain, D, mean, istd);

    /* lambda search on a held-out part; warm starts go from the largest lambda (the easiest,
     * most strongly convex problem) down, and ties in accuracy keep the larger lambda. */
    double *theta = xcalloc(P, sizeof(double));
    double *best_theta = xcalloc(P, sizeof(double));
    int ibest = LINPROBE_NLAMBDA / 2;
    memcpy(res.lambdas, lp_grid, sizeof(lp_grid));
    for (int i = 0; i < LINPROBE_NLAMBDA; i++)
        res.heldout_top1[i] = NAN;

    if (ntrain >= 2) {
        size_t nval = (size_t)llround(LINPROBE_HELDOUT_FRAC * (double)ntrain);
        nval = nval < 1 ? 1 : nval > ntrain - 1 ? ntrain - 1 : nval;
        size_t nfit = ntrain - nval;
        size_t *rows = lp_split(ntrain, nval, seed);
        float *Xval = lp_standardised(train_feat, rows, nval, D, mean, istd);
        float *Xfit = lp_standardised(train_feat, rows + nval, nfit, D, mean, istd);
        int32_t *yval = xmalloc(nval * sizeof(int32_t));
        int32_t *yfit = xmalloc(nfit * sizeof(int32_t));
        for (size_t i = 0; i < nval; i++)
            yval[i] = train_lab[rows[i]];
        for (size_t i = 0; i < nfit; i++)
            yfit[i] = train_lab[rows[nval + i]];

        double best_acc = -1.0;
        for (int i = LINPROBE_NLAMBDA - 1; i >= 0; i--) {
            res.iters[i] = lp_fit(theta, &res.capped, Xfit, yfit, nfit, D, K, lp_grid[i]);
            res.heldout_top1[i] = linprobe_predict(NULL, theta, Xval, yval, nval, D, K);
            if (res.heldout_top1[i] > best_acc) {
                best_acc = res.heldout_top1[i];
                ibest = i;
                memcpy(best_theta, theta, P * sizeof(double));
            }
        }
        res.nheldout = nval;
        free(rows);
        free(Xval);
        free(Xfit);
        free(yval);
        free(yfit);
    }

    /* Refit on all of train with the chosen lambda, from the held-out fit's solution. */
    res.lambda = lp_grid[ibest];
    res.refit_iters = lp_fit(best_theta, &res.capped, Xtr, train_lab, ntrain, D, K, res.lambda);
    res.train_top1 = linprobe_predict(NULL, best_theta, Xtr, train_lab, ntrain, D, K);
    free(Xtr);

    float *Xte = lp_standardised(test_feat, NULL, ntest, D, mean, istd);
    res.test_top1 = linprobe_predict(NULL, best_theta, Xte, test_lab, ntest, D, K);
    free(Xte);
    free(theta);
    free(best_theta);
    free(mean);
    free(istd);
    res.seconds = now_seconds() - t0;
    return res;
}
