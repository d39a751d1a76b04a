/* test_kernels.c: checks every op of the CPU backend (kernels/backend.h). Forwards are compared
 * with naive double-precision loops written here, by the normalised max error
 * max|got - ref| / max|ref|; backwards by central finite differences of L = sum(out * R) for a
 * fixed random R, element by element on small odd shapes and along a random direction on
 * shapes big enough to take the OpenMP paths. Every array is float32 row-major. */
#include "backend.h"
#include "check.h"
#include "common.h"
#include "rng.h"
#include "cpu/cpu_mathfn.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAXIN 3

/* Tolerance of the finite-difference checks, as ||g_fd - g|| / ||g_fd||. L is summed in double
 * but each out[i] is a float32, so L carries rounding noise ~1e-7 * sum|out*R| and the central
 * difference divides it by 2h: ~1e-5 relative at h = 1e-2; truncation adds O(h^2) ~ 1e-4.
 * A wrong or missing term in a backward gives errors of order 1e-1 or more. */
#define FD_H 1e-2
#define FD_TOL 1e-2
/* Forwards against double loops: float32 sums over up to a few hundred terms. */
#define FWD_TOL 2e-6

static const Backend *be;
static Rng rng;

static float *falloc(size_t n)
{
    return be->alloc(n * sizeof(float));
}


/* x[i] = mean + sd * N(0,1): offsets and scales like 0.385 and 1.7 keep symmetric mistakes
 * (a lost sign, a missing mean) from cancelling. */
static void fill(float *x, size_t n, double mean, double sd)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(mean + sd * rng_normal(&rng));
}


/* max|got - ref| / max|ref|, the normalised max error. */
static double norm_maxerr(const float *got, const double *ref, size_t n)
{
    double e = 0.0, m = 0.0;

    for (size_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)got[i] - ref[i]));
        m = fmax(m, fabs(ref[i]));
    }
    return e / (m > 0.0 ? m : 1.0);
}


static void check_fwd(const char *op, const char *shape, double err, double tol)
{
    char name[160];

    snprintf(name, sizeof name, "%s [%s]", op, shape);
    check_relerr(err, tol, name);
}


/* ---------------------------------------------------------------------------------------------
 * Gradient-check machinery: a case holds up to MAXIN differentiable inputs, their gradient
 * buffers, the output, R, saved statistics and sizes; fwd computes out and bwd adds the
 * gradients of L = sum(out * R) (dout = R). */

typedef struct GradCase GradCase;
struct GradCase {
    char name[96];
    int nin;
    float *x[MAXIN], *dx[MAXIN];
    size_t n[MAXIN];
    const char *xname[MAXIN];
    float *out, *R;
    size_t nout;
    float *s1, *s2, *s3, *s4; /* saved statistics, running stats, scratch */
    int32_t *idx;
    int B, T, C, NH, N, K, row;
    float eps;
    void (*fwd)(GradCase *);
    void (*bwd)(GradCase *);
};


static float *gc_input(GradCase *g, const char *name, size_t n, double mean, double sd)
{
    int i = g->nin++;

    HASSERT(i < MAXIN);
    g->x[i] = falloc(n);
    g->dx[i] = falloc(n);
    g->n[i] = n;
    g->xname[i] = name;
    fill(g->x[i], n, mean, sd);
    return g->x[i];
}


static void gc_output(GradCase *g, size_t nout)
{
    g->nout = nout;
    g->out = falloc(nout);
    g->R = falloc(nout);
    fill(g->R, nout, 0.15, 1.0);
}


static void gc_free(GradCase *g)
{
    for (int i = 0; i < g->nin; i++) {
        be->free(g->x[i]);
        be->free(g->dx[i]);
    }
    be->free(g->out);
    be->free(g->R);
    be->free(g->s1);
    be->free(g->s2);
    be->free(g->s3);
    be->free(g->s4);
    free(g->idx);
}


static double gc_loss(GradCase *g)
{
    double L = 0.0;

    g->fwd(g);
    for (size_t i = 0; i < g->nout; i++)
        L += (double)g->out[i] * g->R[i];
    return L;
}


/* Analytic gradients into an[i] (double copies); checks that a second backward doubles them. */
static void gc_analytic(GradCase *g, double *an[MAXIN])
{
    char name[160];
    double num = 0.0, den = 0.0;

    for (int i = 0; i < g->nin; i++)
        be->zero(g->dx[i], g->n[i] * sizeof(float));
    g->fwd(g);
    g->bwd(g);
    for (int i = 0; i < g->nin; i++) {
        an[i] = xmalloc(g->n[i] * sizeof(double));
        for (size_t j = 0; j < g->n[i]; j++)
            an[i][j] = g->dx[i][j];
    }

    g->bwd(g);
    for (int i = 0; i < g->nin; i++)
        for (size_t j = 0; j < g->n[i]; j++) {
            num += pow(g->dx[i][j] - 2.0 * an[i][j], 2);
            den += pow(2.0 * an[i][j], 2);
        }
    snprintf(name, sizeof name, "%s backward twice = 2x gradient", g->name);
    check_relerr(sqrt(num / (den > 0 ? den : 1)), 1e-6, name);
}


/* Element-by-element central differences on every input. */
static void gradcheck_full(GradCase *g, double h, double tol)
{
    double *an[MAXIN];
    char name[160];

    gc_analytic(g, an);
    for (int i = 0; i < g->nin; i++) {
        double num = 0.0, den = 0.0;

        for (size_t j = 0; j < g->n[i]; j++) {
            float v = g->x[i][j];
            double lp, lm, fd;

            g->x[i][j] = v + (float)h;
            lp = gc_loss(g);
            g->x[i][j] = v - (float)h;
            lm = gc_loss(g);
            g->x[i][j] = v;
            fd = (lp - lm) / (((double)(v + (float)h)) - (double)(v - (float)h));
            num += (fd - an[i][j]) * (fd - an[i][j]);
            den += fd * fd;
        }
        snprintf(name, sizeof name, "%s d%s finite differences", g->name, g->xname[i]);
        check_relerr(sqrt(num / (den > 0 ? den : 1)), tol, name);
        free(an[i]);
    }
}


/* Central differences along DIRS random directions u ~ N(0, I) per input:
 * (L(x+hu) - L(x-hu)) / 2h against g . u. For an error e in g, E[(e . u)^2] = ||e||^2, so
 * rms(fd - g . u) / ||g|| estimates ||e|| / ||g||, the measure of the full check, with
 * 2 * DIRS forwards per input whatever its size: it runs on the shapes that take the
 * OpenMP paths. */
#define DIRS 4

