/* plot.c: the exports behind `hasten plot` (see plot.h). Every file is plain text, one row a
 * point, "NaN" where a value is missing or cannot be drawn; a blank line ends one line of a
 * plot, two blank lines end an index block (one run or one strategy):
 *   cost_online.dat, cost_both.dat  xi yi P keep rel_cost      (xi, yi: the cell's column, row)
 *   gs_all.dat     a block per strategy: stage_pct camse bias2 cvar (relative; <= 0 -> NaN)
 *   gs_hi.dat      an index per highlighted strategy: stage_pct, then value lo hi of each
 *   runs_knn.dat   an index per run: budget knn_pct
 *   lr_curve.dat   an index per run with a known decay: budget_pct lr
 *   lr_knn.dat     an index per such run with kNN values: budget knn_pct
 *   schedule.dat   pct P keep branches (a last row at 100 %); schedule_mid.dat mid_pct P keep name
 * and vars.gp: the counts, labels and per-panel messages ("" when the panel has data). */
#include "plot.h"

#include "common.h"
#include "gradstats.h"
#include "h5io.h"
#include "study.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

enum { GS_STAGE = 0, GS_STRAT = 2, GS_B2R = 22, GS_CVR = 25, GS_CMR = 28 };
enum { EV_BUDGET = 1, EV_FRACTION = 2, EV_KNN = 3, EV_COLS = 5 };
enum { CV_BUDGET = 1, CV_LR = 4, CV_COLS = 8 };
enum { COST_REL = 4, COST_COLS = 6 };

#define GS_HI_MAX 8          /* highlighted strategies: strategy 0 and the per-stage best */
#define CURVE_MAX_POINTS 4000 /* lr curves are smooth: a stride keeps the files small */

typedef struct {
    const char *path; /* the study file, for messages */
    const char *name; /* its base name, for titles */
    const char *dir;
    FILE *vars;
    PlotExport ex;
} Ctx;

typedef struct {
    char *name, *label, *kind, *decay;
    double final_knn, knn_scale;
    double *eval, *curve; /* [ne, EV_COLS], [nc, CV_COLS] */
    size_t ne, nc;
} Run;


__attribute__((format(printf, 2, 3)))
static void note(Ctx *c, const char *fmt, ...)
{
    va_list ap;

    if (c->ex.nnotes == PLOT_MAX_NOTES)
        return;
    va_start(ap, fmt);
    vsnprintf(c->ex.notes[c->ex.nnotes++], sizeof c->ex.notes[0], fmt, ap);
    va_end(ap);
}


static FILE *data_open(const Ctx *c, const char *name)
{
    char p[PATH_MAX];

    snprintf(p, sizeof p, "%s/%s", c->dir, name);
    FILE *f = fopen(p, "w");
    CHECK_FOPEN(f, p);
    return f;
}


static void data_close(FILE *f, const char *name)
{
    CHECK_IO(!ferror(f) && fclose(f) == 0, name);
}


/* One number: gnuplot reads "NaN" as invalid and breaks a line there. */
static void put(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, " %.9g", x);
    else
        fputs(" NaN", f);
}


static double pos_or_nan(double x)
{
    return isfinite(x) && x > 0 ? x : NAN;
}


void plot_gp_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch >= 0x20 && ch != 0x7f)
            fputc(ch, f);
    }
    fputc('"', f);
}


static void var_num(const Ctx *c, const char *name, double x)
{
    if (isfinite(x))
        fprintf(c->vars, "%s = %.17g\n", name, x);
    else
        fprintf(c->vars, "%s = NaN\n", name);
}


static void var_str(const Ctx *c, const char *name, const char *s)
{
    fprintf(c->vars, "%s = ", name);
    plot_gp_string(c->vars, s);
    fputc('\n', c->vars);
}


/* A gnuplot string array; gnuplot has no empty arrays, so n = 0 gives one empty entry. */
static void var_strs(const Ctx *c, const char *name, char *const *s, size_t n)
{
    fprintf(c->vars, "array %s[%zu] = [", name, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", c->vars);
        plot_gp_string(c->vars, s[i]);
    }
    fputs(n ? "]\n" : "\"\"]\n", c->vars);
}


