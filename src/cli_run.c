/* cli_run.c: `hasten run`, the main job: a baseline run with stage checkpoints -> cost table
 * -> gradient statistics -> schedule search -> training runs with the searched schedule and
 * with the best constant token-dropout and patch-size strategies (and, in the study preset,
 * a polynomial-decay baseline) -> probes -> figures -> a summary table with the speed-up to
 * reach the baseline's final kNN accuracy, in budget and in wall-clock. Every step is the
 * same code as its own command, called in this process. Output: DIR/study.h5 (with /runs),
 * DIR/<run>.h5, DIR/schedule.txt, DIR/study_figures/. */
#include "args.h"
#include "cli.h"
#include "common.h"
#include "gradstats.h"
#include "h5io.h"
#include "study.h"
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct {
    const char *name;
    double budget, eval_every;
    const char *model_flags;     /* extra flags of every training run */
    const char *cost_flags, *gradstats_flags, *probe_flags;
    int poly_run;
    int measured_costs;          /* charge the budget with the measured cost table */
} Preset;

static const Preset PRESETS[] = {
    {"default", 1.5e5, 0.2, "--eval-train 5000 --eval-test 1000",
     "--patches 4,5,7,9,14 --keeps 1,0.5,0.25 --branches online --reps 2",
     "--draws 4 --ref-draws 8 --batch 32", "--subset-train 20000 --subset-test 5000", 0, 1},
    {"tiny", 3000, 0.25, "--preset tiny",
     "--patches 4,7 --keeps 1,0.5 --branches online --reps 3 --warmup 1",
     "--draws 3 --ref-draws 4 --batch 16", "--subset-train 512 --subset-test 256", 0, 0},
    {"study", 2.5e5, 0.1, "--eval-train 10000 --eval-test 2000", "--reps 3",
     "--draws 8 --ref-draws 16 --batch 64", "", 1, 1},
};


