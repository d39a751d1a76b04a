/* cli_plot.c: `hasten plot STUDY.h5`: the figures of a study, drawn by gnuplot from text
 * exports of its tables (plot.c) with the scripts in plots/. Each figure is drawn twice, PNG
 * and PDF (or SVG), each into a temp name beside its target, checked non-empty (PNG: its magic
 * bytes too) and renamed over it, so no empty or half-written image is ever left behind.
 * Scripts are looked up in $HASTEN_PLOTS, then <dir of the executable>/../plots (the source
 * tree's plots/ for build/hasten), then <dir of the executable>/../share/hasten/plots. */
#include "args.h"
#include "cli.h"
#include "common.h"
#include "plot.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    const char *name, *what;
} Figure;

static const Figure FIGURES[] = {
    {"cost", "(a) relative cost per sample over patch side and keep ratio"},
    {"gradstats", "(b) CA-MSE, bias^2 and cost-adjusted variance per stage"},
    {"knn", "(c) kNN top-1 against budget, every run"},
    {"lr_decay", "(d) cosine against polynomial learning-rate decay"},
    {"schedule", "(e) the searched schedule over the budget"},
};
#define NFIG (sizeof FIGURES / sizeof FIGURES[0])

/* What the exit handler removes: the export folder (unless kept) and unfinished images. */
static char g_datadir[PATH_MAX];
static int g_keep_data;
static char g_pending[2][PATH_MAX];


static void plot_cleanup(void)
{
    for (int i = 0; i < 2; i++)
        if (g_pending[i][0])
            unlink(g_pending[i]);
    if (!g_datadir[0] || g_keep_data)
        return;
    DIR *d = opendir(g_datadir);
    if (d != NULL) {
        struct dirent *e;
        char p[PATH_MAX + 256];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", g_datadir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(g_datadir);
}


/* The first executable `prog` on $PATH (the default path when PATH is unset) into out. */
static int find_in_path(const char *prog, char *out, size_t n)
{
    const char *path = getenv("PATH");
    char buf[4096];

    if (path == NULL) {
        size_t m = confstr(_CS_PATH, buf, sizeof buf);
        path = m > 0 && m <= sizeof buf ? buf : "/bin:/usr/bin";
    }
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* An empty entry means the current directory, as for execvp. */
        snprintf(out, n, "%.*s/%s", (int)len, len ? p : ".", prog);
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return 1;
        p += len + (end != NULL);
    }
    return 0;
}


static int has_script(const char *dir)
{
    char p[PATH_MAX + 32];

    snprintf(p, sizeof p, "%s/common.gp", dir);
    return access(p, R_OK) == 0;
}


/* The folder of the gnuplot scripts (see the top of this file); user error listing the places
 * tried when none has them. */
static void find_scripts(char *out, size_t n)
{
    char exe[PATH_MAX], tried[3 * PATH_MAX + 64] = "";
    const char *env = getenv("HASTEN_PLOTS");

    if (env != NULL && *env) {
        snprintf(out, n, "%s", env);
        if (has_script(out))
            return;
        user_error("plot: HASTEN_PLOTS=%s holds no common.gp; unset it or point it at hasten's "
                   "plots/ folder", env);
    }
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
        static const char *const rel[] = {"../plots", "../share/hasten/plots"};
        for (int i = 0; i < 2; i++) {
            int w = snprintf(out, n, "%s/%s", exe, rel[i]);
            if (w > 0 && (size_t)w < n && has_script(out))
                return;
            strncat(tried, i ? ", " : "", sizeof tried - strlen(tried) - 1);
            strncat(tried, out, sizeof tried - strlen(tried) - 1);
        }
    }
    user_error("plot: cannot find the gnuplot scripts (common.gp) in %s; set HASTEN_PLOTS to "
               "hasten's plots/ folder", tried[0] ? tried : "(the executable's path is unknown)");
}


/* mkdir -p; returns 1 when it created the last component. */
static int make_dirs(const char *path)
{
    char p[PATH_MAX];
    struct stat st;

    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            user_error("plot: --out-dir %s exists and is not a folder", path);
        return 0;
    }
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                user_error("plot: cannot create %s: %s", p, strerror(errno));
            *s = '/';
        }
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        user_error("plot: cannot create %s: %s", p, strerror(errno));
    return 1;
}


static long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (long)st.st_size : -1;
}