static void gradcheck_dir(GradCase *g, double h, double tol)
{
    double *an[MAXIN];
    char name[160];

    gc_analytic(g, an);
    for (int i = 0; i < g->nin; i++) {
        size_t n = g->n[i];
        float *x0 = xmalloc(n * sizeof(float)), *u = xmalloc(n * sizeof(float));
        double gg = 0.0, se = 0.0;

        memcpy(x0, g->x[i], n * sizeof(float));
        for (size_t j = 0; j < n; j++)
            gg += an[i][j] * an[i][j];
        for (int k = 0; k < DIRS; k++) {
            double dot = 0.0, lp, lm;

            fill(u, n, 0.0, 1.0);
            for (size_t j = 0; j < n; j++) {
                dot += an[i][j] * u[j];
                g->x[i][j] = x0[j] + (float)h * u[j];
            }
            lp = gc_loss(g);
            for (size_t j = 0; j < n; j++)
                g->x[i][j] = x0[j] - (float)h * u[j];
            lm = gc_loss(g);
            se += pow((lp - lm) / (2.0 * h) - dot, 2);
        }
        memcpy(g->x[i], x0, n * sizeof(float));

        snprintf(name, sizeof name, "%s d%s directional differences", g->name, g->xname[i]);
        check_relerr(sqrt(se / DIRS / (gg > 0 ? gg : 1)), tol, name);
        free(x0);
        free(u);
        free(an[i]);
    }
}


/* ---- memory ---------------------------------------------------------------------------- */

static void test_memory(void)
{
    size_t n = 1001;
    float *a = falloc(n), *b = falloc(n), *host = xmalloc(n * sizeof(float));
    int zero = 1, same = 1;

    check_true((uintptr_t)a % 64 == 0 && (uintptr_t)b % 64 == 0, "alloc is 64-byte aligned",
               NULL);
    for (size_t i = 0; i < n; i++)
        zero &= a[i] == 0.0f;
    check_true(zero, "alloc is zero-filled", NULL);

    fill(host, n, 2.385, 1.0);
    be->upload(a, host, n * sizeof(float));
    be->copy(b, a, n * sizeof(float));
    memset(host, 0, n * sizeof(float));
    be->download(host, b, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        same &= host[i] == a[i] && a[i] != 0.0f;
    check_true(same, "upload, copy, download round trip", NULL);

    be->zero(b, n * sizeof(float));
    be->sync();
    zero = 1;
    for (size_t i = 0; i < n; i++)
        zero &= b[i] == 0.0f;
    check_true(zero, "zero clears", NULL);
    be->free(a);
    be->free(b);
    free(host);
}


/* ---- gemm and linear layers ------------------------------------------------------------ */

/* C[M,N] = alpha op(A) op(B) + beta C in double; A is [M,K] (or [K,M] when transposed). */
static void ref_gemm(double *C, int tA, int tB, int M, int N, int K, double alpha,
                     const float *A, int lda, const float *B, int ldb, double beta,
                     const float *C0, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++)
                s += (double)(tA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                     (tB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            C[(size_t)i * N + j] = alpha * s + beta * C0[(size_t)i * ldc + j];
        }
}


static void test_gemm_case(int tA, int tB, int M, int N, int K)
{
    int lda = (tA ? M : K) + 3, ldb = (tB ? K : N) + 2, ldc = N + 5;
    float *A = falloc((size_t)(tA ? K : M) * lda), *B = falloc((size_t)(tB ? N : K) * ldb);
    float *C = falloc((size_t)M * ldc), *C0 = falloc((size_t)M * ldc);
    double *ref = xmalloc((size_t)M * N * sizeof(double)), e = 0.0, m = 0.0;
    char shape[64];

    fill(A, (size_t)(tA ? K : M) * lda, 0.385, 1.0);
    fill(B, (size_t)(tB ? N : K) * ldb, -0.2, 0.9);
    fill(C, (size_t)M * ldc, 1.5, 1.0);
    memcpy(C0, C, (size_t)M * ldc * sizeof(float));
    ref_gemm(ref, tA, tB, M, N, K, 0.75, A, lda, B, ldb, -1.25, C0, ldc);
    be->gemm(tA, tB, M, N, K, 0.75f, A, lda, B, ldb, -1.25f, C, ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            e = fmax(e, fabs(C[(size_t)i * ldc + j] - ref[(size_t)i * N + j]));
            m = fmax(m, fabs(ref[(size_t)i * N + j]));
        }
    snprintf(shape, sizeof shape, "tA=%d tB=%d M=%d N=%d K=%d, strided", tA, tB, M, N, K);
    check_fwd("gemm", shape, e / m, FWD_TOL);
    be->free(A);
    be->free(B);
    be->free(C);
    be->free(C0);
    free(ref);
}


static void mm_fwd(GradCase *g)
{
    be->matmul_forward(g->out, g->x[0], g->x[1], g->x[2], g->N, g->C, g->K);
}


static void mm_bwd(GradCase *g)
{
    be->matmul_backward(g->dx[0], g->dx[1], g->dx[2], g->R, g->x[0], g->x[1],
                        g->N, g->C, g->K);
}


/* out = inp @ w^T + b, and the backward against double loops, then finite differences. */
static void test_matmul(int N, int IC, int OC, int bias, int full)
{
    GradCase g = {0};
    double *ref = xmalloc((size_t)N * OC * sizeof(double));
    double *rdi = xmalloc((size_t)N * IC * sizeof(double));
    double *rdw = xmalloc((size_t)OC * IC * sizeof(double)), *rdb = xmalloc(OC * sizeof(double));
    char shape[64];

    snprintf(shape, sizeof shape, "N=%d IC=%d OC=%d%s", N, IC, OC, bias ? "" : " no bias");
    snprintf(g.name, sizeof g.name, "matmul [%s]", shape);
    g.N = N, g.C = IC, g.K = OC;
    gc_input(&g, "inp", (size_t)N * IC, 0.385, 1.0);
    gc_input(&g, "w", (size_t)OC * IC, -0.1, 0.5);
    if (bias)
        gc_input(&g, "b", OC, 0.3, 1.0);
    gc_output(&g, (size_t)N * OC);

    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? g.x[2][o] : 0.0;
            for (int i = 0; i < IC; i++)
                s += (double)g.x[0][(size_t)n * IC + i] * g.x[1][(size_t)o * IC + i];
            ref[(size_t)n * OC + o] = s;
        }
    mm_fwd(&g);
    check_fwd("matmul_forward", shape, norm_maxerr(g.out, ref, (size_t)N * OC), FWD_TOL);

    for (size_t j = 0; j < (size_t)N * IC; j++)
        rdi[j] = 0.0;
    for (size_t j = 0; j < (size_t)OC * IC; j++)
        rdw[j] = 0.0;
    for (int o = 0; o < OC; o++)
        rdb[o] = 0.0;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double d = g.R[(size_t)n * OC + o];
            rdb[o] += d;
            for (int i = 0; i < IC; i++) {
                rdi[(size_t)n * IC + i] += d * g.x[1][(size_t)o * IC + i];
                rdw[(size_t)o * IC + i] += d * g.x[0][(size_t)n * IC + i];
            }
        }
    for (int i = 0; i < g.nin; i++)
        be->zero(g.dx[i], g.n[i] * sizeof(float));
    mm_bwd(&g);
    check_fwd("matmul_backward dinp", shape, norm_maxerr(g.dx[0], rdi, (size_t)N * IC), FWD_TOL);
    check_fwd("matmul_backward dw", shape, norm_maxerr(g.dx[1], rdw, (size_t)OC * IC), FWD_TOL);
    if (bias)
        check_fwd("matmul_backward db", shape, norm_maxerr(g.dx[2], rdb, OC), FWD_TOL);

    g.fwd = mm_fwd;
    g.bwd = mm_bwd;
    if (full)
        gradcheck_full(&g, FD_H, FD_TOL);
    else
        gradcheck_dir(&g, FD_H, FD_TOL);
    gc_free(&g);
    free(ref);
    free(rdi);
    free(rdw);
    free(rdb);
}


