/* test_search.c: the schedule search: the K-phase dynamic programme against brute force on
 * random tables, the argmin rule on a hand-made table, the clamp of negative CA-MSE, the text
 * and HDF5 round trips of a schedule, and `hasten search` (build/hasten) on study files the
 * test writes, error paths included. Tables are camse[stage][strategy]. */
#include "check.h"

#include "common.h"
#include "gradstats.h"
#include "h5io.h"
#include "rng.h"
#include "search.h"
#include "study.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS 3

static const Strategy STRATS[NS] = {{4, 1.0f, COMPRESS_NONE}, {7, 0.5f, COMPRESS_ONLINE},
                                    {14, 0.1f, COMPRESS_BOTH}};
static char dir[64];


static int same_schedule(const Schedule *a, const Schedule *b)
{
    if (a->n != b->n)
        return 0;
    for (int p = 0; p < a->n; p++)
        if (a->start[p] != b->start[p] || a->strat[p].P != b->strat[p].P ||
            a->strat[p].keep != b->strat[p].keep || a->strat[p].branches != b->strat[p].branches)
            return 0;
    return 1;
}


static void describe(const Schedule *s, char *buf, size_t n)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int p = 0; p < s->n && off < n; p++)
        off += (size_t)snprintf(buf + off, n - off, "%s[%.4g: P%d %.2g %s]", p ? " " : "",
                                s->start[p], s->strat[p].P, (double)s->strat[p].keep,
                                compress_name(s->strat[p].branches));
}


/* A random table: nst increasing stages in [0, 1], CA-MSE log-normal around 1 with now and
 * then a negative value (the debiased estimate can be). */
static void random_table(Rng *r, size_t nst, double *stage, double *camse)
{
    double t = 0.0;

    for (size_t k = 0; k < nst; k++) {
        t += 0.05 + rng_uniform(r);
        stage[k] = t;
    }
    for (size_t k = 0; k < nst; k++)
        stage[k] /= t + (nst > 1 ? 0.2 * rng_uniform(r) : 0.5);
    for (size_t k = 0; k < nst * NS; k++)
        camse[k] = rng_uniform(r) < 0.08 ? -0.3 * rng_uniform(r) : exp(1.3 * rng_normal(r));
}


/* The best schedule of at most K phases switching on cells of a grid of G, by enumerating
 * every set of switch cells and every strategy per phase; *best_int gets its integral. */
static Schedule brute_force(const double *stage, size_t nst, const double *camse, int K, int G,
                            double *best_int)
{
    Schedule best, cand;

    memset(&best, 0, sizeof best);
    *best_int = INFINITY;
    for (unsigned mask = 0; mask < (1u << (G - 1)); mask++) {
        int np = 1 + __builtin_popcount(mask);
        if (np > K)
            continue;
        int combos = 1;
        for (int p = 0; p < np; p++)
            combos *= NS;
        for (int code = 0; code < combos; code++) {
            memset(&cand, 0, sizeof cand);
            cand.n = np;
            for (int c = 1, p = 1; c < G; c++)
                if (mask & (1u << (c - 1)))
                    cand.start[p++] = (double)c / G;
            for (int p = 0, x = code; p < np; p++, x /= NS)
                cand.strat[p] = STRATS[x % NS];
            double v = search_integral(&cand, stage, nst, camse, STRATS, NS, G);
            if (v < *best_int) {
                *best_int = v;
                best = cand;
            }
        }
    }
    /* Equal neighbours cost the same as one phase: compare the merged form. */
    Schedule m;
    memset(&m, 0, sizeof m);
    for (int p = 0; p < best.n; p++)
        if (m.n == 0 || search_strategy_index(STRATS, NS, m.strat[m.n - 1]) !=
                        search_strategy_index(STRATS, NS, best.strat[p])) {
            m.start[m.n] = best.start[p];
            m.strat[m.n++] = best.strat[p];
        }
    return m;
}


