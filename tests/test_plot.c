/* test_plot.c: `hasten plot` end to end: study files written here with h5io (strategies,
 * costs, gradient statistics with NaN and negative values, two runs, one with a NaN in the
 * middle of its kNN column, a schedule), drawn by build/hasten through system(), and the
 * images checked: present, non-empty, PNG signature, no temp or empty file left; then the
 * error paths: no /runs or /schedule, no /gradstats, gnuplot missing, gnuplot failing or
 * writing an empty file (a fake gnuplot), a file that is not a study. Run from the repo root. */
#include "check.h"
#include "common.h"
#include "gradstats.h"
#include "h5io.h"
#include "study.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HASTEN "build/hasten"

static const char *const FIGS[] = {"cost", "gradstats", "knn", "lr_decay", "schedule"};
#define NFIG 5

static char g_work[256];

enum { T_STRAT = 1, T_COST = 2, T_GS = 4, T_RUNS = 8, T_SCHED = 16, T_ALL = 31, T_ONEKIND = 32 };


/* ---- the study files ---- */

static Strategy *make_strategies(size_t *n)
{
    static const int Ps[] = {4, 5, 7, 9};
    static const float keeps[] = {1.0f, 0.75f, 0.5f, 0.25f, 0.1f};
    Strategy *s = xmalloc(64 * sizeof *s);

    *n = 0;
    s[(*n)++] = (Strategy){4, 1.0f, COMPRESS_NONE};
    for (int b = 1; b <= 2; b++)
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 5; k++)
                if (!(Ps[i] == 4 && k == 0))
                    s[(*n)++] = (Strategy){Ps[i], keeps[k], (CompressBranches)b};
    return s;
}


static double rel_cost(Strategy s)
{
    double tokens = (28.0 / s.P) * (28.0 / s.P) * s.keep / 49.0;
    return s.branches == COMPRESS_BOTH ? 0.913 * tokens + 0.0385 : 0.627 * tokens + 0.385;
}


static void write_cost(hid_t f, const Strategy *s, size_t n)
{
    static const char *const cols[6] = {"flops_per_sample", "seconds_per_step", "cost_units",
                                        "cost_units_flop", "rel_cost", "rel_flops"};
    double *t = xcalloc(n * 6, sizeof *t);

    for (size_t i = 0; i < n; i++) {
        t[i * 6 + 2] = t[i * 6 + 4] = t[i * 6 + 5] = i == 0 ? 1.0 : rel_cost(s[i]);
        t[i * 6 + 0] = 2.385e6 * t[i * 6 + 4];
    }
    t[7 * 6 + 4] = NAN; /* one cell not measured: drawn as n/a */
    study_write_table(f, "/cost", t, n, 6, cols, "test costs");
    free(t);
}


/* Stage k, strategy j: variance falls and bias grows with training; a few debiased bias²
 * values are negative and a few entries missing. */
static void write_gradstats(hid_t f, const Strategy *s, size_t n)
{
    static const double stages[] = {0.0, 0.25, 0.5, 1.0};
    double *t = xcalloc(4 * n * GS_COLS, sizeof *t);

    for (size_t k = 0; k < 4; k++)
        for (size_t j = 0; j < n; j++) {
            double *r = t + (k * n + j) * GS_COLS, c = j == 0 ? 1.0 : rel_cost(s[j]);
            double comp = 1.0 - s[j].keep * 16.0 / (s[j].P * s[j].P);
            double b2 = (0.0137 + 0.31 * stages[k]) * comp * comp * (j % 3 ? 1.0 : 1.7);
            double var = 2.385 * exp(-2.6 * stages[k]) * (1.0 + 0.6 * comp);
            r[0] = stages[k];
            r[1] = 1000.0 * k;
            r[2] = (double)j;
            r[5] = c;
            if (j == 0 || j == 3 || j == 17)
                b2 = -0.0001 * (1 + k); /* debiased below the noise */
            double q[3] = {b2, c * var * 0.1, b2 + c * var * 0.1};
            for (int m = 0; m < 3; m++) {
                int col = m == 0 ? 22 : m == 1 ? 25 : 28;
                r[col] = q[m];
                r[col + 1] = q[m] - 0.3 * fabs(q[m]) - 0.002;
                r[col + 2] = q[m] + 0.4 * fabs(q[m]) + 0.002;
            }
        }
    t[(2 * n + 3) * GS_COLS + 28] = NAN;
    t[(1 * n + 6) * GS_COLS + 22] = NAN;
    study_write_table(f, "/gradstats", t, 4 * n, GS_COLS, GS_COLUMNS, "test gradstats");
    free(t);
}


