/* test_losses.c: MoCo v3, NT-Xent and DINO losses and the budget schedules.
 * Exact analytic cases, gradients against central differences and against brute-force
 * double references written here as literal matrix loops, symmetry properties, and the
 * schedule values at their corners. Fixed seeds; inputs scaled by 2.385 so that no value
 * is a convenient 0 or 1. */
#include "losses.h"
#include "loss_backend.h"
#include "schedule.h"
#include "common.h"
#include "rng.h"
#include "check.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#define SEED 2385


/* ---- helpers ---- */

static void fill_normal(float *x, int n, uint64_t stream, double scale)
{
    Rng r = rng_stream(SEED, RNG_INIT, stream, 0);
    for (int i = 0; i < n; i++)
        x[i] = (float)(scale * rng_normal(&r));
}


static void l2norm_rows(float *x, int N, int D)
{
    for (int n = 0; n < N; n++) {
        double ss = 0.0;
        for (int d = 0; d < D; d++)
            ss += (double)x[n * D + d] * x[n * D + d];
        for (int d = 0; d < D; d++)
            x[n * D + d] = (float)(x[n * D + d] / sqrt(ss));
    }
}


/* ||a - b|| / max(||a||, ||b||): the normalised error used by every gradient comparison. */
static double rel_err(const float *a, const double *b, int n)
{
    double dd = 0.0, na = 0.0, nb = 0.0;
    for (int i = 0; i < n; i++) {
        dd += (a[i] - b[i]) * (a[i] - b[i]);
        na += (double)a[i] * a[i];
        nb += b[i] * b[i];
    }
    double den = sqrt(na > nb ? na : nb);
    return sqrt(dd) / (den > 1e-300 ? den : 1e-300);
}


static double max_abs(const float *a, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; i++)
        if (fabs(a[i]) > m)
            m = fabs(a[i]);
    return m;
}


/* A loss of one float array x (the others held in ctx), evaluated by the library. */
typedef double (*LossOfX)(void *ctx, const float *x);

/* Central differences of f at x in float. The denominator is the difference of the two
 * perturbed floats actually passed, not 2h, so the rounding of x +- h costs nothing. */
static void fd_grad_float(double *g, LossOfX f, void *ctx, float *x, int n, float h)
{
    for (int i = 0; i < n; i++) {
        float x0 = x[i];
        float xp = x0 + h, xm = x0 - h;
        x[i] = xp;
        double fp = f(ctx, x);
        x[i] = xm;
        double fm = f(ctx, x);
        x[i] = x0;
        g[i] = (fp - fm) / ((double)xp - (double)xm);
    }
}


/* The same in double for the double references. */
typedef double (*LossOfXd)(void *ctx, const double *x);

static void fd_grad_double(double *g, LossOfXd f, void *ctx, double *x, int n, double h)
{
    for (int i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + h;
        double fp = f(ctx, x);
        x[i] = x0 - h;
        double fm = f(ctx, x);
        x[i] = x0;
        g[i] = (fp - fm) / (2.0 * h);
    }
}


static double rel_err_dd(const double *a, const double *b, int n)
{
    double dd = 0.0, nn = 0.0;
    for (int i = 0; i < n; i++) {
        dd += (a[i] - b[i]) * (a[i] - b[i]);
        nn += a[i] * a[i] > b[i] * b[i] ? a[i] * a[i] : b[i] * b[i];
    }
    return sqrt(dd) / sqrt(nn > 1e-300 ? nn : 1e-300);
}


static void to_double(double *y, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = x[i];
}


/* ---- brute-force double references: literal matrix loops, no shared code ---- */

/* MoCo: L = 2 tau / N sum_n (log sum_m e^{S_nm} - S_nn), S = q k^T / tau;
 * dq = (2 tau / N) (P - I) k / tau. dq may be NULL. */