static void test_dp_vs_brute_force(void)
{
    const int G = 8;
    int bad_int = 0, bad_sched = 0, bad_const = 0, total = 0, multi = 0;
    double worst = 0.0;
    char detail[512], a[200], b[200];

    for (int table = 0; table < 20; table++) {
        Rng r = rng_stream(2385, 91, (uint64_t)table, 0);
        size_t nst = 1 + (size_t)table % 5;
        double stage[5], camse[5 * NS];
        random_table(&r, nst, stage, camse);
        for (int K = 1; K <= 3; K++) {
            double dp_int, bf_int;
            Schedule dp = search_kphase(stage, nst, camse, STRATS, NS, K, G, &dp_int);
            Schedule bf = brute_force(stage, nst, camse, K, G, &bf_int);
            double err = fabs(dp_int - bf_int);
            total++;
            multi += dp.n > 1;
            worst = fmax(worst, err);
            if (!(err <= 1e-12))
                bad_int++;
            if (!same_schedule(&dp, &bf)) {
                if (bad_sched++ == 0) {
                    describe(&dp, a, sizeof a);
                    describe(&bf, b, sizeof b);
                    printf("  table %d K %d: dp %s, brute force %s\n", table, K, a, b);
                }
            }
            /* The integral the DP reports is the integral of the schedule it returns. */
            double again = search_integral(&dp, stage, nst, camse, STRATS, NS, G);
            if (!(fabs(again - dp_int) <= 1e-12))
                bad_int++;
            if (K == 1) {
                double c_best = INFINITY;
                int i_best = -1;
                for (int i = 0; i < NS; i++) {
                    Schedule c = schedule_constant(STRATS[i]);
                    double v = search_integral(&c, stage, nst, camse, STRATS, NS, G);
                    if (v < c_best) {
                        c_best = v;
                        i_best = i;
                    }
                }
                if (dp.n != 1 || search_strategy_index(STRATS, NS, dp.strat[0]) != i_best ||
                    !(fabs(dp_int - c_best) <= 1e-12))
                    bad_const++;
            }
        }
    }
    snprintf(detail, sizeof detail, "%d of %d (table, K) cases differ in the minimum (worst "
             "|dp - brute| %.3g, expected <= 1e-12)", bad_int, total, worst);
    check_true(bad_int == 0, "kphase minimum equals brute force (grid 8, 3 strategies, K 1..3)",
               detail);
    snprintf(detail, sizeof detail, "%d of %d cases return another schedule (expected 0); "
             "%d of them switch", bad_sched, total, multi);
    check_true(bad_sched == 0 && multi >= total / 4, "kphase schedule equals brute force's "
               "(at least a quarter of the optima switching)", detail);
    snprintf(detail, sizeof detail, "%d of 20 tables where K=1 is not the best constant "
             "strategy (expected 0)", bad_const);
    check_true(bad_const == 0, "K=1 gives the best constant strategy", detail);
}


static void test_argmin(void)
{
    /* Winners: stage 0.1 -> #1, 0.4 -> #2, 0.7 -> #2, 0.9 -> #0; switches halfway. */
    const double stage[4] = {0.1, 0.4, 0.7, 0.9};
    const double camse[4 * NS] = {3.1, 1.2, 2.5,   2.2, 0.93, 0.41,   1.7, 0.8, 0.65,
                                  0.31, 0.82, 0.71};
    Schedule want, got = search_argmin(stage, 4, camse, STRATS, NS);
    char a[200], b[200], detail[512];

    memset(&want, 0, sizeof want);
    want.n = 3;
    want.start[0] = 0.0, want.strat[0] = STRATS[1];
    want.start[1] = 0.25, want.strat[1] = STRATS[2];
    want.start[2] = 0.8, want.strat[2] = STRATS[0];
    describe(&got, a, sizeof a);
    describe(&want, b, sizeof b);
    snprintf(detail, sizeof detail, "observed %s, expected %s", a, b);
    check_true(same_schedule(&got, &want), "argmin: winner per stage, switch at midpoints, "
               "equal neighbours merged", detail);

    /* A negative (debiased) CA-MSE is the least value: the argmin takes it as measured. */
    const double neg[1 * NS] = {0.5, -0.2, 0.1};
    got = search_argmin((const double[]){0.5}, 1, neg, STRATS, NS);
    snprintf(detail, sizeof detail, "observed %d phase(s), strategy #%d; expected 1, #1", got.n,
             search_strategy_index(STRATS, NS, got.strat[0]));
    check_true(got.n == 1 && got.strat[0].P == STRATS[1].P, "argmin of one stage", detail);
}


