/* test_probe.c: the kNN and linear probes.
 * kNN against a brute-force double reference written here (literal loops, full sort) over many
 * (ntrain, ntest, D, k), chunk boundaries, scale invariance, hand-made answers, pixels; the
 * linear probe's gradient by central differences, separable and random-label sets, lambda
 * selection, determinism, tiny sets, error paths. Fixed seeds; inputs scaled by 2.385.
 * `test_probe --bench` instead times both probes at 60000 x 10000 x 192. */
#include "probe.h"
#include "common.h"
#include "rng.h"
#include "check.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEED 2385


/* ---- helpers ---- */

static void fill_normal(float *x, size_t n, uint64_t stream, double scale)
{
    Rng r = rng_stream(SEED, RNG_INIT, stream, 0);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * rng_normal(&r));
}


static void fill_labels(int32_t *y, size_t n, int K, uint64_t stream)
{
    Rng r = rng_stream(SEED, RNG_INIT, stream, 1);
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t)rng_below(&r, (uint64_t)K);
}


/* Features with some class structure: noise (sd 2.385) plus a class centre (sd 1.5 per dim),
 * so accuracies land between chance and 1 and the vote actually matters. */
static void make_set(float *x, int32_t *y, size_t n, int D, int K, uint64_t stream)
{
    float *centres = xmalloc((size_t)K * D * sizeof(float));
    fill_normal(centres, (size_t)K * D, 999, 1.5);
    fill_labels(y, n, K, stream);
    fill_normal(x, n * D, stream, 2.385);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < D; d++)
            x[i * D + d] += centres[(size_t)y[i] * D + d];
    free(centres);
}


/* ---- brute-force kNN reference (double, full sort) ---- */

typedef struct { double s; size_t i; } Nb;

static int nb_cmp(const void *a, const void *b)
{
    const Nb *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}


/* Prediction for one query. *fragile is set when the answer hangs on a near-tie that float
 * arithmetic may resolve either way: the k-th and (k+1)-th similarities within 1e-5, or the
 * two best class scores within a relative 1e-5. */
static int32_t ref_knn(const float *q, const float *tr, const int32_t *lab, size_t ntrain, int D,
                       int K, int k, double T, int *fragile)
{
    Nb *nb = xmalloc(ntrain * sizeof(Nb));
    double *score = xcalloc((size_t)K, sizeof(double));
    double nq = 0.0;

    for (int d = 0; d < D; d++)
        nq += (double)q[d] * q[d];
    nq = fmax(sqrt(nq), 1e-12);
    for (size_t j = 0; j < ntrain; j++) {
        double dot = 0.0, nt = 0.0;
        for (int d = 0; d < D; d++) {
            dot += (double)q[d] * tr[j * D + d];
            nt += (double)tr[j * D + d] * tr[j * D + d];
        }
        nb[j].s = dot / (nq * fmax(sqrt(nt), 1e-12));
        nb[j].i = j;
    }
    qsort(nb, ntrain, sizeof(Nb), nb_cmp);

    size_t kk = (size_t)k < ntrain ? (size_t)k : ntrain;
    for (size_t j = 0; j < kk; j++)
        score[lab[nb[j].i]] += exp(nb[j].s / T);
    int32_t best = 0;
    for (int c = 1; c < K; c++)
        if (score[c] > score[best])
            best = c;
    double second = -1.0;
    for (int c = 0; c < K; c++)
        if (c != best && score[c] > second)
            second = score[c];

    *fragile = (kk < ntrain && nb[kk - 1].s - nb[kk].s < 1e-5) ||
               (second >= 0.0 && score[best] - second < 1e-5 * score[best]);
    free(nb);
    free(score);
    return best;
}


/* ---- kNN tests ---- */

typedef struct { size_t ntrain, ntest; int D, K, k; float T; } KnnCase;

