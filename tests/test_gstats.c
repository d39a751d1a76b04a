/* test_gstats.c: analytic checks of the gradient statistics (analysis/gstats.c).
 * Strategy 0 draws g = mu + sigma0 eps and a distorted strategy g = mu + delta + sigma1 eps
 * (eps standard normal per coordinate), so bias^2 = ||delta||^2, V_0 = n sigma0^2 and
 * V_1 = n sigma1^2 are known exactly. Fixed seeds throughout. */
#include "check.h"
#include "ci.h"
#include "common.h"
#include "gstats.h"
#include "rng.h"

#include <gsl/gsl_fit.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 1000
#define K 200
#define M 10
#define NSEEDS 20

static const double SIGMA0 = 1.3, SIGMA1 = 2.1, COST = 0.385, DELTA2 = 61.7;

typedef struct {
    double mu[N], delta[N];
} Truth;


static void make_truth(Truth *t, uint64_t seed)
{
    Rng r = rng_stream(seed, RNG_GRADSTATS, 1000, 0);
    double d2 = 0.0;

    for (size_t i = 0; i < N; i++) {
        t->mu[i] = 0.7 * rng_normal(&r) + 0.213;
        t->delta[i] = rng_normal(&r);
        d2 += t->delta[i] * t->delta[i];
    }
    for (size_t i = 0; i < N; i++)
        t->delta[i] *= sqrt(DELTA2 / d2);
}


/* Draw k of a stream: mu (+ delta) + sigma * (mean of m standard normals). */
static void draw(float *g, const Truth *t, int distorted, double sigma, int m, uint64_t seed,
                 uint64_t stream, uint64_t k)
{
    Rng r = rng_stream(seed, RNG_GRADSTATS, stream, k);

    for (size_t i = 0; i < N; i++) {
        double e = 0.0;
        for (int q = 0; q < m; q++)
            e += rng_normal(&r);
        g[i] = (float)(t->mu[i] + (distorted ? t->delta[i] : 0.0) + sigma * e / m);
    }
}


static void fill(GStatsAcc *acc, const Truth *t, int distorted, double sigma, int m,
                 uint64_t seed, uint64_t stream, size_t k)
{
    float g[N];

    for (size_t q = 0; q < k; q++) {
        draw(g, t, distorted, sigma, m, seed, stream, q);
        gstats_add(acc, g);
    }
}


static int covers(GStatsCI ci, double truth)
{
    return ci.lo <= truth && truth <= ci.hi;
}


static void check_covers(GStatsCI ci, double truth, const char *name)
{
    char detail[200];

    snprintf(detail, sizeof detail, "truth %.6g in [%.6g, %.6g] (est %.6g, dof %.1f)",
             truth, ci.lo, ci.hi, ci.est, ci.dof);
    check_true(covers(ci, truth), name, detail);
}


static void check_width(GStatsCI ci, double truth, double maxrel, const char *name)
{
    char detail[160];
    double w = (ci.hi - ci.lo) / fabs(truth);

    snprintf(detail, sizeof detail, "relative width %.3g (max %.2g)", w, maxrel);
    check_true(w < maxrel, name, detail);
}


/* Coverage over NSEEDS seeds of the true values by the 95% intervals, for grouped (M) or
 * keep_all accumulators. */
