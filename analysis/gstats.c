/* gstats.c: one-pass gradient statistics and their delete-a-group jackknife intervals.
 * Layout: a gradient is a flat float vector g[n]; group means are rows of a [groups][n]
 * double matrix. See gstats.h for the design and why the intervals are valid. */
#include "gstats.h"
#include "ci.h"
#include "common.h"

#include <math.h>
#include <string.h>

/* Indexes of the figures evaluated per jackknife replicate. */
enum { ST_NORM0, ST_VS, ST_V0, ST_RAW, ST_BIAS, ST_CVAR, ST_CAMSE,
       ST_RAW_REL, ST_BIAS_REL, ST_CVAR_REL, ST_CAMSE_REL, ST_N };

/* Bound on the doubles of per-chunk Gram partials, so keep_all with large K stays sane. */
#define GRAM_SCRATCH_DOUBLES ((size_t)1 << 22)
#define GRAM_MAX_CHUNKS 64


static void build_blocks(GStatsAcc *acc)
{
    size_t nblk = 0, start = 0;

    for (size_t s = 0; s < acc->nseg; s++) {
        nblk += (acc->seg_end[s] - start + GSTATS_BLOCK - 1) / GSTATS_BLOCK;
        start = acc->seg_end[s];
    }
    acc->nblk = nblk;
    acc->blk_start = xmalloc((nblk + 1) * sizeof *acc->blk_start);
    acc->blk_seg = xmalloc((nblk > 0 ? nblk : 1) * sizeof *acc->blk_seg);
    acc->blk_sum = xcalloc(nblk, sizeof *acc->blk_sum);

    nblk = 0;
    start = 0;
    for (size_t s = 0; s < acc->nseg; s++) {
        for (size_t i = start; i < acc->seg_end[s]; i += GSTATS_BLOCK) {
            acc->blk_start[nblk] = i;
            acc->blk_seg[nblk++] = s;
        }
        start = acc->seg_end[s];
    }
    acc->blk_start[nblk] = acc->n;
}


void gstats_init_segments(GStatsAcc *acc, size_t n, int groups, size_t nseg,
                          const size_t *seg_end)
{
    HASSERT(n >= 1);
    HASSERT(groups >= 2 || groups == GSTATS_KEEP_ALL);
    HASSERT(nseg >= 1 && seg_end[nseg - 1] == n);
    for (size_t s = 0; s < nseg; s++)
        HASSERT(seg_end[s] > (s == 0 ? 0 : seg_end[s - 1]));

    memset(acc, 0, sizeof *acc);
    acc->n = n;
    acc->keep_all = groups == GSTATS_KEEP_ALL;
    acc->groups = acc->keep_all ? 0 : (size_t)groups;
    acc->cap = acc->keep_all ? 0 : (size_t)groups;
    acc->nseg = nseg;
    acc->seg_end = xmalloc(nseg * sizeof *acc->seg_end);
    memcpy(acc->seg_end, seg_end, nseg * sizeof *acc->seg_end);
    if (acc->cap > 0) {
        acc->mean = xcalloc(acc->cap * n, sizeof *acc->mean);
        acc->count = xcalloc(acc->cap, sizeof *acc->count);
        acc->m2 = xcalloc(acc->cap * nseg, sizeof *acc->m2);
    }
    build_blocks(acc);
}


void gstats_init(GStatsAcc *acc, size_t n, int groups)
{
    gstats_init_segments(acc, n, groups, 1, &n);
}


void gstats_free(GStatsAcc *acc)
{
    free(acc->seg_end);
    free(acc->mean);
    free(acc->count);
    free(acc->m2);
    free(acc->blk_start);
    free(acc->blk_seg);
    free(acc->blk_sum);
    memset(acc, 0, sizeof *acc);
}


size_t gstats_bytes(const GStatsAcc *acc)
{
    return acc->cap * acc->n * sizeof(double) + acc->cap * sizeof(size_t)
         + acc->cap * acc->nseg * sizeof(double) + acc->nseg * sizeof(size_t)
         + (2 * acc->nblk + 1) * sizeof(size_t) + acc->nblk * sizeof(double);
}