static void test_knn_reference(const Backend *be)
{
    static const KnnCase cases[] = {
        { 50, 1, 8, 3, 20, 0.07f },   { 40, 7, 5, 4, 50, 0.07f },  /* k > ntrain */
        { 300, 99, 16, 5, 20, 0.07f }, { 300, 100, 16, 5, 20, 0.07f },
        { 257, 101, 12, 6, 10, 0.07f }, { 64, 33, 3, 2, 1, 0.07f },
        { 1, 5, 4, 3, 20, 0.07f },    { 500, 211, 24, 10, 20, 0.5f },
        { 128, 64, 7, 3, 200, 0.02f },
    };
    char name[160], detail[200];

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const KnnCase *kc = &cases[c];
        float *tr = xmalloc(kc->ntrain * kc->D * sizeof(float));
        float *te = xmalloc(kc->ntest * kc->D * sizeof(float));
        int32_t *ytr = xmalloc(kc->ntrain * sizeof(int32_t));
        int32_t *yte = xmalloc(kc->ntest * sizeof(int32_t));
        int32_t *pred = xmalloc(kc->ntest * sizeof(int32_t));
        int32_t *pred7 = xmalloc(kc->ntest * sizeof(int32_t));
        int32_t *pred1 = xmalloc(kc->ntest * sizeof(int32_t));
        make_set(tr, ytr, kc->ntrain, kc->D, kc->K, 10 + 2 * c);
        make_set(te, yte, kc->ntest, kc->D, kc->K, 11 + 2 * c);

        double acc = knn_top1(be, tr, ytr, kc->ntrain, te, yte, kc->ntest, kc->D, kc->K, kc->k,
                              kc->T, pred);
        double acc7 = knn_top1_chunked(be, tr, ytr, kc->ntrain, te, yte, kc->ntest, kc->D,
                                       kc->K, kc->k, kc->T, 7, pred7);
        double acc1 = knn_top1_chunked(be, tr, ytr, kc->ntrain, te, yte, kc->ntest, kc->D,
                                       kc->K, kc->k, kc->T, 1, pred1);

        size_t refc = 0, hard = 0, soft = 0;
        for (size_t q = 0; q < kc->ntest; q++) {
            int fragile;
            int32_t r = ref_knn(te + q * kc->D, tr, ytr, kc->ntrain, kc->D, kc->K, kc->k, kc->T,
                                &fragile);
            refc += (r == yte[q]);
            if (r != pred[q])
                *(fragile ? &soft : &hard) += 1;
        }
        double refacc = (double)refc / kc->ntest;

        snprintf(name, sizeof name, "knn vs brute force (ntrain %zu ntest %zu D %d K %d k %d T %g)",
                 kc->ntrain, kc->ntest, kc->D, kc->K, kc->k, kc->T);
        snprintf(detail, sizeof detail, "%zu predictions differ (+%zu on near-ties), expected 0",
                 hard, soft);
        check_true(hard == 0, name, detail);
        snprintf(name, sizeof name, "knn accuracy vs brute force (ntrain %zu ntest %zu k %d)",
                 kc->ntrain, kc->ntest, kc->k);
        check_close(acc, refacc, (double)soft / kc->ntest + 1e-12, name);

        int same = !memcmp(pred, pred7, kc->ntest * sizeof(int32_t)) &&
                   !memcmp(pred, pred1, kc->ntest * sizeof(int32_t)) && acc == acc7 &&
                   acc == acc1;
        snprintf(name, sizeof name, "knn chunks 7 and 1 give the same predictions (ntest %zu)",
                 kc->ntest);
        snprintf(detail, sizeof detail, "acc %.6f / %.6f / %.6f", acc, acc7, acc1);
        check_true(same, name, detail);

        free(tr); free(te); free(ytr); free(yte); free(pred); free(pred7); free(pred1);
    }
}


/* Scaling test features by 7.3 and train by 0.2 (and then every row by its own factor in
 * [0.1, 10]) changes nothing: normalisation happens on both sides. */
