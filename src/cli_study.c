/* cli_study.c: `hasten cost`, `hasten gradstats` and `hasten report`: the measurements of a
 * study and their table. See study.h for the file layout. */
#include "args.h"
#include "checkpoint.h"
#include "cli.h"
#include "common.h"
#include "cost.h"
#include "gradstats.h"
#include "study.h"
#include "train.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const COST_COLUMNS[COST_COLS] = {"flops_per_sample", "seconds_per_step",
    "cost_units", "cost_units_flop", "rel_cost", "rel_flops"};

/* Parses "a,b,c" into at most max numbers. */
static size_t parse_list(const char *flag, const char *s, double *out, size_t max, double lo,
                         double hi)
{
    char buf[512], *save = NULL;
    size_t n = 0;

    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        double v = strtod(tok, &end);
        if (*end != '\0' || !(v >= lo && v <= hi))
            user_error("%s %s: '%s' is not a number in [%g, %g]", flag, s, tok, lo, hi);
        if (n == max)
            user_error("%s %s: at most %zu values", flag, s, max);
        out[n++] = v;
    }
    if (n == 0)
        user_error("%s: empty list", flag);
    return n;
}


/* The training configuration behind a study: from a run file, or the defaults of a method. */
static void study_config(Args *a, TrainConfig *c)
{
    const char *run = args_str(a, "--run", NULL);
    static const char *const methods[] = {"moco", "simclr", "dino", NULL};

    if (run != NULL) {
        hid_t f = h5in_open(run);
        train_config_read(f, c, run);
        h5in_close(f);
    } else {
        train_config_default(c, (MethodKind)args_choice(a, "--method", 0, methods), 28, 1);
    }
    c->B = args_int(a, "--batch", c->B, 2, 65536);
    const char *dev = args_str(a, "--device", NULL);
    if (dev != NULL)
        snprintf(c->device, sizeof c->device, "%s", dev);
}