static void test_coverage(int groups, const char *label)
{
    enum { C_BIAS, C_VS, C_V0, C_CVAR, C_CAMSE, C_NORM, C_SELF0, C_SELFRAW, C_NC };
    static const char *names[C_NC] = { "bias2", "V_1", "V_0", "c V_1", "CA-MSE",
                                       "||g0bar||^2", "self bias2 = 0", "self raw = 2V0/K" };
    int hit[C_NC] = { 0 };
    double V0 = N * SIGMA0 * SIGMA0, V1 = N * SIGMA1 * SIGMA1;
    char name[160];

    for (uint64_t seed = 1; seed <= NSEEDS; seed++) {
        static Truth t;
        GStatsAcc a0, b0, a1;
        GStatsResult r, self;
        double mu2 = 0.0;

        make_truth(&t, seed);
        for (size_t i = 0; i < N; i++)
            mu2 += t.mu[i] * t.mu[i];
        gstats_init(&a0, N, groups);
        gstats_init(&b0, N, groups);
        gstats_init(&a1, N, groups);
        fill(&a0, &t, 0, SIGMA0, 1, seed, 1, K);
        fill(&b0, &t, 0, SIGMA0, 1, seed, 2, K);
        fill(&a1, &t, 1, SIGMA1, 1, seed, 3, K);
        r = gstats_compare(&a1, &a0, COST);
        self = gstats_compare(&b0, &a0, COST);

        hit[C_BIAS] += covers(r.bias2, DELTA2);
        hit[C_VS] += covers(r.var_s, V1);
        hit[C_V0] += covers(r.var_ref, V0);
        hit[C_CVAR] += covers(r.cvar, COST * V1);
        hit[C_CAMSE] += covers(r.camse, DELTA2 + COST * V1);
        hit[C_NORM] += covers(r.norm_ref, mu2 + V0 / K);
        hit[C_SELF0] += covers(self.bias2, 0.0);
        hit[C_SELFRAW] += covers(self.bias2_raw, 2.0 * V0 / K);

        if (seed == 1) {
            snprintf(name, sizeof name, "%s seed 1 bias2", label);
            check_covers(r.bias2, DELTA2, name);
            check_width(r.bias2, DELTA2, 0.5, name);
            snprintf(name, sizeof name, "%s seed 1 V_1", label);
            check_covers(r.var_s, V1, name);
            check_width(r.var_s, V1, 0.5, name);
            snprintf(name, sizeof name, "%s seed 1 c V_1", label);
            check_covers(r.cvar, COST * V1, name);
            check_width(r.cvar, COST * V1, 0.5, name);
            snprintf(name, sizeof name, "%s seed 1 CA-MSE", label);
            check_covers(r.camse, DELTA2 + COST * V1, name);
            check_width(r.camse, DELTA2 + COST * V1, 0.5, name);
            snprintf(name, sizeof name, "%s seed 1 CA-MSE relative", label);
            check_covers(r.camse_rel, (DELTA2 + COST * V1) / r.norm_ref.est, name);
            snprintf(name, sizeof name, "%s seed 1 self: debiased bias2 interval holds 0", label);
            check_covers(self.bias2, 0.0, name);
            snprintf(name, sizeof name, "%s seed 1 self: raw bias2 vs 2 V0/K", label);
            check_relerr(fabs(self.bias2_raw.est / (2.0 * V0 / K) - 1.0), 0.15, name);
        }
        gstats_free(&a0);
        gstats_free(&b0);
        gstats_free(&a1);
    }

    for (int c = 0; c < C_NC; c++) {
        char detail[80];
        snprintf(name, sizeof name, "%s coverage of %s", label, names[c]);
        snprintf(detail, sizeof detail, "%d/%d intervals hold the truth (need >= 15)",
                 hit[c], NSEEDS);
        check_true(hit[c] >= 15, name, detail);
    }
}


/* Means of m i.i.d. gradients have V_1/m: the variance estimate tracks it, slope -1. */
static void test_scaling(void)
{
    static Truth t;
    GStatsAcc a0;
    double lx[4], ly[4], c0, c1, cov00, cov01, cov11, sumsq;
    char name[120];

    make_truth(&t, 77);
    gstats_init(&a0, N, M);
    fill(&a0, &t, 0, SIGMA0, 1, 77, 1, K);
    for (int q = 0; q < 4; q++) {
        int m = 1 << q;
        GStatsAcc a1;
        GStatsResult r;

        gstats_init(&a1, N, M);
        fill(&a1, &t, 1, SIGMA1, m, 77, 10 + (uint64_t)m, K);
        r = gstats_compare(&a1, &a0, COST);
        snprintf(name, sizeof name, "V of the mean of %d draws is V_1/%d", m, m);
        check_covers(r.var_s, N * SIGMA1 * SIGMA1 / m, name);
        lx[q] = log((double)m);
        ly[q] = log(r.var_s.est);
        gstats_free(&a1);
    }
    gsl_fit_linear(lx, 1, ly, 1, 4, &c0, &c1, &cov00, &cov01, &cov11, &sumsq);
    check_close(c1, -1.0, 0.1, "log-log slope of V against m");
    gstats_free(&a0);
}