/* ---- elementwise ops and reductions ---------------------------------------------------- */

static void test_elementwise(size_t n)
{
    float *a = falloc(n), *b = falloc(n), *out = falloc(n);
    double *ref = xmalloc(n * sizeof(double));
    char shape[32];

    snprintf(shape, sizeof shape, "n=%zu", n);
    fill(a, n, 2.385, 1.0);
    fill(b, n, -0.7, 1.3);

    for (size_t i = 0; i < n; i++)
        ref[i] = (double)a[i] + b[i];
    be->add(out, a, b, n);
    check_fwd("add", shape, norm_maxerr(out, ref, n), 1e-7);

    for (size_t i = 0; i < n; i++)
        ref[i] += b[i];
    be->accumulate(out, b, n);
    check_fwd("accumulate", shape, norm_maxerr(out, ref, n), 2e-7);

    for (size_t i = 0; i < n; i++)
        ref[i] = (double)out[i] * -1.75;
    be->scale(out, -1.75f, n);
    check_fwd("scale", shape, norm_maxerr(out, ref, n), 1e-7);

    for (size_t i = 0; i < n; i++)
        ref[i] = 0.375 * a[i] + -2.5 * (double)out[i];
    be->axpby(out, 0.375f, a, -2.5f, n);
    check_fwd("axpby", shape, norm_maxerr(out, ref, n), 2e-7);

    be->free(a);
    be->free(b);
    be->free(out);
    free(ref);
}


static void test_reductions(int N, int K)
{
    size_t n = (size_t)N * K;
    float *x = falloc(n), *out = falloc(K);
    double *ref = xcalloc(K, sizeof(double)), ss = 0.0;
    char shape[48];

    snprintf(shape, sizeof shape, "N=%d K=%d", N, K);
    fill(x, n, 0.385, 1.7);
    for (size_t i = 0; i < n; i++) {
        ref[i % K] += x[i];
        ss += (double)x[i] * x[i];
    }
    fill(out, K, 5.0, 1.0); /* sum_rows overwrites: stale values must not leak in */
    be->sum_rows(out, x, N, K);
    check_fwd("sum_rows", shape, norm_maxerr(out, ref, K), 1e-7);
    check_relerr(fabs(be->sumsq(x, n) - ss) / ss, 1e-12, "sumsq (double accumulation)");

    check_true(be->all_finite(x, n) == 1, "all_finite on finite data", shape);
    x[n - 1 - n / 3] = NAN;
    check_true(be->all_finite(x, n) == 0, "all_finite sees a NaN", shape);
    x[n - 1 - n / 3] = 1.0f;
    x[n / 2] = -INFINITY;
    check_true(be->all_finite(x, n) == 0, "all_finite sees -inf", shape);
    be->free(x);
    be->free(out);
    free(ref);
}


/* ---- erf, exp and activations ---------------------------------------------------------- */

/* cpu_erff against libm's erf in double on 4e6+1 points of [-10, 10], and cpu_expf's
 * relative error over its normal-result range; then NaN must stay NaN. */
static void test_mathfn(void)
{
    double emax = 0.0, xmax = 0.0, rmax = 0.0;
    char detail[96];

    for (long i = 0; i <= 4000000; i++) {
        float x = (float)(-10.0 + 20.0 * (double)i / 4000000.0);
        double e = fabs((double)cpu_erff(x) - erf((double)x));
        if (e > emax)
            emax = e, xmax = x;
    }
    snprintf(detail, sizeof detail, "max abs error %.3g at x = %.7g (tol 1.5e-7)", emax, xmax);
    check_true(emax <= 1.5e-7, "cpu_erff vs libm erf on [-10, 10]", detail);

    for (long i = 0; i <= 2000000; i++) {
        float x = (float)(-87.0 + 175.0 * (double)i / 2000000.0);
        double t = exp((double)x);
        rmax = fmax(rmax, fabs((double)cpu_expf(x) - t) / t);
    }
    check_relerr(rmax, 2.5e-7, "cpu_expf vs libm exp on [-87, 88], relative");
    check_true(isnan(cpu_erff(NAN)) && isnan(cpu_expf(NAN)) && cpu_expf(-200.0f) == 0.0f &&
               isinf(cpu_expf(100.0f)) && cpu_erff(-INFINITY) == -1.0f,
               "erf/exp special values (NaN, under/overflow, -inf)", NULL);
}


static void act_fwd(GradCase *g)
{
    if (g->K)
        be->relu_forward(g->out, g->x[0], g->nout);
    else
        be->gelu_forward(g->out, g->x[0], g->nout);
}


static void act_bwd(GradCase *g)
{
    if (g->K)
        be->relu_backward(g->dx[0], g->x[0], g->R, g->nout);
    else
        be->gelu_backward(g->dx[0], g->x[0], g->R, g->nout);
}


/* relu != 0 tests ReLU, else GELU: forward and the exact derivative against double, then
 * finite differences (ReLU inputs kept 0.05 away from its kink, beyond h). */