/* ---- (a) cost over (patch side, keep ratio) ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}


/* Sorted distinct values of x[0..n); returns their count. */
static size_t distinct(double *x, size_t n)
{
    size_t m = 0;

    qsort(x, n, sizeof *x, cmp_double);
    for (size_t i = 0; i < n; i++)
        if (m == 0 || x[i] != x[m - 1])
            x[m++] = x[i];
    return m;
}


static size_t index_of(const double *x, size_t n, double v)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] == v)
            return i;
    return 0;
}


/* One panel: the strategies compressing `branches`, and strategy 0 at (P0, 1) in each panel,
 * its cell's natural place. Returns the number of finite costs written besides strategy 0's. */
static size_t cost_panel(const Ctx *c, const char *file, const Strategy *s, size_t ns,
                         const double *rel, int branches, const double *Ps, size_t nP,
                         const double *keeps, size_t nk, double *lo, double *hi)
{
    FILE *f = data_open(c, file);
    size_t nfin = 0;

    fputs("# xi yi P keep rel_cost (cost per sample / strategy 0's; NaN: not measured)\n", f);
    for (size_t i = 0; i < ns; i++) {
        if (i != 0 && (int)s[i].branches != branches)
            continue;
        double v = rel ? rel[i] : NAN;
        fprintf(f, "%zu %zu %d %.2f", index_of(Ps, nP, s[i].P),
                index_of(keeps, nk, (double)s[i].keep), s[i].P, (double)s[i].keep);
        put(f, v);
        fputc('\n', f);
        if (isfinite(v)) {
            nfin += i != 0;
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
        }
    }
    data_close(f, file);
    return nfin;
}


static void export_cost(Ctx *c, hid_t f, const Strategy *s, size_t ns)
{
    double *rel = NULL, lo = INFINITY, hi = -INFINITY;
    char msg[256] = "";
    size_t nboth = 0, nr = 0;

    if (s == NULL)
        snprintf(msg, sizeof msg, "no /strategies in %s:\nrun 'hasten cost' first", c->name);
    else if (!h5_exists(f, "/cost"))
        snprintf(msg, sizeof msg, "no /cost in %s:\nrun 'hasten cost' first", c->name);
    if (s != NULL && h5_exists(f, "/cost")) {
        double *t = study_read_table(f, c->path, "/cost", COST_COLS, &nr);
        if (nr == ns) {
            rel = xmalloc(ns * sizeof *rel);
            for (size_t i = 0; i < ns; i++)
                rel[i] = t[i * COST_COLS + COST_REL];
        } else {
            snprintf(msg, sizeof msg, "/cost has %zu rows for %zu strategies:\nnot drawn", nr,
                     ns);
        }
        free(t);
    }
    if (msg[0])
        note(c, "figure cost: %s", msg);

    size_t n = s ? ns : 0, nP, nk;
    double *Ps = xmalloc((n + 1) * sizeof *Ps), *keeps = xmalloc((n + 1) * sizeof *keeps);
    for (size_t i = 0; i < n; i++) {
        Ps[i] = s[i].P;
        keeps[i] = (double)s[i].keep;
        nboth += s[i].branches == COMPRESS_BOTH;
    }
    nP = distinct(Ps, n);
    nk = distinct(keeps, n);
    size_t non = cost_panel(c, "cost_online.dat", s, n, rel, COMPRESS_ONLINE, Ps, nP, keeps,
                            nk, &lo, &hi);
    size_t nbo = cost_panel(c, "cost_both.dat", s, n, rel, COMPRESS_BOTH, Ps, nP, keeps, nk,
                            &lo, &hi);

    var_num(c, "cost_nx", (double)nP);
    var_num(c, "cost_ny", (double)nk);
    var_num(c, "cost_nboth", (double)nboth);
    var_num(c, "cost_p0", s && ns ? s[0].P : NAN);
    var_num(c, "cost_min", lo);
    var_num(c, "cost_max", hi);
    var_str(c, "msg_cost_online", msg[0] ? msg : non > 0 ? "" :
            "no finite data for the relative cost\nof online-compressed strategies");
    var_str(c, "msg_cost_both", msg[0] ? msg : nbo > 0 ? "" :
            "no finite data for the relative cost\nof both-compressed strategies");
    free(Ps);
    free(keeps);
    free(rel);
}