/* Direct two-pass statistics of stored draws g[k][n] over [lo, hi). */
static void direct_stats(const float *g, size_t k, size_t lo, size_t hi, double *mean, double *V)
{
    double ss = 0.0;

    for (size_t i = lo; i < hi; i++) {
        double s = 0.0;
        for (size_t q = 0; q < k; q++)
            s += g[q * N + i];
        mean[i] = s / (double)k;
        for (size_t q = 0; q < k; q++)
            ss += (g[q * N + i] - mean[i]) * (g[q * N + i] - mean[i]);
    }
    *V = ss / (double)(k - 1);
}


/* Point estimates do not depend on the grouping and match a direct two-pass computation;
 * CA-MSE = b + c V; figures over two segments add up to the whole. */
static void test_exact_and_ranges(void)
{
    static Truth t;
    static float g0[K * N], g1[K * N];
    static double m0[N], m1[N];
    const size_t seg[2] = { 377, N };
    GStatsAcc a0, a1, k0, k1;
    GStatsResult r, rk, lo, hi;
    double V0, V1, raw = 0.0, norm0 = 0.0, bias;

    make_truth(&t, 5);
    gstats_init_segments(&a0, N, M, 2, seg);
    gstats_init_segments(&a1, N, 7, 2, seg);
    gstats_init_segments(&k0, N, GSTATS_KEEP_ALL, 2, seg);
    gstats_init_segments(&k1, N, GSTATS_KEEP_ALL, 2, seg);
    for (size_t q = 0; q < K + 3; q++) {   /* K + 3 (the first 3 twice): unequal groups */
        if (q < K) {
            draw(g0 + q * N, &t, 0, SIGMA0, 1, 5, 1, q);
            draw(g1 + q * N, &t, 1, SIGMA1, 1, 5, 2, q);
        }
        gstats_add(&a0, g0 + q % K * N);
        gstats_add(&a1, g1 + q % K * N);
        if (q < K) {
            gstats_add(&k0, g0 + q * N);
            gstats_add(&k1, g1 + q * N);
        }
    }

    r = gstats_compare(&a1, &a0, COST);
    rk = gstats_compare(&k1, &k0, COST);
    check_close((double)rk.m_s, K, 0, "keep_all: one group per draw");

    /* direct reference on the first K draws (the keep_all accumulators saw exactly those) */
    direct_stats(g0, K, 0, N, m0, &V0);
    direct_stats(g1, K, 0, N, m1, &V1);
    for (size_t i = 0; i < N; i++) {
        raw += (m1[i] - m0[i]) * (m1[i] - m0[i]);
        norm0 += m0[i] * m0[i];
    }
    bias = raw - V1 / K - V0 / K;
    check_relerr(fabs(rk.var_s.est / V1 - 1.0), 1e-10, "keep_all V_1 vs direct two-pass");
    check_relerr(fabs(rk.var_ref.est / V0 - 1.0), 1e-10, "keep_all V_0 vs direct two-pass");
    check_relerr(fabs(rk.bias2_raw.est / raw - 1.0), 1e-10, "keep_all raw bias2 vs direct");
    check_relerr(fabs(rk.bias2.est / bias - 1.0), 1e-9, "keep_all bias2 vs direct");
    check_relerr(fabs(rk.norm_ref.est / norm0 - 1.0), 1e-10, "keep_all ||g0bar||^2 vs direct");
    check_true(covers(rk.bias2, DELTA2) && covers(rk.var_s, N * SIGMA1 * SIGMA1),
               "keep_all intervals hold the true bias2 and V_1", NULL);

    /* grouped accumulators saw K + 3 draws, the first 3 twice: compare with the same set */
    {
        static float a[(K + 3) * N], b[(K + 3) * N];
        static double ma[N], mb[N];
        double Va, Vb;
        for (size_t q = 0; q < K + 3; q++) {
            memcpy(a + q * N, g0 + q % K * N, N * sizeof *a);
            memcpy(b + q * N, g1 + q % K * N, N * sizeof *b);
        }
        direct_stats(a, K + 3, 0, N, ma, &Va);
        direct_stats(b, K + 3, 0, N, mb, &Vb);
        check_relerr(fabs(r.var_s.est / Vb - 1.0), 1e-10,
                     "grouped (7 unequal groups) V_1 vs direct");
        check_relerr(fabs(r.var_ref.est / Va - 1.0), 1e-10,
                     "grouped (10 unequal groups) V_0 vs direct");
    }

    check_relerr(fabs(r.camse.est - (r.bias2.est + COST * r.var_s.est)) / r.camse.est, 1e-12,
                 "CA-MSE = b + c V");
    check_relerr(fabs(r.cvar.est - COST * r.var_s.est) / r.cvar.est, 1e-12, "cvar = c V");
    check_relerr(fabs(r.camse_rel.est * r.norm_ref.est / r.camse.est - 1.0), 1e-12,
                 "relative CA-MSE = CA-MSE / ||g0bar||^2");
    check_true(r.bias2.lo < r.bias2.est && r.bias2.est < r.bias2.hi, "bias2 interval ordered",
               NULL);

    lo = gstats_compare_range(&a1, &a0, COST, 0, 377, 0.95);
    hi = gstats_compare_range(&a1, &a0, COST, 377, N, 0.95);
    check_relerr(fabs((lo.bias2_raw.est + hi.bias2_raw.est) / r.bias2_raw.est - 1.0), 1e-12,
                 "raw bias2 over [0,377) + [377,n) = whole");
    check_relerr(fabs((lo.var_s.est + hi.var_s.est) / r.var_s.est - 1.0), 1e-12,
                 "V_1 over [0,377) + [377,n) = whole");
    check_relerr(fabs((lo.var_ref.est + hi.var_ref.est) / r.var_ref.est - 1.0), 1e-12,
                 "V_0 over [0,377) + [377,n) = whole");
    check_relerr(fabs((lo.norm_ref.est + hi.norm_ref.est) / r.norm_ref.est - 1.0), 1e-12,
                 "||g0bar||^2 over [0,377) + [377,n) = whole");
    check_covers(hi.var_s, (N - 377) * SIGMA1 * SIGMA1, "V_1 over [377,n) holds (n-377) sigma1^2");
    {
        double dhi = 0.0;
        for (size_t i = 377; i < N; i++)
            dhi += t.delta[i] * t.delta[i];
        check_covers(hi.bias2, dhi, "bias2 over [377,n) holds ||delta[377:]||^2");
    }
    gstats_free(&a0);
    gstats_free(&a1);
    gstats_free(&k0);
    gstats_free(&k1);
}


