/* cli_search.c: `hasten search STUDY.h5 --budget UNITS`: the argmin and the K-phase schedules
 * from a study's CA-MSE table (/gradstats rows [stages x strategies]), printed with their
 * integrated CA-MSE against the best constant strategy, written to /schedule and
 * /schedule_argmin of the study and, the K-phase one, to a schedule text file. */
#include "args.h"
#include "cli.h"
#include "common.h"
#include "gradstats.h"
#include "search.h"
#include "study.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { C_STAGE = 0, C_STRAT = 2, C_CAMSE = 19, C_CAMSE_REL = 28 };

#define SEARCH_GRID_MAX 2000 /* best-segment tables are grid^2: 2000 -> 48 MB */

typedef struct {
    size_t nst, ns;
    double *stage;  /* [nst] increasing */
    double *camse;  /* [nst][ns] */
    Strategy *s;    /* [ns] */
} Table;


static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}


/* max(bias2, 0) + cvar of /gradstats (gs_camse_clamped) as [stage][strategy], stages
 * sorted; every (stage, strategy) pair must appear exactly once with a finite value. */
static Table read_table(const char *path, int col)
{
    Table t;
    size_t nr;
    hid_t f = h5in_open(path);

    t.s = study_read_strategies(f, path, &t.ns);
    double *g = study_read_table(f, path, "/gradstats", GS_COLS, &nr);
    h5in_close(f);
    if (t.ns == 0 || nr == 0 || nr % t.ns != 0)
        user_error("%s: /gradstats has %zu rows; expected a positive multiple of the %zu "
                   "strategies", path, nr, t.ns);

    double *all = xmalloc(nr * sizeof(double));
    for (size_t r = 0; r < nr; r++)
        all[r] = g[r * GS_COLS + C_STAGE];
    qsort(all, nr, sizeof(double), cmp_double);
    t.nst = 0;
    for (size_t r = 0; r < nr; r++)
        if (t.nst == 0 || all[r] != all[t.nst - 1])
            all[t.nst++] = all[r];
    if (t.nst * t.ns != nr || t.nst > SCHEDULE_MAX_PHASES)
        user_error("%s: /gradstats has %zu stages for %zu rows and %zu strategies; expected "
                   "every strategy once per stage, at most %d stages", path, t.nst, nr, t.ns,
                   SCHEDULE_MAX_PHASES);
    t.stage = all;

    t.camse = xmalloc(nr * sizeof(double));
    for (size_t r = 0; r < nr; r++)
        t.camse[r] = NAN;
    for (size_t r = 0; r < nr; r++) {
        const double *row = g + r * GS_COLS;
        double *st = bsearch(&row[C_STAGE], t.stage, t.nst, sizeof(double), cmp_double);
        double si = row[C_STRAT], v = gs_camse_clamped(row, col == C_CAMSE_REL);
        if (!(st != NULL && *st >= 0 && *st <= 1 && si >= 0 && si < (double)t.ns &&
              si == floor(si)))
            user_error("%s: /gradstats row %zu: stage %g, strategy %g; expected a stage in "
                       "[0, 1] and a strategy index in [0, %zu)", path, r, row[C_STAGE], si,
                       t.ns);
        double *cell = &t.camse[(size_t)(st - t.stage) * t.ns + (size_t)si];
        if (!isnan(*cell))
            user_error("%s: /gradstats row %zu: strategy %g appears twice at stage %g", path,
                       r, si, row[C_STAGE]);
        if (!isfinite(v))
            user_error("%s: /gradstats row %zu: %s is %g; expected a finite number", path, r,
                       GS_COLUMNS[col], v);
        *cell = v;
    }
    free(g);
    return t;
}


/* The K-phase search treats values <= 0 as a floor (search_density): say so, since a table
 * with many of them makes the strategies at the floor tie and the optimum arbitrary. */