/* ---- (b) gradient statistics per stage ---- */

typedef struct {
    size_t nstage, nstrat;
    double *stage; /* [nstage] fractions, ascending */
    double *v;     /* [nstage, nstrat, 9]: camse, lo, hi, bias2, lo, hi, cvar, lo, hi */
} GsGrid;


static const int GS_SRC[3] = {GS_CMR, GS_B2R, GS_CVR};
static const char *const GS_QTY[3] = {"camse", "bias2", "cvar"};


static double *gs_at(const GsGrid *g, size_t k, size_t j)
{
    return g->v + (k * g->nstrat + j) * 9;
}


/* Rows of /gradstats placed by their stage and strategy columns (any order in the file). */
static GsGrid gs_grid(const Ctx *c, const double *t, size_t nr)
{
    GsGrid g = {0, 0, xmalloc((nr + 1) * sizeof(double)), NULL};

    for (size_t r = 0; r < nr; r++) {
        double st = t[r * GS_COLS + GS_STAGE], j = t[r * GS_COLS + GS_STRAT];
        if (!(st >= 0 && st <= 1) || !(j >= 0 && j < 1e6 && j == floor(j)))
            user_error("%s: /gradstats row %zu has stage %g, strategy %g: expected a fraction "
                       "in [0, 1] and a strategy index", c->path, r, st, j);
        g.stage[r] = st;
        g.nstrat = (size_t)fmax((double)g.nstrat, j + 1);
    }
    g.nstage = distinct(g.stage, nr);
    g.v = xmalloc((g.nstage * g.nstrat + 1) * 9 * sizeof(double));
    for (size_t i = 0; i < g.nstage * g.nstrat * 9; i++)
        g.v[i] = NAN;
    for (size_t r = 0; r < nr; r++) {
        const double *row = t + r * GS_COLS;
        double *d = gs_at(&g, index_of(g.stage, g.nstage, row[GS_STAGE]), (size_t)row[GS_STRAT]);
        for (int q = 0; q < 3; q++)
            for (int e = 0; e < 3; e++)
                d[3 * q + e] = row[GS_SRC[q] + e];
    }
    return g;
}


static void gs_label(char *buf, size_t n, size_t j, const Strategy *s, size_t ns,
                     const GsGrid *g, const size_t *best)
{
    int len;

    if (s != NULL && j < ns)
        len = snprintf(buf, n, "#%zu: P%d r%.2f %s", j, s[j].P, (double)s[j].keep,
                       j == 0 ? "(uncompressed)" : compress_name(s[j].branches));
    else
        len = snprintf(buf, n, "#%zu", j);
    const char *sep = ", best CA-MSE at ";
    for (size_t k = 0; k < g->nstage && len > 0 && (size_t)len < n; k++)
        if (best[k] == j) {
            len += snprintf(buf + len, n - (size_t)len, "%s%.0f%%", sep, 100 * g->stage[k]);
            sep = ", ";
        }
}


/* Highlighted: strategy 0, then the per-stage best in stage order; best compares
 * max(bias², 0) + c·V as `hasten report` and `hasten search` do. */