/* A large common offset: the Welford M2 keeps V where sum ||g||^2 - K ||gbar||^2 loses it. */
static void test_stability(void)
{
    static float g[K * N];
    static double mean[N];
    GStatsAcc a, b;
    GStatsResult r;
    double V, sq = 0.0, naive, s[N] = { 0 };

    for (size_t q = 0; q < K; q++) {
        Rng rng = rng_stream(9, RNG_GRADSTATS, 50, q);
        for (size_t i = 0; i < N; i++)
            g[q * N + i] = (float)(3000.0 + 0.0137 * rng_normal(&rng));
    }
    gstats_init(&a, N, M);
    gstats_init(&b, N, M);
    for (size_t q = 0; q < K; q++) {
        gstats_add(&a, g + q * N);
        gstats_add(&b, g + ((q + 17) % K) * N);
    }
    direct_stats(g, K, 0, N, mean, &V);
    for (size_t q = 0; q < K; q++)
        for (size_t i = 0; i < N; i++) {
            sq += (double)g[q * N + i] * g[q * N + i];
            s[i] += g[q * N + i];
        }
    naive = sq;
    for (size_t i = 0; i < N; i++)
        naive -= s[i] * s[i] / K;
    naive /= K - 1;
    r = gstats_compare(&a, &b, 1.0);
    printf("info: offset 3000, noise 0.0137: naive sum-of-squares V has relative error %.3g\n",
           fabs(naive / V - 1.0));
    check_relerr(fabs(r.var_s.est / V - 1.0), 1e-9, "Welford V under a large offset");
    check_close(r.bias2_raw.est, 0.0, 1e-12 * r.norm_ref.est,
                "same draws in another order: raw bias2 = 0");
    gstats_free(&a);
    gstats_free(&b);
}