/* keep_all: makes room for one more group (capacity doubles, so adds stay amortised O(n)). */
static void grow_groups(GStatsAcc *acc)
{
    size_t cap = acc->cap == 0 ? 8 : 2 * acc->cap;

    acc->mean = realloc(acc->mean, cap * acc->n * sizeof *acc->mean);
    CHECK_ALLOC(acc->mean);
    acc->count = realloc(acc->count, cap * sizeof *acc->count);
    CHECK_ALLOC(acc->count);
    acc->m2 = realloc(acc->m2, cap * acc->nseg * sizeof *acc->m2);
    CHECK_ALLOC(acc->m2);
    acc->cap = cap;
}


void gstats_add(GStatsAcc *acc, const float *g)
{
    size_t j, c;
    double inv, *m;

    if (acc->keep_all) {
        if (acc->groups == acc->cap)
            grow_groups(acc);
        j = acc->groups++;
        acc->count[j] = 0;
        memset(acc->mean + j * acc->n, 0, acc->n * sizeof *acc->mean);
        memset(acc->m2 + j * acc->nseg, 0, acc->nseg * sizeof *acc->m2);
    } else {
        j = acc->k % acc->groups;
    }
    c = ++acc->count[j];
    inv = 1.0 / (double)c;
    m = acc->mean + j * acc->n;

    /* Welford per coordinate: the M2 increment delta * (x - new mean) = delta^2 (c-1)/c is
     * never negative, so the summed M2 has none of the cancellation of sum ||g||^2 - K||gbar||^2
     * (which loses all digits when ||gbar||^2 >> V). */
    /* Threads only pay off beyond a few blocks; a parallel region per small add costs more. */
    #pragma omp parallel for schedule(static) if (acc->nblk >= 4)
    for (size_t b = 0; b < acc->nblk; b++) {
        double s = 0.0;
        for (size_t i = acc->blk_start[b]; i < acc->blk_start[b + 1]; i++) {
            double x = (double)g[i], delta = x - m[i];
            m[i] += delta * inv;
            s += delta * (x - m[i]);
        }
        acc->blk_sum[b] = s;
    }

    for (size_t b = 0; b < acc->nblk; b++) {
        if (!isfinite(acc->blk_sum[b]))
            die_at(__FILE__, __LINE__, __func__, "the step that produced this gradient diverged",
                   "non-finite entry in gradient %zu, coordinates [%zu, %zu)", acc->k,
                   acc->blk_start[b], acc->blk_start[b + 1]);
        acc->m2[j * acc->nseg + acc->blk_seg[b]] += acc->blk_sum[b];
    }
    acc->k++;
}


/* One strategy's part of a comparison: its groups and their range-restricted sums. */
typedef struct {
    const GStatsAcc *acc;
    size_t m;        /* groups */
    size_t row;      /* first row of its groups in the Gram matrix */
    double *m2;      /* [m] within-group sums of squared deviations over the range */
} Side;


/* Index of the segment boundary equal to x (0 for x == 0), or dies: range-restricted
 * variances exist only for unions of whole segments. */
static size_t boundary_index(const GStatsAcc *acc, size_t x, const char *which)
{
    if (x == 0)
        return 0;
    for (size_t s = 0; s < acc->nseg; s++)
        if (acc->seg_end[s] == x)
            return s + 1;
    die_at(__FILE__, __LINE__, __func__, "pass the segment ends to gstats_init_segments",
           "range %s %zu is not a segment boundary", which, x);
}


static void side_init(Side *sd, const GStatsAcc *acc, size_t row, size_t start, size_t end)
{
    size_t s0 = boundary_index(acc, start, "start"), s1 = boundary_index(acc, end, "end");
    size_t kmax = 0;

    if (acc->groups < 2 || acc->k < acc->groups)
        die_at(__FILE__, __LINE__, __func__, "add at least as many draws as groups",
               "%zu draws for %zu groups: some group is empty", acc->k, acc->groups);
    for (size_t j = 0; j < acc->groups; j++)
        kmax = acc->count[j] > kmax ? acc->count[j] : kmax;
    if (acc->k - kmax < 2)
        die_at(__FILE__, __LINE__, __func__, "add more draws",
               "%zu draws: leaving out a group leaves fewer than 2", acc->k);

    sd->acc = acc;
    sd->m = acc->groups;
    sd->row = row;
    sd->m2 = xcalloc(sd->m, sizeof *sd->m2);
    for (size_t j = 0; j < sd->m; j++)
        for (size_t s = s0; s < s1; s++)
            sd->m2[j] += acc->m2[j * acc->nseg + s];
}


