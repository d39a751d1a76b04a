/* search.c: the argmin schedule and the exact K-phase optimum over interpolated CA-MSE curves.
 * camse is [nst][ns] row-major; densities are [ns][grid] (strategy-major, so one strategy's
 * cells are contiguous for its prefix sums). */
#include "search.h"

#include "common.h"

#include <gsl/gsl_interp.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const SEARCH_TABLE_COLUMNS[SEARCH_TABLE_COLS] = {"start", "P", "keep", "branches"};


static void check_stages(const double *stage, size_t nst)
{
    HASSERT(nst >= 1);
    for (size_t k = 0; k < nst; k++)
        HASSERT(isfinite(stage[k]));
    for (size_t k = 1; k < nst; k++)
        HASSERT(stage[k] > stage[k - 1]);
}


/* Appends a phase unless it runs the same strategy as the last one. */
static void push_phase(Schedule *sch, double start, Strategy st)
{
    if (sch->n > 0) {
        Strategy last = sch->strat[sch->n - 1];
        if (last.P == st.P && last.keep == st.keep && last.branches == st.branches)
            return;
    }
    HASSERT(sch->n < SCHEDULE_MAX_PHASES);
    sch->start[sch->n] = start;
    sch->strat[sch->n] = st;
    sch->n++;
}


Schedule search_argmin(const double *stage, size_t nst, const double *camse, const Strategy *s,
                       size_t ns)
{
    Schedule sch;

    check_stages(stage, nst);
    HASSERT(ns >= 1);
    memset(&sch, 0, sizeof sch);
    for (size_t k = 0; k < nst; k++) {
        const double *row = camse + k * ns;
        size_t best = 0;
        for (size_t i = 1; i < ns; i++)
            if (row[i] < row[best])
                best = i;
        /* The switch sits halfway between two measurements: each stage's winner is trusted
         * for the half of the gap nearer to it. */
        push_phase(&sch, k == 0 ? 0.0 : 0.5 * (stage[k - 1] + stage[k]), s[best]);
    }
    return sch;
}


/* One strategy's log CA-MSE over t: GSL interpolation inside the stages, flat outside. */
static void log_curve(const double *stage, size_t nst, const double *y, int grid, double *out)
{
    gsl_interp *in = NULL;
    gsl_interp_accel *acc = NULL;

    if (nst >= 2) {
        in = gsl_interp_alloc(nst >= 3 ? gsl_interp_steffen : gsl_interp_linear, nst);
        acc = gsl_interp_accel_alloc();
        CHECK_ALLOC(in);
        CHECK_ALLOC(acc);
        HASSERT(gsl_interp_init(in, stage, y, nst) == 0);
    }
    for (int c = 0; c < grid; c++) {
        double t = (c + 0.5) / grid;
        if (nst == 1 || t <= stage[0])
            out[c] = y[0];
        else if (t >= stage[nst - 1])
            out[c] = y[nst - 1];
        else
            out[c] = gsl_interp_eval(in, stage, y, t, acc);
    }
    if (in != NULL) {
        gsl_interp_free(in);
        gsl_interp_accel_free(acc);
    }
}


double *search_density(const double *stage, size_t nst, const double *camse, size_t ns,
                       int grid)
{
    double top = 0.0, floor_v;
    double *y = xmalloc(nst * sizeof(double));
    double *d = xmalloc(ns * (size_t)grid * sizeof(double));

    check_stages(stage, nst);
    HASSERT(ns >= 1 && grid >= 1);
    for (size_t k = 0; k < nst * ns; k++) {
        HASSERT(isfinite(camse[k]));
        if (camse[k] > top)
            top = camse[k];
    }
    floor_v = top > 0.0 ? SEARCH_FLOOR_REL * top : 1.0;
    for (size_t i = 0; i < ns; i++) {
        for (size_t k = 0; k < nst; k++) {
            double v = camse[k * ns + i];
            y[k] = log(v > floor_v ? v : floor_v);
        }
        double *di = d + i * (size_t)grid;
        log_curve(stage, nst, y, grid, di);
        for (int c = 0; c < grid; c++)
            di[c] = exp(di[c]);
    }
    free(y);
    return d;
}


/* Cell c spans [lo, hi); computed the same way everywhere so aligned overlaps are exact. */
static double cell_lo(int c, int grid) { return (double)c / grid; }


/* best[i * (G + 1) + j], i < j: the cheapest strategy on cells [i, j) and its cost. */
static void best_segments(const double *dens, size_t ns, int G, double *best, int *arg)
{
    size_t W = (size_t)G + 1;
    double *pre = xmalloc(ns * W * sizeof(double));

    for (size_t s = 0; s < ns; s++) {
        double *p = pre + s * W;
        p[0] = 0.0;
        for (int c = 0; c < G; c++)
            p[c + 1] = p[c] + dens[s * (size_t)G + c] * (cell_lo(c + 1, G) - cell_lo(c, G));
    }
    for (int i = 0; i < G; i++)
        for (int j = i + 1; j <= G; j++) {
            double b = INFINITY;
            int a = 0;
            for (size_t s = 0; s < ns; s++) {
                double v = pre[s * W + j] - pre[s * W + i];
                if (v < b) {
                    b = v;
                    a = (int)s;
                }
            }
            best[i * W + j] = b;
            arg[i * W + j] = a;
        }
    free(pre);
}