/* Memory is M n doubles plus bookkeeping, and does not grow with K (except keep_all). */
static void test_memory(void)
{
    const size_t n = 300007, seg[3] = { 1000, 200000, n };
    GStatsAcc a, k;
    size_t before, after, formula;
    float *g = xcalloc(n, sizeof *g);
    char detail[160];

    gstats_init_segments(&a, n, 8, 3, seg);
    before = gstats_bytes(&a);
    for (size_t q = 0; q < 50; q++) {
        g[q] = 1.5f + (float)q;
        gstats_add(&a, g);
    }
    after = gstats_bytes(&a);
    formula = 8 * n * sizeof(double) + 8 * sizeof(size_t) + 8 * 3 * sizeof(double)
            + 3 * sizeof(size_t) + (2 * a.nblk + 1) * sizeof(size_t) + a.nblk * sizeof(double);
    snprintf(detail, sizeof detail, "%zu bytes before, %zu after 50 draws, formula %zu",
             before, after, formula);
    check_true(before == after && after == formula, "grouped memory independent of K", detail);
    check_true(a.nblk <= n / GSTATS_BLOCK + 3, "block count at most n/BLOCK + segments", NULL);
    snprintf(detail, sizeof detail, "%.5f of M n doubles", (double)after / (8.0 * n * 8.0));
    check_true(after < 1.01 * 8.0 * n * sizeof(double), "overhead under 1%", detail);

    {
        /* large enough for the parallel paths: bitwise the same on 1 thread and on several */
        GStatsAcc b;
        GStatsResult r1, r2;
        gstats_init_segments(&b, n, 8, 3, seg);
        for (size_t q = 0; q < 50; q++) {
            g[q + 7] = -2.385f * (float)q;
            gstats_add(&b, g);
        }
        omp_set_num_threads(1);
        r1 = gstats_compare_range(&a, &b, 0.61, 1000, n, 0.9);
        omp_set_num_threads(4);
        r2 = gstats_compare_range(&a, &b, 0.61, 1000, n, 0.9);
        check_true(memcmp(&r1, &r2, sizeof r1) == 0, "results bitwise equal on 1 and 4 threads",
                   NULL);
        gstats_free(&b);
    }

    gstats_init(&k, 1000, GSTATS_KEEP_ALL);
    for (size_t q = 0; q < 50; q++)
        gstats_add(&k, g);
    check_true(gstats_bytes(&k) >= 50 * 1000 * sizeof(double), "keep_all holds K n doubles",
               NULL);
    gstats_free(&a);
    gstats_free(&k);
    free(g);
}


/* Runs this program again as "test_gstats --die NAME" with stderr silenced and checks that
 * it exits with status 1. A fresh exec, not a bare fork: OpenMP's thread pool does not survive
 * fork, so a forked child that reaches a parallel loop can hang. */