static void test_knn_scale_invariance(const Backend *be)
{
    size_t ntr = 400, nte = 150;
    int D = 20, K = 7;
    float *tr = xmalloc(ntr * D * sizeof(float)), *te = xmalloc(nte * D * sizeof(float));
    float *tr2 = xmalloc(ntr * D * sizeof(float)), *te2 = xmalloc(nte * D * sizeof(float));
    int32_t *ytr = xmalloc(ntr * 4), *yte = xmalloc(nte * 4);
    int32_t *p0 = xmalloc(nte * 4), *p1 = xmalloc(nte * 4), *p2 = xmalloc(nte * 4);
    Rng r = rng_stream(SEED, RNG_INIT, 77, 0);
    char detail[120];

    make_set(tr, ytr, ntr, D, K, 40);
    make_set(te, yte, nte, D, K, 41);
    double a0 = knn_top1(be, tr, ytr, ntr, te, yte, nte, D, K, 20, 0.07f, p0);
    for (size_t i = 0; i < ntr * D; i++)
        tr2[i] = 0.2f * tr[i];
    for (size_t i = 0; i < nte * D; i++)
        te2[i] = 7.3f * te[i];
    double a1 = knn_top1(be, tr2, ytr, ntr, te2, yte, nte, D, K, 20, 0.07f, p1);
    for (size_t i = 0; i < ntr; i++) {
        float f = (float)(0.1 * pow(100.0, rng_uniform(&r)));
        for (int d = 0; d < D; d++)
            tr2[i * D + d] = f * tr[i * D + d];
    }
    for (size_t i = 0; i < nte; i++) {
        float f = (float)(0.1 * pow(100.0, rng_uniform(&r)));
        for (int d = 0; d < D; d++)
            te2[i * D + d] = f * te[i * D + d];
    }
    double a2 = knn_top1(be, tr2, ytr, ntr, te2, yte, nte, D, K, 20, 0.07f, p2);

    size_t diff1 = 0, diff2 = 0;
    for (size_t i = 0; i < nte; i++) {
        diff1 += p0[i] != p1[i];
        diff2 += p0[i] != p2[i];
    }
    snprintf(detail, sizeof detail, "%zu predictions differ, acc %.4f vs %.4f", diff1, a1, a0);
    check_true(diff1 == 0 && a1 == a0, "knn invariant to test x7.3, train x0.2", detail);
    snprintf(detail, sizeof detail, "%zu predictions differ, acc %.4f vs %.4f", diff2, a2, a0);
    check_true(diff2 == 0 && a2 == a0, "knn invariant to per-row scales in [0.1, 10]", detail);
    free(tr); free(te); free(tr2); free(te2); free(ytr); free(yte); free(p0); free(p1); free(p2);
}


/* Four train points in the plane; query q = (0.96, 0.28), a unit vector (norm scaled by 2.385).
 * Cosines: (1,0) class 0: 0.96; (0.8,0.6) class 1: 0.936; (0,1) class 1: 0.28; (-1,0) class 2:
 * -0.96. k=2: class 0 wins (e^(0.96/T) > e^(0.936/T)). k=3, T=1: class 1 wins
 * (e^0.936 + e^0.28 = 3.873 > e^0.96 = 2.612). k=3, T=0.07: class 0 still wins
 * (e^(0.024/0.07) = 1.409 > 1 + e^(-0.656/0.07)). */
static void test_knn_hand(const Backend *be)
{
    const float tr[] = { 2.385f, 0.0f, 0.8f * 3.1f, 0.6f * 3.1f, 0.0f, 0.5f, -1.7f, 0.0f };
    const int32_t ytr[] = { 0, 1, 1, 2 };
    const float q[] = { 0.96f * 2.385f, 0.28f * 2.385f };
    int32_t yq = 1, p;
    char detail[80];

    knn_top1(be, tr, ytr, 4, q, &yq, 1, 2, 3, 2, 0.07f, &p);
    snprintf(detail, sizeof detail, "predicted %d, expected 0", p);
    check_true(p == 0, "knn hand case k=2 T=0.07", detail);
    double acc = knn_top1(be, tr, ytr, 4, q, &yq, 1, 2, 3, 3, 1.0f, &p);
    snprintf(detail, sizeof detail, "predicted %d, expected 1", p);
    check_true(p == 1, "knn hand case k=3 T=1", detail);
    check_close(acc, 1.0, 0.0, "knn hand case k=3 T=1 accuracy");
    knn_top1(be, tr, ytr, 4, q, &yq, 1, 2, 3, 3, 0.07f, &p);
    snprintf(detail, sizeof detail, "predicted %d, expected 0", p);
    check_true(p == 0, "knn hand case k=3 T=0.07", detail);
    knn_top1(be, tr, ytr, 4, q, &yq, 1, 2, 3, 4, 1.0f, &p);
    snprintf(detail, sizeof detail, "predicted %d, expected 1", p);
    check_true(p == 1, "knn hand case k=4 T=1 (the far class-2 point adds e^-0.96)", detail);

    /* Ties: two train points on the same ray, classes 2 and 1. k=2: equal class scores, so the
     * lowest class (1) wins. k=1: equal similarities, so the lower train index (class 2). */
    const float tr2[] = { 1.0f, 1.0f, 2.0f, 2.0f, -1.0f, 0.5f };
    const int32_t ytr2[] = { 2, 1, 0 };
    const float q2[] = { 3.0f, 3.0f };
    knn_top1(be, tr2, ytr2, 3, q2, &yq, 1, 2, 3, 2, 0.07f, &p);
    snprintf(detail, sizeof detail, "predicted %d, expected 1", p);
    check_true(p == 1, "knn tied class scores go to the lowest class", detail);
    knn_top1(be, tr2, ytr2, 3, q2, &yq, 1, 2, 3, 1, 0.07f, &p);
    snprintf(detail, sizeof detail, "predicted %d, expected 2", p);
    check_true(p == 2, "knn tied similarities keep the lower train index", detail);

    /* A zero query is similar (0) to everything: all k tie, the vote is plain counting. */
    const float zero[] = { 0.0f, 0.0f };
    knn_top1(be, tr, ytr, 4, zero, &yq, 1, 2, 3, 4, 0.07f, &p);
    snprintf(detail, sizeof detail, "predicted %d, expected 1 (2 votes of 4)", p);
    check_true(p == 1, "knn zero query stays finite and counts votes", detail);
}


