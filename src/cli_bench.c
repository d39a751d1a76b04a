/* cli_bench.c: `hasten bench`: images/s of the backbone's forward + backward and of a whole
 * MoCo v3 training step for each strategy, beside the FLOP-model cost ratio, the measured
 * time ratio against the first strategy, achieved FLOP/s, peak memory, and the GEMM rate
 * measured in the same run. Each measurement runs in a child process of its own so that its
 * peak resident memory is its own. The parent starts neither OpenMP nor CUDA, which do not
 * survive fork: even whether a GPU is usable is asked of a child. */
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

/* --suite: the model, batch and MoCo head width of a named comparison; flags override. */
typedef struct {
    int S, CH, P0, C, L, NH, B, hidden;
} BenchSuite;

static const char *const SUITE_NAMES[] = {"ref", "vit-s", NULL};
static const BenchSuite SUITES[] = {
    {32, 3, 4, 192, 12, 3, 128, 1024},     /* ref: the reference ViT of `make bench` */
    {224, 3, 16, 384, 12, 6, 256, 4096},   /* vit-s: ViT-S/16 as MoCo v3, `make bench-cuda` */
};

typedef struct {
    double seconds, flops, peak_mb;
} BenchResult;

enum { MODE_BACKBONE, MODE_MOCO, MODE_SGEMM_MODEL, MODE_SGEMM_SQUARE, MODE_PROBE };


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


static int is_cuda(const BenchSettings *s)
{
    return strcmp(s->device, "cuda") == 0;
}


/* Side of the square GEMM that stands for the machine's ceiling: a GPU needs a larger one to
 * be bound by arithmetic rather than by launch and memory. */
static int square_side(const BenchSettings *s)
{
    return is_cuda(s) ? 4096 : 2048;
}


/* What be->gemm is on this device: cuBLAS rounds its inputs to TF32 when the CUDA backend
 * was started with HASTEN_TF32=1 (the children inherit the variable). */
static const char *gemm_label(const BenchSettings *s)
{
    const char *tf32 = getenv("HASTEN_TF32");

    if (!is_cuda(s))
        return "sgemm (OpenBLAS, FP32)";
    return tf32 != NULL && strcmp(tf32, "1") == 0 ? "cuBLAS GEMM, TF32 (HASTEN_TF32=1)"
                                                  : "cuBLAS SGEMM, FP32";
}


/* The GEMM rate: the shape of the model's MLP product (B*T x C @ C x 4C), and a large square
 * product as the machine's ceiling. */
static BenchResult bench_sgemm(const BenchSettings *s, const Backend *be, int square)
{
    VitShape base = {s->vcfg.P0, 1.0f, 0};
    int Q = square_side(s);
    int M = square ? Q : s->B * (vit_num_patches(&s->vcfg, base) + 1);
    int K = square ? Q : s->vcfg.C, N = square ? Q : s->vcfg.C * s->vcfg.mlp_ratio;
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
        struct rusage ru;

        close(fd[0]);
        /* The probe answers 1 in .seconds when the device is usable. */
        if (mode == MODE_PROBE)
            res.seconds = !is_cuda(s) || backend_cuda() != NULL;
        else if (mode == MODE_BACKBONE)
            res = bench_backbone(s, backend_by_name(s->device), sh);
        else if (mode == MODE_MOCO)
            res = bench_moco(s, backend_by_name(s->device), sh);
        else
            res = bench_sgemm(s, backend_by_name(s->device), mode == MODE_SGEMM_SQUARE);
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
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (mode == MODE_PROBE)
            user_error("bench: the check for a usable --device %s failed (exit status %d)",
                       s->device, code);
        user_error("bench: the measurement of P=%d keep=%g failed (exit status %d)", sh.P,
                   sh.keep, code);
    }
    return res;
}