static void check_dies(const char *self, const char *what, const char *name)
{
    pid_t pid;
    int status = 0;
    char detail[80];

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(3);
        execl(self, self, "--die", what, (char *)NULL);
        _exit(4);
    }
    waitpid(pid, &status, 0);
    snprintf(detail, sizeof detail, "exit status %d (expected 1)",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    check_true(WIFEXITED(status) && WEXITSTATUS(status) == 1, name, detail);
}


static void die_empty_group(void)
{
    GStatsAcc a, b;
    float g[N] = { 0 };

    gstats_init(&a, N, M);
    gstats_init(&b, N, M);
    for (int q = 0; q < M - 1; q++) {
        gstats_add(&a, g);
        gstats_add(&b, g);
    }
    gstats_compare(&a, &b, 1.0);
}


static void die_off_boundary(void)
{
    GStatsAcc a, b;
    float g[N] = { 0 };

    gstats_init(&a, N, 2);
    gstats_init(&b, N, 2);
    for (int q = 0; q < 6; q++) {
        g[q] = 2.385f * (float)q;
        gstats_add(&a, g);
        gstats_add(&b, g);
    }
    gstats_compare_range(&a, &b, 1.0, 0, 500, 0.95);
}


static void die_nan(void)
{
    GStatsAcc a;
    float g[N] = { 0 };

    gstats_init(&a, N, 2);
    g[N - 3] = NAN;
    gstats_add(&a, g);
}


static void die_same_acc(void)
{
    GStatsAcc a;
    float g[N] = { 0 };

    gstats_init(&a, N, 2);
    for (int q = 0; q < 6; q++)
        gstats_add(&a, g);
    gstats_compare(&a, &a, 1.0);
}


static void test_ci_helpers(void)
{
    const double x[5] = { 3.7, 1.2, 9.9, 2.385, 4.1 }, y[4] = { 4.0, 1.0, 3.0, 2.0 };
    const double rep[3] = { 1.0, 2.0, 4.0 };

    check_close(ci_median(x, 5), 3.7, 0, "median of 5");
    check_close(ci_median(y, 4), 2.5, 1e-15, "median of 4");
    check_close(ci_t_multiplier(0.95, 9.0), 2.262157163, 1e-8, "t multiplier 95%, 9 dof");
    /* mean 7/3, squares 16/9 + 1/9 + 25/9 = 42/9, times 2/3 */
    check_close(ci_jackknife_var(rep, 3), 28.0 / 9.0, 1e-14, "jackknife variance");
    check_close(ci_satterthwaite_dof(2.0, 4.0, 0.0, 9.0), 4.0, 1e-14, "Satterthwaite one part");
    check_close(ci_satterthwaite_dof(1.0, 9.0, 1.0, 9.0), 18.0, 1e-12, "Satterthwaite equal");
}


/* The provoked failures, each run in its own process by check_dies(). */
static int run_death(const char *what)
{
    if (strcmp(what, "empty") == 0)
        die_empty_group();
    else if (strcmp(what, "boundary") == 0)
        die_off_boundary();
    else if (strcmp(what, "nan") == 0)
        die_nan();
    else if (strcmp(what, "same") == 0)
        die_same_acc();
    return 0;
}


int main(int argc, char **argv)
{
    const char *self = "/proc/self/exe";

    if (argc == 3 && strcmp(argv[1], "--die") == 0)
        return run_death(argv[2]);

    test_ci_helpers();
    test_coverage(M, "grouped M=10");
    test_coverage(GSTATS_KEEP_ALL, "keep_all");
    test_scaling();
    test_exact_and_ranges();
    test_stability();
    test_memory();
    check_dies(self, "empty", "compare with an empty group dies");
    check_dies(self, "boundary", "range end off a segment boundary dies");
    check_dies(self, "nan", "NaN gradient dies");
    check_dies(self, "same", "comparing an accumulator with itself dies");
    return check_summary();
}
