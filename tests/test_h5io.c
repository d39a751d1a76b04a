/* test_h5io.c: the HDF5 layer: round trips of datasets, attributes and tables; atomic commit,
 * abort and a writer killed mid-write; the writer lock; user errors for bad inputs, unwritable
 * paths and a full disk (RLIMIT_FSIZE). User errors are provoked in forked children whose exit
 * status and stderr are checked. Files live in a fresh directory under /tmp. */
#include "h5io.h"
#include "common.h"
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char test_dir[256];
static char child_err[4096]; /* the stderr of the last child run */


/* dir/name, in one of a few rotating static buffers. */
static const char *tpath(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];

    snprintf(b, 512, "%s/%s", test_dir, name);
    return b;
}


/* The whole file in a malloc'd buffer; NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = xmalloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}


/* 1 when the file at path has exactly the bytes in want. */
static int same_bytes(const char *path, const char *want, size_t want_len)
{
    size_t len;
    char *have = slurp(path, &len);
    int same = have != NULL && len == want_len && memcmp(have, want, len) == 0;

    free(have);
    return same;
}


/* How many entries of the test directory contain ".tmp-". */
static int count_temps(void)
{
    DIR *d = opendir(test_dir);
    struct dirent *e;
    int n = 0;

    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}


/* Runs fn(arg) in a forked child with stderr captured into child_err; returns the wait status.
 * The parent must hold no open HDF5 file or H5Out when it forks. */
static int run_child(void (*fn)(const void *), const void *arg)
{
    const char *errpath = tpath("child.err");
    size_t len;
    int status;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    HASSERT(pid >= 0);
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        close(fd);
        fn(arg);
        exit(0);
    }
    waitpid(pid, &status, 0);
    char *err = slurp(errpath, &len);
    snprintf(child_err, sizeof child_err, "%s", err ? err : "");
    free(err);
    /* One line per check: inner newlines become " | ". */
    for (size_t i = strlen(child_err); i > 0 && child_err[i - 1] == '\n'; i--)
        child_err[i - 1] = '\0';
    for (char *nl = strchr(child_err, '\n'); nl != NULL; nl = strchr(nl, '\n'))
        *nl = '|';
    return status;
}


/* Checks that the child exited with status 2 (user_error) and said `phrase` on stderr. */
static void check_user_error(int status, const char *phrase, const char *name)
{
    char detail[4600];
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

    snprintf(detail, sizeof detail, "exit %d (expected 2), stderr \"%s\" (expected \"%s\")",
             code, child_err, phrase);
    check_true(code == 2 && strstr(child_err, phrase) != NULL, name, detail);
}


static void check_eq_ll(long long have, long long want, const char *name)
{
    char detail[128];

    snprintf(detail, sizeof detail, "observed %lld, expected %lld", have, want);
    check_true(have == want, name, detail);
}


static void check_str(const char *have, const char *want, const char *name)
{
    char detail[1024];

    snprintf(detail, sizeof detail, "observed \"%s\", expected \"%s\"", have, want);
    check_true(strcmp(have, want) == 0, name, detail);
}


/* ---- round trips ---- */

#define NF32 24
#define NF64 5
#define NI32 6
#define NI64 4