static void print_usage(void)
{
    printf("usage: hasten bench [flags]\n"
           "  --suite ref|vit-s (ref)                  defaults of the flags below: ref is\n"
           "                                           the reference ViT; vit-s is ViT-S/16\n"
           "                                           at 224 px, width 384, depth 12, 6 heads,\n"
           "                                           batch 256, MoCo hidden 4096\n"
           "  --image S (32) --channels CH (3) --p0 P0 (4) --width C (192) --depth L (12)\n"
           "  --heads NH (3) --mlp-ratio R (4)          the model\n"
           "  --batch B (128)                          images per step (per view)\n"
           "  --mode backbone|moco|both (both)         what to time\n"
           "  --hidden H (1024) --out-dim D (256)      MoCo v3 projector/predictor widths\n"
           "  --patch P --keep R                       one strategy (default: P in {p0, 2 p0}\n"
           "                                           x keep in {1, .5, .25})\n"
           "  --compress online|both (online)          which MoCo branches are compressed\n"
           "  --steps N (3) --warmup N (1)             timed steps (median) and untimed ones\n"
           "  --device cpu|cuda (cpu)                  cuda: HASTEN_TF32=1 lets cuBLAS use TF32\n"
           "  --skip-unavailable                       no usable GPU: say so, exit 0 (make\n"
           "                                           bench-cuda on a machine without one)\n");
}


/* One table row; rates in GFLOP/s on the CPU, TFLOP/s on a GPU (unit). */
static void print_row(const char *mode, int P, float keep, int T, int B, BenchResult r,
                      BenchResult base, double gemm_rate, double unit)
{
    double fr = r.flops / base.flops, tr = r.seconds / base.seconds;
    double rate = r.flops / r.seconds * unit;

    printf("%-8s | %2d %5.2f | %3d | %8.1f | %6.3f | %6.3f | %+6.1f%% | %7.2f | %5.1f%% | %6.0f\n",
           mode, P, keep, T, B / r.seconds, fr, tr, 100.0 * (tr / fr - 1), rate,
           100.0 * rate / gemm_rate, r.peak_mb);
}


/* Reads the flags into s, with the defaults of the suite named by --suite. */
static void parse_settings(BenchSettings *s, int argc, char **argv, int *mode, int *P,
                           double *keep, int *skip_unavailable)
{
    static const char *const modes[] = {"backbone", "moco", "both", NULL};
    static const char *const comp[] = {"online", "both", NULL};
    static const char *const devices[] = {"cpu", "cuda", NULL};
    Args a;

    args_init(&a, argc, argv);
    const BenchSuite *u = &SUITES[args_choice(&a, "--suite", 0, SUITE_NAMES)];
    s->vcfg.S = args_int(&a, "--image", u->S, 1, 4096);
    s->vcfg.CH = args_int(&a, "--channels", u->CH, 1, 64);
    s->vcfg.P0 = args_int(&a, "--p0", u->P0, 1, 4096);
    s->vcfg.C = args_int(&a, "--width", u->C, 4, 8192);
    s->vcfg.L = args_int(&a, "--depth", u->L, 1, 256);
    s->vcfg.NH = args_int(&a, "--heads", u->NH, 1, 256);
    s->vcfg.mlp_ratio = args_int(&a, "--mlp-ratio", 4, 1, 16);
    s->vcfg.ln_eps = 1e-6f;
    s->B = args_int(&a, "--batch", u->B, 2, 65536);
    s->mcfg.hidden = args_int(&a, "--hidden", u->hidden, 1, 65536);
    s->mcfg.out = args_int(&a, "--out-dim", 256, 1, 65536);
    s->mcfg.tau = 0.2f;
    *mode = args_choice(&a, "--mode", 2, modes);
    *P = args_int(&a, "--patch", 0, 1, 4096);
    *keep = args_double_open(&a, "--keep", 0, 0, 1);
    s->symmetric = args_choice(&a, "--compress", 0, comp);
    s->steps = args_int(&a, "--steps", 3, 1, 1000);
    s->warmup = args_int(&a, "--warmup", 1, 0, 1000);
    s->device = devices[args_choice(&a, "--device", 0, devices)];
    *skip_unavailable = args_flag(&a, "--skip-unavailable");
    args_finish(&a, "bench");
    args_free(&a);
    if (vit_config_error(&s->vcfg) != NULL)
        user_error("%s", vit_config_error(&s->vcfg));
}