static size_t gs_highlight(const GsGrid *g, size_t *best, size_t *hi)
{
    size_t nhi = 0;

    hi[nhi++] = 0;
    for (size_t k = 0; k < g->nstage; k++) {
        best[k] = SIZE_MAX;
        for (size_t j = 0; j < g->nstrat; j++) {
            const double *x = gs_at(g, k, j), *b = best[k] == SIZE_MAX ? NULL :
                                                   gs_at(g, k, best[k]);
            double v = fmax(x[3], 0.0) + x[6];
            if (isfinite(v) && (b == NULL || v < fmax(b[3], 0.0) + b[6]))
                best[k] = j;
        }
        int seen = best[k] == SIZE_MAX;
        for (size_t h = 0; h < nhi; h++)
            seen |= hi[h] == best[k];
        if (!seen && nhi < GS_HI_MAX)
            hi[nhi++] = best[k];
    }
    return nhi;
}


static void gs_write_all(const Ctx *c, const GsGrid *g)
{
    FILE *f = data_open(c, "gs_all.dat");

    fputs("# a block per strategy: stage_pct camse bias2 cvar (relative to |mean g0|^2; "
          "NaN: missing or <= 0, not drawable on a log axis)\n", f);
    for (size_t j = 0; j < g->nstrat; j++) {
        for (size_t k = 0; k < g->nstage; k++) {
            const double *d = gs_at(g, k, j);
            fprintf(f, "%.6g", 100 * g->stage[k]);
            for (int q = 0; q < 3; q++)
                put(f, pos_or_nan(d[3 * q]));
            fputc('\n', f);
        }
        fputc('\n', f);
    }
    data_close(f, "gs_all.dat");
}


/* Panel ranges from every drawable value and interval end; an interval whose lower end is
 * not positive runs to the bottom of the panel (ylo) instead of off to log(0). */
static void gs_write_hi(const Ctx *c, const GsGrid *g, const size_t *hi, size_t nhi,
                        const double *ylo)
{
    FILE *f = data_open(c, "gs_hi.dat");

    fputs("# an index per highlighted strategy: stage_pct, then value lo hi of camse, bias2, "
          "cvar (95% interval; lo at the panel's bottom when <= 0)\n", f);
    for (size_t h = 0; h < nhi; h++) {
        fprintf(f, "# strategy %zu\n", hi[h]);
        for (size_t k = 0; k < g->nstage; k++) {
            const double *d = gs_at(g, k, hi[h]);
            fprintf(f, "%.6g", 100 * g->stage[k]);
            for (int q = 0; q < 3; q++) {
                double v = pos_or_nan(d[3 * q]), lo = d[3 * q + 1], up = d[3 * q + 2];
                put(f, v);
                put(f, isfinite(v) ? (isfinite(lo) && lo > 0 ? fmin(lo, v) : ylo[q]) : NAN);
                put(f, isfinite(v) ? (isfinite(up) && up > v ? up : v) : NAN);
            }
            fputc('\n', f);
        }
        fputs("\n\n", f);
    }
    data_close(f, "gs_hi.dat");
}