static void test_activation(size_t n, int relu, int full)
{
    GradCase g = {0};
    double *ref = xmalloc(n * sizeof(double)), *dref = xmalloc(n * sizeof(double));
    float *x;
    char shape[32];

    snprintf(shape, sizeof shape, "n=%zu", n);
    snprintf(g.name, sizeof g.name, "%s [%s]", relu ? "relu" : "gelu", shape);
    g.K = relu;
    x = gc_input(&g, "inp", n, 0.385, 2.5);
    gc_output(&g, n);
    for (size_t i = 0; i < n; i++) {
        double v;
        if (relu && fabsf(x[i]) < 0.05f)
            x[i] += x[i] < 0 ? -0.05f : 0.05f;
        v = x[i];
        ref[i] = relu ? (v > 0 ? v : 0) : 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
        dref[i] = relu ? (v > 0 ? 1 : 0)
                       : 0.5 * (1.0 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2 * M_PI);
        dref[i] *= g.R[i];
    }
    act_fwd(&g);
    check_fwd(relu ? "relu_forward" : "gelu_forward", shape, norm_maxerr(g.out, ref, n), 4e-7);
    act_bwd(&g);
    check_fwd(relu ? "relu_backward" : "gelu_backward", shape, norm_maxerr(g.dx[0], dref, n),
              4e-7);

    g.fwd = act_fwd;
    g.bwd = act_bwd;
    if (full)
        gradcheck_full(&g, FD_H, FD_TOL);
    else
        gradcheck_dir(&g, FD_H, FD_TOL);
    gc_free(&g);
    free(ref);
    free(dref);
}


/* ---- layer norm ------------------------------------------------------------------------ */

static void ln_fwd(GradCase *g)
{
    be->layernorm_forward(g->out, g->s1, g->s2, g->x[0], g->x[1], g->x[2], g->N, g->C, g->eps);
}


static void ln_bwd(GradCase *g)
{
    be->layernorm_backward(g->dx[0], g->dx[1], g->dx[2], g->R, g->x[0], g->x[1], g->s1, g->s2,
                           g->N, g->C);
}


static void test_layernorm(int N, int C, int full)
{
    GradCase g = {0};
    double *ref = xmalloc((size_t)N * C * sizeof(double));
    char shape[48];

    snprintf(shape, sizeof shape, "N=%d C=%d", N, C);
    snprintf(g.name, sizeof g.name, "layernorm [%s]", shape);
    g.N = N, g.C = C, g.eps = 1e-6f;
    /* a mean of 2.385 against sd 0.7 exercises the two-pass variance */
    gc_input(&g, "inp", (size_t)N * C, 2.385, 0.7);
    gc_input(&g, "w", C, 1.1, 0.4);
    gc_input(&g, "b", C, -0.3, 0.5);
    gc_output(&g, (size_t)N * C);
    g.s1 = falloc(N);
    g.s2 = falloc(N);

    for (int n = 0; n < N; n++) {
        const float *x = g.x[0] + (size_t)n * C;
        double m = 0.0, v = 0.0;
        for (int c = 0; c < C; c++)
            m += x[c];
        m /= C;
        for (int c = 0; c < C; c++)
            v += (x[c] - m) * (x[c] - m);
        v /= C;
        for (int c = 0; c < C; c++)
            ref[(size_t)n * C + c] = (x[c] - m) / sqrt(v + g.eps) * g.x[1][c] + g.x[2][c];
    }
    ln_fwd(&g);
    check_fwd("layernorm_forward", shape, norm_maxerr(g.out, ref, (size_t)N * C), FWD_TOL);

    g.fwd = ln_fwd;
    g.bwd = ln_bwd;
    if (full)
        gradcheck_full(&g, FD_H, FD_TOL);
    else
        gradcheck_dir(&g, FD_H, FD_TOL);
    gc_free(&g);
    free(ref);
}


/* ---- batch norm ------------------------------------------------------------------------ */

static void bn_fwd(GradCase *g)
{
    be->batchnorm_forward(g->out, g->s1, g->s2, g->s3, g->s4, g->x[0], g->x[1], g->x[2],
                          g->N, g->C, g->eps, 0.1f, 1);
}


static void bn_bwd(GradCase *g)
{
    be->batchnorm_backward(g->dx[0], g->dx[1], g->dx[2], g->R, g->x[0], g->x[1], g->s1, g->s2,
                           g->N, g->C);
}


/* Train mode against double loops (output and the running-stat update with the unbiased
 * variance), then eval mode, which must use the running stats and leave them alone. */
static void test_batchnorm(int N, int C, int affine, int full)
{
    GradCase g = {0};
    size_t nc = (size_t)N * C;
    double *ref = xmalloc(nc * sizeof(double)), *rm = xmalloc(C * sizeof(double));
    double *rv = xmalloc(C * sizeof(double));
    float *rm0 = xmalloc(C * sizeof(float)), *rv0 = xmalloc(C * sizeof(float));
    char shape[64];

    snprintf(shape, sizeof shape, "N=%d C=%d%s", N, C, affine ? "" : " no affine");
    snprintf(g.name, sizeof g.name, "batchnorm [%s]", shape);
    g.N = N, g.C = C, g.eps = 1e-5f;
    gc_input(&g, "inp", nc, -1.3, 1.6);
    if (affine) {
        gc_input(&g, "w", C, 0.9, 0.3);
        gc_input(&g, "b", C, 0.2, 0.5);
    }
    gc_output(&g, nc);
    g.s1 = falloc(C);
    g.s2 = falloc(C);
    g.s3 = falloc(C);
    g.s4 = falloc(C);
    fill(g.s3, C, 0.4, 0.2);
    fill(g.s4, C, 1.5, 0.1);
    memcpy(rm0, g.s3, C * sizeof(float));
    memcpy(rv0, g.s4, C * sizeof(float));

    for (int c = 0; c < C; c++) {
        double m = 0.0, v = 0.0;
        for (int n = 0; n < N; n++)
            m += g.x[0][(size_t)n * C + c];
        m /= N;
        for (int n = 0; n < N; n++)
            v += pow(g.x[0][(size_t)n * C + c] - m, 2);
        for (int n = 0; n < N; n++) {
            double y = (g.x[0][(size_t)n * C + c] - m) / sqrt(v / N + g.eps);
            ref[(size_t)n * C + c] = affine ? y * g.x[1][c] + g.x[2][c] : y;
        }
        rm[c] = 0.9 * rm0[c] + 0.1 * m;
        rv[c] = 0.9 * rv0[c] + 0.1 * v / (N - 1);
    }
    bn_fwd(&g);
    check_fwd("batchnorm_forward train", shape, norm_maxerr(g.out, ref, nc), FWD_TOL);
    check_fwd("batchnorm running_mean update", shape, norm_maxerr(g.s3, rm, C), FWD_TOL);
    check_fwd("batchnorm running_var update (unbiased)", shape, norm_maxerr(g.s4, rv, C),
              FWD_TOL);

    memcpy(rm0, g.s3, C * sizeof(float));
    memcpy(rv0, g.s4, C * sizeof(float));
    for (size_t i = 0; i < nc; i++) {
        int c = (int)(i % C);
        double y = (g.x[0][i] - (double)rm0[c]) / sqrt((double)rv0[c] + g.eps);
        ref[i] = affine ? y * g.x[1][c] + g.x[2][c] : y;
    }
    be->batchnorm_forward(g.out, g.s1, g.s2, g.s3, g.s4, g.x[0], g.x[1], g.x[2], N, C, g.eps,
                          0.1f, 0);
    check_fwd("batchnorm_forward eval uses running stats", shape, norm_maxerr(g.out, ref, nc),
              FWD_TOL);
    check_true(memcmp(rm0, g.s3, C * sizeof(float)) == 0 &&
               memcmp(rv0, g.s4, C * sizeof(float)) == 0,
               "batchnorm eval leaves running stats unchanged", shape);

    g.fwd = bn_fwd;
    g.bwd = bn_bwd;
    if (full)
        gradcheck_full(&g, FD_H, FD_TOL);
    else
        gradcheck_dir(&g, FD_H, FD_TOL);
    gc_free(&g);
    free(ref);
    free(rm);
    free(rv);
    free(rm0);
    free(rv0);
}