static void test_one_winner(void)
{
    /* Strategy 2 is the others divided by constant factors: its log curve lies below theirs
     * by a constant everywhere, so no schedule can beat it. */
    const double stage[5] = {0.0, 0.25, 0.5, 0.75, 1.0};
    double camse[5 * NS];
    const double base[5] = {4.7, 2.385, 0.91, 0.63, 0.58};
    char detail[256];
    double v;

    for (int k = 0; k < 5; k++) {
        camse[k * NS + 0] = 3.0 * base[k];
        camse[k * NS + 1] = 1.7 * base[k];
        camse[k * NS + 2] = base[k];
    }
    Schedule kp = search_kphase(stage, 5, camse, STRATS, NS, 3, 200, &v);
    Schedule am = search_argmin(stage, 5, camse, STRATS, NS);
    snprintf(detail, sizeof detail, "kphase %d phase(s) #%d, argmin %d phase(s) #%d; expected "
             "1 phase #2 each", kp.n, search_strategy_index(STRATS, NS, kp.strat[0]), am.n,
             search_strategy_index(STRATS, NS, am.strat[0]));
    check_true(kp.n == 1 && am.n == 1 && kp.strat[0].P == 14 && am.strat[0].P == 14,
               "one best strategy everywhere gives one phase", detail);
    Schedule c = schedule_constant(STRATS[2]);
    check_close(v, search_integral(&c, stage, 5, camse, STRATS, NS, 200), 1e-12,
                "its integral is the constant strategy's");
}


static void test_clamp(void)
{
    const double stage[3] = {0.0, 0.5, 1.0};
    const double camse[3 * NS] = {2.385, -0.4, 0.0,   1.25, -1e-3, 0.7,   0.9, -2.0, -0.1};
    double *d = search_density(stage, 3, camse, NS, 50), v;
    int finite = 1;
    double lo = INFINITY;
    char detail[256];

    for (int c = 0; c < NS * 50; c++) {
        finite &= isfinite(d[c]) && d[c] > 0;
        lo = fmin(lo, d[c]);
    }
    snprintf(detail, sizeof detail, "every density finite and > 0: %s", finite ? "yes" : "no");
    check_true(finite, "negative CA-MSE clamped: no NaN", detail);
    /* Strategy 1 is negative at every stage: flat at the floor, 1e-6 of the largest value. */
    check_close(d[1 * 50 + 17] / (SEARCH_FLOOR_REL * 2.385), 1.0, 1e-12,
                "an all-negative strategy sits at 1e-6 of the table's maximum");
    free(d);
    Schedule s = search_kphase(stage, 3, camse, STRATS, NS, 2, 100, &v);
    snprintf(detail, sizeof detail, "observed %d phase(s) #%d, integral %.3g; expected 1 phase "
             "#1, finite", s.n, search_strategy_index(STRATS, NS, s.strat[0]), v);
    check_true(s.n == 1 && s.strat[0].P == 7 && isfinite(v), "kphase picks the clamped strategy",
               detail);
}


/* A schedule with awkward keeps and starts on a 200-cell grid, as search_kphase makes. */
static Schedule sample_schedule(void)
{
    Schedule s;

    memset(&s, 0, sizeof s);
    s.n = 4;
    s.start[0] = 0.0, s.strat[0] = (Strategy){14, 0.1f, COMPRESS_BOTH};
    s.start[1] = 37.0 / 200, s.strat[1] = (Strategy){7, 0.75f, COMPRESS_ONLINE};
    s.start[2] = 111.0 / 200, s.strat[2] = (Strategy){5, 0.3f, COMPRESS_ONLINE};
    s.start[3] = 173.0 / 200, s.strat[3] = (Strategy){4, 1.0f, COMPRESS_NONE};
    return s;
}