/* Prints gnuplot's output file on stderr, each line after `prefix`; at most 40 lines. */
static void quote_file(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;

    if (f == NULL || file_size(path) == 0) {
        fprintf(stderr, "%s(nothing)\n", prefix);
        if (f != NULL)
            fclose(f);
        return;
    }
    while (fgets(line, sizeof line, f) != NULL && n++ < 40)
        fprintf(stderr, "%s%s%s", prefix, line, strchr(line, '\n') ? "" : "\n");
    fclose(f);
}


static int png_magic_ok(const char *path)
{
    static const unsigned char magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char b[8];
    FILE *f = fopen(path, "rb");
    int ok = f != NULL && fread(b, 1, 8, f) == 8 && memcmp(b, magic, 8) == 0;

    if (f != NULL)
        fclose(f);
    return ok;
}


/* Runs `gnuplot -e SETTINGS SCRIPT` with stdout and stderr into errpath; returns its exit
 * status (or 128 + the signal that ended it). */
static int run_gnuplot(const char *gnuplot, const char *settings, const char *script,
                       const char *errpath)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        die_at(__FILE__, __LINE__, __func__, NULL, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        FILE *e = freopen(errpath, "w", stderr);
        if (e == NULL || dup2(fileno(stderr), STDOUT_FILENO) < 0 ||
            freopen("/dev/null", "r", stdin) == NULL)
            _exit(126);
        execl(gnuplot, "gnuplot", "-e", settings, script, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", gnuplot, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die_at(__FILE__, __LINE__, __func__, NULL, "waitpid failed: %s", strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}


/* One image of one figure into the temp name g_pending[slot] beside its target. Returns 0
 * when gnuplot succeeded and the file is non-empty (a PNG: with PNG's signature); otherwise
 * prints why, quoting gnuplot's output, and removes the temp file. */
static int render(const char *gnuplot, const char *scripts, const Figure *fig, int slot,
                  const char *term, const char *outdir)
{
    char script[PATH_MAX + 64], errpath[PATH_MAX + 64], *settings = NULL;
    char *tmp = g_pending[slot];
    size_t len;

    snprintf(script, sizeof script, "%s/%s.gp", scripts, fig->name);
    snprintf(tmp, PATH_MAX, "%s/.%s.%s.tmp-%ld", outdir, fig->name, term, (long)getpid());
    snprintf(errpath, sizeof errpath, "%s/gnuplot-%s-%s.txt", g_datadir, fig->name, term);

    FILE *m = open_memstream(&settings, &len);
    CHECK_ALLOC(m);
    fputs("scriptdir = ", m);
    plot_gp_string(m, scripts);
    fputs("; load ", m);
    plot_gp_string(m, g_datadir);
    fputs(" . \"/vars.gp\"; term = ", m);
    plot_gp_string(m, term);
    fputs("; out = ", m);
    plot_gp_string(m, tmp);
    CHECK_IO(fclose(m) == 0, "memory stream");

    int rc = run_gnuplot(gnuplot, settings, script, errpath);
    long size = file_size(tmp);
    int png = strcmp(term, "png") == 0;
    int ok = rc == 0 && size > 0 && (!png || png_magic_ok(tmp));
    free(settings);
    if (!ok) {
        unlink(tmp);
        tmp[0] = '\0';
        if (rc != 0)
            fprintf(stderr, "error: plot: gnuplot failed (exit %d) on %s drawing the %s "
                    "image; it said:\n", rc, script, term);
        else
            fprintf(stderr, "error: plot: gnuplot wrote %s for the %s image of %s; it said:\n",
                    size <= 0 ? "an empty file" : "a file without PNG's signature", term,
                    fig->name);
        quote_file(errpath, "  | ");
    } else if (file_size(errpath) > 0) {
        /* A figure that was drawn but made gnuplot complain is worth a look. */
        fprintf(stderr, "warning: plot: gnuplot's remarks on the %s image of %s:\n", term,
                fig->name);
        quote_file(errpath, "  | ");
    }
    return ok ? 0 : 1;
}


/* Both images of a figure, renamed over their targets only when both were drawn: a figure is
 * its PNG and its vector file, or neither. Returns 0 when written; png and vec get the paths. */
static int draw_figure(const char *gnuplot, const char *scripts, const Figure *fig,
                       const char *vecfmt, const char *outdir, char *png, char *vec, size_t n)
{
    snprintf(png, n, "%s/%s.png", outdir, fig->name);
    snprintf(vec, n, "%s/%s.%s", outdir, fig->name, vecfmt);
    int bad = render(gnuplot, scripts, fig, 0, "png", outdir) ||
              render(gnuplot, scripts, fig, 1, vecfmt, outdir);
    for (int i = 0; i < 2 && !bad; i++)
        if (rename(g_pending[i], i ? vec : png) != 0) {
            fprintf(stderr, "error: plot: cannot rename %s to %s: %s\n", g_pending[i],
                    i ? vec : png, strerror(errno));
            bad = 1;
        } else {
            g_pending[i][0] = '\0';
        }
    for (int i = 0; i < 2; i++)
        if (g_pending[i][0]) {
            unlink(g_pending[i]);
            g_pending[i][0] = '\0';
        }
    return bad;
}


static void usage(FILE *f)
{
    fprintf(f,
        "usage: hasten plot STUDY.h5 [--out-dir DIR] [--format pdf|svg] [--keep-data]\n"
        "  draws the figures of a study with gnuplot, each as DIR/NAME.png and NAME.pdf (.svg):\n");
    for (size_t i = 0; i < NFIG; i++)
        fprintf(f, "    %-10s %s\n", FIGURES[i].name, FIGURES[i].what);
    fprintf(f,
        "  --out-dir DIR  where the figures go (default: STUDY without .h5, plus _figures)\n"
        "  --format F     the vector format beside each PNG: pdf (default) or svg\n"
        "  --keep-data    keep the text files given to gnuplot and print their folder\n"
        "  A figure whose data is missing is still drawn, saying so inside the image.\n"
        "  Scripts: $HASTEN_PLOTS, else <dir of hasten>/../plots, else\n"
        "  <dir of hasten>/../share/hasten/plots.\n");
}


int cli_plot(int argc, char **argv)
{
    static const char *const formats[] = {"pdf", "svg", NULL};
    char outdir[PATH_MAX], scripts[PATH_MAX], gnuplot[PATH_MAX];
    Args a;

    args_init(&a, argc, argv);
    if (args_flag(&a, "--help")) {
        usage(stdout);
        return 0;
    }
    const char *out_flag = args_str(&a, "--out-dir", NULL);
    const char *vec = formats[args_choice(&a, "--format", 0, formats)];
    g_keep_data = args_flag(&a, "--keep-data");
    const char *path = args_positional(&a);
    args_finish(&a, "plot");
    if (path == NULL) {
        usage(stderr);
        user_error("plot: usage: hasten plot STUDY.h5 [--out-dir DIR] [--format pdf|svg]");
    }
    if (access(path, R_OK) != 0)
        user_error("plot: cannot read %s: %s", path, strerror(errno));
    if (out_flag != NULL) {
        snprintf(outdir, sizeof outdir, "%s", out_flag);
    } else {
        size_t n = strlen(path);
        int h5 = n > 3 && strcmp(path + n - 3, ".h5") == 0;
        snprintf(outdir, sizeof outdir, "%.*s_figures", (int)(h5 ? n - 3 : n), path);
    }

    /* Nothing is created before we know gnuplot and the scripts are there. */
    if (!find_in_path("gnuplot", gnuplot, sizeof gnuplot))
        user_error("plot: gnuplot is not on PATH; hasten plot draws its figures with it "
                   "(Debian: apt-get install gnuplot-nox)");
    find_scripts(scripts, sizeof scripts);

    const char *tmpdir = getenv("TMPDIR");
    snprintf(g_datadir, sizeof g_datadir, "%s/hasten-plot-XXXXXX",
             tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (mkdtemp(g_datadir) == NULL)
        user_error("plot: cannot create a folder %s: %s", g_datadir, strerror(errno));
    atexit(plot_cleanup);

    PlotExport ex = plot_export(path, g_datadir);
    if (ex.tables == 0)
        user_error("plot: %s holds none of /strategies, /cost, /gradstats, /runs, /schedule: "
                   "not a hasten study file", path);
    for (int i = 0; i < ex.nnotes; i++)
        printf("note: %s\n", ex.notes[i]);

    int created = make_dirs(outdir), failed = 0, written = 0;
    for (size_t i = 0; i < NFIG; i++) {
        char png[PATH_MAX + 64], other[PATH_MAX + 64];
        if (draw_figure(gnuplot, scripts, &FIGURES[i], vec, outdir, png, other, sizeof png)) {
            failed++;
            continue;
        }
        written++;
        printf("%s %s  %s\n", png, other, FIGURES[i].what);
        fflush(stdout); /* in order with the errors on stderr when both go to one pipe */
    }
    if (g_keep_data)
        printf("gnuplot's data files kept in %s\n", g_datadir);
    if (created && written == 0)
        rmdir(outdir);
    if (failed) {
        fprintf(stderr, "error: plot: %d of %zu figures failed; see gnuplot's messages above\n",
                failed, NFIG);
        return 1;
    }
    return 0;
}