static void warn_clamped(const char *path, const Table *t, const char *column)
{
    size_t n = t->nst * t->ns, nonpos = 0;
    double top = 0.0;

    for (size_t i = 0; i < n; i++) {
        nonpos += t->camse[i] <= 0.0;
        top = fmax(top, t->camse[i]);
    }
    if (nonpos > 0)
        warn("%s: %zu of %zu %s values are <= 0 (bias debiased below zero: too few draws to "
             "resolve it); the K-phase search counts them as %.3g (%g of the largest), so "
             "strategies at that floor tie; more --draws in 'hasten gradstats' separate them",
             path, nonpos, n, column, top > 0 ? SEARCH_FLOOR_REL * top : 1.0, SEARCH_FLOOR_REL);
}


static void print_schedule(const char *title, const Schedule *sch, const Table *t, double budget,
                           double integral)
{
    printf("%s: %d phase%s, integrated CA-MSE %.6g\n", title, sch->n, sch->n == 1 ? "" : "s",
           integral);
    for (int p = 0; p < sch->n; p++) {
        double a = sch->start[p], b = p + 1 < sch->n ? sch->start[p + 1] : 1.0;
        Strategy x = sch->strat[p];
        printf("  %5.3f-%5.3f  %10.4g-%-10.4g units  #%-3d P %2d keep %4.2f %s\n", a, b,
               a * budget, b * budget, search_strategy_index(t->s, t->ns, x), x.P,
               (double)x.keep, compress_name(x.branches));
    }
}


static void write_table(hid_t f, const char *name, const Schedule *sch, const char *method,
                        double budget, int K, int grid, double integral, const char *column,
                        const char *meaning)
{
    double rows[SCHEDULE_MAX_PHASES * SEARCH_TABLE_COLS];

    search_schedule_to_table(sch, rows);
    study_write_table(f, name, rows, (size_t)sch->n, SEARCH_TABLE_COLS, SEARCH_TABLE_COLUMNS,
                      meaning);
    h5_attr_str(f, name, "method", method);
    h5_attr_f64(f, name, "budget", budget);
    h5_attr_i64(f, name, "phases", K);
    h5_attr_i64(f, name, "grid", grid);
    h5_attr_f64(f, name, "integral", integral);
    h5_attr_str(f, name, "column", column);
}