static void export_gradstats(Ctx *c, hid_t f, const Strategy *s, size_t ns)
{
    size_t nr = 0, nhi = 0, best[256], hi[GS_HI_MAX];
    char *labels[GS_HI_MAX], msg[256] = "";
    GsGrid g = {0, 0, NULL, NULL};

    if (!h5_exists(f, "/gradstats")) {
        snprintf(msg, sizeof msg, "no /gradstats in %s:\nrun 'hasten gradstats RUN.h5 --out %s'"
                 " first", c->name, c->name);
        note(c, "figure gradstats: no /gradstats in %s (run 'hasten gradstats RUN.h5 --out "
             "%s' first)", c->path, c->path);
    } else {
        double *t = study_read_table(f, c->path, "/gradstats", GS_COLS, &nr);
        g = gs_grid(c, t, nr);
        free(t);
        if (g.nstage > sizeof best / sizeof best[0])
            user_error("%s: /gradstats has %zu stages; hasten plot draws at most %zu", c->path,
                       g.nstage, sizeof best / sizeof best[0]);
        if (nr == 0)
            snprintf(msg, sizeof msg, "/gradstats in %s is empty", c->name);
    }
    var_str(c, "msg_gs", msg);
    nhi = g.nstrat ? gs_highlight(&g, best, hi) : 0;

    double ylo[3], yhi[3];
    for (int q = 0; q < 3; q++) {
        size_t npos = 0, nneg = 0;
        ylo[q] = INFINITY;
        yhi[q] = -INFINITY;
        for (size_t i = 0; i < g.nstage * g.nstrat; i++) {
            const double *d = g.v + i * 9 + 3 * q;
            int drawn = isfinite(d[0]) && d[0] > 0;
            npos += drawn;
            nneg += isfinite(d[0]) && d[0] <= 0;
            for (int e = 0; e < 3; e++)
                if (drawn && isfinite(d[e]) && d[e] > 0) {
                    ylo[q] = fmin(ylo[q], d[e]);
                    yhi[q] = fmax(yhi[q], d[e]);
                }
        }
        /* A margin of a factor 1.5 each side keeps the end points off the frame. */
        ylo[q] /= 1.5;
        yhi[q] *= 1.5;
        char name[64], m[200] = "";
        snprintf(name, sizeof name, "gs_nneg_%s", GS_QTY[q]);
        var_num(c, name, (double)nneg);
        snprintf(name, sizeof name, "gs_ylo_%s", GS_QTY[q]);
        var_num(c, name, ylo[q]);
        snprintf(name, sizeof name, "gs_yhi_%s", GS_QTY[q]);
        var_num(c, name, yhi[q]);
        if (npos == 0 && !msg[0])
            snprintf(m, sizeof m, "no finite positive data for %s\n(%zu values <= 0, %zu "
                     "missing)", GS_QTY[q], nneg, g.nstage * g.nstrat - nneg);
        snprintf(name, sizeof name, "msg_gs_%s", GS_QTY[q]);
        var_str(c, name, m);
    }

    if (nhi > 0) {
        gs_write_all(c, &g);
        gs_write_hi(c, &g, hi, nhi, ylo);
    }
    for (size_t h = 0; h < nhi; h++) {
        labels[h] = xmalloc(160);
        gs_label(labels[h], 160, hi[h], s, ns, &g, best);
    }
    var_num(c, "gs_nstage", (double)g.nstage);
    var_num(c, "gs_nstrat", (double)g.nstrat);
    var_num(c, "gs_nhi", (double)nhi);
    var_strs(c, "gs_label", labels, nhi);
    for (size_t h = 0; h < nhi; h++)
        free(labels[h]);
    free(g.stage);
    free(g.v);
}


/* ---- (c, d) runs: kNN against budget, learning-rate decays ---- */

static char *attr_or(hid_t f, const char *obj, const char *name, const char *def)
{
    return h5_attr_exists(f, obj, name) ? h5_attr_get_str(f, obj, name) : strdup(def);
}


static double *read_rows(hid_t f, const char *obj, const char *table, int ncols, size_t *n)
{
    char p[512];
    size_t dims[H5IO_MAX_RANK];

    snprintf(p, sizeof p, "%s/%s", obj, table);
    *n = 0;
    if (!h5_exists(f, p))
        return NULL;
    double *x = h5_read(f, p, H5IO_F64, 2, (long[]){H5IO_ANY, ncols}, NULL, dims);
    *n = dims[0];
    return x;
}


static size_t finite_knn(const Run *r)
{
    size_t n = 0;

    for (size_t i = 0; i < r->ne; i++)
        n += isfinite(r->eval[i * EV_COLS + EV_KNN]) && isfinite(r->eval[i * EV_COLS + EV_BUDGET]);
    return n;
}