static void write_run(hid_t f, const char *name, const char *label, const char *kind,
                      const char *decay, double scale, int nan_mid)
{
    static const char *const ecols[5] = {"step", "budget", "fraction", "knn_top1",
                                         "linear_top1"};
    static const char *const ccols[8] = {"step", "budget", "wall_s", "loss", "lr", "P", "keep",
                                         "grad_norm"};
    const double total = 2.385e6;
    double ev[9 * 5], cv[200 * 8];
    char obj[128];

    for (int i = 0; i < 9; i++) {
        double t = i / 8.0;
        double *e = ev + i * 5;
        e[0] = 100 * i;
        e[1] = t * total;
        e[2] = t;
        e[3] = 0.1 + scale * (1 - exp(-3.1 * t));
        e[4] = NAN;
    }
    for (int i = 0; i < 9; i++)
        if ((nan_mid == 1 && i == 4) || nan_mid == 2)
            ev[i * 5 + 3] = NAN;
    for (int i = 0; i < 200; i++) {
        double t = i / 199.0, *c = cv + i * 8;
        double warm = t < 0.05 ? t / 0.05 : 1;
        double decay_t = t < 0.05 ? 0 : (t - 0.05) / 0.95;
        double d = strcmp(decay, "poly") == 0 ? pow(1 - decay_t, 2)
                                              : 0.5 * (1 + cos(M_PI * decay_t));
        c[0] = 4.5 * i;
        c[1] = t * total;
        c[2] = 0.5 * i;
        c[3] = 5.0 - 2 * t;
        c[4] = 1.5e-3 * warm * d;
        c[5] = 4;
        c[6] = 1;
        c[7] = 1.0;
    }
    snprintf(obj, sizeof obj, "/runs/%s/eval", name);
    study_write_table(f, obj, ev, 9, 5, ecols, "test eval");
    snprintf(obj, sizeof obj, "/runs/%s/curve", name);
    study_write_table(f, obj, cv, 200, 8, ccols, "test curve");
    snprintf(obj, sizeof obj, "/runs/%s", name);
    h5_attr_str(f, obj, "label", label);
    h5_attr_str(f, obj, "kind", kind);
    h5_attr_str(f, obj, "lr_decay", decay);
    h5_attr_f64(f, obj, "final_knn", ev[8 * 5 + 3]);
}


static void write_study(const char *path, int what)
{
    static const char *const scols[4] = {"start", "P", "keep", "branches"};
    static const double sched[3 * 4] = {0.0, 9, 0.5, 1, 0.4, 7, 0.75, 1, 0.8, 4, 1.0, 0};
    H5Out *o = h5out_begin(path, 0);
    hid_t f = h5out_file(o);
    size_t n;
    Strategy *s = make_strategies(&n);

    if (what & T_STRAT)
        study_write_strategies(f, s, n);
    if (what & T_COST)
        write_cost(f, s, n);
    if (what & T_GS)
        write_gradstats(f, s, n);
    if (what & T_RUNS) {
        write_run(f, "baseline", "baseline", "baseline", "cosine", 0.62, 0);
        write_run(f, "sched", "searched schedule \"v1\"", "schedule", "poly", 0.66, 1);
    }
    if (what & T_ONEKIND) {
        write_run(f, "base", "baseline", "baseline", "cosine", 0.62, 0);
        write_run(f, "drop", "best token dropout (P4 r0.5)", "token", "cosine", 0.6, 2);
    }
    if (what & T_SCHED)
        study_write_table(f, "/schedule", sched, 3, 4, scols, "test schedule");
    if (what == 0)
        h5_attr_str(f, ".", "note", "an HDF5 file that is no study");
    h5out_commit(o);
    free(s);
}


/* ---- helpers ---- */

static long fsize(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}


static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}


