/* cli_bench.c: `hasten bench`: images/s of the backbone's forward + backward and of a whole
 * MoCo v3 training step for each strategy, beside the FLOP-model cost ratio, the measured
 * time ratio against the first strategy, achieved GFLOP/s, peak memory, and the sgemm rate
 * measured in the same run. Each measurement runs in a child process of its own so that its
 * peak resident memory is its own (the parent never starts OpenMP, which does not survive
 * fork). */
#include "args.h"
#include "backend.h"
#include "cli.h"
#include "common.h"
#include "moco.h"
#include "rng.h"
#include "vit.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    VitConfig vcfg;
    MocoConfig mcfg;
    int B, steps, warmup, symmetric;
    const char *device;
} BenchSettings;

typedef struct {
    double seconds, flops, peak_mb;
} BenchResult;

enum { MODE_BACKBONE, MODE_MOCO, MODE_SGEMM_MODEL, MODE_SGEMM_SQUARE };


static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}


static float *random_images(const Backend *be, const VitConfig *c, int B, uint64_t seed)
{
    size_t n = (size_t)B * c->CH * c->S * c->S;
    float *h = xmalloc(n * sizeof(float)), *d = be->alloc(n * sizeof(float));
    Rng r = rng_stream(seed, RNG_EVAL, 0, 0);

    for (size_t i = 0; i < n; i++)
        h[i] = (float)rng_normal(&r);
    be->upload(d, h, n * sizeof(float));
    free(h);
    return d;
}


/* Median seconds of `steps` timed repetitions of the backbone's forward + backward. */
static BenchResult bench_backbone(const BenchSettings *s, const Backend *be, VitShape sh)
{
    ParamTable t;
    Vit vit;
    VitActs a;
    BenchResult res = {0};
    double *times = xcalloc((size_t)s->steps, sizeof(double));

    params_init_table(&t);
    vit_init(&vit, &s->vcfg, &t, be);
    vit_acts_init(&a, &vit, s->B, 1);
    float *hp = xmalloc(t.total * sizeof(float));
    params_fill_init(&t, hp, 1);
    float *p = be->alloc(t.total * sizeof(float)), *g = be->alloc(t.total * sizeof(float));
    be->upload(p, hp, t.total * sizeof(float));
    float *img = random_images(be, &s->vcfg, s->B, 2);
    float *dout = random_images(be, &(VitConfig){.S = 1, .CH = s->vcfg.C}, s->B, 3);
    int NP = vit_num_patches(&s->vcfg, sh), TK = vit_kept_tokens(&s->vcfg, sh);
    int32_t *idx = xmalloc((size_t)s->B * TK * sizeof(int32_t));

    for (int i = -s->warmup; i < s->steps; i++) {
        vit_draw_tokens(idx, s->B, NP, TK, 5, (uint64_t)(i + s->warmup), 0);
        double t0 = now_seconds();
        vit_forward(&vit, &a, p, img, idx, s->B, sh);
        vit_backward(&vit, &a, p, g, dout);
        be->sync();
        if (i >= 0)
            times[i] = now_seconds() - t0;
    }
    qsort(times, (size_t)s->steps, sizeof(double), cmp_double);
    res.seconds = times[s->steps / 2];
    res.flops = 3 * vit_flops_forward(&s->vcfg, sh, s->B);
    free(times);
    free(idx);
    free(hp);
    be->free(p);
    be->free(g);
    be->free(img);
    be->free(dout);
    vit_acts_free(&a, &vit);
    vit_free(&vit);
    params_free_table(&t);
    return res;
}


static BenchResult bench_moco(const BenchSettings *s, const Backend *be, VitShape sh)
{
    Moco mo;
    BenchResult res = {0};
    double *times = xcalloc((size_t)s->steps, sizeof(double));
    VitShape target = s->symmetric ? sh : (VitShape){s->vcfg.P0, 1.0f, 0};

    moco_init(&mo, &s->vcfg, &s->mcfg, be, s->B, 1);
    float *x1 = random_images(be, &s->vcfg, s->B, 2), *x2 = random_images(be, &s->vcfg, s->B, 3);
    for (int i = -s->warmup; i < s->steps; i++) {
        MocoStep st = {.online = sh, .target = target, .lr = 1e-4f, .wd = 0.1f,
                       .momentum = 0.99f, .seed = 7, .step = (uint64_t)(i + s->warmup)};
        double t0 = now_seconds();
        moco_step(&mo, x1, x2, s->B, &st);
        be->sync();
        if (i >= 0)
            times[i] = now_seconds() - t0;
    }
    qsort(times, (size_t)s->steps, sizeof(double), cmp_double);
    res.seconds = times[s->steps / 2];
    res.flops = moco_step_flops(&mo, sh, target, s->B);
    free(times);
    be->free(x1);
    be->free(x2);
    moco_free(&mo);
    return res;
}