static Run run_read(Ctx *c, hid_t f, const char *name)
{
    char obj[300];
    Run r = {0};

    snprintf(obj, sizeof obj, "/runs/%s", name);
    r.name = strdup(name);
    r.label = attr_or(f, obj, "label", name);
    r.kind = attr_or(f, obj, "kind", "unknown");
    r.decay = attr_or(f, obj, "lr_decay", "unknown");
    r.final_knn = h5_attr_exists(f, obj, "final_knn") ? h5_attr_get_f64(f, obj, "final_knn")
                                                      : NAN;
    r.eval = read_rows(f, obj, "eval", EV_COLS, &r.ne);
    r.curve = read_rows(f, obj, "curve", CV_COLS, &r.nc);

    /* train.c stores kNN top-1 as a fraction; a run holding percentages is drawn as is. */
    r.knn_scale = 100;
    for (size_t i = 0; i < r.ne; i++)
        if (r.eval[i * EV_COLS + EV_KNN] > 1)
            r.knn_scale = 1;
    if (r.knn_scale == 1)
        note(c, "run %s: kNN values above 1 read as percentages already", name);
    if (r.ne == 0)
        note(c, "run %s: no /runs/%s/eval table: not in the kNN figures", name, name);
    return r;
}


static void run_free(Run *r)
{
    free(r->name);
    free(r->label);
    free(r->kind);
    free(r->decay);
    free(r->eval);
    free(r->curve);
}


static void write_knn_block(FILE *f, const Run *r)
{
    fprintf(f, "# run %s: budget knn_top1_pct\n", r->name);
    for (size_t i = 0; i < r->ne; i++) {
        const double *e = r->eval + i * EV_COLS;
        put(f, e[EV_BUDGET]);
        put(f, r->knn_scale * e[EV_KNN]);
        fputc('\n', f);
    }
    fputs("\n\n", f);
}


/* The run's whole budget in units: budget / fraction at its last evaluation, else the end
 * of its curve. */
static double run_total_budget(const Run *r)
{
    for (size_t i = r->ne; i-- > 0;) {
        const double *e = r->eval + i * EV_COLS;
        if (e[EV_FRACTION] > 0 && e[EV_BUDGET] > 0)
            return e[EV_BUDGET] / e[EV_FRACTION];
    }
    double b = NAN;
    for (size_t i = 0; i < r->nc; i++)
        b = isfinite(b) ? fmax(b, r->curve[i * CV_COLS + CV_BUDGET])
                        : r->curve[i * CV_COLS + CV_BUDGET];
    return b;
}


/* Writes the run's lr against the percentage of its budget; returns 0, writing nothing,
 * when no point would be finite (so that index blocks and labels stay aligned). */
static int write_lr_block(FILE *f, const Run *r)
{
    double total = run_total_budget(r);
    size_t stride = r->nc / CURVE_MAX_POINTS + 1, nfin = 0;

    for (size_t i = 0; i < r->nc; i++)
        nfin += isfinite(r->curve[i * CV_COLS + CV_LR]) &&
                isfinite(r->curve[i * CV_COLS + CV_BUDGET] / total);
    if (nfin == 0)
        return 0;
    fprintf(f, "# run %s (%s decay, whole budget %.6g units): budget_pct lr\n", r->name,
            r->decay, total);
    for (size_t i = 0; i < r->nc; i++) {
        if (i % stride != 0 && i + 1 != r->nc)
            continue;
        const double *cv = r->curve + i * CV_COLS;
        put(f, 100 * cv[CV_BUDGET] / total);
        put(f, cv[CV_LR]);
        fputc('\n', f);
    }
    fputs("\n\n", f);
    return 1;
}