/* The full-sample mean of one strategy at coordinate i. */
static double overall_mean(const GStatsAcc *acc, size_t i)
{
    double sum = 0.0;

    for (size_t j = 0; j < acc->groups; j++)
        sum += (double)acc->count[j] * acc->mean[j * acc->n + i];
    return sum / (double)acc->k;
}


/* G[P][P] (P = Ms + M0 + 2) over coordinates [start, end): inner products of the rows
 *   x_j = m_j^s - gsbar (j < Ms),  y_l = m_l^0 - g0bar,  d = gsbar - g0bar,  g0bar.
 * Centring each strategy at its own mean keeps the replicate sums of squares free of
 * cancellation. Chunks are fixed by P and the range, not by the thread count, so the result
 * is bitwise reproducible. */
static double *gram_matrix(const Side *s, const Side *r, size_t start, size_t end)
{
    size_t P = s->m + r->m + 2, len = end - start;
    size_t nchunk = GRAM_SCRATCH_DOUBLES / (P * P);
    double *part, *G;

    nchunk = nchunk < 1 ? 1 : nchunk > GRAM_MAX_CHUNKS ? GRAM_MAX_CHUNKS : nchunk;
    nchunk = nchunk > len ? len : nchunk;
    part = xcalloc(nchunk * P * P, sizeof *part);

    #pragma omp parallel for schedule(dynamic, 1) if (len * P * P >= ((size_t)1 << 20))
    for (size_t c = 0; c < nchunk; c++) {
        double *v = xmalloc(P * sizeof *v), *Gc = part + c * P * P;
        for (size_t i = start + len * c / nchunk; i < start + len * (c + 1) / nchunk; i++) {
            double gs = overall_mean(s->acc, i), g0 = overall_mean(r->acc, i);
            for (size_t j = 0; j < s->m; j++)
                v[j] = s->acc->mean[j * s->acc->n + i] - gs;
            for (size_t l = 0; l < r->m; l++)
                v[s->m + l] = r->acc->mean[l * r->acc->n + i] - g0;
            v[P - 2] = gs - g0;
            v[P - 1] = g0;
            for (size_t a = 0; a < P; a++) {
                double va = v[a];
                for (size_t b = a; b < P; b++)
                    Gc[a * P + b] += va * v[b];
            }
        }
        free(v);
    }

    G = xcalloc(P * P, sizeof *G);
    for (size_t c = 0; c < nchunk; c++)
        for (size_t a = 0; a < P; a++)
            for (size_t b = a; b < P; b++)
                G[a * P + b] += part[c * P * P + a * P + b];
    for (size_t a = 0; a < P; a++)
        for (size_t b = 0; b < a; b++)
            G[a * P + b] = G[b * P + a];
    free(part);
    return G;
}


/* Weights of a resampled mean: w_j = a_j n_j / N with multiplicities a_j (1 or 0 in the
 * jackknife); writes them at the side's rows of wext[P] and returns N. */
static double side_weights(const Side *sd, const double *a, double *wext)
{
    double N = 0.0;

    for (size_t j = 0; j < sd->m; j++)
        N += a[j] * (double)sd->acc->count[j];
    for (size_t j = 0; j < sd->m; j++)
        wext[sd->row + j] = a[j] * (double)sd->acc->count[j] / N;
    return N;
}


/* Sum of squared deviations from the resampled mean X = sum_j w_j x_j:
 * sum_j a_j (M2_j + n_j ||x_j - X||^2), with Gw = G w and XX = ||X||^2. */
static double side_ss(const Side *sd, const double *G, size_t P, const double *a,
                      const double *Gw, double XX)
{
    double ss = 0.0;

    for (size_t j = 0; j < sd->m; j++) {
        size_t q = sd->row + j;
        ss += a[j] * (sd->m2[j] + (double)sd->acc->count[j] * (G[q * P + q] - 2.0 * Gw[q] + XX));
    }
    return ss;
}


/* A resampled pair of means: multiplicities, weights at the Gram rows, G times them. */
typedef struct {
    double *as, *a0;   /* [Ms], [M0] multiplicities of the groups */
    double *w, *v;     /* [P] weights of the s and ref means (zero off their rows) */
    double *Gw, *Gv;   /* [P] G w and G v */
    double Ns, N0;     /* draws in the resampled sets */
} Resample;