/* ---- L2 norm and weight norm ----------------------------------------------------------- */

static void l2_fwd(GradCase *g)
{
    be->l2norm_forward(g->out, g->s1, g->x[0], g->N, g->C, g->eps);
}


static void l2_bwd(GradCase *g)
{
    be->l2norm_backward(g->dx[0], g->R, g->x[0], g->s1, g->N, g->C, g->eps);
}


/* Row 1 is scaled below eps: there the divisor is eps, and dinp = dout / eps exactly. */
static void test_l2norm(int N, int C, int full)
{
    GradCase g = {0};
    size_t nc = (size_t)N * C;
    double *ref = xmalloc(nc * sizeof(double)), *dref = xmalloc(C * sizeof(double));
    char shape[48];

    snprintf(shape, sizeof shape, "N=%d C=%d", N, C);
    snprintf(g.name, sizeof g.name, "l2norm [%s]", shape);
    g.N = N, g.C = C, g.eps = 1e-12f;
    gc_input(&g, "inp", nc, 0.385, 1.2);
    gc_output(&g, nc);
    g.s1 = falloc(N);

    for (int n = 0; n < N; n++) {
        double ss = 0.0;
        for (int c = 0; c < C; c++)
            ss += pow(g.x[0][(size_t)n * C + c], 2);
        for (int c = 0; c < C; c++)
            ref[(size_t)n * C + c] = g.x[0][(size_t)n * C + c] / fmax(sqrt(ss), g.eps);
    }
    l2_fwd(&g);
    check_fwd("l2norm_forward", shape, norm_maxerr(g.out, ref, nc), FWD_TOL);

    g.fwd = l2_fwd;
    g.bwd = l2_bwd;
    if (full)
        gradcheck_full(&g, FD_H, FD_TOL);
    else
        gradcheck_dir(&g, FD_H, FD_TOL);

    g.eps = 0.5f;
    for (int c = 0; c < C; c++) {
        g.x[0][C + c] *= 0.01f / sqrtf((float)C);
        dref[c] = g.R[C + c] / g.eps;
    }
    be->zero(g.dx[0], nc * sizeof(float));
    l2_fwd(&g);
    l2_bwd(&g);
    check_fwd("l2norm_backward below eps is dout/eps", shape, norm_maxerr(g.dx[0] + C, dref, C),
              1e-7);
    gc_free(&g);
    free(ref);
    free(dref);
}


static void wn_fwd(GradCase *g)
{
    be->weightnorm_forward(g->out, g->s1, g->x[0], g->x[1], g->K, g->C);
}


static void wn_bwd(GradCase *g)
{
    be->weightnorm_backward(g->dx[0], g->dx[1], g->R, g->x[0], g->x[1], g->s1, g->K, g->C);
}


static void test_weightnorm(int OC, int IC, int has_g, int full)
{
    GradCase g = {0};
    size_t n = (size_t)OC * IC;
    double *ref = xmalloc(n * sizeof(double));
    char shape[48];

    snprintf(shape, sizeof shape, "OC=%d IC=%d%s", OC, IC, has_g ? "" : " g=1");
    snprintf(g.name, sizeof g.name, "weightnorm [%s]", shape);
    g.K = OC, g.C = IC;
    gc_input(&g, "v", n, 0.385, 0.8);
    if (has_g)
        gc_input(&g, "g", OC, 1.3, 0.4);
    gc_output(&g, n);
    g.s1 = falloc(OC);

    for (int o = 0; o < OC; o++) {
        double ss = 0.0;
        for (int i = 0; i < IC; i++)
            ss += pow(g.x[0][(size_t)o * IC + i], 2);
        for (int i = 0; i < IC; i++)
            ref[(size_t)o * IC + i] = (has_g ? g.x[1][o] : 1.0) * g.x[0][(size_t)o * IC + i]
                                      / sqrt(ss);
    }
    wn_fwd(&g);
    check_fwd("weightnorm_forward", shape, norm_maxerr(g.out, ref, n), FWD_TOL);

    g.fwd = wn_fwd;
    g.bwd = wn_bwd;
    if (full)
        gradcheck_full(&g, FD_H, FD_TOL);
    else
        gradcheck_dir(&g, FD_H, FD_TOL);
    gc_free(&g);
    free(ref);
}


/* ---- softmax losses over rows ---------------------------------------------------------- */

/* g->s3 holds the target (NULL: labels), g->row the shift, g->NH mask_self, g->eps the scale. */
static void xent_fwd(GradCase *g)
{
    be->xent_rows(g->out, NULL, g->x[0], g->s3, g->N, g->K, g->row, g->NH, g->eps, 1.0f);
}


/* xent_rows overwrites d loss[n] / dlogits (gscale 1) into scratch s1; the chain rule with
 * dout = R, added into dx, is the harness's _backward convention. */
static void xent_bwd(GradCase *g)
{
    be->xent_rows(g->s2, g->s1, g->x[0], g->s3, g->N, g->K, g->row, g->NH, g->eps, 1.0f);
    for (int n = 0; n < g->N; n++)
        for (int k = 0; k < g->K; k++)
            g->dx[0][(size_t)n * g->K + k] += g->R[n] * g->s1[(size_t)n * g->K + k];
}


/* loss[n] and gscale * dloss[n]/dlogits in double, straight from the definition in
 * backend.h: x = scale * logits, column n skipped when masked, t the target or one-hot. */