static double ref_moco(double *dq, const double *q, const double *k, int N, int D, double tau)
{
    double S[64][64], P[64][64], L = 0.0;
    HASSERT(N <= 64);
    for (int n = 0; n < N; n++)
        for (int m = 0; m < N; m++) {
            S[n][m] = 0.0;
            for (int d = 0; d < D; d++)
                S[n][m] += q[n * D + d] * k[m * D + d] / tau;
        }
    for (int n = 0; n < N; n++) {
        double mx = -INFINITY, z = 0.0;
        for (int m = 0; m < N; m++)
            mx = fmax(mx, S[n][m]);
        for (int m = 0; m < N; m++)
            z += exp(S[n][m] - mx);
        for (int m = 0; m < N; m++)
            P[n][m] = exp(S[n][m] - mx) / z;
        L += mx + log(z) - S[n][n]; /* not -log P_nn: P_nn underflows at tau = 1e-3 */
    }
    if (dq != NULL)
        for (int n = 0; n < N; n++)
            for (int d = 0; d < D; d++) {
                dq[n * D + d] = 0.0;
                for (int m = 0; m < N; m++)
                    dq[n * D + d] += (P[n][m] - (n == m)) * k[m * D + d] / tau;
                dq[n * D + d] *= 2.0 * tau / N;
            }
    return 2.0 * tau * L / N;
}


/* NT-Xent: S with the diagonal set to -inf, P row softmax (P_ii = 0), twin matrix T;
 * G = (P - T) / N2 is dL/dS; dz = (G + G^T) z / tau. dz may be NULL. */
static double ref_ntxent(double *dz, const double *z, int N2, int D, double tau)
{
    double S[64][64], G[64][64], L = 0.0;
    int N = N2 / 2;
    HASSERT(N2 <= 64);
    for (int i = 0; i < N2; i++)
        for (int j = 0; j < N2; j++) {
            S[i][j] = 0.0;
            for (int d = 0; d < D; d++)
                S[i][j] += z[i * D + d] * z[j * D + d] / tau;
            if (i == j)
                S[i][j] = -INFINITY;
        }
    for (int i = 0; i < N2; i++) {
        int twin = (i + N) % N2;
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < N2; j++)
            mx = fmax(mx, S[i][j]);
        for (int j = 0; j < N2; j++)
            sum += exp(S[i][j] - mx);
        L += mx + log(sum) - S[i][twin];
        for (int j = 0; j < N2; j++)
            G[i][j] = (exp(S[i][j] - mx) / sum - (j == twin)) / N2;
    }
    if (dz != NULL)
        for (int i = 0; i < N2; i++)
            for (int d = 0; d < D; d++) {
                dz[i * D + d] = 0.0;
                for (int j = 0; j < N2; j++)
                    dz[i * D + d] += (G[i][j] + G[j][i]) * z[j * D + d] / tau;
            }
    return L / N2;
}


/* DINO: an explicit loop over (teacher a, student v != a) pairs, each recomputing both
 * softmaxes; ds accumulates pair by pair. ds may be NULL. K <= 64. */
static double ref_dino(double *ds, const double *s, const float *t, const float *c, int ng,
                       int nc, int B, int K, double tau_s, double tau_t)
{
    double L = 0.0, npairs = ng * (nc - 1);
    HASSERT(K <= 64);
    if (ds != NULL)
        memset(ds, 0, sizeof(double) * (size_t)nc * B * K);
    for (int a = 0; a < ng; a++)
        for (int v = 0; v < nc; v++) {
            if (v == a)
                continue;
            for (int b = 0; b < B; b++) {
                double pt[64], ps[64], zt = 0.0, zs = 0.0, mt = -INFINITY, ms = -INFINITY;
                const float *tr = t + (a * B + b) * K;
                const double *sr = s + (v * B + b) * K;
                for (int k = 0; k < K; k++) {
                    mt = fmax(mt, (tr[k] - c[k]) / tau_t);
                    ms = fmax(ms, sr[k] / tau_s);
                }
                for (int k = 0; k < K; k++) {
                    pt[k] = exp((tr[k] - c[k]) / tau_t - mt);
                    ps[k] = exp(sr[k] / tau_s - ms);
                    zt += pt[k];
                    zs += ps[k];
                }
                for (int k = 0; k < K; k++) {
                    pt[k] /= zt;
                    ps[k] /= zs;
                    L += -pt[k] * (sr[k] / tau_s - ms - log(zs)) / (npairs * B);
                    if (ds != NULL)
                        ds[(v * B + b) * K + k] += (ps[k] - pt[k]) / tau_s / (npairs * B);
                }
            }
        }
    return L;
}


/* ---- MoCo ---- */