static void test_round_trips(void)
{
    VitConfig cfg = {28, 1, 4, 64, 2, 2, 2, 1e-6f};
    Schedule s = sample_schedule(), back;
    char path[128], detail[512], a[200], b[200];

    snprintf(path, sizeof path, "%s/round.schedule.txt", dir);
    schedule_write(&s, path, "test_search round trip");
    schedule_read(&back, path, &cfg);
    describe(&back, a, sizeof a);
    describe(&s, b, sizeof b);
    snprintf(detail, sizeof detail, "observed %s, expected %s", a, b);
    check_true(same_schedule(&back, &s), "schedule round-trips through the text form", detail);

    double rows[SCHEDULE_MAX_PHASES * SEARCH_TABLE_COLS];
    snprintf(path, sizeof path, "%s/round.h5", dir);
    search_schedule_to_table(&s, rows);
    H5Out *o = h5out_begin(path, 0);
    study_write_table(h5out_file(o), "/schedule", rows, (size_t)s.n, SEARCH_TABLE_COLS,
                      SEARCH_TABLE_COLUMNS, "test");
    h5out_commit(o);
    hid_t f = h5in_open(path);
    size_t n;
    double *r = study_read_table(f, path, "/schedule", SEARCH_TABLE_COLS, &n);
    h5in_close(f);
    const char *err = search_schedule_from_table(&back, r, n);
    describe(&back, a, sizeof a);
    snprintf(detail, sizeof detail, "observed %s (%s), expected %s", a, err ? err : "valid", b);
    check_true(err == NULL && same_schedule(&back, &s),
               "schedule round-trips through the HDF5 /schedule table", detail);

    r[4 * 2 + 2] = 1.5;
    err = search_schedule_from_table(&back, r, n);
    snprintf(detail, sizeof detail, "message: %s", err ? err : "(none)");
    check_true(err != NULL && strstr(err, "row 2") != NULL, "a keep of 1.5 is refused, naming "
               "the row", detail);
    free(r);
}


/* Runs build/hasten with output in dir/log.txt; returns the exit status. */
static int run(const char *args)
{
    char cmd[1024];

    snprintf(cmd, sizeof cmd, "build/hasten search %s > %s/log.txt 2>&1", args, dir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}


static int log_has(const char *needle)
{
    char path[128], buf[8192];
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "%s/log.txt", dir);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}


/* A study with /strategies and, when with_gradstats, a /gradstats whose camse_rel column is
 * the given table (rows stored stage-major, the stages in reverse order), split 40/60 into
 * bias2_rel and cvar_rel (the search reads max(bias2, 0) + cvar; the table is positive). */
static void write_study(const char *path, int with_gradstats, const double *stage, size_t nst,
                        const double *camse)
{
    H5Out *o = h5out_begin(path, 0);
    hid_t f = h5out_file(o);

    study_write_strategies(f, STRATS, NS);
    if (with_gradstats) {
        double *rows = xcalloc(nst * NS * GS_COLS, sizeof(double));
        for (size_t k = 0; k < nst; k++)
            for (size_t i = 0; i < NS; i++) {
                double *r = rows + ((nst - 1 - k) * NS + i) * GS_COLS;
                r[0] = stage[k];
                r[2] = (double)i;
                r[7] = 4.0 * camse[k * NS + i];
                r[16] = 6.0 * camse[k * NS + i];
                r[19] = 10.0 * camse[k * NS + i];
                r[22] = 0.4 * camse[k * NS + i];
                r[25] = 0.6 * camse[k * NS + i];
                r[28] = camse[k * NS + i];
            }
        study_write_table(f, "/gradstats", rows, nst * NS, GS_COLS, GS_COLUMNS, "test");
        free(rows);
    }
    h5out_commit(o);
}


