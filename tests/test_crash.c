/* test_crash.c: crash safety of `hasten train`. A tiny run with a checkpoint every tenth of
 * its budget is killed with SIGKILL at seeded random moments and while a checkpoint is being
 * written; each time the run file must still open, hold a prefix of the uninterrupted run's
 * checkpoints with the same parameters, and `--resume` must end bitwise where the
 * uninterrupted run ended. A second writer of the same file must refuse at once, and a run
 * that diverges (a NaN injected through HASTEN_TEST_INJECT_NAN_STEP) must stop naming the
 * step and the tensor, keeping its last good checkpoint.
 * The program runs as a child (posix_spawn of /bin/sh -c "exec ..."), never a fork of this
 * process, which would risk libgomp's post-fork hang. */
#include "check.h"
#include "test_util.h"

#include "checkpoint.h"
#include "common.h"
#include "h5io.h"
#include "rng.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TRAIN_ARGS "train --preset tiny --budget 8000 --eval-every 0 --seed 5 " \
                   "--stages 0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1"

static char dir[64];
static char ref[128];        /* the uninterrupted run */
static long *ref_steps;      /* its checkpoints */
static size_t ref_n;
static double ref_seconds;   /* how long it ran */
static double ref_first;     /* when its file first appeared (start-up and data loading) */


static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}


/* Starts `HASTEN_BIN args` with stdout and stderr into log; env_extra ("NAME=value" or NULL)
 * joins the environment. Returns the pid of the program itself (sh execs it). */
static pid_t start(const char *args, const char *log, const char *env_extra)
{
    char cmd[1024];
    char *argv[] = {"sh", "-c", cmd, NULL};
    pid_t pid;

    snprintf(cmd, sizeof cmd, "%s exec %s %s > %s 2>&1", env_extra ? env_extra : "",
             check_hasten_bin(), args, log);
    HASSERT(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0);
    return pid;
}


/* The exit status of pid, or 128 + the signal that killed it. */
static int finish(pid_t pid)
{
    int st;

    while (waitpid(pid, &st, 0) < 0)
        HASSERT(errno == EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}


static int exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}


static long *steps_of(const char *path, size_t *n)
{
    hid_t f = h5in_open(path);
    long *s = checkpoint_list(f, n);

    h5in_close(f);
    return s;
}


/* Max |a - b| over the datasets of group g of checkpoint `step` in two files; 1e30 when one
 * is missing or shapes differ. */
static double max_diff(const char *fa, const char *fb, long step, const char *part)
{
    char g[160], path[512];
    hid_t a = h5in_open(fa), b = h5in_open(fb);
    size_t n;
    double worst;

    checkpoint_name(g, sizeof g, step);
    snprintf(path, sizeof path, "%s/%s", g, part);
    if (!h5_exists(a, path) || !h5_exists(b, path)) {
        h5in_close(a);
        h5in_close(b);
        return 1e30;
    }
    char **names = h5_list(a, path, &n);
    worst = n ? 0 : 1e30;
    for (size_t i = 0; i < n; i++) {
        char p[768];
        int ra, rb;
        size_t da[H5IO_MAX_RANK], db[H5IO_MAX_RANK], len = 1;
        snprintf(p, sizeof p, "%s/%s", path, names[i]);
        if (!h5_exists(b, p)) {
            worst = 1e30;
            continue;
        }
        float *x = h5_read(a, p, H5IO_F32, H5IO_ANY, NULL, &ra, da);
        float *y = h5_read(b, p, H5IO_F32, H5IO_ANY, NULL, &rb, db);
        for (int d = 0; d < ra; d++)
            len *= da[d];
        if (ra != rb || memcmp(da, db, (size_t)ra * sizeof da[0]) != 0)
            worst = 1e30;
        else
            for (size_t j = 0; j < len; j++)
                worst = fmax(worst, memcmp(&x[j], &y[j], sizeof x[j]) == 0 ? 0
                             : fabs((double)x[j] - y[j]) + 1e-30);
        free(x);
        free(y);
    }
    h5_free_strs(names, n);
    h5in_close(a);
    h5in_close(b);
    return worst;
}


/* The checkpoints of path are a prefix of the reference's, and the last of them holds the
 * reference's parameters and optimizer state bit for bit. Returns how many it holds. */