typedef struct { const float *k; double *kd; int N, D; float tau; float *scratch; } MocoCtx;

static double moco_of_q(void *ctx, const float *q)
{
    MocoCtx *c = ctx;
    return loss_moco_ctr(c->scratch, q, c->k, c->N, c->D, c->tau);
}


static double moco_ref_of_q(void *ctx, const double *q)
{
    MocoCtx *c = ctx;
    return ref_moco(NULL, q, c->kd, c->N, c->D, c->tau);
}


static void test_moco(void)
{
    enum { N = 6, D = 5, ND = N * D };
    float q[ND], k[ND], dq[ND], scratch[ND];
    double qd[ND], kd[ND], dq_ref[ND], g_fd[ND];
    float tau = 0.2f;

    fill_normal(q, ND, 1, 2.385);
    fill_normal(k, ND, 2, 2.385);
    l2norm_rows(q, N, D);
    l2norm_rows(k, N, D);
    to_double(qd, q, ND);
    to_double(kd, k, ND);

    float L = loss_moco_ctr(dq, q, k, N, D, tau);
    double Lref = ref_moco(dq_ref, qd, kd, N, D, tau);
    check_close(L, Lref, 1e-6 * fabs(Lref), "moco loss vs brute-force double");
    /* float output of double sums: agreement to a few float ulps */
    check_relerr(rel_err(dq, dq_ref, ND), 1e-6, "moco dq vs brute-force double");

    MocoCtx c = { k, kd, N, D, tau, scratch };
    /* h = 1e-6 in double: truncation ~ h^2 |f'''| ~ 1e-12 * (1/tau)^3, far below 1e-7 */
    fd_grad_double(g_fd, moco_ref_of_q, &c, qd, ND, 1e-6);
    check_relerr(rel_err_dd(dq_ref, g_fd, ND), 1e-7, "moco reference dq vs double central diff");
    /* float inputs and a float loss: the loss's rounding (~6e-8 |L|) over 2h = 2e-3 and the
     * truncation h^2 |f'''| / 6 with |f'''| ~ 2 tau / tau^3 = 50 give ~3e-5 absolute against
     * gradient entries of ~0.1: 2e-3 normalised error leaves a margin */
    fd_grad_float(g_fd, moco_of_q, &c, q, ND, 1e-3f);
    check_relerr(rel_err(dq, g_fd, ND), 2e-3, "moco dq vs float central diff (h 1e-3)");

    /* k = q one-hot (perfect positives, orthogonal negatives): loss = 2 tau log(1 + (N-1)
     * e^{-1/tau}), ~1e-9 at tau 0.05, and dq ~ 0 */
    float e[ND], de[ND];
    memset(e, 0, sizeof e);
    for (int n = 0; n < N && n < D; n++)
        e[n * D + n] = 1.0f;
    e[(N - 1) * D + 0] = -1.0f; /* row 5 antiparallel to row 0: still a negative of ~0 weight */
    float Lal = loss_moco_ctr(de, e, e, 5, D, 0.05f);
    double Lal_exp = 2.0 * 0.05f * log1p(4.0 * exp(-1.0 / (double)0.05f));
    check_close(Lal, Lal_exp, 1e-12, "moco aligned, orthogonal negatives: loss ~ 0");
    check_true(Lal < 1e-6 && max_abs(de, 5 * D) < 1e-6, "moco aligned: loss and |dq| < 1e-6",
               NULL);
    /* with row 5 = -row 0 added: rows 1..4 see five negatives at 0; rows 0 and 5 see four
     * at 0 and their antiparallel one at -1/tau */
    float Lanti = loss_moco_ctr(de, e, e, N, D, 0.05f);
    double e20 = exp(-20.0);
    check_close(Lanti, 2.0 * 0.05f / N * (4.0 * log1p(5.0 * e20) + 2.0 * log1p(4.0 * e20
                + e20 * e20)), 1e-12, "moco aligned with an antiparallel negative");

    /* tau = 1e-3: logits of +-1000 would overflow exp in float and in double */
    float Ltiny = loss_moco_ctr(dq, q, k, N, D, 1e-3f);
    double Ltiny_ref = ref_moco(dq_ref, qd, kd, N, D, 1e-3f);
    check_close(Ltiny, Ltiny_ref, 1e-5, "moco tau=1e-3 finite, vs reference");
    check_relerr(rel_err(dq, dq_ref, ND), 1e-5, "moco tau=1e-3 dq vs reference");
}