/* Runs `env hasten plot args` with output into g_work/out.txt; returns the exit status. */
static int plot(const char *env, const char *args, char *out, size_t nout)
{
    char cmd[1024], op[300];

    snprintf(op, sizeof op, "%s/out.txt", g_work);
    snprintf(cmd, sizeof cmd, "%s %s plot %s > %s 2>&1", env, HASTEN, args, op);
    int st = system(cmd);
    FILE *f = fopen(op, "r");
    size_t n = f ? fread(out, 1, nout - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}


static int png_magic(const char *path)
{
    unsigned char b[8] = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    size_t n = fread(b, 1, 8, f);
    fclose(f);
    return n == 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0;
}


/* Every file in dir non-empty and no temp file: returns the number of offenders, naming them. */
static int bad_files(const char *dir, char *detail, size_t n)
{
    DIR *d = opendir(dir);
    int bad = 0;
    struct dirent *e;

    detail[0] = '\0';
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char p[600];
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (fsize(p) <= 0 || strstr(e->d_name, ".tmp-") != NULL) {
            bad++;
            strncat(detail, e->d_name, n - strlen(detail) - 2);
            strncat(detail, " ", n - strlen(detail) - 1);
        }
    }
    closedir(d);
    return bad;
}


static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}


/* Checks every figure's PNG and vector file in dir. */
static void check_figures(const char *dir, const char *vec, const char *tag)
{
    char p[600], name[200], detail[600];

    for (int i = 0; i < NFIG; i++) {
        snprintf(p, sizeof p, "%s/%s.png", dir, FIGS[i]);
        snprintf(name, sizeof name, "%s: %s.png non-empty PNG", tag, FIGS[i]);
        snprintf(detail, sizeof detail, "observed size %ld, signature %s; expected > 0, PNG",
                 fsize(p), png_magic(p) ? "PNG" : "other");
        check_true(fsize(p) > 0 && png_magic(p), name, detail);
        snprintf(p, sizeof p, "%s/%s.%s", dir, FIGS[i], vec);
        snprintf(name, sizeof name, "%s: %s.%s non-empty", tag, FIGS[i], vec);
        snprintf(detail, sizeof detail, "observed size %ld, expected > 0", fsize(p));
        check_true(fsize(p) > 0, name, detail);
    }
    int bad = bad_files(dir, p, sizeof p);
    snprintf(detail, sizeof detail, "observed %d empty or temp files (%s), expected 0", bad, p);
    snprintf(name, sizeof name, "%s: no empty or temp file left", tag);
    check_true(bad == 0, name, detail);
}


static void check_has(const char *out, const char *want, const char *name)
{
    char detail[900];
    snprintf(detail, sizeof detail, "expected the output to contain \"%s\"; observed: %.600s",
             want, out);
    check_true(strstr(out, want) != NULL, name, strstr(out, want) ? NULL : detail);
}


static void check_rc(int rc, int want_zero, const char *name, const char *out)
{
    char detail[900];
    snprintf(detail, sizeof detail, "observed exit %d, expected %s; output: %.500s", rc,
             want_zero ? "0" : "non-zero", out);
    check_true(want_zero ? rc == 0 : rc != 0, name, detail);
}


/* The folder printed after "data files kept in " into kept. */
static void kept_dir(const char *out, char *kept, size_t n)
{
    const char *k = strstr(out, "data files kept in ");
    kept[0] = '\0';
    if (k != NULL)
        snprintf(kept, n, "%.*s", (int)strcspn(k + 19, "\n"), k + 19);
}


/* Counts the lines of path that contain needle. */
static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int n = 0;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}


/* ---- the cases ---- */