/* knn_top1_pixels equals knn_top1 on features x/255 - train mean computed here, and beats
 * chance on images made of class templates plus noise. */
static void test_knn_pixels(const Backend *be)
{
    size_t ntr = 240, nte = 61, P = 49;
    int K = 4;
    uint8_t *ptr = xmalloc(ntr * P), *pte = xmalloc(nte * P), tmpl[4 * 49];
    int32_t *ytr = xmalloc(ntr * 4), *yte = xmalloc(nte * 4);
    int32_t *pa = xmalloc(nte * 4), *pb = xmalloc(nte * 4);
    Rng r = rng_stream(SEED, RNG_INIT, 60, 0);
    char detail[120];

    for (size_t i = 0; i < (size_t)K * P; i++)
        tmpl[i] = (uint8_t)(40 + rng_below(&r, 160));
    fill_labels(ytr, ntr, K, 61);
    fill_labels(yte, nte, K, 62);
    for (size_t i = 0; i < ntr + nte; i++) {
        uint8_t *img = i < ntr ? ptr + i * P : pte + (i - ntr) * P;
        int32_t y = i < ntr ? ytr[i] : yte[i - ntr];
        for (size_t p = 0; p < P; p++) {
            double v = tmpl[y * P + p] + 40.0 * rng_normal(&r);
            img[p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }

    double *mean = xcalloc(P, sizeof(double));
    float *ftr = xmalloc(ntr * P * 4), *fte = xmalloc(nte * P * 4);
    for (size_t i = 0; i < ntr; i++)
        for (size_t p = 0; p < P; p++)
            mean[p] += ptr[i * P + p];
    for (size_t p = 0; p < P; p++)
        mean[p] /= 255.0 * ntr;
    for (size_t i = 0; i < ntr * P; i++)
        ftr[i] = (float)(ptr[i] / 255.0 - mean[i % P]);
    for (size_t i = 0; i < nte * P; i++)
        fte[i] = (float)(pte[i] / 255.0 - mean[i % P]);

    double a = knn_top1_pixels(be, ptr, ytr, ntr, pte, yte, nte, P, K, 20, 0.07f, pa);
    double b = knn_top1(be, ftr, ytr, ntr, fte, yte, nte, (int)P, K, 20, 0.07f, pb);
    snprintf(detail, sizeof detail, "acc %.4f vs %.4f", a, b);
    check_true(a == b && !memcmp(pa, pb, nte * 4), "knn pixels = knn on centred x/255", detail);
    snprintf(detail, sizeof detail, "acc %.4f, expected > 0.8 (chance 0.25)", a);
    check_true(a > 0.8, "knn pixels on template images beats chance", detail);
    free(ptr); free(pte); free(ytr); free(yte); free(pa); free(pb); free(mean); free(ftr);
    free(fte);
}


/* The CUDA backend predicts what the CPU one does (near-ties aside: cuBLAS may sum in
 * another order). Skipped where there is no GPU. */
static void test_knn_cuda_parity(const Backend *cpu)
{
    const Backend *gpu = backend_cuda();
    size_t ntr = 3000, nte = 517;
    int D = 64, K = 10;
    char detail[120];

    if (gpu == NULL) {
        printf("skipped: no GPU (knn CPU-vs-CUDA parity)\n");
        return;
    }
    float *tr = xmalloc(ntr * D * 4), *te = xmalloc(nte * D * 4);
    int32_t *ytr = xmalloc(ntr * 4), *yte = xmalloc(nte * 4);
    int32_t *pc = xmalloc(nte * 4), *pg = xmalloc(nte * 4);
    make_set(tr, ytr, ntr, D, K, 70);
    make_set(te, yte, nte, D, K, 71);
    double ac = knn_top1(cpu, tr, ytr, ntr, te, yte, nte, D, K, 20, 0.07f, pc);
    double ag = knn_top1(gpu, tr, ytr, ntr, te, yte, nte, D, K, 20, 0.07f, pg);
    size_t diff = 0;
    for (size_t i = 0; i < nte; i++)
        diff += pc[i] != pg[i];
    snprintf(detail, sizeof detail, "%zu of %zu predictions differ (at most 2), acc %.4f vs %.4f",
             diff, nte, ag, ac);
    check_true(diff <= 2, "knn CUDA vs CPU", detail);
    free(tr); free(te); free(ytr); free(yte); free(pc); free(pg);
}


/* ---- error paths: run in a child, which must die with status 1 ---- */

typedef void (*ErrFn)(const Backend *be);

static void err_knn_label(const Backend *be)
{
    float x[6] = { 1.1f, 2.2f, 3.3f, 4.4f, 5.5f, 6.6f };
    int32_t ytr[2] = { 0, 3 }, yte[1] = { 0 };
    knn_top1(be, x, ytr, 2, x + 4, yte, 1, 2, 3, 20, 0.07f, NULL);
}


static void err_knn_nan(const Backend *be)
{
    float x[6] = { 1.1f, NAN, 3.3f, 4.4f, 5.5f, 6.6f };
    int32_t ytr[2] = { 0, 1 }, yte[1] = { 0 };
    knn_top1(be, x, ytr, 2, x + 4, yte, 1, 2, 3, 20, 0.07f, NULL);
}


static void err_knn_k0(const Backend *be)
{
    float x[6] = { 1.1f, 2.2f, 3.3f, 4.4f, 5.5f, 6.6f };
    int32_t ytr[2] = { 0, 1 }, yte[1] = { 0 };
    knn_top1(be, x, ytr, 2, x + 4, yte, 1, 2, 3, 0, 0.07f, NULL);
}


static void err_lp_label(const Backend *be)
{
    float x[6] = { 1.1f, 2.2f, 3.3f, 4.4f, 5.5f, 6.6f };
    int32_t ytr[2] = { 0, 1 }, yte[1] = { -1 };
    (void)be;
    linprobe_fit_eval(x, ytr, 2, x + 4, yte, 1, 2, 3, SEED);
}


/* The error cases by name, run in a fresh process (`test_probe --die NAME`): a fork of a
 * process whose OpenMP pool is running may hang in its first parallel region. */
static const struct { const char *name; ErrFn fn; } err_cases[] = {
    { "knn-label", err_knn_label }, { "knn-nan", err_knn_nan }, { "knn-k0", err_knn_k0 },
    { "lp-label", err_lp_label },
};


static int run_err_case(const Backend *be, const char *name)
{
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++)
        if (strcmp(err_cases[i].name, name) == 0) {
            err_cases[i].fn(be);
            return 0; /* not reached when the probe dies as it should */
        }
    return 99;
}


static void check_dies(const char *err_case, const char *name)
{
    char detail[80];
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(98);
        execl("/proc/self/exe", "test_probe", "--die", err_case, (char *)NULL);
        _exit(97);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    snprintf(detail, sizeof detail, "exit status %d, expected 1", code);
    check_true(code == 1, name, detail);
}


/* ---- linear probe tests ---- */

static void test_lp_gradient(void)
{
    const size_t N = 13;
    const int D = 4, K = 3, P = K * D + K;
    float X[13 * 4];
    int32_t y[13];
    double theta[15], g[15], fd[15];
    Rng r = rng_stream(SEED, RNG_INIT, 90, 0);
    char name[80];

    fill_normal(X, N * D, 91, 2.385);
    fill_labels(y, N, K, 92);
    for (int i = 0; i < P; i++)
        theta[i] = 0.7 * rng_normal(&r);

    const double lambdas[] = { 0.0, 0.037, 1.3 };
    for (int l = 0; l < 3; l++) {
        linprobe_loss_grad(g, theta, X, y, N, D, K, lambdas[l]);
        for (int i = 0; i < P; i++) {
            double t = theta[i], h = 1e-5;
            theta[i] = t + h;
            double fp = linprobe_loss_grad(NULL, theta, X, y, N, D, K, lambdas[l]);
            theta[i] = t - h;
            double fm = linprobe_loss_grad(NULL, theta, X, y, N, D, K, lambdas[l]);
            theta[i] = t;
            fd[i] = (fp - fm) / (2 * h);
        }
        double dd = 0, nn = 0;
        for (int i = 0; i < P; i++) {
            dd += (g[i] - fd[i]) * (g[i] - fd[i]);
            nn += fd[i] * fd[i];
        }
        snprintf(name, sizeof name, "linprobe gradient vs central differences (lambda %g)",
                 lambdas[l]);
        check_relerr(sqrt(dd / nn), 1e-7, name);
    }

    /* theta = 0: every row's loss is log K and the penalty is 0. */
    double zero[15] = { 0 };
    check_close(linprobe_loss_grad(NULL, zero, X, y, N, D, K, 0.5), log(3.0), 1e-15,
                "linprobe loss at theta = 0 is log K");

    /* Logits of 1e4: the max subtraction keeps the loss finite (about 1e4 * margin). */
    double big[15];
    for (int i = 0; i < P; i++)
        big[i] = 3000.0 * theta[i];
    double fbig = linprobe_loss_grad(g, big, X, y, N, D, K, 0.0);
    check_true(isfinite(fbig) && isfinite(g[0]), "linprobe loss finite for huge logits", NULL);
}


/* The loss is bitwise the same on 1 thread and on all of them (blocks fixed by N). */
static void test_lp_threads(void)
{
    size_t N = 3001;
    int D = 17, K = 5, P = K * D + K;
    float *X = xmalloc(N * D * 4);
    int32_t *y = xmalloc(N * 4);
    double *theta = xmalloc(P * 8), *g1 = xmalloc(P * 8), *g2 = xmalloc(P * 8);
    Rng r = rng_stream(SEED, RNG_INIT, 95, 0);

    fill_normal(X, N * D, 96, 2.385);
    fill_labels(y, N, K, 97);
    for (int i = 0; i < P; i++)
        theta[i] = 0.3 * rng_normal(&r);
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    double f1 = linprobe_loss_grad(g1, theta, X, y, N, D, K, 1e-3);
    omp_set_num_threads(nt < 2 ? 3 : nt);
    double f2 = linprobe_loss_grad(g2, theta, X, y, N, D, K, 1e-3);
    omp_set_num_threads(nt);
    check_true(f1 == f2 && !memcmp(g1, g2, P * 8),
               "linprobe loss and gradient identical on 1 and several threads", NULL);
    free(X); free(y); free(theta); free(g1); free(g2);
}


static void print_lp(const LinProbeResult *res)
{
    printf("  linprobe: test %.4f train %.4f lambda %g refit %d iters, %d capped, %.2f s; "
           "held-out:", res->test_top1, res->train_top1, res->lambda, res->refit_iters,
           res->capped, res->seconds);
    for (int i = 0; i < LINPROBE_NLAMBDA; i++)
        printf(" %g:%.3f(%d)", res->lambdas[i], res->heldout_top1[i], res->iters[i]);
    printf("\n");
}


/* K=3 Gaussian blobs far apart in D=5 (centres 2.385 * 4 apart per dim, noise sd 1). */
static void test_lp_blobs(void)
{
    size_t ntr = 150, nte = 60;
    int D = 5, K = 3;
    float *tr = xmalloc(ntr * D * 4), *te = xmalloc(nte * D * 4);
    int32_t *ytr = xmalloc(ntr * 4), *yte = xmalloc(nte * 4);
    float centres[15];

    fill_normal(centres, 15, 100, 4 * 2.385);
    fill_labels(ytr, ntr, K, 101);
    fill_labels(yte, nte, K, 102);
    fill_normal(tr, ntr * D, 103, 1.0);
    fill_normal(te, nte * D, 104, 1.0);
    for (size_t i = 0; i < ntr * D; i++)
        tr[i] += centres[ytr[i / D] * D + i % D];
    for (size_t i = 0; i < nte * D; i++)
        te[i] += centres[yte[i / D] * D + i % D];

    LinProbeResult res = linprobe_fit_eval(tr, ytr, ntr, te, yte, nte, D, K, SEED);
    print_lp(&res);
    check_close(res.test_top1, 1.0, 0.0, "linprobe blobs test accuracy");
    check_close(res.train_top1, 1.0, 0.0, "linprobe blobs train accuracy");
    check_true(res.nheldout == 15, "linprobe holds out 10% of 150", NULL);
    free(tr); free(te); free(ytr); free(yte);
}


/* Labels = argmax of a fixed linear map (plus offset): separable, margins down to zero. */
static void test_lp_linear_map(void)
{
    size_t ntr = 3000, nte = 1000;
    int D = 10, K = 4;
    float *tr = xmalloc(ntr * D * 4), *te = xmalloc(nte * D * 4);
    int32_t *ytr = xmalloc(ntr * 4), *yte = xmalloc(nte * 4);
    float W0[40], b0[4];
    char detail[120];

    fill_normal(W0, 40, 110, 1.0);
    fill_normal(b0, 4, 111, 0.5);
    fill_normal(tr, ntr * D, 112, 2.385);
    fill_normal(te, nte * D, 113, 2.385);
    for (size_t i = 0; i < ntr + nte; i++) {
        const float *x = i < ntr ? tr + i * D : te + (i - ntr) * D;
        int best = 0;
        double zb = -INFINITY;
        for (int k = 0; k < K; k++) {
            double z = b0[k];
            for (int d = 0; d < D; d++)
                z += W0[k * D + d] * x[d];
            if (z > zb) { zb = z; best = k; }
        }
        (i < ntr ? ytr : yte)[i < ntr ? i : i - ntr] = best;
    }

    LinProbeResult res = linprobe_fit_eval(tr, ytr, ntr, te, yte, nte, D, K, SEED);
    print_lp(&res);
    snprintf(detail, sizeof detail, "test %.4f, expected >= 0.95; train %.4f", res.test_top1,
             res.train_top1);
    check_true(res.test_top1 >= 0.95 && res.train_top1 >= 0.95,
               "linprobe on argmax-of-linear-map labels", detail);

    int in_grid = 0, ibest = -1;
    double hmax = -1;
    for (int i = 0; i < LINPROBE_NLAMBDA; i++) {
        in_grid |= res.lambda == res.lambdas[i];
        if (res.lambda == res.lambdas[i])
            ibest = i;
        hmax = fmax(hmax, res.heldout_top1[i]);
    }
    snprintf(detail, sizeof detail, "lambda %g", res.lambda);
    check_true(in_grid, "linprobe lambda is a grid value", detail);
    check_close(ibest >= 0 ? res.heldout_top1[ibest] : -1, hmax, 0.0,
                "linprobe chosen lambda has the best held-out accuracy");

    LinProbeResult again = linprobe_fit_eval(tr, ytr, ntr, te, yte, nte, D, K, SEED);
    check_true(again.test_top1 == res.test_top1 && again.lambda == res.lambda &&
               !memcmp(again.heldout_top1, res.heldout_top1, sizeof res.heldout_top1),
               "linprobe deterministic for a fixed seed", NULL);
    free(tr); free(te); free(ytr); free(yte);
}


static void test_lp_random_labels(void)
{
    size_t ntr = 800, nte = 400;
    int D = 20, K = 4;
    float *tr = xmalloc(ntr * D * 4), *te = xmalloc(nte * D * 4);
    int32_t *ytr = xmalloc(ntr * 4), *yte = xmalloc(nte * 4);

    fill_normal(tr, ntr * D, 120, 2.385);
    fill_normal(te, nte * D, 121, 2.385);
    fill_labels(ytr, ntr, K, 122);
    fill_labels(yte, nte, K, 123);
    LinProbeResult res = linprobe_fit_eval(tr, ytr, ntr, te, yte, nte, D, K, SEED);
    print_lp(&res);
    /* chance 0.25; sd of the test accuracy sqrt(.25 * .75 / 400) = 0.022, bound 4.6 sd. */
    check_close(res.test_top1, 0.25, 0.1, "linprobe random labels near chance");
    free(tr); free(te); free(ytr); free(yte);
}


/* N = 5 (one held out) and N = 1 (no search possible) finish with sane results. */
static void test_lp_tiny(void)
{
    float tr[5 * 3], te[4 * 3];
    int32_t ytr[5] = { 0, 1, 0, 1, 1 }, yte[4] = { 1, 0, 1, 0 };
    char detail[120];

    fill_normal(tr, 15, 130, 2.385);
    fill_normal(te, 12, 131, 2.385);
    LinProbeResult a = linprobe_fit_eval(tr, ytr, 5, te, yte, 4, 3, 2, SEED);
    print_lp(&a);
    snprintf(detail, sizeof detail, "nheldout %zu, lambda %g, test %.3f", a.nheldout, a.lambda,
             a.test_top1);
    check_true(a.nheldout == 1 && a.test_top1 >= 0 && a.test_top1 <= 1 && a.lambda >= 1e-6,
               "linprobe N=5", detail);

    LinProbeResult b = linprobe_fit_eval(tr, ytr, 1, te, yte, 4, 3, 2, SEED);
    snprintf(detail, sizeof detail, "nheldout %zu, held-out %g, train %.3f, lambda %g",
             b.nheldout, b.heldout_top1[0], b.train_top1, b.lambda);
    check_true(b.nheldout == 0 && isnan(b.heldout_top1[0]) && b.train_top1 == 1.0,
               "linprobe N=1 skips the search", detail);
}


/* ---- timings at the real sizes ---- */

static int bench(const Backend *be)
{
    size_t ntr = 60000, nte = 10000;
    int D = 192, K = 10;
    float *tr = xmalloc(ntr * D * 4), *te = xmalloc(nte * D * 4);
    int32_t *ytr = xmalloc(ntr * 4), *yte = xmalloc(nte * 4);

    /* Pure noise with random labels: the hardest case for the optimiser (no separating
     * margin, every lambda fit runs to its stopping rule). */
    fill_normal(tr, ntr * D, 200, 2.385);
    fill_normal(te, nte * D, 201, 2.385);
    fill_labels(ytr, ntr, K, 202);
    fill_labels(yte, nte, K, 203);
    printf("bench: %zu train x %zu test, D %d, K %d, %d threads, random features and labels\n",
           ntr, nte, D, K, omp_get_max_threads());

    double t0 = now_seconds();
    double acc = knn_top1(be, tr, ytr, ntr, te, yte, nte, D, K, KNN_DEFAULT_K, KNN_DEFAULT_T,
                          NULL);
    printf("knn_top1: acc %.4f, %.2f s\n", acc, now_seconds() - t0);

    double *theta = xcalloc((size_t)K * D + K, sizeof(double));
    double *g = xmalloc(((size_t)K * D + K) * sizeof(double));
    t0 = now_seconds();
    for (int i = 0; i < 10; i++)
        linprobe_loss_grad(g, theta, tr, ytr, 50000, D, K, 1e-4);
    printf("linprobe_loss_grad 50000 x 192 x 10: %.1f ms per evaluation\n",
           (now_seconds() - t0) * 100);

    LinProbeResult res = linprobe_fit_eval(tr, ytr, ntr, te, yte, nte, D, K, SEED);
    print_lp(&res);

    /* Features like a network's: rank-32 correlated structure plus small noise (badly
     * conditioned), labels a noisy linear function of the latent factors. */
    int R = 32;
    float *A = xmalloc((size_t)R * D * 4), *W0 = xmalloc((size_t)K * R * 4), z[32];
    fill_normal(A, (size_t)R * D, 210, 1.0);
    fill_normal(W0, (size_t)K * R, 211, 1.0);
    Rng r = rng_stream(SEED, RNG_INIT, 212, 0);
    for (size_t i = 0; i < ntr + nte; i++) {
        float *x = i < ntr ? tr + i * D : te + (i - ntr) * D;
        int32_t *y = i < ntr ? ytr + i : yte + (i - ntr);
        for (int j = 0; j < R; j++)
            z[j] = (float)rng_normal(&r);
        for (int d = 0; d < D; d++) {
            double v = 0.1 * 2.385 * rng_normal(&r);
            for (int j = 0; j < R; j++)
                v += z[j] * A[j * D + d];
            x[d] = (float)v;
        }
        double zb = -INFINITY;
        for (int k = 0; k < K; k++) {
            double v = 3.0 * rng_normal(&r);
            for (int j = 0; j < R; j++)
                v += W0[k * R + j] * z[j];
            if (v > zb) { zb = v; *y = k; }
        }
    }
    printf("bench: same sizes, rank-%d correlated features, noisy linear labels\n", R);
    t0 = now_seconds();
    acc = knn_top1(be, tr, ytr, ntr, te, yte, nte, D, K, KNN_DEFAULT_K, KNN_DEFAULT_T, NULL);
    printf("knn_top1: acc %.4f, %.2f s\n", acc, now_seconds() - t0);
    res = linprobe_fit_eval(tr, ytr, ntr, te, yte, nte, D, K, SEED);
    print_lp(&res);
    free(tr); free(te); free(ytr); free(yte); free(theta); free(g); free(A); free(W0);
    return 0;
}


int main(int argc, char **argv)
{
    const Backend *be = backend_cpu();

    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        return bench(be);
    if (argc > 2 && strcmp(argv[1], "--die") == 0)
        return run_err_case(be, argv[2]);

    test_knn_reference(be);
    test_knn_scale_invariance(be);
    test_knn_hand(be);
    test_knn_pixels(be);
    test_knn_cuda_parity(be);
    check_dies("knn-label", "knn dies on a train label outside [0, K)");
    check_dies("knn-nan", "knn dies on a NaN feature");
    check_dies("knn-k0", "knn dies on k = 0");
    check_dies("lp-label", "linprobe dies on a negative test label");

    test_lp_gradient();
    test_lp_threads();
    test_lp_blobs();
    test_lp_linear_map();
    test_lp_random_labels();
    test_lp_tiny();
    return check_summary();
}