Schedule search_kphase(const double *stage, size_t nst, const double *camse, const Strategy *s,
                       size_t ns, int K, int grid, double *integral_out)
{
    HASSERT(K >= 1 && K <= SCHEDULE_MAX_PHASES && grid >= 1);
    size_t W = (size_t)grid + 1;
    double *dens = search_density(stage, nst, camse, ns, grid);
    double *best = xmalloc(W * W * sizeof(double));
    int *arg = xmalloc(W * W * sizeof(int));
    /* dp[k][j]: least cost of cells [0, j) in at most k phases; from[k][j]: start cell of the
     * last phase, or -1 when k - 1 phases already do as well. */
    double *dp = xmalloc((size_t)(K + 1) * W * sizeof(double));
    int *from = xmalloc((size_t)(K + 1) * W * sizeof(int));
    Schedule sch;

    best_segments(dens, ns, grid, best, arg);
    for (size_t j = 0; j < W; j++)
        dp[j] = j == 0 ? 0.0 : INFINITY;
    for (int k = 1; k <= K; k++) {
        double *cur = dp + (size_t)k * W, *prev = cur - W;
        int *fr = from + (size_t)k * W;
        cur[0] = 0.0;
        fr[0] = -1;
        for (int j = 1; j <= grid; j++) {
            cur[j] = prev[j];
            fr[j] = -1;
            for (int i = 0; i < j; i++) {
                double v = prev[i] + best[i * W + j];
                if (v < cur[j]) {
                    cur[j] = v;
                    fr[j] = i;
                }
            }
        }
    }

    /* Walk back from [0, grid) with K phases, collecting phases last to first. */
    int starts[SCHEDULE_MAX_PHASES], strat[SCHEDULE_MAX_PHASES], np = 0;
    for (int k = K, j = grid; j > 0; k--) {
        int i = from[(size_t)k * W + j];
        if (i < 0)
            continue;
        starts[np] = i;
        strat[np] = arg[i * W + j];
        np++;
        j = i;
    }
    memset(&sch, 0, sizeof sch);
    for (int p = np - 1; p >= 0; p--)
        push_phase(&sch, cell_lo(starts[p], grid), s[strat[p]]);
    if (integral_out != NULL)
        *integral_out = dp[(size_t)K * W + grid];
    free(dens);
    free(best);
    free(arg);
    free(dp);
    free(from);
    return sch;
}


int search_strategy_index(const Strategy *s, size_t ns, Strategy x)
{
    for (size_t i = 0; i < ns; i++)
        if (s[i].P == x.P && fabsf(s[i].keep - x.keep) < 1e-6f && s[i].branches == x.branches)
            return (int)i;
    return -1;
}


double search_integral(const Schedule *sch, const double *stage, size_t nst,
                       const double *camse, const Strategy *s, size_t ns, int grid)
{
    double total = 0.0;
    double *dens = search_density(stage, nst, camse, ns, grid);

    for (int p = 0; p < sch->n; p++) {
        int i = search_strategy_index(s, ns, sch->strat[p]);
        double a = sch->start[p], b = p + 1 < sch->n ? sch->start[p + 1] : 1.0;
        if (i < 0) {
            total = NAN;
            break;
        }
        for (int c = 0; c < grid; c++) {
            double lo = cell_lo(c, grid), hi = cell_lo(c + 1, grid);
            double w = fmin(b, hi) - fmax(a, lo);
            if (w > 0)
                total += dens[(size_t)i * grid + c] * w;
        }
    }
    free(dens);
    return total;
}


void search_schedule_to_table(const Schedule *sch, double *rows)
{
    for (int p = 0; p < sch->n; p++) {
        rows[4 * p] = sch->start[p];
        rows[4 * p + 1] = sch->strat[p].P;
        rows[4 * p + 2] = sch->strat[p].keep;
        rows[4 * p + 3] = sch->strat[p].branches;
    }
}


const char *search_schedule_from_table(Schedule *sch, const double *rows, size_t n)
{
    static char msg[256];

    memset(sch, 0, sizeof *sch);
    if (n < 1 || n > SCHEDULE_MAX_PHASES) {
        snprintf(msg, sizeof msg, "%zu phases; expected 1 to %d", n, SCHEDULE_MAX_PHASES);
        return msg;
    }
    for (size_t p = 0; p < n; p++) {
        const double *r = rows + 4 * p;
        int ok = r[1] >= 1 && r[1] <= 1e6 && r[1] == floor(r[1]) && r[2] > 0 && r[2] <= 1 &&
                 (r[3] == 0 || r[3] == 1 || r[3] == 2) && r[0] >= 0 && r[0] <= 1 &&
                 (p == 0 ? r[0] == 0 : r[0] > rows[4 * (p - 1)]);
        if (!ok) {
            snprintf(msg, sizeof msg, "row %zu (%g, %g, %g, %g) is not a phase (start from 0 "
                     "increasing in [0, 1], whole patch >= 1, keep in (0, 1], branches 0/1/2)",
                     p, r[0], r[1], r[2], r[3]);
            return msg;
        }
        sch->start[p] = r[0];
        sch->strat[p] = (Strategy){(int)r[1], (float)r[2], (CompressBranches)(int)r[3]};
    }
    sch->n = (int)n;
    return NULL;
}