/* ---- NT-Xent ---- */

typedef struct { int N2, D; float tau; float *scratch; } NtxCtx;

static double ntx_of_z(void *ctx, const float *z)
{
    NtxCtx *c = ctx;
    return loss_ntxent(c->scratch, z, c->N2, c->D, c->tau);
}


static double ntx_ref_of_z(void *ctx, const double *z)
{
    NtxCtx *c = ctx;
    return ref_ntxent(NULL, z, c->N2, c->D, c->tau);
}


static void test_ntxent_exact(void)
{
    /* z1 = z1' = (1,0), z2 = z2' = (0,1), tau 0.5: each row has its twin at s = 2 and two
     * negatives at 0, so l = log(e^2 + 2) - 2 = ln(1 + 2 e^-2) */
    float z[8] = { 1, 0, 0, 1, 1, 0, 0, 1 }, dz[8];
    float L = loss_ntxent(dz, z, 4, 2, 0.5f);
    check_close(L, log1p(2.0 * exp(-2.0)), 1e-6, "ntxent hand case ln(1+2e^-2) = 0.239545");

    /* four identical embeddings at tau 0.01: every logit is 100, the twin is one of 3 */
    float w[8], dw[8];
    for (int i = 0; i < 4; i++) {
        w[2 * i] = 0.6f;
        w[2 * i + 1] = 0.8f;
    }
    float L3 = loss_ntxent(dw, w, 4, 2, 0.01f);
    check_close(L3, log(3.0), 1e-5, "ntxent identical embeddings tau=0.01: ln 3, finite");
    check_true(isfinite(max_abs(dw, 8)), "ntxent identical embeddings: finite gradient", NULL);
}


static void test_ntxent(void)
{
    enum { N2 = 8, D = 5, ND = N2 * D, H = ND / 2 };
    float z[ND], dz[ND], scratch[ND], zs[ND], dzs[ND];
    double zd[ND], dz_ref[ND], g_fd[ND];
    float tau = 0.2f;

    fill_normal(z, ND, 3, 2.385);
    l2norm_rows(z, N2, D);
    to_double(zd, z, ND);

    float L = loss_ntxent(dz, z, N2, D, tau);
    double Lref = ref_ntxent(dz_ref, zd, N2, D, tau);
    check_close(L, Lref, 1e-6 * fabs(Lref), "ntxent loss vs brute-force double");
    check_relerr(rel_err(dz, dz_ref, ND), 1e-6, "ntxent dz vs brute-force double");

    NtxCtx c = { N2, D, tau, scratch };
    fd_grad_double(g_fd, ntx_ref_of_z, &c, zd, ND, 1e-6);
    check_relerr(rel_err_dd(dz_ref, g_fd, ND), 1e-7, "ntxent reference dz vs double central diff");
    /* same budget as MoCo's float check: loss rounding / 2h plus h^2 (1/tau)^3 / 6 */
    fd_grad_float(g_fd, ntx_of_z, &c, z, ND, 1e-3f);
    check_relerr(rel_err(dz, g_fd, ND), 2e-3, "ntxent dz vs float central diff (h 1e-3)");

    /* swapping the two views (rows i <-> i + N) permutes the rows: the loss is unchanged
     * and the gradient rows swap with them */
    memcpy(zs, z + H, sizeof(float) * H);
    memcpy(zs + H, z, sizeof(float) * H);
    float Ls = loss_ntxent(dzs, zs, N2, D, tau);
    check_close(Ls, L, 1e-6 * fabs(L), "ntxent views swapped: loss unchanged");
    double back[ND];
    for (int i = 0; i < H; i++) {
        back[i] = dzs[H + i];
        back[H + i] = dzs[i];
    }
    check_relerr(rel_err(dz, back, ND), 1e-6, "ntxent views swapped: gradient rows swap");

    /* N = 1: the twin is the only other row, so the loss and gradient are exactly 0 */
    float d2[2 * D];
    float L1 = loss_ntxent(d2, z, 2, D, tau);
    check_true(L1 == 0.0f && max_abs(d2, 2 * D) == 0.0, "ntxent N=1: loss and gradient 0",
               NULL);
}