static void ref_xent(double *loss, double *dl, const float *logits, const float *target,
                     int N, int K, int shift, int mask, double scale, double gscale)
{
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * K;
        int skip = mask ? n : -1, label = (n + shift) % K;
        double mx = -INFINITY, sum = 0.0, m = 0.0, lse;

        for (int k = 0; k < K; k++)
            if (k != skip)
                mx = fmax(mx, scale * l[k]);
        for (int k = 0; k < K; k++)
            if (k != skip)
                sum += exp(scale * l[k] - mx);
        lse = mx + log(sum);
        loss[n] = 0.0;
        for (int k = 0; k < K; k++) {
            double t = target ? target[(size_t)n * K + k] : (k == label);
            if (k == skip) {
                dl[(size_t)n * K + k] = 0.0;
                continue;
            }
            m += t;
            loss[n] += t * (lse - scale * l[k]);
        }
        for (int k = 0; k < K; k++)
            if (k != skip)
                dl[(size_t)n * K + k] = gscale * scale * (m * exp(scale * l[k] - lse)
                                        - (target ? target[(size_t)n * K + k] : (k == label)));
    }
}


/* Positive target rows summing to 1, and to 2 on odd rows (DINO's sum over two teachers). */
static float *xent_target(int N, int K)
{
    float *t = falloc((size_t)N * K);

    for (int n = 0; n < N; n++) {
        double sum = 0.0;
        for (int k = 0; k < K; k++)
            sum += t[(size_t)n * K + k] = (float)(0.05 + fabs(rng_normal(&rng)));
        for (int k = 0; k < K; k++)
            t[(size_t)n * K + k] *= (float)((1 + n % 2) / sum);
    }
    return t;
}


static void test_xent_rows(int N, int K, int shift, int mask, int with_target, int full)
{
    GradCase g = {0};
    size_t nk = (size_t)N * K;
    double *lref = xmalloc(N * sizeof(double)), *dref = xmalloc(nk * sizeof(double));
    char shape[80];

    snprintf(shape, sizeof shape, "N=%d K=%d %s%s", N, K, with_target ? "target" : "labels",
             mask ? " masked" : "");
    snprintf(g.name, sizeof g.name, "xent_rows [%s]", shape);
    g.N = N, g.K = K, g.row = shift, g.NH = mask, g.eps = 1.0f / 0.27f;
    gc_input(&g, "logits", nk, 0.385, 0.7);
    gc_output(&g, N);
    g.s1 = falloc(nk);
    g.s2 = falloc(N);
    g.s3 = with_target ? xent_target(N, K) : NULL;

    /* stale values in both outputs: they must be overwritten, not added to */
    fill(g.s1, nk, 5.0, 1.0);
    fill(g.out, N, 5.0, 1.0);
    be->xent_rows(g.out, g.s1, g.x[0], g.s3, N, K, shift, mask, g.eps, 0.37f);
    ref_xent(lref, dref, g.x[0], g.s3, N, K, shift, mask, g.eps, 0.37);
    check_fwd("xent_rows loss", shape, norm_maxerr(g.out, lref, N), FWD_TOL);
    check_fwd("xent_rows dlogits (gscale 0.37)", shape, norm_maxerr(g.s1, dref, nk), FWD_TOL);

    g.fwd = xent_fwd;
    g.bwd = xent_bwd;
    if (full)
        gradcheck_full(&g, FD_H, FD_TOL);
    else
        gradcheck_dir(&g, FD_H, FD_TOL);
    gc_free(&g);
    free(lref);
    free(dref);
}


/* Logits of +-1e4 (at scale 1/0.01: 1e6) must give finite losses and gradients: the max is
 * subtracted before exp. */
static void test_xent_extreme(void)
{
    int N = 4, K = 6;
    float *l = falloc(N * K), *loss = falloc(N), *dl = falloc(N * K);

    for (int i = 0; i < N * K; i++)
        l[i] = (float)((i % 3 - 1) * 1e4 + i);
    be->xent_rows(loss, dl, l, NULL, N, K, 1, 1, 100.0f, 0.25f);
    check_true(be->all_finite(loss, N) && be->all_finite(dl, N * K),
               "xent_rows finite at logits 1e4, scale 100", NULL);
    be->free(l);
    be->free(loss);
    be->free(dl);
}


static void test_softmax_rows(int N, int K, int with_center)
{
    size_t nk = (size_t)N * K;
    float *x = falloc(nk), *c = with_center ? falloc(K) : NULL, *out = falloc(nk);
    double *ref = xmalloc(nk * sizeof(double)), rowerr = 0.0, inv_t = 1.0 / 0.04;
    char shape[64];

    snprintf(shape, sizeof shape, "N=%d K=%d%s", N, K, with_center ? " centred" : "");
    fill(x, nk, 0.385, 0.3);
    if (c != NULL)
        fill(c, K, -0.21, 0.2);
    fill(out, nk, 5.0, 1.0);
    for (int n = 0; n < N; n++) {
        double mx = -INFINITY, sum = 0.0;
        for (int k = 0; k < K; k++)
            mx = fmax(mx, (x[(size_t)n * K + k] - (c ? c[k] : 0.0)) * inv_t);
        for (int k = 0; k < K; k++)
            sum += ref[(size_t)n * K + k] = exp((x[(size_t)n * K + k] - (c ? c[k] : 0.0))
                                                * inv_t - mx);
        for (int k = 0; k < K; k++)
            ref[(size_t)n * K + k] /= sum;
    }
    be->softmax_rows(out, x, c, N, K, (float)inv_t);
    check_fwd("softmax_rows", shape, norm_maxerr(out, ref, nk), FWD_TOL);

    for (int n = 0; n < N; n++) {
        double sum = 0.0;
        for (int k = 0; k < K; k++)
            sum += out[(size_t)n * K + k];
        rowerr = fmax(rowerr, fabs(sum - 1.0));
    }
    check_fwd("softmax_rows rows sum to 1", shape, rowerr, 1e-5);
    be->free(x);
    be->free(c);
    be->free(out);
    free(ref);
}


/* ---- attention ------------------------------------------------------------------------- */

static void att_fwd(GradCase *g)
{
    be->attention_forward(g->out, g->s1, g->x[0], g->B, g->T, g->C, g->NH);
}


static void att_bwd(GradCase *g)
{
    be->attention_backward(g->dx[0], g->s2, g->R, g->x[0], g->s1, g->B, g->T, g->C, g->NH);
}