int cli_cost(int argc, char **argv)
{
    static const char *const branches[] = {"online", "both", "all", NULL};
    TrainConfig c;
    Args a;
    Method me;
    double unit;

    args_init(&a, argc, argv);
    if (args_flag(&a, "--help")) {
        printf("usage: hasten cost --out STUDY.h5 [--run RUN.h5 | --method moco|simclr|dino]\n"
               "  [--batch B] [--reps N (3)] [--warmup N >= 1 (1)] [--patches 4,5,...] "
               "[--keeps 1,0.5,...]\n  [--branches online|both|all (all)] [--device cpu|cuda]\n"
               "  Times one training step per strategy (median of N after warm-up) and writes\n"
               "  /strategies and /cost (budget units per sample, measured and FLOP model).\n");
        return 0;
    }
    study_config(&a, &c);
    int reps = args_int(&a, "--reps", 3, 1, 1000);
    /* At least one untimed step: the first pays for first-touch allocations and the resize
     * maps of its patch size. */
    int warmup = args_int(&a, "--warmup", 1, 1, 1000);
    const char *plist = args_str(&a, "--patches", NULL), *klist = args_str(&a, "--keeps", NULL);
    int br = args_choice(&a, "--branches", 2, branches) + 1;
    const char *out = args_str(&a, "--out", NULL);
    args_finish(&a, "cost");
    if (out == NULL)
        user_error("cost: --out STUDY.h5 is required");

    size_t n;
    Strategy *grid;
    if (plist != NULL || klist != NULL) {
        double pv[64], kv[64];
        int pi[64];
        size_t np = plist ? parse_list("--patches", plist, pv, 64, 1, c.vcfg.S) : 1;
        size_t nk = klist ? parse_list("--keeps", klist, kv, 64, 1e-9, 1) : 1;
        if (!plist) pv[0] = c.vcfg.P0;
        if (!klist) kv[0] = 1.0;
        for (size_t i = 0; i < np; i++)
            pi[i] = (int)pv[i];
        grid = study_grid(&c.vcfg, pi, np, kv, nk, br, &n);
    } else {
        grid = study_default_grid(&c.vcfg, &n);
        if (br != 3) {
            size_t m = 1;
            for (size_t i = 1; i < n; i++)
                if ((int)grid[i].branches == br)
                    grid[m++] = grid[i];
            n = m;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (vit_shape_error(&c.vcfg, (VitShape){grid[i].P, grid[i].keep, 0}) != NULL)
            user_error("%s", vit_shape_error(&c.vcfg, (VitShape){grid[i].P, grid[i].keep, 0}));

    struct stat sb;
    int exists = stat(out, &sb) == 0;
    h5out_check_writable(out);
    if (exists) {
        hid_t f = h5in_open(out);
        int has = h5_exists(f, "/gradstats");
        h5in_close(f);
        if (has)
            user_error("--out %s already holds /gradstats measured on its strategies; write "
                       "the cost table to a new study file", out);
    }

    printf("hasten cost | method %s | ViT width %d depth %d p0 %d on %dx%d | batch %d | "
           "%zu strategies | %d timed steps after %d | threads %d | device %s\n",
           method_name(c.method), c.vcfg.C, c.vcfg.L, c.vcfg.P0, c.vcfg.S, c.vcfg.S, c.B, n,
           reps, warmup, omp_get_max_threads(), c.device);
    method_init(&me, c.method, &c.vcfg, &c.mcfg, backend_by_name(c.device), c.B, c.seed);
    double t0 = now_seconds();
    Dataset train, test;
    dataset_load(&train, &test, c.dataset, c.data_path[0] ? c.data_path : NULL);
    double data_sec = cost_data_seconds(&me, &train, c.B, reps, warmup);
    dataset_free(&train);
    dataset_free(&test);
    CostRow *rows = cost_measure(&me, grid, n, c.B, reps, warmup, data_sec, &unit);

    H5Out *o = h5out_begin(out, exists);
    hid_t f = h5out_file(o);
    study_write_strategies(f, grid, n);
    study_write_table(f, "/cost", (const double *)rows, n, COST_COLS, COST_COLUMNS,
                      "per-sample cost of one training step of each strategy: FLOPs, median "
                      "seconds per step (gradient, update and the data pipeline), budget units "
                      "per sample measured (cost_units) and from the FLOP model, both relative "
                      "to strategy 0");
    h5_attr_f64(f, "/cost", "unit_seconds_per_sample", unit);
    h5_attr_f64(f, "/cost", "data_seconds_per_step", data_sec);
    h5_attr_str(f, "/cost", "unit", "one forward pass of one sample through the "
                "uncompressed base model");
    h5_attr_i64(f, "/cost", "batch", c.B);
    h5_attr_i64(f, "/cost", "reps", reps);
    h5_attr_i64(f, "/cost", "threads", omp_get_max_threads());
    h5_attr_str(f, "/cost", "method", method_name(c.method));
    h5_attr_str(f, "/cost", "device", c.device);
    train_config_write(f, &c);
    h5out_commit(o);
    printf("wrote /strategies and /cost of %zu strategies to %s in %.1f s\n", n, out,
           now_seconds() - t0);
    free(rows);
    free(grid);
    method_free(&me);
    return 0;
}


/* The checkpoint of the run closest to a stage fraction (within 0.1: checkpoints land on the
 * first step past their fraction), or a user error. */
static long stage_checkpoint(hid_t f, const char *run, double frac, double *found)
{
    size_t n;
    long *steps = checkpoint_list(f, &n), best = -1;
    double bestd = 1e9;
    char g[96];

    for (size_t i = 0; i < n; i++) {
        checkpoint_name(g, sizeof g, steps[i]);
        double fr = h5_attr_get_f64(f, g, "fraction");
        if (fabs(fr - frac) < bestd) {
            bestd = fabs(fr - frac);
            best = steps[i];
            *found = fr;
        }
    }
    free(steps);
    if (best < 0 || bestd > 0.1)
        user_error("%s: no checkpoint within 0.1 of stage %g (train it with --stages "
                   "including %g)", run, frac, frac);
    return best;
}


int cli_gradstats(int argc, char **argv)
{
    TrainConfig c;
    Args a;
    GradstatsConfig gc;
    double stages[32];

    args_init(&a, argc, argv);
    if (args_flag(&a, "--help")) {
        printf("usage: hasten gradstats RUN.h5 --out STUDY.h5 [--stages 0,0.25,0.5,0.75,1]\n"
               "  [--draws K (6)] [--ref-draws K0 (12)] [--batch B (64)] [--groups]\n"
               "  [--device cpu|cuda]\n"
               "  At each stage checkpoint of RUN.h5, K minibatch gradients per strategy of\n"
               "  STUDY.h5's /strategies (after hasten cost; else the default grid), compared\n"
               "  with K0 of strategy 0: bias2, variance, CA-MSE with 95%% intervals.\n");
        return 0;
    }
    const char *st = args_str(&a, "--stages", "0,0.25,0.5,0.75,1");
    size_t nst = parse_list("--stages", st, stages, 32, 0, 1);
    gc.draws = args_int(&a, "--draws", 6, 2, 100000);
    gc.ref_draws = args_int(&a, "--ref-draws", 12, 2, 100000);
    gc.batch = args_int(&a, "--batch", 64, 2, 65536);
    gc.per_group = args_flag(&a, "--groups");
    const char *dev = args_str(&a, "--device", NULL);
    const char *out = args_str(&a, "--out", NULL);
    const char *run = args_positional(&a);
    args_finish(&a, "gradstats");
    if (run == NULL || out == NULL)
        user_error("gradstats: usage: hasten gradstats RUN.h5 --out STUDY.h5 [--stages ...]");

    hid_t rf = h5in_open(run);
    train_config_read(rf, &c, run);
    if (dev != NULL)
        snprintf(c.device, sizeof c.device, "%s", dev);
    gc.seed = c.seed + 1000;
    gc.var_scale = (double)gc.batch / c.B;

    /* Strategies and their relative costs: measured when the study has them. */
    struct stat sb;
    int exists = stat(out, &sb) == 0;
    h5out_check_writable(out);
    size_t n;
    Strategy *grid;
    double *rel = NULL;
    Method me;
    method_init(&me, c.method, &c.vcfg, &c.mcfg, backend_by_name(c.device), gc.batch, c.seed);
    if (exists) {
        hid_t sf = h5in_open(out);
        grid = study_read_strategies(sf, out, &n);
        if (h5_exists(sf, "/cost")) {
            size_t nc;
            double *cost = study_read_table(sf, out, "/cost", COST_COLS, &nc);
            if (nc != n)
                user_error("%s: /cost has %zu rows, /strategies %zu", out, nc, n);
            rel = xmalloc(n * sizeof(double));
            for (size_t i = 0; i < n; i++)
                rel[i] = cost[i * COST_COLS + 4];
            free(cost);
        }
        h5in_close(sf);
    } else {
        grid = study_default_grid(&c.vcfg, &n);
    }
    if (rel == NULL) {
        rel = xmalloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            rel[i] = method_step_flops(&me, grid[i], 1) / method_step_flops(&me, grid[0], 1);
    }

    Dataset train, test;
    dataset_load(&train, &test, c.dataset, c.data_path[0] ? c.data_path : NULL);
    printf("hasten gradstats %s | method %s | %zu strategies x %zu stages | %d draws (strategy "
           "0: %d) of batch %d | variance scaled by %g to the training batch %d | costs %s\n",
           run, method_name(c.method), n, nst, gc.draws, gc.ref_draws, gc.batch, gc.var_scale,
           c.B, exists ? "measured (/cost)" : "FLOP model");
    long stage_step[32];
    double stage_frac[32];
    for (size_t k = 0; k < nst; k++)
        stage_step[k] = stage_checkpoint(rf, run, stages[k], &stage_frac[k]);
    double t0 = now_seconds();
    double *rows = xmalloc(nst * n * GS_COLS * sizeof(double)), *grows = NULL;
    size_t ngrows = 0;
    char **gnames = NULL;
    int ngroups = 0;
    for (size_t k = 0; k < nst; k++) {
        TrainState ts;
        checkpoint_read(rf, run, stage_step[k], &me, &ts);
        GradstatsStage gs = gradstats_stage(&me, &train, grid, n, rel, stage_frac[k],
                                            stage_step[k], (int)k, &gc);
        memcpy(rows + k * n * GS_COLS, gs.rows, n * GS_COLS * sizeof(double));
        if (gc.per_group) {
            ngroups = gs.ngroups;
            size_t m = n * (size_t)ngroups * (GS_COLS + 1);
            grows = realloc(grows, (ngrows + m) * sizeof(double));
            CHECK_ALLOC(grows);
            memcpy(grows + ngrows, gs.group_rows, m * sizeof(double));
            ngrows += m;
            if (gnames == NULL) {
                gnames = gs.group_names;
                gs.group_names = NULL;
                gs.ngroups = 0;
            }
        }
        gradstats_stage_free(&gs);
    }
    double secs = now_seconds() - t0;
    size_t nck;
    long *cks = checkpoint_list(rf, &nck);
    char g[96];
    checkpoint_name(g, sizeof g, cks[nck - 1]);
    double base_wall = h5_attr_get_f64(rf, g, "wall_seconds");
    free(cks);
    h5in_close(rf);

    H5Out *o = h5out_begin(out, exists);
    hid_t f = h5out_file(o);
    if (!exists) {
        study_write_strategies(f, grid, n);
        train_config_write(f, &c);
    }
    study_write_table(f, "/gradstats", rows, nst * n, GS_COLS, GS_COLUMNS,
                      "per stage and strategy: gradient-estimation error against strategy 0 "
                      "(bias2 debiased, bias2_raw, var of one minibatch gradient, cvar = "
                      "rel_cost * var scaled to the training batch, camse = bias2 + cvar), "
                      "_rel: divided by norm_ref = |mean g_0|^2; _lo/_hi: 95% intervals");
    h5_attr_str(f, "/gradstats", "run", run);
    h5_attr_i64(f, "/gradstats", "draws", gc.draws);
    h5_attr_i64(f, "/gradstats", "ref_draws", gc.ref_draws);
    h5_attr_i64(f, "/gradstats", "batch", gc.batch);
    h5_attr_f64(f, "/gradstats", "var_scale", gc.var_scale);
    h5_attr_f64(f, "/gradstats", "seconds", secs);
    h5_attr_f64(f, "/gradstats", "baseline_wall_seconds", base_wall);
    h5_attr_str(f, "/gradstats", "intervals", "95%, delete-one jackknife over draws, Student t "
                "with Welch-Satterthwaite degrees of freedom");
    if (gc.per_group) {
        const char *cols[GS_COLS + 1];
        cols[0] = GS_COLUMNS[0]; cols[1] = GS_COLUMNS[1]; cols[2] = GS_COLUMNS[2];
        cols[3] = "group";
        for (int i = 3; i < GS_COLS; i++)
            cols[i + 1] = GS_COLUMNS[i];
        study_write_table(f, "/gradstats_groups", grows, ngrows / (GS_COLS + 1), GS_COLS + 1,
                          cols, "as /gradstats, restricted to one parameter group");
        h5_attr_strs(f, "/gradstats_groups", "groups", (size_t)ngroups,
                     (const char *const *)gnames);
    }
    h5out_commit(o);
    printf("gradstats: %.0f s for %zu stages x %zu strategies (the baseline run trained for "
           "%.0f s: %.0f%%) -> %s\n", secs, nst, n, base_wall, 100 * secs / base_wall, out);
    for (int q = 0; q < ngroups; q++)
        free(gnames[q]);
    free(gnames);
    free(grows);
    free(rows);
    free(rel);
    free(grid);
    dataset_free(&train);
    dataset_free(&test);
    method_free(&me);
    return 0;
}