/* ---- DINO ---- */

enum { DG = 2, DC = 4, DB = 3, DK = 7 };

typedef struct { const float *t, *c; float tau_s, tau_t; float *scratch; } DinoCtx;

static double dino_of_s(void *ctx, const float *s)
{
    DinoCtx *c = ctx;
    return loss_dino(c->scratch, NULL, s, c->t, c->c, DG, DC, DB, DK, c->tau_s, c->tau_t);
}


static double dino_ref_of_s(void *ctx, const double *s)
{
    DinoCtx *c = ctx;
    return ref_dino(NULL, s, c->t, c->c, DG, DC, DB, DK, c->tau_s, c->tau_t);
}


static void test_dino_exact(void)
{
    enum { K = 4 };
    float s[K] = { 1000, 0, 0, 0 }, t[K] = { 0 }, c[K] = { 0 }, pt[K], ds[K], s2[2 * K];
    float ds2[2 * K];

    /* uniform teacher vs softmax(10000, 0, 0, 0): -(1/4)(0 + 3 (-10000)) = 7500 */
    dino_teacher_probs(pt, t, c, 1, K, 0.04f);
    float L = loss_dino_pair(ds, s, pt, 1, K, 0.1f);
    char detail[64];
    snprintf(detail, sizeof detail, "observed %.9g, expected 7500", L);
    check_true(L == 7500.0f, "dino pair student (1000,0,0,0) vs uniform teacher == 7500.0f",
               detail);

    /* the full loss with one global and one local crop has exactly that one pair */
    memcpy(s2, t, sizeof t);       /* crop 0 (global) is not a student of its own teacher */
    memcpy(s2 + K, s, sizeof s);   /* crop 1 (local) */
    float Lf = loss_dino(ds2, NULL, s2, t, c, 1, 2, 1, K, 0.1f, 0.04f);
    snprintf(detail, sizeof detail, "observed %.9g, expected 7500", Lf);
    check_true(Lf == 7500.0f, "dino n_global=1 n_crops=2 same case == 7500.0f", detail);
    check_true(ds2[0] == 0 && ds2[1] == 0 && ds2[2] == 0 && ds2[3] == 0,
               "dino: a crop with no teacher partner gets zero gradient", NULL);
    /* ds = (P_s - P_t) / tau_s = (1 - 1/4, -1/4, -1/4, -1/4) * 10 */
    check_close(ds2[K], 7.5, 1e-5, "dino extreme case gradient, winning logit");
    check_close(ds2[K + 1], -2.5, 1e-5, "dino extreme case gradient, other logit");
}


static void test_dino_entropy(void)
{
    enum { B = 2, K = 5 };
    float t[B * K], c[K], pt[B * K], s[B * K], ds[B * K];
    float tau_s = 0.1f, tau_t = 0.04f;

    fill_normal(t, B * K, 4, 0.2385);
    fill_normal(c, K, 5, 0.1);
    dino_teacher_probs(pt, t, c, B, K, tau_t);
    /* student logits whose softmax at tau_s is the teacher's distribution */
    for (int i = 0; i < B * K; i++)
        s[i] = (float)(((double)t[i] - c[i % K]) / tau_t * tau_s);
    double H = 0.0;
    for (int i = 0; i < B * K; i++)
        H -= (double)pt[i] * log((double)pt[i]);
    H /= B;
    float L = loss_dino_pair(ds, s, pt, B, K, tau_s);
    check_close(L, H, 1e-5, "dino student == teacher distribution: loss = entropy");
    check_true(max_abs(ds, B * K) < 1e-5, "dino student == teacher: gradient ~ 0", NULL);
}