/* Naive double attention for one (b, h): probabilities into p[T*T], output into out. */
static void ref_attention_head(double *out, double *p, const float *qkv, int b, int h,
                               int T, int C, int NH)
{
    int hs = C / NH;
    const float *base = qkv + (size_t)b * T * 3 * C + (size_t)h * hs;

    for (int i = 0; i < T; i++) {
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < T; j++) {
            double s = 0.0;
            for (int d = 0; d < hs; d++)
                s += (double)base[(size_t)i * 3 * C + d] * base[(size_t)j * 3 * C + C + d];
            p[i * T + j] = s / sqrt((double)hs);
            mx = fmax(mx, p[i * T + j]);
        }
        for (int j = 0; j < T; j++)
            sum += p[i * T + j] = exp(p[i * T + j] - mx);
        for (int j = 0; j < T; j++)
            p[i * T + j] /= sum;
        for (int d = 0; d < hs; d++) {
            double o = 0.0;
            for (int j = 0; j < T; j++)
                o += p[i * T + j] * base[(size_t)j * 3 * C + 2 * C + d];
            out[((size_t)b * T + i) * C + (size_t)h * hs + d] = o;
        }
    }
}


static void test_attention(int B, int T, int C, int NH, int full)
{
    GradCase g = {0};
    size_t natt = (size_t)B * NH * T * T;
    double *ref = xmalloc((size_t)B * T * C * sizeof(double));
    double *pref = xmalloc(natt * sizeof(double));
    char shape[64];

    snprintf(shape, sizeof shape, "B=%d T=%d C=%d NH=%d", B, T, C, NH);
    snprintf(g.name, sizeof g.name, "attention [%s]", shape);
    g.B = B, g.T = T, g.C = C, g.NH = NH;
    gc_input(&g, "qkv", (size_t)B * T * 3 * C, 0.385, 1.1);
    gc_output(&g, (size_t)B * T * C);
    g.s1 = falloc(natt);
    g.s2 = falloc(natt);

    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            ref_attention_head(ref, pref + ((size_t)b * NH + h) * T * T, g.x[0], b, h, T, C, NH);
    att_fwd(&g);
    check_fwd("attention_forward out", shape, norm_maxerr(g.out, ref, g.nout), FWD_TOL);
    check_fwd("attention_forward att", shape, norm_maxerr(g.s1, pref, natt), FWD_TOL);

    g.fwd = att_fwd;
    g.bwd = att_bwd;
    if (full)
        gradcheck_full(&g, FD_H, FD_TOL);
    else
        gradcheck_dir(&g, FD_H, FD_TOL);
    gc_free(&g);
    free(ref);
    free(pref);
}


/* ---- tokens and patches ---------------------------------------------------------------- */

/* idx[B,TK]: random patches of the G*G grid, repeated across samples, as token dropout. */
static int32_t *random_idx(int B, int TK, int NP)
{
    int32_t *idx = xmalloc((size_t)B * TK * sizeof(int32_t));

    for (size_t i = 0; i < (size_t)B * TK; i++)
        idx[i] = (int32_t)rng_below(&rng, NP);
    return idx;
}


static void test_patchify(int B, int CH, int G, int P, int TK)
{
    int S = G * P;
    size_t plen = (size_t)CH * P * P, nout = (size_t)B * TK * plen;
    float *img = falloc((size_t)B * CH * S * S), *out = falloc(nout);
    int32_t *idx = random_idx(B, TK, G * G);
    double *ref = xmalloc(nout * sizeof(double));
    char shape[64];

    fill(img, (size_t)B * CH * S * S, 0.385, 1.0);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < TK; j++)
            for (int ch = 0; ch < CH; ch++)
                for (int py = 0; py < P; py++)
                    for (int px = 0; px < P; px++) {
                        int32_t p = idx[b * TK + j];
                        int y = p / G * P + py, x = p % G * P + px;
                        ref[((size_t)b * TK + j) * plen + ((size_t)ch * P + py) * P + px] =
                            img[(((size_t)b * CH + ch) * S + y) * S + x];
                    }
    be->patchify(out, img, idx, B, CH, G, P, TK);
    snprintf(shape, sizeof shape, "B=%d CH=%d G=%d P=%d TK=%d", B, CH, G, P, TK);
    check_fwd("patchify (exact)", shape, norm_maxerr(out, ref, nout), 0.0);
    be->free(img);
    be->free(out);
    free(idx);
    free(ref);
}


static void tok_fwd(GradCase *g)
{
    be->tokens_forward(g->out, g->x[0], g->x[1], g->x[2], g->idx, g->B, g->T, g->K, g->C);
}


static void tok_bwd(GradCase *g)
{
    be->tokens_backward(g->dx[0], g->dx[1], g->dx[2], g->R, g->idx, g->B, g->T, g->K, g->C);
}


/* tokens_forward against its definition and tokens_backward against a serial scatter-add;
 * here g->T holds TK (kept patches) and g->K holds NP. */
static void test_tokens(int B, int TK, int NP, int C, int full)
{
    GradCase g = {0};
    int T = TK + 1;
    double *ref = xmalloc((size_t)B * T * C * sizeof(double));
    double *rdpos = xcalloc((size_t)NP * C, sizeof(double));
    char shape[64];

    snprintf(shape, sizeof shape, "B=%d TK=%d NP=%d C=%d", B, TK, NP, C);
    snprintf(g.name, sizeof g.name, "tokens [%s]", shape);
    g.B = B, g.T = TK, g.K = NP, g.C = C;
    g.idx = random_idx(B, TK, NP);
    gc_input(&g, "emb", (size_t)B * TK * C, 0.385, 1.0);
    gc_input(&g, "cls", C, -0.5, 0.7);
    gc_input(&g, "pos", (size_t)NP * C, 0.1, 0.3);
    gc_output(&g, (size_t)B * T * C);

    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) {
                size_t o = ((size_t)b * T + t) * C + c, e = ((size_t)b * TK + t - 1) * C + c;
                ref[o] = t == 0 ? g.x[1][c]
                                : (double)g.x[0][e] + g.x[2][(size_t)g.idx[b * TK + t - 1] * C + c];
                if (t > 0)
                    rdpos[(size_t)g.idx[b * TK + t - 1] * C + c] += g.R[o];
            }
    tok_fwd(&g);
    check_fwd("tokens_forward", shape, norm_maxerr(g.out, ref, g.nout), 1e-7);
    tok_bwd(&g);
    check_fwd("tokens_backward dpos scatter-add", shape, norm_maxerr(g.dx[2], rdpos,
              (size_t)NP * C), 1e-6);

    g.fwd = tok_fwd;
    g.bwd = tok_bwd;
    if (full)
        gradcheck_full(&g, FD_H, FD_TOL);
    else
        gradcheck_dir(&g, FD_H, FD_TOL);
    gc_free(&g);
    free(ref);
    free(rdpos);
}


static void sel_fwd(GradCase *g)
{
    be->select_row(g->out, g->x[0], g->B, g->T, g->C, g->row);
}