static void export_knn(Ctx *c, Run *runs, size_t nrun, int has_runs)
{
    FILE *f = data_open(c, "runs_knn.dat");
    char **lab = xmalloc((nrun + 1) * sizeof *lab), **kind = xmalloc((nrun + 1) * sizeof *kind);
    size_t n = 0;
    double base = NAN;
    const char *base_label = "";

    for (size_t i = 0; i < nrun; i++) {
        Run *r = runs + i;
        if (strcmp(r->kind, "baseline") == 0 && !isfinite(base)) {
            base = r->knn_scale * r->final_knn;
            for (size_t e = r->ne; e-- > 0 && !isfinite(base);)
                base = r->knn_scale * r->eval[e * EV_COLS + EV_KNN];
            base_label = r->label;
        }
        if (finite_knn(r) == 0)
            continue;
        write_knn_block(f, r);
        lab[n] = r->label;
        kind[n++] = r->kind;
    }
    data_close(f, "runs_knn.dat");

    char msg[256] = "";
    if (!has_runs)
        snprintf(msg, sizeof msg, "no /runs in %s:\n'hasten run' writes them", c->name);
    else if (n == 0)
        snprintf(msg, sizeof msg, "no finite data for kNN top-1\nin the %zu runs of %s", nrun,
                 c->name);
    var_str(c, "msg_knn", msg);
    var_num(c, "runs_n", (double)n);
    var_strs(c, "run_label", lab, n);
    var_strs(c, "run_kind", kind, n);
    var_num(c, "base_knn", base);
    var_str(c, "base_label", base_label);
    var_str(c, "knn_note", has_runs && !isfinite(base) ? "no baseline run (kind \"baseline\") "
            "with a final kNN in /runs" : "");
    free(lab);
    free(kind);
}


static void export_lr(Ctx *c, Run *runs, size_t nrun, int has_runs)
{
    FILE *fc = data_open(c, "lr_curve.dat"), *fk = data_open(c, "lr_knn.dat");
    char **cl = xmalloc((nrun + 1) * sizeof *cl), **cd = xmalloc((nrun + 1) * sizeof *cd);
    char **kl = xmalloc((nrun + 1) * sizeof *kl), **kd = xmalloc((nrun + 1) * sizeof *kd);
    size_t nc = 0, nk = 0, ncos = 0, npoly = 0;

    for (size_t i = 0; i < nrun; i++) {
        Run *r = runs + i;
        int cosine = strcmp(r->decay, "cosine") == 0, poly = strcmp(r->decay, "poly") == 0;
        if (!cosine && !poly)
            continue;
        int hl = write_lr_block(fc, r), hk = finite_knn(r) > 0;
        if (hl) {
            cl[nc] = r->label;
            cd[nc++] = r->decay;
        }
        if (hk) {
            write_knn_block(fk, r);
            kl[nk] = r->label;
            kd[nk++] = r->decay;
        }
        ncos += cosine && (hl || hk);
        npoly += poly && (hl || hk);
    }
    data_close(fc, "lr_curve.dat");
    data_close(fk, "lr_knn.dat");

    char none[256] = "", one[256] = "";
    if (!has_runs)
        snprintf(none, sizeof none, "no /runs in %s:\n'hasten run' writes them", c->name);
    else if (ncos + npoly == 0)
        snprintf(none, sizeof none, "no run with lr_decay cosine or poly\nand finite data in %s",
                 c->name);
    else if (ncos == 0 || npoly == 0)
        snprintf(one, sizeof one, "only %s-decay runs in %s: nothing to compare with",
                 ncos ? "cosine" : "polynomial", c->name);
    var_str(c, "msg_lr_curve", none[0] ? none : nc ? "" : "no finite data for the learning "
            "rate\n(/runs/*/curve)");
    var_str(c, "msg_lr_knn", none[0] ? none : nk ? "" : "no finite data for kNN top-1\nof the "
            "cosine and poly runs");
    var_str(c, "lr_note", one);
    var_num(c, "lr_ncurve", (double)nc);
    var_num(c, "lr_nknn", (double)nk);
    var_strs(c, "lrc_label", cl, nc);
    var_strs(c, "lrc_decay", cd, nc);
    var_strs(c, "lrk_label", kl, nk);
    var_strs(c, "lrk_decay", kd, nk);
    free(cl);
    free(cd);
    free(kl);
    free(kd);
}