/* Splits a command line on spaces and calls a subcommand in this process. */
static int call(int (*cmd)(int, char **), const char *fmt, ...)
{
    char line[2048], *argv[64], *save = NULL;
    int argc = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("\n$ hasten %s\n", line);
    fflush(stdout);
    for (char *t = strtok_r(line, " ", &save); t && argc < 63; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    argv[argc] = NULL;
    /* argv[0] is the subcommand's name; the subcommands take what follows it. */
    return cmd(argc - 1, argv + 1);
}


typedef struct {
    char name[32], label[96], kind[16], path[600];
    double final_knn, final_lin, budget_total, wall_total;
    double reach_budget, reach_wall; /* where kNN first reaches the baseline's final kNN */
} RunSummary;


/* Budget and wall seconds at which the run's kNN first reaches target (linear interpolation
 * between evaluations); NaN when it never does. */
static void reach(RunSummary *r, const double *ev, size_t ne, const double *cu, size_t nc,
                  double target)
{
    r->reach_budget = r->reach_wall = NAN;
    for (size_t i = 0; i < ne; i++) {
        double acc = ev[i * 5 + 3];
        if (!(acc >= target - 1e-12))
            continue;
        double b = ev[i * 5 + 1];
        if (i > 0 && ev[(i - 1) * 5 + 3] < target) {
            double a0 = ev[(i - 1) * 5 + 3], b0 = ev[(i - 1) * 5 + 1];
            b = b0 + (b - b0) * (target - a0) / (acc - a0);
        }
        r->reach_budget = b;
        /* Wall seconds at that budget, from the curve (budget column 1, wall column 2). */
        r->reach_wall = 0;
        for (size_t j = 0; j < nc; j++)
            if (cu[j * 8 + 1] >= b) {
                double w1 = cu[j * 8 + 2], b1 = cu[j * 8 + 1];
                double w0 = j ? cu[(j - 1) * 8 + 2] : 0, bb0 = j ? cu[(j - 1) * 8 + 1] : 0;
                r->reach_wall = w0 + (w1 - w0) * (b - bb0) / fmax(b1 - bb0, 1e-300);
                break;
            }
        return;
    }
}


/* Copies a run's /eval and /curve into the study's /runs/<name>, with its labels. */
static void record_run(const char *study, RunSummary *r, const char *decay)
{
    hid_t f = h5in_open(r->path);
    size_t ne, nc, np;
    double *ev = study_read_table(f, r->path, "/eval", 5, &ne);
    double *cu = study_read_table(f, r->path, "/curve", 8, &nc);
    char **probes = h5_list(f, "/probe", &np), g[700];

    snprintf(g, sizeof g, "/probe/%s", probes[np - 1]);
    r->final_knn = h5_attr_get_f64(f, g, "knn_top1");
    r->final_lin = h5_attr_get_f64(f, g, "linear_top1");
    r->budget_total = nc ? cu[(nc - 1) * 8 + 1] : 0;
    r->wall_total = nc ? cu[(nc - 1) * 8 + 2] : 0;
    h5_free_strs(probes, np);
    h5in_close(f);

    H5Out *o = h5out_begin(study, 1);
    hid_t w = h5out_file(o);
    const char *ecols[5] = {"step", "budget", "fraction", "knn_top1", "linear_top1"};
    const char *ccols[8] = {"step", "budget", "wall_s", "loss", "lr", "P", "keep", "grad_norm"};
    snprintf(g, sizeof g, "/runs/%s/eval", r->name);
    study_write_table(w, g, ev, ne, 5, ecols, "copy of the run file's /eval");
    snprintf(g, sizeof g, "/runs/%s/curve", r->name);
    study_write_table(w, g, cu, nc, 8, ccols, "copy of the run file's /curve");
    snprintf(g, sizeof g, "/runs/%s", r->name);
    h5_attr_str(w, g, "label", r->label);
    h5_attr_str(w, g, "kind", r->kind);
    h5_attr_str(w, g, "lr_decay", decay);
    h5_attr_str(w, g, "file", r->path);
    /* final_knn: the last evaluation during training, on the same subsets as the curve it
     * ends (the figures draw it); probe_*: the probe after training. */
    h5_attr_f64(w, g, "final_knn", ne ? ev[(ne - 1) * 5 + 3] : NAN);
    h5_attr_f64(w, g, "probe_knn", r->final_knn);
    h5_attr_f64(w, g, "probe_linear", r->final_lin);
    h5out_commit(o);
    free(ev);
    free(cu);
}


/* The strategy of least CA-MSE averaged over the stages (trapezoid over stage fractions)
 * among those that pass the filter: token dropout only (P = P0, keep < 1) or patch only
 * (keep = 1, P > P0); -1 when none was measured. */
static int best_constant(const char *study, int family, int P0)
{
    hid_t f = h5in_open(study);
    size_t ns, ng;
    Strategy *s = study_read_strategies(f, study, &ns);
    double *g = study_read_table(f, study, "/gradstats", GS_COLS, &ng);
    size_t nst = ng / ns;
    int best = -1;
    double bestv = INFINITY;

    h5in_close(f);
    for (size_t i = 1; i < ns; i++) {
        int ok = family == 0 ? (s[i].P == P0 && s[i].keep < 1) : (s[i].keep == 1 && s[i].P > P0);
        if (!ok || s[i].branches != COMPRESS_ONLINE)
            continue;
        double area = 0;
        for (size_t k = 0; k < nst; k++) {
            double v = gs_camse_clamped(g + (k * ns + i) * GS_COLS, 1);
            double w = nst == 1 ? 1 : (k == 0 ? g[ns * GS_COLS] - g[0] :
                      k == nst - 1 ? g[k * ns * GS_COLS] - g[(k - 1) * ns * GS_COLS] :
                      g[(k + 1) * ns * GS_COLS] - g[(k - 1) * ns * GS_COLS]);
            area += 0.5 * w * v;
        }
        if (area < bestv) {
            bestv = area;
            best = (int)i;
        }
    }
    if (best >= 0) {
        printf("best constant %s strategy: #%d patch %d keep %.2f (mean CA-MSE/|g0|^2 %.3g)\n",
               family == 0 ? "token-dropout" : "patch-size", best, s[best].P,
               (double)s[best].keep, bestv);
    }
    free(s);
    free(g);
    return best;
}


static void print_summary(RunSummary *runs, int n, double target)
{
    printf("\nsummary (target: the baseline's final kNN top-1, %.2f%%)\n", 100 * target);
    printf("%-34s | %10s | %8s | %7s | %7s | %-22s | %-22s\n", "run", "budget", "wall s",
           "kNN %", "lin %", "budget to target", "wall s to target");
    for (int i = 0; i < n; i++) {
        RunSummary *r = &runs[i];
        char b[64], w[64];
        if (isnan(r->reach_budget)) {
            snprintf(b, sizeof b, "not reached");
            snprintf(w, sizeof w, "not reached");
        } else {
            snprintf(b, sizeof b, "%.3g (x%.2f)", r->reach_budget,
                     runs[0].reach_budget / r->reach_budget);
            snprintf(w, sizeof w, "%.0f (x%.2f)", r->reach_wall,
                     runs[0].reach_wall / fmax(r->reach_wall, 1e-9));
        }
        printf("%-34s | %10.4g | %8.0f | %7.2f | %7.2f | %-22s | %-22s\n", r->label,
               r->budget_total, r->wall_total, 100 * r->final_knn, 100 * r->final_lin, b, w);
    }
}


int cli_run(int argc, char **argv)
{
    static const char *const presets[] = {"default", "tiny", "study", NULL};
    static const char *const methods[] = {"moco", "simclr", "dino", NULL};
    Args a;
    char dir[512], study[600], sched[600];
    struct stat sb;

    args_init(&a, argc, argv);
    if (args_flag(&a, "--help")) {
        printf("usage: hasten run [--preset default|tiny|study] [--method moco|simclr|dino]\n"
               "                  [--out-dir DIR (out/<method>-<preset>-<time>)]\n"
               "                  [--device cpu|cuda]\n"
               "  baseline -> cost -> gradstats -> search -> schedule, best token-dropout and\n"
               "  best patch-size runs -> probes -> figures -> summary with speed-ups.\n");
        return 0;
    }
    const Preset *p = &PRESETS[args_choice(&a, "--preset", 0, presets)];
    int m = args_choice(&a, "--method", 0, methods);
    const char *dev = args_str(&a, "--device", "cpu");
    const char *od = args_str(&a, "--out-dir", NULL);
    args_finish(&a, "run");
    args_free(&a);
    if (od != NULL)
        snprintf(dir, sizeof dir, "%s", od);
    else {
        /* A new folder per run, named by time: a second `make run` never meets the first. */
        char stamp[32];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        snprintf(dir, sizeof dir, "out/%s-%s-%s", methods[m], p->name, stamp);
    }
    if (stat(dir, &sb) == 0)
        user_error("--out-dir %s exists; remove it or choose another (hasten run never "
                   "overwrites a study)", dir);
    mkdir("out", 0755);
    if (mkdir(dir, 0755) != 0)
        user_error("--out-dir %s: cannot create: %s", dir, strerror(errno));
    snprintf(study, sizeof study, "%s/study.h5", dir);
    snprintf(sched, sizeof sched, "%s/schedule.txt", dir);
    double t0 = now_seconds();

    printf("hasten run | preset %s | method %s | device %s | out %s\n", p->name, methods[m], dev,
           dir);
    RunSummary runs[6];
    int nr = 0;
    memset(runs, 0, sizeof runs);
#define TRAIN(nm, lbl, knd, extra) do { \
        RunSummary *r_ = &runs[nr++]; \
        snprintf(r_->name, sizeof r_->name, "%s", nm); \
        snprintf(r_->label, sizeof r_->label, "%s", lbl); \
        snprintf(r_->kind, sizeof r_->kind, "%s", knd); \
        snprintf(r_->path, sizeof r_->path, "%s/%s.h5", dir, nm); \
        if (call(cli_train, "train --method %s --budget %g --eval-every %g %s --device %s " \
                 "--out %s %s", methods[m], p->budget, p->eval_every, p->model_flags, dev, \
                 r_->path, extra) != 0) \
            user_error("run: training %s failed", nm); \
        if (call(cli_probe, "probe %s %s --device %s", r_->path, p->probe_flags, dev) != 0) \
            user_error("run: probing %s failed", nm); \
    } while (0)

    TRAIN("baseline", "baseline (uncompressed)", "baseline", "");
    call(cli_cost, "cost --run %s --out %s %s --device %s", runs[0].path, study, p->cost_flags,
         dev);
    call(cli_gradstats, "gradstats %s --out %s %s --device %s", runs[0].path, study,
         p->gradstats_flags, dev);
    call(cli_report, "report %s --best-only", study);
    call(cli_search, "search %s --budget %g --schedule-out %s", study, p->budget, sched);
    record_run(study, &runs[0], "cosine");

    char extra[1400];
    /* The tiny preset's steps take milliseconds, so their measured costs are mostly timer
     * noise: it charges the budget with the FLOP model; the other presets with /cost. */
    char cost_flag[700] = "";
    if (p->measured_costs)
        snprintf(cost_flag, sizeof cost_flag, "--cost %s", study);
    snprintf(extra, sizeof extra, "--schedule %s %s", sched, cost_flag);
    TRAIN("schedule", "searched schedule", "schedule", extra);
    record_run(study, &runs[nr - 1], "cosine");

    hid_t f = h5in_open(study);
    size_t ns;
    Strategy *s = study_read_strategies(f, study, &ns);
    h5in_close(f);
    for (int fam = 0; fam < 2; fam++) {
        int b = best_constant(study, fam, s[0].P);
        if (b < 0)
            continue;
        char nm[32], lbl[96];
        snprintf(nm, sizeof nm, "%s", fam == 0 ? "token" : "patch");
        snprintf(lbl, sizeof lbl, "best %s (P%d r%.2f)", fam == 0 ? "token dropout" :
                 "patch size", s[b].P, (double)s[b].keep);
        snprintf(extra, sizeof extra, "--patch %d --keep %g --compress online %s",
                 s[b].P, (double)s[b].keep, cost_flag);
        TRAIN(nm, lbl, fam == 0 ? "token" : "patch", extra);
        record_run(study, &runs[nr - 1], "cosine");
    }
    if (p->poly_run) {
        TRAIN("poly", "baseline, polynomial lr decay", "poly", "--decay poly");
        record_run(study, &runs[nr - 1], "poly");
    }
    free(s);

    /* Speed-ups against the baseline's final kNN. */
    double target = runs[0].final_knn;
    for (int i = 0; i < nr; i++) {
        hid_t rf = h5in_open(runs[i].path);
        size_t ne, nc;
        double *ev = study_read_table(rf, runs[i].path, "/eval", 5, &ne);
        double *cu = study_read_table(rf, runs[i].path, "/curve", 8, &nc);
        h5in_close(rf);
        /* The baseline's target is its own last evaluation during training, so that every
         * run is compared on the same evaluation subsets. */
        if (i == 0 && ne > 0)
            target = ev[(ne - 1) * 5 + 3];
        reach(&runs[i], ev, ne, cu, nc, target);
        free(ev);
        free(cu);
    }
    call(cli_plot, "plot %s", study);
    print_summary(runs, nr, target);
    printf("\nhasten run: %.0f s in all; study file %s, figures in %s/study_figures/\n",
           now_seconds() - t0, study, dir);
    return 0;
}