static void test_full(void)
{
    char study[300], dir[300], args[800], out[8192], detail[600], kept[300] = "";

    snprintf(study, sizeof study, "%s/full.h5", g_work);
    snprintf(dir, sizeof dir, "%s/figs", g_work);
    write_study(study, T_ALL);
    snprintf(args, sizeof args, "%s --out-dir %s --keep-data", study, dir);
    int rc = plot("", args, out, sizeof out);
    check_rc(rc, 1, "full study: exit status", out);
    check_figures(dir, "pdf", "full study");
    int lines = 0;
    for (const char *p = out; (p = strstr(p, ".png ")) != NULL; p++)
        lines++;
    snprintf(detail, sizeof detail, "observed %d, expected %d", lines, NFIG);
    check_true(lines == NFIG, "full study: one line per figure", detail);
    check_true(strstr(out, "warning") == NULL, "full study: gnuplot made no remark",
               strstr(out, "warning") ? out : NULL);

    /* The data behind the figures: NaN where the run's kNN is missing, negative bias² as
     * NaN on the log axis. */
    kept_dir(out, kept, sizeof kept);
    char p[400];
    snprintf(p, sizeof p, "%s/runs_knn.dat", kept);
    int nan = count_lines(p, "NaN");
    snprintf(detail, sizeof detail, "observed %d NaN rows in %s, expected 1", nan, p);
    check_true(nan == 1, "full study: kNN gap written as NaN", detail);
    snprintf(p, sizeof p, "%s/gs_all.dat", kept);
    nan = count_lines(p, "NaN");
    snprintf(detail, sizeof detail, "observed %d rows with NaN in %s, expected >= 12", nan, p);
    check_true(nan >= 12, "full study: non-positive bias² written as NaN", detail);

    snprintf(args, sizeof args, "rm -rf %s", kept);
    if (kept[0] && system(args) != 0)
        printf("note: could not remove %s\n", kept);

    /* SVG, into the default folder: the study's name without .h5, plus _figures. */
    snprintf(args, sizeof args, "%s --format svg", study);
    rc = plot("", args, out, sizeof out);
    check_rc(rc, 1, "svg: exit status", out);
    snprintf(dir, sizeof dir, "%s/full_figures", g_work);
    check_figures(dir, "svg", "svg, default folder");
}