int cli_search(int argc, char **argv)
{
    Args a;
    char outbuf[4096];

    args_init(&a, argc, argv);
    if (args_flag(&a, "--help")) {
        printf("usage: hasten search STUDY.h5 --budget UNITS [--phases K (3)] [--grid N (200)]\n"
               "  [--relative (camse_rel, default) | --absolute (camse)] [--schedule-out FILE]\n"
               "  The argmin schedule (best strategy per stage, switching halfway between\n"
               "  stages) and the exact optimum of at most K phases of the CA-MSE interpolated\n"
               "  over training (log space) and integrated on N cells. Writes /schedule and\n"
               "  /schedule_argmin to STUDY.h5 and the K-phase schedule to FILE (default\n"
               "  STUDY.schedule.txt) for 'hasten train --schedule'.\n");
        return 0;
    }
    double budget = args_double(&a, "--budget", NAN, -HUGE_VAL, HUGE_VAL);
    int K = args_int(&a, "--phases", 3, -1000000, 1000000);
    int grid = args_int(&a, "--grid", SEARCH_GRID_DEFAULT, -1000000, 1000000);
    int rel = args_flag(&a, "--relative"), absolute = args_flag(&a, "--absolute");
    const char *out = args_str(&a, "--schedule-out", NULL);
    const char *path = args_positional(&a);
    args_finish(&a, "search");
    if (path == NULL)
        user_error("search: usage: hasten search STUDY.h5 --budget UNITS (see --help)");
    if (isnan(budget))
        user_error("search: --budget UNITS is required (the budget of the run the schedule is "
                   "for, in units of one base forward pass per sample)");
    if (!(budget > 0))
        user_error("--budget %g: expected a positive number of budget units", budget);
    if (K < 1 || K > SCHEDULE_MAX_PHASES)
        user_error("--phases %d: expected a whole number of phases in [1, %d]", K,
                   SCHEDULE_MAX_PHASES);
    if (grid < K || grid > SEARCH_GRID_MAX)
        user_error("--grid %d: expected a whole number of cells in [--phases %d, %d]", grid, K,
                   SEARCH_GRID_MAX);
    if (rel && absolute)
        user_error("search: --relative and --absolute exclude each other");
    if (out == NULL) {
        size_t n = strlen(path);
        int h5 = n > 3 && strcmp(path + n - 3, ".h5") == 0;
        snprintf(outbuf, sizeof outbuf, "%.*s.schedule.txt", (int)(h5 ? n - 3 : n), path);
        out = outbuf;
    }
    int col = absolute ? C_CAMSE : C_CAMSE_REL;

    Table t = read_table(path, col);
    printf("hasten search %s | %zu strategies x %zu stages | CA-MSE %s | budget %g units | "
           "at most %d phases on %d cells\n", path, t.ns, t.nst, GS_COLUMNS[col], budget, K,
           grid);
    warn_clamped(path, &t, GS_COLUMNS[col]);
    Schedule am = search_argmin(t.stage, t.nst, t.camse, t.s, t.ns);
    double am_int = search_integral(&am, t.stage, t.nst, t.camse, t.s, t.ns, grid);
    double kp_int;
    Schedule kp = search_kphase(t.stage, t.nst, t.camse, t.s, t.ns, K, grid, &kp_int);
    size_t best = 0;
    double best_int = INFINITY, base_int = NAN;
    for (size_t i = 0; i < t.ns; i++) {
        Schedule c = schedule_constant(t.s[i]);
        double v = search_integral(&c, t.stage, t.nst, t.camse, t.s, t.ns, grid);
        if (i == 0)
            base_int = v;
        if (v < best_int) {
            best_int = v;
            best = i;
        }
    }

    printf("\n");
    print_schedule("argmin (best per stage, switch halfway)", &am, &t, budget, am_int);
    printf("\n");
    print_schedule("K-phase optimum", &kp, &t, budget, kp_int);
    printf("\nbest constant strategy: #%zu P %d keep %.2f %s, integrated CA-MSE %.6g "
           "(strategy 0: %.6g)\n", best, t.s[best].P, (double)t.s[best].keep,
           compress_name(t.s[best].branches), best_int, base_int);
    printf("K-phase / best constant: %.4f   argmin / best constant: %.4f\n", kp_int / best_int,
           am_int / best_int);

    char comment[512];
    snprintf(comment, sizeof comment, "hasten search %s: at most %d phases, grid %d, %s, "
             "integrated CA-MSE %.6g, budget %g units", path, K, grid, GS_COLUMNS[col], kp_int,
             budget);
    schedule_write(&kp, out, comment);

    H5Out *o = h5out_begin(path, 1);
    hid_t f = h5out_file(o);
    write_table(f, "/schedule", &kp, "kphase-dp", budget, K, grid, kp_int, GS_COLUMNS[col],
                "the K-phase optimum: phase start (fraction of budget), patch, keep ratio, "
                "compressed branches (0 none, 1 online, 2 both)");
    h5_attr_f64(f, "/schedule", "best_constant_integral", best_int);
    h5_attr_i64(f, "/schedule", "best_constant_strategy", (long long)best);
    write_table(f, "/schedule_argmin", &am, "argmin", budget, am.n, grid, am_int,
                GS_COLUMNS[col], "the argmin schedule: best strategy per stage, switching "
                "halfway between stages; columns as /schedule");
    h5out_commit(o);
    printf("wrote /schedule and /schedule_argmin to %s, schedule text to %s\n", path, out);

    free(t.stage);
    free(t.camse);
    free(t.s);
    args_free(&a);
    return 0;
}