static void test_dino(void)
{
    enum { NS = DC * DB * DK, NT = DG * DB * DK };
    float s[NS], t[NT], c[DK], ds[NS], scratch[NS], csum[DK];
    double sd[NS], ds_ref[NS], g_fd[NS];
    float tau_s = 0.1f, tau_t = 0.04f;

    fill_normal(s, NS, 6, 0.2385);
    fill_normal(t, NT, 7, 0.2385);
    fill_normal(c, DK, 8, 0.05);
    to_double(sd, s, NS);

    float L = loss_dino(ds, csum, s, t, c, DG, DC, DB, DK, tau_s, tau_t);
    double Lref = ref_dino(ds_ref, sd, t, c, DG, DC, DB, DK, tau_s, tau_t);
    check_close(L, Lref, 1e-6 * fabs(Lref), "dino loss vs brute-force pair loop");
    check_relerr(rel_err(ds, ds_ref, NS), 1e-6, "dino ds vs brute-force pair loop");

    DinoCtx x = { t, c, tau_s, tau_t, scratch };
    fd_grad_double(g_fd, dino_ref_of_s, &x, sd, NS, 1e-6);
    check_relerr(rel_err_dd(ds_ref, g_fd, NS), 1e-7, "dino reference ds vs double central diff");
    /* |f'''| ~ 1/tau_s^3 = 1e3 and entries of ~0.3: h = 1e-3 gives truncation ~2e-4,
     * rounding ~6e-8 |L| / 2e-3 ~ 1e-4, against a gradient norm of ~1 */
    fd_grad_float(g_fd, dino_of_s, &x, s, NS, 1e-3f);
    check_relerr(rel_err(ds, g_fd, NS), 2e-3, "dino ds vs float central diff (h 1e-3)");

    /* the centre sum output and the centre update agree with each other */
    double csum_ref[DK];
    for (int k = 0; k < DK; k++) {
        csum_ref[k] = 0.0;
        for (int r = 0; r < DG * DB; r++)
            csum_ref[k] += t[r * DK + k];
    }
    check_relerr(rel_err(csum, csum_ref, DK), 1e-6, "dino center_update_sum = teacher row sum");
    float c1[DK], c2[DK];
    memcpy(c1, c, sizeof c);
    memcpy(c2, c, sizeof c);
    dino_center_update(c1, t, DG, DB, DK, 0.9f);
    dino_center_apply(c2, csum, DG * DB, DK, 0.9f);
    double c1d[DK];
    to_double(c1d, c1, DK);
    check_relerr(rel_err(c2, c1d, DK), 1e-6, "dino center apply(sum) == update(t)");
}