static void export_runs(Ctx *c, hid_t f)
{
    size_t n = 0;
    char **names = NULL;
    int has = h5_exists(f, "/runs");

    if (has)
        names = h5_list(f, "/runs", &n);
    else
        note(c, "figures knn, lr_decay: no /runs in %s ('hasten run' writes them)", c->path);

    /* The baselines first, so that they sit at the top of the key. */
    Run *runs = xmalloc((n + 1) * sizeof *runs);
    size_t m = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            char obj[300], *kind;
            snprintf(obj, sizeof obj, "/runs/%s", names[i]);
            kind = attr_or(f, obj, "kind", "unknown");
            if ((strcmp(kind, "baseline") == 0) == (pass == 0))
                runs[m++] = run_read(c, f, names[i]);
            free(kind);
        }
    export_knn(c, runs, m, has);
    export_lr(c, runs, m, has);
    for (size_t i = 0; i < m; i++)
        run_free(runs + i);
    free(runs);
    h5_free_strs(names, n);
}


/* ---- (e) the searched schedule ---- */

static void export_schedule(Ctx *c, hid_t f)
{
    FILE *fs = data_open(c, "schedule.dat"), *fm = data_open(c, "schedule_mid.dat");
    size_t n = 0, nfin = 0;
    double *t = NULL;
    char msg[256] = "";

    if (h5_exists(f, "/schedule"))
        t = study_read_table(f, c->path, "/schedule", 4, &n);
    fputs("# start_pct P keep branches (piecewise constant; the last row closes at 100%)\n", fs);
    fputs("# mid_pct P keep branches_name (one row per phase, for labels)\n", fm);
    for (size_t i = 0; i < n; i++) {
        const double *p = t + 4 * i;
        double end = i + 1 < n ? t[4 * (i + 1)] : 1.0;
        int b = (int)p[3];
        fprintf(fs, "%.6g", 100 * p[0]);
        put(fs, p[1]);
        put(fs, p[2]);
        put(fs, p[3]);
        fputc('\n', fs);
        fprintf(fm, "%.6g", 50 * (p[0] + end));
        put(fm, p[1]);
        put(fm, p[2]);
        fprintf(fm, " %s\n", b >= 0 && b <= 2 ? compress_name((CompressBranches)b) : "?");
        nfin += isfinite(p[0]) && isfinite(p[1]) && isfinite(p[2]);
    }
    if (n > 0) {
        const double *p = t + 4 * (n - 1);
        fputs("100", fs);
        for (int k = 1; k < 4; k++)
            put(fs, p[k]);
        fputc('\n', fs);
    }
    data_close(fs, "schedule.dat");
    data_close(fm, "schedule_mid.dat");

    if (t == NULL) {
        snprintf(msg, sizeof msg, "no /schedule in %s:\n'hasten search' writes it", c->name);
        note(c, "figure schedule: no /schedule in %s ('hasten search' writes it)", c->path);
    } else if (nfin == 0) {
        snprintf(msg, sizeof msg, "no finite data for the schedule in %s", c->name);
    }
    var_str(c, "msg_sched", msg);
    var_num(c, "sched_n", (double)n);
    free(t);
}


PlotExport plot_export(const char *path, const char *dir)
{
    Ctx c = {path, strrchr(path, '/') ? strrchr(path, '/') + 1 : path, dir, NULL, {0}};
    char vp[PATH_MAX];
    size_t ns = 0;
    Strategy *s = NULL;

    snprintf(vp, sizeof vp, "%s/vars.gp", dir);
    c.vars = fopen(vp, "w");
    CHECK_FOPEN(c.vars, vp);
    fputs("# vars.gp: written by hasten plot for the scripts in plots/\n", c.vars);
    var_str(&c, "datadir", dir);
    var_str(&c, "study_name", c.name);

    hid_t f = h5in_open(path);
    static const char *const tables[] = {"/strategies", "/cost", "/gradstats", "/runs",
                                         "/schedule"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        c.ex.tables += h5_exists(f, tables[i]);
    if (h5_exists(f, "/strategies"))
        s = study_read_strategies(f, path, &ns);

    export_cost(&c, f, s, ns);
    export_gradstats(&c, f, s, ns);
    export_runs(&c, f);
    export_schedule(&c, f);
    h5in_close(f);
    free(s);
    data_close(c.vars, vp);
    return c.ex;
}