static void test_cli(void)
{
    const double stage[3] = {0.0, 0.5, 1.0};
    const double camse[3 * NS] = {3.1, 1.2, 0.45,   2.2, 0.93, 1.41,   0.31, 0.82, 1.71};
    char bare[128], study[128], args[512], out[160], detail[512], a[200], b[200];
    int rc;

    if (access("build/hasten", X_OK) != 0) {
        check_true(0, "hasten search end to end", "build/hasten is missing; run from the "
                   "repository root after make");
        return;
    }
    snprintf(bare, sizeof bare, "%s/bare.h5", dir);
    snprintf(study, sizeof study, "%s/study.h5", dir);
    write_study(bare, 0, NULL, 0, NULL);
    write_study(study, 1, stage, 3, camse);

    snprintf(args, sizeof args, "%s --budget 5000", bare);
    rc = run(args);
    snprintf(detail, sizeof detail, "exit %d (expected 2), message names the file and "
             "/gradstats: %s", rc, log_has(bare) && log_has("/gradstats") ? "yes" : "no");
    check_true(rc == 2 && log_has(bare) && log_has("/gradstats"),
               "search on a study without /gradstats", detail);

    const char *bad[][2] = {{"--budget 5000 --phases 0", "--phases"},
                            {"--budget 0", "--budget"},
                            {"--budget -3", "--budget"},
                            {"", "--budget"},
                            {"--budget 5000 --phases 4 --grid 3", "--grid"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "%s %s", study, bad[i][0]);
        rc = run(args);
        snprintf(detail, sizeof detail, "'%s': exit %d (expected 2), message names %s: %s",
                 bad[i][0], rc, bad[i][1], log_has(bad[i][1]) ? "yes" : "no");
        check_true(rc == 2 && log_has(bad[i][1]), "search refuses a bad flag", detail);
    }

    snprintf(out, sizeof out, "%s/study.schedule.txt", dir);
    snprintf(args, sizeof args, "%s --budget 5000 --phases 2 --grid 40", study);
    rc = run(args);
    snprintf(detail, sizeof detail, "exit %d (expected 0)", rc);
    check_true(rc == 0 && log_has("K-phase optimum"), "search on a valid study", detail);

    double want_int;
    Schedule want = search_kphase(stage, 3, camse, STRATS, NS, 2, 40, &want_int), got, txt;
    hid_t f = h5in_open(study);
    size_t n;
    double *r = study_read_table(f, study, "/schedule", SEARCH_TABLE_COLS, &n);
    double integral = h5_attr_get_f64(f, "/schedule", "integral");
    long long K = h5_attr_get_i64(f, "/schedule", "phases");
    int has_argmin = h5_exists(f, "/schedule_argmin");
    h5in_close(f);
    const char *err = search_schedule_from_table(&got, r, n);
    free(r);
    describe(&got, a, sizeof a);
    describe(&want, b, sizeof b);
    snprintf(detail, sizeof detail, "observed %s (%s), expected %s", a, err ? err : "valid", b);
    check_true(err == NULL && same_schedule(&got, &want) && K == 2 && has_argmin,
               "/schedule holds the K-phase optimum (and /schedule_argmin is there)", detail);
    check_close(integral, want_int, 1e-12, "/schedule integral attribute");

    VitConfig cfg = {28, 1, 4, 64, 2, 2, 2, 1e-6f};
    schedule_read(&txt, out, &cfg);
    describe(&txt, a, sizeof a);
    snprintf(detail, sizeof detail, "observed %s, expected %s", a, b);
    check_true(same_schedule(&txt, &want), "the default --schedule-out file holds it", detail);
}


int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_search.XXXXXX");
    if (mkdtemp(dir) == NULL)
        die_at(__FILE__, __LINE__, __func__, NULL, "mkdtemp failed");
    test_dp_vs_brute_force();
    test_argmin();
    test_one_winner();
    test_clamp();
    test_round_trips();
    test_cli();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("warning: could not remove %s\n", dir);
    return check_summary();
}