static void test_dino_center(void)
{
    /* 2 global views x 2 samples x K = 2: row mean (4, 5); 0.9 c + 0.1 mean */
    float t[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    float c[2] = { 2.385f, -1.5f };
    dino_center_update(c, t, 2, 2, 2, 0.9f);
    check_close(c[0], 0.9 * 2.385 + 0.1 * 4.0, 1e-6, "dino centre hand case, k=0 (2.5465)");
    check_close(c[1], 0.9 * -1.5 + 0.1 * 5.0, 1e-6, "dino centre hand case, k=1 (-0.85)");
}


/* ---- schedules ---- */

static void test_lr(void)
{
    LrSchedule s = sched_lr_default(2.385, 0.1);
    s.min_lr = 0.0125;

    check_close(sched_lr(&s, 0.0), 0.0, 1e-15, "lr warm-up start = 0");
    check_close(sched_lr(&s, 0.05), 2.385 / 2, 1e-12, "lr halfway through warm-up");
    check_close(sched_lr(&s, 0.1), 2.385, 1e-12, "cosine lr at warm-up end = base");
    check_close(sched_lr(&s, 0.55), 0.0125 + (2.385 - 0.0125) / 2, 1e-12,
                "cosine lr at post-warm-up mid-point");
    check_close(sched_lr(&s, 1.0), 0.0125, 1e-12, "cosine lr at end = min_lr");
    check_close(sched_lr(&s, 1.2), 0.0125, 1e-12, "lr past the budget clamps to min_lr");

    LrSchedule p = s;
    p.decay = SCHED_POLY;
    check_close(sched_lr(&p, 0.1), 2.385, 1e-12, "poly lr at warm-up end = base");
    check_close(sched_lr(&p, 0.55), 0.0125 + (2.385 - 0.0125) * 0.25, 1e-12,
                "poly lr (alpha 2) at mid-point");
    check_close(sched_lr(&p, 1.0), 0.0125, 1e-12, "poly lr at end = min_lr");
    p.min_lr = 0.0;
    p.alpha = 1.5;
    check_close(sched_lr(&p, 0.325), 2.385 * pow(0.75, 1.5), 1e-12,
                "poly lr = base (1-u)^alpha, u = (t-w)/(1-w)");

    /* rises through warm-up, then never rises again */
    for (int which = 0; which < 2; which++) {
        LrSchedule q = which ? p : s;
        int ok = 1;
        for (int i = 1; i <= 1000; i++) {
            double a = sched_lr(&q, (i - 1) / 1000.0), b = sched_lr(&q, i / 1000.0);
            if (i / 1000.0 <= q.warmup_frac ? b <= a : b > a)
                ok = 0;
        }
        check_true(ok, which ? "poly lr increasing in warm-up, non-increasing after"
                             : "cosine lr increasing in warm-up, non-increasing after", NULL);
    }

    LrSchedule nw = sched_lr_default(2.385, 0.0);
    check_close(sched_lr(&nw, 0.0), 2.385, 1e-12, "no warm-up: lr(0) = base");
}


static void test_other_schedules(void)
{
    /* the trap: 100 steps from 0.996, step 50 is t = 0.5 and m = (1 + 0.996) / 2 */
    check_close(sched_momentum(0.996, 50 / 100.0), 0.998, 1e-12, "DINO momentum at step 50/100");
    check_close(sched_momentum(0.996, 0.0), 0.996, 1e-12, "DINO momentum at start");
    check_close(sched_momentum(0.996, 1.0), 1.0, 1e-12, "DINO momentum at end");
    check_close(sched_momentum(0.99, 0.25), 1.0 - 0.5 * (1.0 + cos(M_PI / 4)) * 0.01, 1e-12,
                "MoCo momentum at t=0.25");

    check_close(sched_teacher_temp(0.04, 0.07, 0.3, 0.0), 0.04, 1e-15, "teacher temp start");
    check_close(sched_teacher_temp(0.04, 0.07, 0.3, 0.15), 0.055, 1e-12,
                "teacher temp mid warm-up");
    check_close(sched_teacher_temp(0.04, 0.07, 0.3, 0.3), 0.07, 1e-15, "teacher temp end warm-up");
    check_close(sched_teacher_temp(0.04, 0.07, 0.3, 0.9), 0.07, 1e-15, "teacher temp constant");
    check_close(sched_teacher_temp(0.04, 0.07, 0.0, 0.0), 0.07, 1e-15, "no temp warm-up");

    check_close(sched_cosine_ramp(0.04, 0.4, 0.0), 0.04, 1e-15, "weight decay start");
    check_close(sched_cosine_ramp(0.04, 0.4, 0.5), 0.22, 1e-12, "weight decay mid-point");
    check_close(sched_cosine_ramp(0.04, 0.4, 1.0), 0.4, 1e-15, "weight decay end");
}


/* Per-row losses are summed in row order, and each gradient row by one thread: results are
 * bit-identical whatever the thread count. */
static void test_thread_invariance(void)
{
    enum { N2 = 10, D = 6, NS = DC * DB * DK, NT = DG * DB * DK };
    float z[N2 * D], dz1[N2 * D], dz3[N2 * D], s[NS], t[NT], ds1[NS], ds3[NS];
    int saved = omp_get_max_threads();

    fill_normal(z, N2 * D, 9, 2.385);
    l2norm_rows(z, N2, D);
    fill_normal(s, NS, 10, 0.2385);
    fill_normal(t, NT, 11, 0.2385);

    omp_set_num_threads(1);
    float a1 = loss_ntxent(dz1, z, N2, D, 0.2f);
    float m1 = loss_moco_ctr(dz1 + D, z + D, z, 5, D, 0.2f);
    float d1 = loss_dino(ds1, NULL, s, t, NULL, DG, DC, DB, DK, 0.1f, 0.04f);
    omp_set_num_threads(3);
    float a3 = loss_ntxent(dz3, z, N2, D, 0.2f);
    float m3 = loss_moco_ctr(dz3 + D, z + D, z, 5, D, 0.2f);
    float d3 = loss_dino(ds3, NULL, s, t, NULL, DG, DC, DB, DK, 0.1f, 0.04f);
    omp_set_num_threads(saved);

    check_true(a1 == a3 && m1 == m3 && d1 == d3 && memcmp(dz1, dz3, sizeof dz1) == 0
               && memcmp(ds1, ds3, sizeof ds1) == 0,
               "losses and gradients bit-identical with 1 and 3 threads", NULL);
}


/* ---- the backend compositions (loss_backend.h) against the host references ---- */

/* Each loss of loss_backend.h on the CPU backend equals its host function of losses.h on the
 * same random inputs: loss and gradient to ~1e-5 (float gemm against double dot products). */
static void test_backend_losses(void)
{
    enum { N = 37, N2 = 46, D = 16, B = 5, K = 300, NC = 4 };
    const Backend *be = backend_cpu();
    LossBufs lb;
    float *q = be->alloc(N * D * 4), *k = be->alloc(N * D * 4), *dq = be->alloc(N * D * 4);
    float *z = be->alloc(N2 * D * 4), *dz = be->alloc(N2 * D * 4);
    float *g_ref = xmalloc(N2 * D * 4);
    double g_d[N2 * D];

    loss_bufs_init(&lb, be, N2, N2);
    fill_normal(q, N * D, 21, 2.385);
    fill_normal(k, N * D, 22, 2.385);
    fill_normal(z, N2 * D, 23, 2.385);
    l2norm_rows(q, N, D);
    l2norm_rows(k, N, D);
    l2norm_rows(z, N2, D);

    double Lm = loss_moco_ctr_be(&lb, dq, q, k, N, D, 0.2f);
    float Lm_ref = loss_moco_ctr(g_ref, q, k, N, D, 0.2f);
    to_double(g_d, g_ref, N * D);
    check_close(Lm, Lm_ref, 1e-5 * fabs(Lm_ref), "moco on the backend == loss_moco_ctr");
    check_relerr(rel_err(dq, g_d, N * D), 1e-5, "moco dq on the backend == loss_moco_ctr");

    double Ln = loss_ntxent_be(&lb, dz, z, N2, D, 0.1f);
    float Ln_ref = loss_ntxent(g_ref, z, N2, D, 0.1f);
    to_double(g_d, g_ref, N2 * D);
    check_close(Ln, Ln_ref, 1e-5 * fabs(Ln_ref), "ntxent on the backend == loss_ntxent");
    check_relerr(rel_err(dz, g_d, N2 * D), 1e-5, "ntxent dz on the backend == loss_ntxent");
    loss_bufs_free(&lb);

    /* DINO: two globals and two locals, a non-zero centre; crop by crop as dino.c runs them */
    size_t nk = (size_t)B * K;
    float *s = be->alloc(NC * nk * 4), *t = be->alloc(2 * nk * 4), *c = be->alloc(K * 4);
    float *pt = be->alloc(3 * nk * 4), *ds = be->alloc(NC * nk * 4);
    float *ds_ref = xmalloc(NC * nk * 4);
    double *ds_d = xmalloc(NC * nk * sizeof(double)), Ld = 0.0;

    fill_normal(s, NC * nk, 24, 0.2385);
    fill_normal(t, 2 * nk, 25, 0.2385);
    fill_normal(c, K, 26, 0.05);
    loss_bufs_init(&lb, be, B, 0);
    dino_targets_be(be, pt, t, c, B, K, 0.04f);
    for (int v = 0; v < NC; v++)
        Ld += loss_dino_crop_be(&lb, ds + v * nk, s + v * nk, pt, v, 2 * NC - 2, B, K, 0.1f);
    float Ld_ref = loss_dino(ds_ref, NULL, s, t, c, 2, NC, B, K, 0.1f, 0.04f);
    for (size_t i = 0; i < NC * nk; i++)
        ds_d[i] = ds_ref[i];
    check_close(Ld, Ld_ref, 1e-5 * fabs(Ld_ref), "dino crops on the backend == loss_dino");
    check_relerr(rel_err(ds, ds_d, (int)(NC * nk)), 1e-5, "dino ds on the backend == loss_dino");
    loss_bufs_free(&lb);

    float *dev[] = {q, k, dq, z, dz, s, t, c, pt, ds};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        be->free(dev[i]);
    free(g_ref);
    free(ds_ref);
    free(ds_d);
}


int main(void)
{
    test_moco();
    test_ntxent_exact();
    test_ntxent();
    test_dino_exact();
    test_dino_entropy();
    test_dino();
    test_dino_center();
    test_thread_invariance();
    test_backend_losses();
    test_lr();
    test_other_schedules();
    return check_summary();
}