static void resample_alloc(Resample *rs, size_t ms, size_t m0, size_t P)
{
    rs->as = xmalloc(ms * sizeof *rs->as);
    rs->a0 = xmalloc(m0 * sizeof *rs->a0);
    rs->w = xcalloc(4 * P, sizeof *rs->w);
    rs->v = rs->w + P;
    rs->Gw = rs->w + 2 * P;
    rs->Gv = rs->w + 3 * P;
    for (size_t j = 0; j < ms; j++)
        rs->as[j] = 1.0;
    for (size_t l = 0; l < m0; l++)
        rs->a0[l] = 1.0;
}


static void resample_free(Resample *rs)
{
    free(rs->as);
    free(rs->a0);
    free(rs->w);
}


/* Sets weights and G-products from the multiplicities (O(P^2)). */
static void resample_apply(Resample *rs, const double *G, size_t P, const Side *s,
                           const Side *r)
{
    rs->Ns = side_weights(s, rs->as, rs->w);
    rs->N0 = side_weights(r, rs->a0, rs->v);
    for (size_t a = 0; a < P; a++) {
        double gw = 0.0, gv = 0.0;
        for (size_t b = 0; b < P; b++) {
            gw += G[a * P + b] * rs->w[b];
            gv += G[a * P + b] * rs->v[b];
        }
        rs->Gw[a] = gw;
        rs->Gv[a] = gv;
    }
}


/* Every figure for the resampled means of rs (see gram_matrix for the rows). */
static void eval_figures(const double *G, size_t P, const Side *s, const Side *r,
                         const Resample *rs, double cost, double *out)
{
    double XX = 0.0, YY = 0.0, XY = 0.0, R, Vs, V0, norm0, bias;
    size_t d = P - 2, g = P - 1;

    for (size_t a = 0; a < P; a++) {
        XX += rs->w[a] * rs->Gw[a];
        YY += rs->v[a] * rs->Gv[a];
        XY += rs->w[a] * rs->Gv[a];
    }

    /* resampled gsbar - g0bar = d + X - Y;  resampled g0bar = g0bar + Y */
    R = G[d * P + d] + 2.0 * rs->Gw[d] - 2.0 * rs->Gv[d] + XX - 2.0 * XY + YY;
    Vs = side_ss(s, G, P, rs->as, rs->Gw, XX) / (rs->Ns - 1.0);
    V0 = side_ss(r, G, P, rs->a0, rs->Gv, YY) / (rs->N0 - 1.0);
    norm0 = G[g * P + g] + 2.0 * rs->Gv[g] + YY;
    bias = R - Vs / rs->Ns - V0 / rs->N0;

    out[ST_NORM0] = norm0;
    out[ST_VS] = Vs;
    out[ST_V0] = V0;
    out[ST_RAW] = R;
    out[ST_BIAS] = bias;
    out[ST_CVAR] = cost * Vs;
    out[ST_CAMSE] = bias + cost * Vs;
    out[ST_RAW_REL] = R / norm0;
    out[ST_BIAS_REL] = bias / norm0;
    out[ST_CVAR_REL] = cost * Vs / norm0;
    out[ST_CAMSE_REL] = (bias + cost * Vs) / norm0;
}


/* Leave-one-group-out replicates of one side (the other side whole): rep[j][ST_N].
 * Dropping group j turns the weights w into (N w - n_j e_j) / (N - n_j), so G w is updated
 * from the full-sample product with column j of G: O(P) per replicate instead of O(P^2). */
static void jackknife_side(const double *G, size_t P, const Side *s, const Side *r,
                           int drop_ref, double cost, const Resample *full, double *rep)
{
    const Side *sd = drop_ref ? r : s;
    Resample rs;

    resample_alloc(&rs, s->m, r->m, P);
    for (size_t j = 0; j < sd->m; j++) {
        size_t q = sd->row + j;
        double N = drop_ref ? full->N0 : full->Ns, nj = (double)sd->acc->count[j];
        const double *w0 = drop_ref ? full->v : full->w, *Gw0 = drop_ref ? full->Gv : full->Gw;
        double *w = drop_ref ? rs.v : rs.w, *Gw = drop_ref ? rs.Gv : rs.Gw;

        memcpy(rs.w, full->w, 4 * P * sizeof *rs.w);
        for (size_t a = 0; a < P; a++) {
            w[a] = N * w0[a] / (N - nj);
            Gw[a] = (N * Gw0[a] - nj * G[a * P + q]) / (N - nj);
        }
        w[q] = 0.0;
        (drop_ref ? rs.a0 : rs.as)[j] = 0.0;
        rs.Ns = drop_ref ? full->Ns : N - nj;
        rs.N0 = drop_ref ? N - nj : full->N0;
        eval_figures(G, P, s, r, &rs, cost, rep + j * ST_N);
        (drop_ref ? rs.a0 : rs.as)[j] = 1.0;
    }
    resample_free(&rs);
}