static void sel_bwd(GradCase *g)
{
    be->select_row_backward(g->dx[0], g->R, g->B, g->T, g->C, g->row);
}


static void test_select_row(int B, int T, int C, int row)
{
    GradCase g = {0};
    double *ref = xmalloc((size_t)B * C * sizeof(double));
    char shape[48];

    snprintf(shape, sizeof shape, "B=%d T=%d C=%d row=%d", B, T, C, row);
    snprintf(g.name, sizeof g.name, "select_row [%s]", shape);
    g.B = B, g.T = T, g.C = C, g.row = row;
    gc_input(&g, "x", (size_t)B * T * C, 2.385, 1.0);
    gc_output(&g, (size_t)B * C);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            ref[(size_t)b * C + c] = g.x[0][((size_t)b * T + row) * C + c];
    sel_fwd(&g);
    check_fwd("select_row", shape, norm_maxerr(g.out, ref, g.nout), 0.0);
    g.fwd = sel_fwd;
    g.bwd = sel_bwd;
    gradcheck_full(&g, FD_H, FD_TOL);
    gc_free(&g);
    free(ref);
}


/* ---- optimizer and EMA ----------------------------------------------------------------- */

static void test_adamw(void)
{
    float p[2] = {1.0f, 2.385f}, m[2] = {0}, v[2] = {0}, g[2] = {1.0f, -0.75f};
    float dec[2] = {0.0f, 1.0f}, q[2], mq[2] = {0}, vq[2] = {0};

    be->adamw_step(p, m, v, g, dec, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1);
    check_close(p[0], 0.9, 1e-6, "adamw t=1, g=1 from p=1 (lr 0.1) gives 0.9");
    g[0] = 0.0f;
    be->adamw_step(p, m, v, g, dec, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 2);
    check_close(p[0], 0.832994, 1e-5, "adamw t=2, g=0 gives 0.832994");

    /* the same element with decay 0 and 1: the updates differ by exactly lr * wd * p */
    p[0] = p[1] = 2.385f;
    g[0] = g[1] = -0.75f;
    q[0] = q[1] = 2.385f;
    be->adamw_step(p, mq, vq, g, dec, 2, 0.05f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
    check_close(p[0] - p[1], 0.05 * 0.1 * q[1], 1e-6, "adamw decay mask 0 vs 1 differ by lr wd p");

    size_t n = 40001;
    float *P = falloc(n), *M = falloc(n), *V = falloc(n), *G = falloc(n), *D = falloc(n);
    double *ref = xmalloc(n * sizeof(double));
    fill(P, n, 0.385, 1.0);
    fill(M, n, 0.01, 0.02);
    fill(V, n, 0.02, 0.005);
    fill(G, n, -0.1, 0.5);
    for (size_t i = 0; i < n; i++) {
        double mi, vi;

        V[i] = fabsf(V[i]); /* a second moment is never negative */
        mi = 0.9 * M[i] + 0.1 * G[i];
        vi = 0.999 * V[i] + 0.001 * (double)G[i] * G[i];
        D[i] = (float)(i % 3 != 0);
        ref[i] = P[i] - 1e-3 * (mi / (1 - pow(0.9, 7)) / (sqrt(vi / (1 - pow(0.999, 7))) + 1e-8)
                                + 0.05 * D[i] * P[i]);
    }
    be->adamw_step(P, M, V, G, D, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, 7);
    check_fwd("adamw_step vs double formula", "n=40001 t=7", norm_maxerr(P, ref, n), 1e-7);
    be->free(P);
    be->free(M);
    be->free(V);
    be->free(G);
    be->free(D);
    free(ref);
}


static void test_ema(void)
{
    float t[3] = {2.385f, -1.0f, 0.5f}, o[3] = {-1.25f, 3.0f, 0.5f};

    be->ema_update(t, o, 3, 0.996f);
    check_close(t[0], 0.996 * 2.385 + 0.004 * -1.25, 1e-6, "ema 0.996 * 2.385 + 0.004 * -1.25");
    check_close(t[1], -0.984, 1e-6, "ema 0.996 * -1 + 0.004 * 3");
    check_close(t[2], 0.5, 1e-7, "ema of equal values stays put");
}


int main(void)
{
    be = backend_cpu();
    rng = rng_stream(2385, RNG_INIT, 17, 0);
    check_true(strcmp(be->name, "cpu") == 0, "backend name is cpu", be->name);

    test_memory();

    for (int tA = 0; tA < 2; tA++)
        for (int tB = 0; tB < 2; tB++) {
            test_gemm_case(tA, tB, 7, 5, 13);
            test_gemm_case(tA, tB, 64, 48, 200);
        }
    test_matmul(7, 13, 5, 1, 1);
    test_matmul(5, 8, 11, 0, 1);
    test_matmul(300, 96, 130, 1, 0);

    test_elementwise(13);
    test_elementwise(40001);
    test_reductions(7, 13);
    test_reductions(301, 257);

    test_mathfn();
    test_activation(37, 0, 1);
    test_activation(40001, 0, 0);
    test_activation(37, 1, 1);
    test_activation(40001, 1, 0);

    test_layernorm(7, 13, 1);
    test_layernorm(3, 64, 1);
    test_layernorm(300, 192, 0);
    test_batchnorm(7, 13, 1, 1);
    test_batchnorm(16, 5, 0, 1);
    test_batchnorm(256, 160, 1, 0);
    test_l2norm(7, 13, 1);
    test_l2norm(300, 128, 0);
    test_weightnorm(5, 13, 1, 1);
    test_weightnorm(7, 4, 0, 1);
    test_weightnorm(64, 600, 1, 0);

    test_xent_rows(5, 7, 0, 0, 0, 1);
    test_xent_rows(6, 6, 3, 1, 0, 1);
    test_xent_rows(5, 9, 0, 0, 1, 1);
    test_xent_rows(4, 7, 0, 1, 1, 1);
    test_xent_rows(300, 301, 150, 1, 0, 0);
    test_xent_rows(64, 4099, 0, 0, 1, 0);
    test_xent_extreme();
    test_softmax_rows(3, 11, 0);
    test_softmax_rows(64, 4099, 1);

    test_attention(2, 5, 6, 2, 1);
    test_attention(1, 7, 12, 3, 1);
    test_attention(3, 4, 4, 1, 1);
    test_attention(8, 65, 96, 3, 0);

    test_patchify(2, 3, 4, 5, 7);
    test_patchify(3, 1, 7, 4, 49);
    test_tokens(2, 5, 9, 13, 1);
    test_tokens(64, 40, 64, 24, 0);
    test_select_row(3, 5, 7, 0);
    test_select_row(2, 4, 6, 3);

    test_adamw();
    test_ema();
    return check_summary();
}