/* Writes one dataset of each type, scalars and attributes into a fresh roundtrip.h5. */
static void write_roundtrip(float *f32, double *f64, int *i32, long long *i64)
{
    const size_t d3[3] = {2, 3, 4}, d1[1] = {NF64}, d2[2] = {3, 2}, d4[1] = {NI64};
    const char *units[3] = {"steps", "budget units", "τ (temperature)"};
    double pi = 3.14159265358979;
    H5Out *out = h5out_begin(tpath("roundtrip.h5"), 0);
    hid_t f = h5out_file(out);

    for (int i = 0; i < NF32; i++)
        f32[i] = 2.385f * (float)(i - 7) / 3.0f;
    for (int i = 0; i < NF64; i++)
        f64[i] = -1.0 / (i + 2.385) * 1e-300;
    for (int i = 0; i < NI32; i++)
        i32[i] = -2147483647 + 1000003 * i;
    for (int i = 0; i < NI64; i++)
        i64[i] = 9007199254740993LL * (i % 2 ? -1 : 1) + i;

    h5_write(f, "/checkpoints/000100/blocks.0.attn.qkv.weight", H5IO_F32, 3, d3, f32);
    h5_write(f, "/data/f64", H5IO_F64, 1, d1, f64);
    h5_write(f, "/data/i32", H5IO_I32, 2, d2, i32);
    h5_write(f, "/data/i64", H5IO_I64, 1, d4, i64);
    h5_write(f, "/data/scalar", H5IO_F64, 0, NULL, &pi);
    h5_write(f, "/data/scalar", H5IO_F64, 0, NULL, &pi); /* replacing is allowed */

    hid_t g = h5_group(f, "/config");
    h5_attr_str(g, ".", "method", "mocov3");
    h5_attr_str(f, "/config", "note", "UTF-8: τ=0.2, ‖ḡ₀‖²");
    h5_attr_i64(f, "/config", "seed", -9007199254740993LL);
    h5_attr_i64(f, "/config", "seed", 4242424242424LL); /* replaces */
    h5_attr_f64(f, "/config", "lr", 2.385e-4);
    h5_attr_strs(f, "/config", "units", 3, units);
    h5_attr_str(f, "/data/f64", "units", "budget units");
    H5Gclose(g);

    /* A fixed-length string, as other tools write them, must read back too. */
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, 12);
    hid_t a = H5Acreate2(f, "fixed", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, "fixed-length");
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    h5out_commit(out);
}


static void test_roundtrip(void)
{
    float f32[NF32];
    double f64[NF64], pi;
    int i32[NI32];
    long long i64[NI64];
    const long want3[3] = {2, H5IO_ANY, 4};
    size_t dims[H5IO_MAX_RANK];
    int rank;

    write_roundtrip(f32, f64, i32, i64);
    hid_t f = h5in_open(tpath("roundtrip.h5"));

    float *r32 = h5_read(f, "/checkpoints/000100/blocks.0.attn.qkv.weight", H5IO_F32, 3, want3,
                         &rank, dims);
    check_true(rank == 3 && dims[0] == 2 && dims[1] == 3 && dims[2] == 4, "f32 shape [2,3,4]",
               NULL);
    check_true(memcmp(r32, f32, sizeof f32) == 0, "f32 values bit-identical", NULL);
    double *r64 = h5_read(f, "data/f64", H5IO_F64, 1, NULL, &rank, dims);
    check_true(rank == 1 && dims[0] == NF64 && memcmp(r64, f64, sizeof f64) == 0,
               "f64 values bit-identical (denormal range)", NULL);
    int *ri32 = h5_read(f, "/data/i32", H5IO_I32, H5IO_ANY, NULL, &rank, dims);
    check_true(rank == 2 && dims[0] == 3 && memcmp(ri32, i32, sizeof i32) == 0,
               "i32 values and shape [3,2]", NULL);
    long long *ri64 = h5_read(f, "/data/i64", H5IO_I64, 1, NULL, NULL, NULL);
    check_eq_ll(ri64[3], i64[3], "i64 beyond 2^53");
    double *rs = h5_read(f, "/data/scalar", H5IO_F64, 0, NULL, &rank, NULL);
    pi = 3.14159265358979;
    check_true(rank == 0 && *rs == pi, "scalar dataset rank 0", NULL);
    double *conv = h5_read(f, "/data/i32", H5IO_F64, 2, NULL, NULL, NULL);
    check_close(conv[5], (double)i32[5], 0, "i32 read as f64 converts");

    char *s = h5_attr_get_str(f, "/config", "method");
    check_str(s, "mocov3", "string attribute on a group");
    free(s);
    s = h5_attr_get_str(f, "/config", "note");
    check_str(s, "UTF-8: τ=0.2, ‖ḡ₀‖²", "UTF-8 string attribute");
    free(s);
    s = h5_attr_get_str(f, "data/f64", "units");
    check_str(s, "budget units", "string attribute on a dataset");
    free(s);
    s = h5_attr_get_str(f, ".", "fixed");
    check_str(s, "fixed-length", "fixed-length string attribute");
    free(s);
    check_eq_ll(h5_attr_get_i64(f, "/config", "seed"), 4242424242424LL,
                "int64 attribute, replaced");
    check_close(h5_attr_get_f64(f, "/config", "lr"), 2.385e-4, 0, "double attribute");
    size_t n;
    char **units = h5_attr_get_strs(f, "/config", "units", &n);
    check_true(n == 3 && strcmp(units[1], "budget units") == 0 &&
               strcmp(units[2], "τ (temperature)") == 0, "string-array attribute", NULL);
    h5_free_strs(units, n);
    check_true(h5_attr_exists(f, "/config", "lr") && !h5_attr_exists(f, "/config", "nope") &&
               !h5_attr_exists(f, "/nope", "lr"), "attribute existence", NULL);

    h5in_close(f);
    free(r32), free(r64), free(ri32), free(ri64), free(rs), free(conv);
}