/* The sgemm rate: the shape of the model's MLP product (B*65 x 192 @ 192 x 768), and a
 * large square product as the machine's ceiling. */
static BenchResult bench_sgemm(const BenchSettings *s, const Backend *be, int square)
{
    VitShape base = {s->vcfg.P0, 1.0f, 0};
    int M = square ? 2048 : s->B * (vit_num_patches(&s->vcfg, base) + 1);
    int K = square ? 2048 : s->vcfg.C, N = square ? 2048 : s->vcfg.C * s->vcfg.mlp_ratio;
    float *A = random_images(be, &(VitConfig){.S = 1, .CH = K}, M, 1);
    float *B = random_images(be, &(VitConfig){.S = 1, .CH = K}, N, 2);
    float *C = be->alloc((size_t)M * N * sizeof(float));
    int reps = 5;
    double best = 1e30;
    BenchResult res = {0};

    for (int i = 0; i < reps + 1; i++) {
        double t0 = now_seconds();
        be->gemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
        be->sync();
        if (i > 0 && now_seconds() - t0 < best)
            best = now_seconds() - t0;
    }
    res.seconds = best;
    res.flops = 2.0 * M * N * K;
    be->free(A);
    be->free(B);
    be->free(C);
    return res;
}


/* Runs one measurement in a child process and reads its result back through a pipe. */
static BenchResult run_child(const BenchSettings *s, int mode, VitShape sh)
{
    int fd[2];
    BenchResult res = {0};
    pid_t pid;
    int status;

    if (pipe(fd) != 0)
        die_at(__FILE__, __LINE__, __func__, NULL, "pipe failed");
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        die_at(__FILE__, __LINE__, __func__, NULL, "fork failed");
    if (pid == 0) {
        const Backend *be = backend_by_name(s->device);
        struct rusage ru;

        close(fd[0]);
        if (mode == MODE_BACKBONE)
            res = bench_backbone(s, be, sh);
        else if (mode == MODE_MOCO)
            res = bench_moco(s, be, sh);
        else
            res = bench_sgemm(s, be, mode == MODE_SGEMM_SQUARE);
        getrusage(RUSAGE_SELF, &ru);
        res.peak_mb = (double)ru.ru_maxrss / 1024.0;
        if (write(fd[1], &res, sizeof res) != (ssize_t)sizeof res)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    if (read(fd[0], &res, sizeof res) != (ssize_t)sizeof res)
        res.seconds = NAN;
    close(fd[0]);
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        user_error("bench: the measurement of P=%d keep=%g failed (exit status %d)", sh.P,
                   sh.keep, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return res;
}


static void print_usage(void)
{
    printf("usage: hasten bench [flags]\n"
           "  --image S (32) --channels CH (3) --p0 P0 (4) --width C (192) --depth L (12)\n"
           "  --heads NH (3) --mlp-ratio R (4)          the model\n"
           "  --batch B (128)                          images per step (per view)\n"
           "  --mode backbone|moco|both (both)         what to time\n"
           "  --hidden H (1024) --out-dim D (256)      MoCo v3 projector/predictor widths\n"
           "  --patch P --keep R                       one strategy (default: {4,8}x{1,.5,.25})\n"
           "  --compress online|both (online)          which MoCo branches are compressed\n"
           "  --steps N (3) --warmup N (1)             timed steps (median) and untimed ones\n"
           "  --device cpu|cuda (cpu)\n");
}


static void print_row(const char *mode, int P, float keep, int T, int B, BenchResult r,
                      BenchResult base, double sgemm_rate)
{
    double fr = r.flops / base.flops, tr = r.seconds / base.seconds;
    double gf = r.flops / r.seconds * 1e-9;

    printf("%-8s | %2d %5.2f | %3d | %8.1f | %6.3f | %6.3f | %+6.1f%% | %7.1f | %5.1f%% | %6.0f\n",
           mode, P, keep, T, B / r.seconds, fr, tr, 100.0 * (tr / fr - 1), gf,
           100.0 * gf / sgemm_rate, r.peak_mb);
}


int cli_bench(int argc, char **argv)
{
    static const char *const modes[] = {"backbone", "moco", "both", NULL};
    static const char *const comp[] = {"online", "both", NULL};
    BenchSettings s;
    Args a;
    int P = 0, mode;
    double keep = 0;

    args_init(&a, argc, argv);
    if (args_flag(&a, "--help")) {
        print_usage();
        return 0;
    }
    s.vcfg.S = args_int(&a, "--image", 32, 1, 4096);
    s.vcfg.CH = args_int(&a, "--channels", 3, 1, 64);
    s.vcfg.P0 = args_int(&a, "--p0", 4, 1, 4096);
    s.vcfg.C = args_int(&a, "--width", 192, 4, 8192);
    s.vcfg.L = args_int(&a, "--depth", 12, 1, 256);
    s.vcfg.NH = args_int(&a, "--heads", 3, 1, 256);
    s.vcfg.mlp_ratio = args_int(&a, "--mlp-ratio", 4, 1, 16);
    s.vcfg.ln_eps = 1e-6f;
    s.B = args_int(&a, "--batch", 128, 2, 65536);
    s.mcfg.hidden = args_int(&a, "--hidden", 1024, 1, 65536);
    s.mcfg.out = args_int(&a, "--out-dim", 256, 1, 65536);
    s.mcfg.tau = 0.2f;
    mode = args_choice(&a, "--mode", 2, modes);
    P = args_int(&a, "--patch", 0, 1, 4096);
    keep = args_double_open(&a, "--keep", 0, 0, 1);
    s.symmetric = args_choice(&a, "--compress", 0, comp);
    s.steps = args_int(&a, "--steps", 3, 1, 1000);
    s.warmup = args_int(&a, "--warmup", 1, 0, 1000);
    s.device = args_str(&a, "--device", "cpu");
    args_finish(&a, "bench");
    args_free(&a);
    if (vit_config_error(&s.vcfg) != NULL)
        user_error("%s", vit_config_error(&s.vcfg));

    VitShape grid[8];
    int ng = 0;
    if (P > 0 || keep > 0) {
        grid[ng++] = (VitShape){s.vcfg.P0, 1.0f, 0};
        grid[ng++] = (VitShape){P > 0 ? P : s.vcfg.P0, keep > 0 ? (float)keep : 1.0f, 0};
    } else {
        int ps[2] = {s.vcfg.P0, 2 * s.vcfg.P0};
        float ks[3] = {1.0f, 0.5f, 0.25f};
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                grid[ng++] = (VitShape){ps[i], ks[j], 0};
    }
    for (int i = 0; i < ng; i++)
        if (vit_shape_error(&s.vcfg, grid[i]) != NULL)
            user_error("%s", vit_shape_error(&s.vcfg, grid[i]));

    printf("hasten bench %s | device %s | threads %s | image %dx%dx%d p0 %d | width %d depth %d "
           "heads %d mlp %d | batch %d | MoCo heads %d->%d->%d, target %s\n",
           HASTEN_VERSION, s.device, getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS")
           : "all cores", s.vcfg.CH, s.vcfg.S, s.vcfg.S, s.vcfg.P0, s.vcfg.C, s.vcfg.L,
           s.vcfg.NH, s.vcfg.mlp_ratio, s.B, s.vcfg.C, s.mcfg.hidden, s.mcfg.out,
           s.symmetric ? "compressed too" : "uncompressed");

    BenchResult sq = run_child(&s, MODE_SGEMM_SQUARE, grid[0]);
    BenchResult mm = run_child(&s, MODE_SGEMM_MODEL, grid[0]);
    double rate_sq = sq.flops / sq.seconds * 1e-9, rate_mm = mm.flops / mm.seconds * 1e-9;
    printf("sgemm rate: %.1f GFLOP/s (2048^3), %.1f GFLOP/s (model MLP shape %dx%dx%d)\n",
           rate_sq, rate_mm, s.B * (vit_num_patches(&s.vcfg, grid[0]) + 1), s.vcfg.C,
           s.vcfg.C * s.vcfg.mlp_ratio);
    printf("%%sgemm below is against the 2048^3 rate. time ratio and FLOP ratio are against "
           "the first row of each mode; dev = time ratio / FLOP ratio - 1.\n");
    printf("mode     |  P  keep |   T |    img/s | FLOP r | time r |    dev  | GFLOP/s | "
           "%%sgemm | peak MB\n");

    for (int m = MODE_BACKBONE; m <= MODE_MOCO; m++) {
        if ((mode == 0 && m != MODE_BACKBONE) || (mode == 1 && m != MODE_MOCO))
            continue;
        BenchResult base = {0};
        for (int i = 0; i < ng; i++) {
            BenchResult r = run_child(&s, m, grid[i]);
            if (i == 0)
                base = r;
            print_row(m == MODE_BACKBONE ? "backbone" : "moco", grid[i].P, grid[i].keep,
                      1 + vit_kept_tokens(&s.vcfg, grid[i]), s.B, r, base, rate_sq);
            fflush(stdout);
        }
    }
    return 0;
}