static size_t check_prefix(const char *path, const char *what)
{
    char name[256], det[256];
    size_t n;
    long *s = steps_of(path, &n);
    int prefix = n <= ref_n;

    for (size_t i = 0; prefix && i < n; i++)
        prefix = s[i] == ref_steps[i];
    snprintf(name, sizeof name, "%s: checkpoints are a prefix of the uninterrupted run's", what);
    snprintf(det, sizeof det, "%zu of %zu, last step %ld", n, ref_n, n ? s[n - 1] : -1L);
    check_true(prefix, name, det);
    if (prefix && n > 0) {
        const char *parts[] = {"params", "adam_m", "adam_v"};
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "%s: last checkpoint's %s equal the reference's", what,
                     parts[i]);
            check_close(max_diff(path, ref, s[n - 1], parts[i]), 0, 0, name);
        }
    }
    free(s);
    return n;
}


static int h5dump_ok(const char *path)
{
    char cmd[512];

    snprintf(cmd, sizeof cmd, "h5dump -H %s > /dev/null 2>&1", path);
    return system(cmd) == 0;
}


/* 1 when any "<base>.tmp-*" or "<base>.lock" is in the test folder. */
static int litter(const char *base)
{
    char cmd[512];

    snprintf(cmd, sizeof cmd, "ls %s.tmp-* %s.lock > /dev/null 2>&1", base, base);
    return system(cmd) == 0;
}


/* The uninterrupted run; while it runs, two other writers of its file must refuse at once. */
static void test_reference_and_lock(void)
{
    char args[512], log[160], name[256], det[512];

    snprintf(ref, sizeof ref, "%s/ref.h5", dir);
    snprintf(args, sizeof args, TRAIN_ARGS " --out %s", ref);
    snprintf(log, sizeof log, "%s/ref.log", dir);
    double t0 = now_seconds();
    pid_t pid = start(args, log, NULL);

    /* Its first save (checkpoint 0) makes the file; resume and a fresh run of the same path
     * must both stop at once with exit 2 and a message naming it. */
    while (!exists(ref) && now_seconds() - t0 < 60)
        sleep_s(0.005);
    ref_first = now_seconds() - t0;
    const char *second[2][2] = {
        {"--resume", "is being written by another process"},
        {"--preset tiny --out", "exists; continue it with --resume"},
    };
    for (int i = 0; i < 2; i++) {
        char cmd[512], err[160];
        snprintf(err, sizeof err, "%s/second%d.log", dir, i);
        snprintf(cmd, sizeof cmd, "%s train %s %s > %s 2>&1", check_hasten_bin(),
                 second[i][0], ref, err);
        double t1 = now_seconds();
        int rc = system(cmd);
        double secs = now_seconds() - t1;
        char *msg = test_slurp(err);
        int alive = kill(pid, 0) == 0;
        snprintf(name, sizeof name, "second writer (train %s) refuses at once while the first "
                 "runs", second[i][0]);
        snprintf(det, sizeof det, "exit %d in %.2f s (first still running: %d): %.300s",
                 WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, secs, alive, msg);
        check_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 2 && strstr(msg, second[i][1]) != NULL &&
                   strstr(msg, ref) != NULL && secs < 5, name, det);
        free(msg);
    }

    int rc = finish(pid);
    ref_seconds = now_seconds() - t0;
    snprintf(det, sizeof det, "exit %d after %.1f s", rc, ref_seconds);
    check_true(rc == 0, "the uninterrupted run (and first writer) finishes", det);
    ref_steps = steps_of(ref, &ref_n);
    snprintf(det, sizeof det, "%zu checkpoints, last step %ld", ref_n,
             ref_n ? ref_steps[ref_n - 1] : -1L);
    check_true(ref_n == 11, "the uninterrupted run has 11 stage checkpoints", det);
    check_true(!litter(ref), "the uninterrupted run leaves no temp or lock file", NULL);
}


/* Kills a run at a moment chosen by `when` (seconds after start; < 0: at the -when'th time a
 * temp file appears, i.e. during a save), then checks the file and resumes it. */