/* ---- groups and tables ---- */

static const char *curve_cols[4] = {"step", "budget", "wall_s", "loss"};


static void test_groups_tables(void)
{
    const char *steps[3] = {"000300", "000100", "000200"};
    double rows[5][4];
    H5Out *out = h5out_begin(tpath("run.h5"), 0);
    hid_t f = h5out_file(out);

    H5Gclose(h5_group(f, "/a/b/c"));
    H5Gclose(h5_group(f, "/a/b/c")); /* opening an existing one is fine */
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof p, "/checkpoints/%s", steps[i]);
        H5Gclose(h5_group(f, p));
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            rows[i][j] = 100.0 * i + j + 0.385;
    h5_table_append(f, "/curve", 4, curve_cols, 3, rows[0]);
    h5_table_append(f, "/curve", 4, curve_cols, 2, rows[3]);
    h5_table_append(f, "/eval", 4, curve_cols, 0, NULL);
    h5out_commit(out);

    /* An update: copy aside, append, rename. */
    double extra[4] = {600.5, 601.5, 602.5, 603.5};
    out = h5out_begin(tpath("run.h5"), 1);
    h5_table_append(h5out_file(out), "curve", 4, curve_cols, 1, extra);
    h5out_commit(out);

    f = h5in_open(tpath("run.h5"));
    check_true(h5_exists(f, "/a") && h5_exists(f, "/a/b") && h5_exists(f, "a/b/c"),
               "nested groups exist", NULL);
    check_true(!h5_exists(f, "/a/x/y") && !h5_exists(f, "/nope") && h5_exists(f, "/"),
               "missing paths do not exist (no error stack printed)", NULL);
    size_t n;
    char **names = h5_list(f, "/checkpoints", &n);
    check_true(n == 3 && strcmp(names[0], "000100") == 0 && strcmp(names[2], "000300") == 0,
               "h5_list returns the checkpoints sorted", NULL);
    h5_free_strs(names, n);

    size_t nrows;
    int ncols;
    char **cols;
    double *t = h5_table_read(f, "/curve", &nrows, &ncols, &cols);
    check_eq_ll((long long)nrows, 6, "table rows after appends 3+2+1");
    check_eq_ll(ncols, 4, "table columns");
    check_true(t[4 * 4 + 3] == rows[4][3] && t[5 * 4 + 2] == 602.5, "table values",
               NULL);
    check_str(cols[3], "loss", "column name read back");
    check_eq_ll(h5_table_column(f, "/curve", "wall_s"), 2, "h5_table_column");
    h5_free_strs(cols, (size_t)ncols);
    free(t);
    t = h5_table_read(f, "/eval", &nrows, &ncols, NULL);
    check_true(nrows == 0 && ncols == 4, "empty table", NULL);
    free(t);
    h5in_close(f);
}


/* ---- atomicity ---- */

static void write_small(const char *path, double value)
{
    const size_t d[1] = {1};
    H5Out *out = h5out_begin(path, 0);

    h5_write(h5out_file(out), "/value", H5IO_F64, 1, d, &value);
    h5_attr_str(h5out_file(out), "/value", "units", "budget units");
    h5out_commit(out);
}


static void write_small_child(const void *arg)
{
    write_small(arg, 3.5);
}


static double read_value(const char *path)
{
    hid_t f = h5in_open(path);
    double *v = h5_read(f, "/value", H5IO_F64, 1, NULL, NULL, NULL), r = *v;

    h5in_close(f);
    free(v);
    return r;
}