/* est +- t se, with se^2 the sum of the two sides' jackknife variances. */
static GStatsCI interval(double est, const double *rep_s, size_t ms, const double *rep_0,
                         size_t m0, int st, double level)
{
    double *col = xmalloc((ms > m0 ? ms : m0) * sizeof *col), vs, v0, t;
    GStatsCI ci;

    for (size_t j = 0; j < ms; j++)
        col[j] = rep_s[j * ST_N + st];
    vs = ci_jackknife_var(col, ms);
    for (size_t l = 0; l < m0; l++)
        col[l] = rep_0[l * ST_N + st];
    v0 = ci_jackknife_var(col, m0);
    free(col);

    ci.est = est;
    ci.se = sqrt(vs + v0);
    ci.dof = ci_satterthwaite_dof(vs, (double)(ms - 1), v0, (double)(m0 - 1));
    t = ci_t_multiplier(level, ci.dof);
    ci.lo = est - t * ci.se;
    ci.hi = est + t * ci.se;
    return ci;
}


GStatsResult gstats_compare_range(const GStatsAcc *s, const GStatsAcc *ref, double cost_s,
                                  size_t start, size_t end, double level)
{
    Side ss, sr;
    GStatsResult res;
    Resample all;
    double *G, *rep_s, *rep_0, full[ST_N];
    GStatsCI *slot[ST_N];
    size_t P;

    HASSERT(s != ref);
    HASSERT(s->n == ref->n);
    HASSERT(start < end && end <= s->n);
    HASSERT(level > 0.0 && level < 1.0);
    HASSERT(isfinite(cost_s) && cost_s >= 0.0);
    side_init(&ss, s, 0, start, end);
    side_init(&sr, ref, s->groups, start, end);
    P = ss.m + sr.m + 2;
    G = gram_matrix(&ss, &sr, start, end);

    resample_alloc(&all, ss.m, sr.m, P);
    resample_apply(&all, G, P, &ss, &sr);
    eval_figures(G, P, &ss, &sr, &all, cost_s, full);
    rep_s = xmalloc(ss.m * ST_N * sizeof *rep_s);
    rep_0 = xmalloc(sr.m * ST_N * sizeof *rep_0);
    jackknife_side(G, P, &ss, &sr, 0, cost_s, &all, rep_s);
    jackknife_side(G, P, &ss, &sr, 1, cost_s, &all, rep_0);

    memset(&res, 0, sizeof res);
    res.start = start;
    res.end = end;
    res.k_s = s->k;
    res.k_ref = ref->k;
    res.m_s = ss.m;
    res.m_ref = sr.m;
    res.cost = cost_s;
    res.level = level;
    slot[ST_NORM0] = &res.norm_ref;
    slot[ST_VS] = &res.var_s;
    slot[ST_V0] = &res.var_ref;
    slot[ST_RAW] = &res.bias2_raw;
    slot[ST_BIAS] = &res.bias2;
    slot[ST_CVAR] = &res.cvar;
    slot[ST_CAMSE] = &res.camse;
    slot[ST_RAW_REL] = &res.bias2_raw_rel;
    slot[ST_BIAS_REL] = &res.bias2_rel;
    slot[ST_CVAR_REL] = &res.cvar_rel;
    slot[ST_CAMSE_REL] = &res.camse_rel;
    for (int st = 0; st < ST_N; st++)
        *slot[st] = interval(full[st], rep_s, ss.m, rep_0, sr.m, st, level);

    free(rep_s);
    free(rep_0);
    resample_free(&all);
    free(G);
    free(ss.m2);
    free(sr.m2);
    return res;
}


GStatsResult gstats_compare(const GStatsAcc *s, const GStatsAcc *ref, double cost_s)
{
    return gstats_compare_range(s, ref, cost_s, 0, s->n, 0.95);
}