static void kill_and_resume(int trial, double when)
{
    char out[160], args[512], log[160], tmp[192], what[96], det[256];
    double t0 = now_seconds();
    int seen = 0, present = 0;

    snprintf(out, sizeof out, "%s/kill%d.h5", dir, trial);
    snprintf(args, sizeof args, TRAIN_ARGS " --out %s", out);
    snprintf(log, sizeof log, "%s/kill%d.log", dir, trial);
    pid_t pid = start(args, log, NULL);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)pid);
    if (when >= 0) {
        sleep_s(when);
        snprintf(what, sizeof what, "kill %d at %.2f s", trial, when);
    } else {
        while (now_seconds() - t0 < 60 && kill(pid, 0) == 0) {
            int now = exists(tmp);
            seen += now && !present;
            present = now;
            if (seen >= (int)-when)
                break;
            sleep_s(0.0005);   /* a busy loop would take a core from the run it watches */
        }
        snprintf(what, sizeof what, "kill %d during save %d (temp file seen: %d)", trial,
                 (int)-when, present);
    }
    kill(pid, SIGKILL);
    int rc = finish(pid);
    snprintf(det, sizeof det, "status %d after %.2f s", rc, now_seconds() - t0);
    check_true(1, what, det);

    /* A file that exists must open, in h5dump as in hasten. */
    int had_file = exists(out);
    if (had_file) {
        char name[160];
        snprintf(name, sizeof name, "%s: h5dump reads the run file", what);
        check_true(h5dump_ok(out), name, out);
        check_prefix(out, what);
    }

    /* Resume (or start again when the kill came before the first save) to the end. */
    if (had_file)
        snprintf(args, sizeof args, "train --resume %s", out);
    char name[192];
    pid = start(args, log, NULL);
    rc = finish(pid);
    snprintf(name, sizeof name, "%s: %s to the end exits 0", what,
             had_file ? "resume" : "a fresh run");
    snprintf(det, sizeof det, "exit %d, log %s", rc, log);
    check_true(rc == 0, name, det);
    size_t n;
    long *s = steps_of(out, &n);
    snprintf(name, sizeof name, "%s: resumed run has all the checkpoints", what);
    check_true(n == ref_n && s[n - 1] == ref_steps[ref_n - 1], name, NULL);
    const char *parts[] = {"params", "adam_m", "adam_v", "target"};
    for (int i = 0; i < 4 && n == ref_n; i++) {
        snprintf(name, sizeof name, "%s: final %s bitwise equal the uninterrupted run's", what,
                 parts[i]);
        check_close(max_diff(out, ref, s[n - 1], parts[i]), 0, 0, name);
    }
    free(s);
    snprintf(name, sizeof name, "%s: no temp or lock file left after the resume", what);
    check_true(!litter(out), name, NULL);
}


/* A NaN in the gradient of step 15: the run stops with an error naming the step and the
 * tensor, and the file holds the checkpoints before it, unchanged. */
static void test_divergence(void)
{
    char out[160], args[512], log[160], det[600];

    snprintf(out, sizeof out, "%s/nan.h5", dir);
    snprintf(args, sizeof args, TRAIN_ARGS " --out %s", out);
    snprintf(log, sizeof log, "%s/nan.log", dir);
    int rc = finish(start(args, log, "HASTEN_TEST_INJECT_NAN_STEP=15 "
                          "HASTEN_TEST_INJECT_NAN_TENSOR=blocks.1.attn.qkv.weight"));
    char *msg = test_slurp(log);
    const char *err = strstr(msg, "error: ");
    snprintf(det, sizeof det, "exit %d: %.400s", rc, err ? err : "(no error line)");
    check_true(rc != 0 && err != NULL && strstr(err, "diverged at step 15") != NULL &&
               strstr(err, "blocks.1.attn.qkv.weight") != NULL && strstr(err, out) != NULL,
               "divergence: exit non-zero naming the step, the tensor and the file", det);
    free(msg);
    check_true(h5dump_ok(out), "divergence: h5dump reads the run file", out);
    size_t n = check_prefix(out, "divergence");
    size_t want = 0;
    while (want < ref_n && ref_steps[want] <= 15)
        want++;
    snprintf(det, sizeof det, "%zu checkpoints, expected %zu (steps <= 15)", n, want);
    check_true(n == want, "divergence: every checkpoint before the NaN is kept", det);
    check_true(!litter(out), "divergence: no temp or lock file left", NULL);
}


static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}


int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/hasten-test-crash-XXXXXX");
    if (mkdtemp(dir) == NULL)
        die_at(__FILE__, __LINE__, __func__, NULL, "mkdtemp failed: %s", strerror(errno));

    test_reference_and_lock();
    if (ref_n == 11) {
        /* Two kills while a save is under way, then seeded moments between the first save
         * and the end (the machine's load moves the end, so a kill may come after it). */
        Rng r = rng_stream(20240611, 0, 0, 0);
        kill_and_resume(0, -3.0);
        kill_and_resume(1, -6.0);
        for (int t = 2; t <= 2; t++)
            kill_and_resume(t, ref_first + 0.9 * (ref_seconds - ref_first) * rng_uniform(&r));
        test_divergence();
    }
    free(ref_steps);

    int rc = check_summary();
    if (rc == 0)
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