static void test_commit_abort(void)
{
    const char *path = tpath("atomic.h5");
    const size_t d[1] = {1};
    double other = 7.5;
    size_t len;

    write_small(path, 1.25);
    write_small(path, 2.385);
    check_close(read_value(path), 2.385, 0, "commit replaces the file");
    check_eq_ll(count_temps(), 0, "no temp file after commit");
    check_true(access(tpath("atomic.h5.lock"), F_OK) != 0, "no lock file after commit", NULL);

    H5Out *out = h5out_begin(path, 1);
    h5_write(h5out_file(out), "/other", H5IO_F64, 1, d, &other);
    h5out_commit(out);
    hid_t f = h5in_open(path);
    check_true(h5_exists(f, "/value") && h5_exists(f, "/other"),
               "copy_existing keeps old content and adds new", NULL);
    h5in_close(f);

    char *before = slurp(path, &len);
    out = h5out_begin(path, 1);
    h5_write(h5out_file(out), "/value", H5IO_F64, 1, d, &other);
    h5out_abort(out);
    check_true(same_bytes(path, before, len), "abort leaves the old file byte-identical", NULL);
    check_eq_ll(count_temps(), 0, "no temp file after abort");
    free(before);
}


/* Child: starts an update, writes 8 MB, and is killed before commit. */
static void killed_writer(const void *arg)
{
    const size_t d[1] = {1 << 20};
    double *big = xcalloc(d[0], sizeof *big);
    H5Out *out = h5out_begin(arg, 1);

    h5_write(h5out_file(out), "/big", H5IO_F64, 1, d, big);
    h5_write(h5out_file(out), "/value", H5IO_F64, 1, d, big);
    raise(SIGKILL);
}


static void test_killed_writer(void)
{
    const char *path = tpath("atomic.h5");
    size_t len;
    char *before = slurp(path, &len);
    char detail[256];

    int status = run_child(killed_writer, path);
    check_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child killed mid-write",
               NULL);
    check_true(same_bytes(path, before, len), "old file byte-identical after kill", NULL);
    check_close(read_value(path), 2.385, 0, "old file opens and reads after kill");
    check_eq_ll(count_temps(), 1, "the killed writer's temp file is left behind");

    int st = run_child(write_small_child, path);
    check_true(WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
               strstr(child_err, "left by an interrupted writer") != NULL,
               "next begin warns about the stale temp file", child_err);
    snprintf(detail, sizeof detail, "value %g, temp files %d", read_value(path),
             count_temps());
    check_true(read_value(path) == 3.5 && count_temps() == 0,
               "and removes the stale temp file and commits", detail);
    free(before);
}


/* ---- the writer lock ---- */

static int lock_ready[2], lock_done[2];


/* Child: holds the lock until the parent closes lock_done. */
static void lock_holder(const void *arg)
{
    char c;
    int lk = h5lock_acquire(arg);

    close(lock_ready[0]);
    close(lock_done[1]);
    if (write(lock_ready[1], "x", 1) != 1)
        exit(3);
    while (read(lock_done[0], &c, 1) > 0)
        ;
    h5lock_release(lk);
}


static void lock_taker(const void *arg)
{
    h5lock_acquire(arg);
}


static void begin_taker(const void *arg)
{
    h5out_begin(arg, 1);
}


static void test_lock(void)
{
    const char *path = tpath("atomic.h5");
    char c, phrase[128];
    size_t len;
    char *before = slurp(path, &len);
    int status;

    HASSERT(pipe(lock_ready) == 0 && pipe(lock_done) == 0);
    fflush(stdout);
    pid_t holder = fork();
    HASSERT(holder >= 0);
    if (holder == 0) {
        lock_holder(path);
        _exit(0);
    }
    close(lock_ready[1]);
    close(lock_done[0]);
    HASSERT(read(lock_ready[0], &c, 1) == 1);

    snprintf(phrase, sizeof phrase, "(pid %ld", (long)holder);
    status = run_child(lock_taker, path);
    check_user_error(status, path, "second writer refused: names the path");
    check_user_error(status, phrase, "second writer refused: names the holder's pid");
    status = run_child(begin_taker, path);
    check_user_error(status, "is being written by another process", "h5out_begin refused too");
    check_true(same_bytes(path, before, len), "locked file untouched by the refused writer",
               NULL);

    close(lock_done[1]);
    waitpid(holder, &status, 0);
    close(lock_ready[0]);
    check_true(access(tpath("atomic.h5.lock"), F_OK) != 0, "release removes the lock file",
               NULL);
    int lk = h5lock_acquire(path);
    write_small(path, 4.5); /* begin uses the lock we hold */
    check_true(access(tpath("atomic.h5.lock"), F_OK) == 0,
               "commit keeps a lock the caller took", NULL);
    h5lock_release(lk);
    check_close(read_value(path), 4.5, 0, "lock free again after the holder exits");
    free(before);
}