static void test_partial(void)
{
    char study[300], dir[300], args[800], out[8192];

    snprintf(study, sizeof study, "%s/nosched.h5", g_work);
    snprintf(dir, sizeof dir, "%s/nosched_figs", g_work);
    write_study(study, T_STRAT | T_COST | T_GS);
    snprintf(args, sizeof args, "%s --out-dir %s", study, dir);
    int rc = plot("", args, out, sizeof out);
    check_rc(rc, 1, "no /runs, no /schedule: exit status", out);
    check_figures(dir, "pdf", "no /runs, no /schedule");
    check_has(out, "no /runs", "no /runs: noted");
    check_has(out, "no /schedule", "no /schedule: noted");

    snprintf(study, sizeof study, "%s/nogs.h5", g_work);
    snprintf(dir, sizeof dir, "%s/nogs_figs", g_work);
    write_study(study, T_STRAT | T_COST | T_RUNS | T_SCHED);
    snprintf(args, sizeof args, "%s --out-dir %s", study, dir);
    rc = plot("", args, out, sizeof out);
    check_rc(rc, 1, "no /gradstats: exit status", out);
    check_has(out, "no /gradstats", "no /gradstats: says which table is missing");
    check_has(out, "hasten gradstats", "no /gradstats: says which command makes it");
    check_figures(dir, "pdf", "no /gradstats");

    /* Runs of one decay only, one of them without any finite kNN value: the figures say so. */
    char kept[300], p[400], cmd[400], detail[600];
    snprintf(study, sizeof study, "%s/onekind.h5", g_work);
    snprintf(dir, sizeof dir, "%s/onekind_figs", g_work);
    write_study(study, T_STRAT | T_ONEKIND);
    snprintf(args, sizeof args, "%s --out-dir %s --keep-data", study, dir);
    rc = plot("", args, out, sizeof out);
    check_rc(rc, 1, "one decay kind: exit status", out);
    check_figures(dir, "pdf", "one decay kind");
    kept_dir(out, kept, sizeof kept);
    snprintf(p, sizeof p, "%s/vars.gp", kept);
    int n = count_lines(p, "only cosine-decay runs in onekind.h5");
    snprintf(detail, sizeof detail, "observed %d lines in %s, expected 1", n, p);
    check_true(n == 1, "one decay kind: the lr figure says so", detail);
    snprintf(p, sizeof p, "%s/runs_knn.dat", kept);
    n = count_lines(p, "# run ");
    snprintf(detail, sizeof detail, "observed %d runs in %s, expected 1 (the all-NaN run "
             "left out)", n, p);
    check_true(n == 1, "all-NaN kNN run: not drawn", detail);
    snprintf(p, sizeof p, "%s/vars.gp", kept);
    n = count_lines(p, "no /gradstats in onekind.h5");
    check_true(n == 1, "no /gradstats: the figure says so inside", NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", kept);
    if (kept[0] && system(cmd) != 0)
        printf("note: could not remove %s\n", kept);
}


static void test_errors(void)
{
    char study[300], dir[300], args[800], out[8192], env[600], fake[300], detail[300];

    snprintf(study, sizeof study, "%s/full.h5", g_work);
    snprintf(dir, sizeof dir, "%s/nognuplot", g_work);
    snprintf(env, sizeof env, "mkdir -p %s/empty && PATH=%s/empty", g_work, g_work);
    snprintf(args, sizeof args, "%s --out-dir %s", study, dir);
    int rc = plot(env, args, out, sizeof out);
    check_rc(rc, 0, "gnuplot missing: exit status", out);
    check_has(out, "gnuplot is not on PATH", "gnuplot missing: says so");
    check_true(!exists(dir), "gnuplot missing: no output folder or file", exists(dir) ?
               "observed the folder, expected none" : NULL);

    /* A fake gnuplot that fails, then one that writes an empty file and says it succeeded. */
    snprintf(fake, sizeof fake, "%s/fakebin", g_work);
    mkdir(fake, 0755);
    snprintf(args, sizeof args, "%s/gnuplot", fake);
    FILE *f = fopen(args, "w");
    CHECK_FOPEN(f, args);
    fprintf(f, "#!/bin/sh\n"
               "out=$(printf '%%s' \"$2\" | sed -n 's/.*out = \"\\([^\"]*\\)\".*/\\1/p')\n"
               ": > \"$out\"\n"
               "[ -e %s/fail ] || exit 0\n"
               "echo 'line 7: fake gnuplot: undefined variable: boom' >&2\n"
               "exit 1\n", fake);
    fclose(f);
    chmod(args, 0755);

    snprintf(args, sizeof args, "touch %s/fail", fake);
    if (system(args) != 0)
        printf("note: %s failed\n", args);
    snprintf(env, sizeof env, "PATH=%s:$PATH", fake);
    snprintf(dir, sizeof dir, "%s/failing", g_work);
    snprintf(args, sizeof args, "%s --out-dir %s", study, dir);
    rc = plot(env, args, out, sizeof out);
    check_rc(rc, 0, "gnuplot failing: exit status", out);
    check_has(out, "undefined variable: boom", "gnuplot failing: its stderr quoted");
    snprintf(detail, sizeof detail, "observed %d files, expected 0", count_files(dir));
    check_true(count_files(dir) <= 0, "gnuplot failing: no file left", detail);

    snprintf(args, sizeof args, "%s/fail", fake);
    unlink(args);
    snprintf(dir, sizeof dir, "%s/emptyout", g_work);
    snprintf(args, sizeof args, "%s --out-dir %s", study, dir);
    rc = plot(env, args, out, sizeof out);
    check_rc(rc, 0, "gnuplot writing empty files: exit status", out);
    check_has(out, "an empty file", "gnuplot writing empty files: says so");
    snprintf(detail, sizeof detail, "observed %d files, expected 0", count_files(dir));
    check_true(count_files(dir) <= 0, "gnuplot writing empty files: no file left", detail);

    /* An HDF5 file that holds none of a study's tables; a file that does not exist. */
    snprintf(study, sizeof study, "%s/nothing.h5", g_work);
    write_study(study, 0);
    snprintf(dir, sizeof dir, "%s/nothing_figs", g_work);
    snprintf(args, sizeof args, "%s --out-dir %s", study, dir);
    rc = plot("", args, out, sizeof out);
    check_rc(rc, 0, "not a study: exit status", out);
    check_has(out, "not a hasten study file", "not a study: says so");
    check_true(!exists(dir), "not a study: no output folder", NULL);

    snprintf(args, sizeof args, "%s/absent.h5", g_work);
    rc = plot("", args, out, sizeof out);
    check_rc(rc, 0, "missing study file: exit status", out);
    check_has(out, "absent.h5", "missing study file: names it");
}


int main(void)
{
    snprintf(g_work, sizeof g_work, "/tmp/hasten-test-plot-XXXXXX");
    if (mkdtemp(g_work) == NULL || access(HASTEN, X_OK) != 0) {
        check_true(0, "setup", "needs " HASTEN " (make all) and a writable /tmp; run from the "
                   "repository root");
        return check_summary();
    }
    test_full();
    test_partial();
    test_errors();

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_work);
    /* HASTEN_TEST_KEEP=1 keeps the studies and figures, to look at them. */
    const char *keep = getenv("HASTEN_TEST_KEEP");
    if (check_nfail != 0 || (keep != NULL && *keep == '1'))
        printf("note: files kept in %s\n", g_work);
    else if (system(cmd) != 0)
        printf("note: could not remove %s\n", g_work);
    return check_summary();
}