/* Whether the device can be used, asked of a child so that the parent never starts CUDA.
 * Returns 0 only after printing why (the skip line, or a user error without the flag). */
static int device_usable(const BenchSettings *s, int skip_unavailable)
{
#ifdef HASTEN_CUDA
    const char *why = "the CUDA runtime found none";
#else
    const char *why = "hasten was built without CUDA (NO_CUDA=1, or no nvcc at build time)";
#endif

    if (!is_cuda(s) || run_child(s, MODE_PROBE, (VitShape){s->vcfg.P0, 1.0f, 0}).seconds == 1)
        return 1;
    if (!skip_unavailable)
        user_error("bench --device cuda: no usable GPU: %s; use --device cpu", why);
    printf("bench: skipped: --device cuda: no usable GPU: %s\n", why);
    return 0;
}


int cli_bench(int argc, char **argv)
{
    BenchSettings s;
    int P = 0, mode, skip_unavailable;
    double keep = 0;

    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            print_usage();
            return 0;
        }
    parse_settings(&s, argc, argv, &mode, &P, &keep, &skip_unavailable);

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
    if (!device_usable(&s, skip_unavailable))
        return 0;

    printf("hasten bench %s | device %s | threads %s | image %dx%dx%d p0 %d | width %d depth %d "
           "heads %d mlp %d | batch %d | MoCo heads %d->%d->%d, target %s\n",
           HASTEN_VERSION, s.device, getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS")
           : "all cores", s.vcfg.CH, s.vcfg.S, s.vcfg.S, s.vcfg.P0, s.vcfg.C, s.vcfg.L,
           s.vcfg.NH, s.vcfg.mlp_ratio, s.B, s.vcfg.C, s.mcfg.hidden, s.mcfg.out,
           s.symmetric ? "compressed too" : "uncompressed");

    /* A GPU's rates read in TFLOP/s, a CPU's in GFLOP/s. */
    double unit = is_cuda(&s) ? 1e-12 : 1e-9;
    const char *uname = is_cuda(&s) ? "TFLOP/s" : "GFLOP/s";
    int Q = square_side(&s);
    BenchResult sq = run_child(&s, MODE_SGEMM_SQUARE, grid[0]);
    BenchResult mm = run_child(&s, MODE_SGEMM_MODEL, grid[0]);
    double rate_sq = sq.flops / sq.seconds * unit, rate_mm = mm.flops / mm.seconds * unit;
    printf("%s rate: %.2f %s (%d^3), %.2f %s (model MLP shape %dx%dx%d)\n", gemm_label(&s),
           rate_sq, uname, Q, rate_mm, uname, s.B * (vit_num_patches(&s.vcfg, grid[0]) + 1),
           s.vcfg.C, s.vcfg.C * s.vcfg.mlp_ratio);
    printf("%%gemm below is against the %d^3 rate. time ratio and FLOP ratio are against "
           "the first row of each mode; dev = time ratio / FLOP ratio - 1. peak MB: host.\n", Q);
    printf("mode     |  P  keep |   T |    img/s | FLOP r | time r |    dev  | %s | "
           "%%gemm | peak MB\n", uname);

    for (int m = MODE_BACKBONE; m <= MODE_MOCO; m++) {
        if ((mode == 0 && m != MODE_BACKBONE) || (mode == 1 && m != MODE_MOCO))
            continue;
        BenchResult base = {0};
        for (int i = 0; i < ng; i++) {
            BenchResult r = run_child(&s, m, grid[i]);
            if (i == 0)
                base = r;
            print_row(m == MODE_BACKBONE ? "backbone" : "moco", grid[i].P, grid[i].keep,
                      1 + vit_kept_tokens(&s.vcfg, grid[i]), s.B, r, base, rate_sq, unit);
            fflush(stdout);
        }
    }
    return 0;
}