/* ---- user errors ---- */

static void open_input(const void *arg)
{
    h5in_open(arg);
}


static void read_missing(const void *arg)
{
    hid_t f = h5in_open(arg);
    h5_read(f, "/gradstats/bias2", H5IO_F64, H5IO_ANY, NULL, NULL, NULL);
}


static void read_wrong_shape(const void *arg)
{
    const long want[2] = {H5IO_ANY, 4};
    hid_t f = h5in_open(arg);
    h5_read(f, "/cost", H5IO_F64, 2, want, NULL, NULL);
}


static void read_missing_column(const void *arg)
{
    hid_t f = h5in_open(arg);
    h5_table_column(f, "/curve", "knn_top1");
}


static void append_wrong_columns(const void *arg)
{
    const char *cols[2] = {"budget", "knn_top1"};
    const double row[2] = {1, 2};
    H5Out *out = h5out_begin(arg, 1);
    h5_table_append(h5out_file(out), "/curve", 2, cols, 1, row);
}


static void begin_unwritable(const void *arg)
{
    h5out_begin(arg, 0);
}


static void test_user_errors(void)
{
    const char *study = tpath("study.h5");
    const char *text = tpath("notes.txt");
    const size_t d[2] = {3, 2};
    const double cost[6] = {1, 2, 3, 4, 5, 6};
    char want[600];
    FILE *fp;

    H5Out *out = h5out_begin(study, 0);
    h5_write(h5out_file(out), "/cost", H5IO_F64, 2, d, cost);
    H5Gclose(h5_group(h5out_file(out), "/gradstats"));
    h5out_commit(out);
    fp = fopen(text, "w");
    fputs("step,loss\n1,2.385\n", fp);
    fclose(fp);

    snprintf(want, sizeof want, "%s is not an HDF5 file", text);
    check_user_error(run_child(open_input, text), want, "not-HDF5 input");
    check_user_error(run_child(begin_taker, text), want, "not-HDF5 file given for update");
    check_eq_ll(count_temps(), 0, "no temp file after refusing a non-HDF5 update");
    check_user_error(run_child(open_input, tpath("absent.h5")), "No such file or directory",
                     "missing input file");
    snprintf(want, sizeof want, "%s: missing /gradstats/bias2", study);
    check_user_error(run_child(read_missing, study), want, "missing dataset");
    snprintf(want, sizeof want, "%s: /cost has shape [3,2], expected [N,4]", study);
    check_user_error(run_child(read_wrong_shape, study), want, "wrong shape");
    check_user_error(run_child(read_missing_column, tpath("run.h5")),
                     "/curve has no column 'knn_top1' (columns: step,budget,wall_s,loss)",
                     "missing table column");
    check_user_error(run_child(append_wrong_columns, tpath("run.h5")),
                     "/curve has columns [step,budget,wall_s,loss], expected [budget,knn_top1]",
                     "appending with other columns");
    check_user_error(run_child(begin_unwritable, "/nonexistent-dir/x.h5"),
                     "cannot write /nonexistent-dir/x.h5: directory /nonexistent-dir: "
                     "No such file or directory", "unwritable path");
    check_user_error(run_child(begin_unwritable, test_dir), "is not a regular file",
                     "output path is a directory");
}


/* ---- full disk ---- */

/* Child: the file size limit stands in for a full disk; writes far more than it allows. */
static void write_too_much(const void *arg)
{
    const size_t d[1] = {1 << 21};
    struct rlimit rl = {256 << 10, 256 << 10};
    float *big = xcalloc(d[0], sizeof *big);

    signal(SIGXFSZ, SIG_IGN);
    HASSERT(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    H5Out *out = h5out_begin(arg, 1);
    h5_write(h5out_file(out), "/big", H5IO_F32, 1, d, big);
    h5out_commit(out);
}


/* Child: groups and attributes are metadata, which HDF5 caches until a flush; with room for
 * the copy and a few KiB more, the failure comes at commit's flush, not at a write. */
static void commit_too_much(const void *arg)
{
    struct stat st;
    char name[64];

    HASSERT(stat(arg, &st) == 0);
    struct rlimit rl = {(rlim_t)st.st_size + 4096, (rlim_t)st.st_size + 4096};
    signal(SIGXFSZ, SIG_IGN);
    HASSERT(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    H5Out *out = h5out_begin(arg, 1);
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "/checkpoints/%06d", i);
        hid_t g = h5_group(h5out_file(out), name);
        h5_attr_f64(g, ".", "budget_spent", 2.385 * i);
        h5_attr_str(g, ".", "units", "budget units");
        H5Gclose(g);
    }
    fprintf(stderr, "the writes went through\n");
    h5out_commit(out);
}


static void test_full_disk(void)
{
    const char *path = tpath("run.h5");
    char want[600];
    size_t len;
    char *before = slurp(path, &len);

    snprintf(want, sizeof want, "cannot write %s (/big): File too large", path);
    check_user_error(run_child(write_too_much, path), want, "full disk during a write");
    check_true(same_bytes(path, before, len), "old file byte-identical after the failed write",
               NULL);
    check_eq_ll(count_temps(), 0, "failed write leaves no temp file");
    check_true(access(tpath("run.h5.lock"), F_OK) != 0, "failed write leaves no lock file",
               NULL);

    snprintf(want, sizeof want, "cannot write %s (flush): File too large", path);
    check_user_error(run_child(commit_too_much, path), want, "full disk at commit");
    check_true(strstr(child_err, "went through") != NULL && strstr(child_err, "(flush)"),
               "the failure came at commit's flush", child_err);
    check_true(strstr(child_err, "HDF5-DIAG") == NULL, "no HDF5 error stack printed",
               child_err);
    check_true(same_bytes(path, before, len), "old file byte-identical after the failed commit",
               NULL);
    check_eq_ll(count_temps(), 0, "failed commit leaves no temp file");
    free(before);
}


/* ---- h5dump ---- */

static void test_h5dump(void)
{
    char cmd[1200], detail[256];
    const char *out = tpath("dump.txt");
    const char *want[] = {"GROUP \"config\"", "ATTRIBUTE \"seed\"", "ATTRIBUTE \"units\"",
                          "DATASET \"f64\"", "H5T_IEEE_F32LE", "H5T_STRING"};
    size_t len;

    if (system("command -v h5dump >/dev/null 2>&1") != 0) {
        printf("SKIP h5dump -H: h5dump not installed\n");
        return;
    }
    snprintf(cmd, sizeof cmd, "h5dump -H %s > %s 2>&1", tpath("roundtrip.h5"), out);
    int rc = system(cmd);
    snprintf(detail, sizeof detail, "exit status %d", rc);
    check_true(rc == 0, "h5dump -H reads the file", detail);
    char *text = slurp(out, &len);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(detail, sizeof detail, "h5dump -H lists %s", want[i]);
        check_true(text != NULL && strstr(text, want[i]) != NULL, detail, NULL);
    }
    free(text);
}


int main(void)
{
    snprintf(test_dir, sizeof test_dir, "/tmp/test_h5io.XXXXXX");
    HASSERT(mkdtemp(test_dir) != NULL);
    printf("files in %s\n", test_dir);

    test_roundtrip();
    test_groups_tables();
    test_commit_abort();
    test_killed_writer();
    test_lock();
    test_user_errors();
    test_full_disk();
    test_h5dump();

    if (getenv("H5IO_KEEP") == NULL) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir);
        if (system(cmd) != 0)
            warn("could not remove %s", test_dir);
    }
    return check_summary();
}
