/* test_devmem.c: the paths of src/ that training, checkpoints, probes, cost tables and gradient
 * statistics take, run on the guarded backend (tests/guarded_backend.h), whose memory the host
 * cannot dereference: a fault here is host code touching backend memory, which would crash
 * under the CUDA backend. The same paths run on the plain CPU backend too, and the results
 * must agree bitwise: the guard changes the pointers and nothing else. Tiny shapes: a 16 px,
 * 1-channel dataset drawn here, width 16, depth 1, batch 8. */
#include "check.h"

#include "checkpoint.h"
#include "common.h"
#include "cost.h"
#include "eval.h"
#include "gradstats.h"
#include "guarded_backend.h"
#include "method.h"
#include "rng.h"
#include "train_data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { NTRAIN = 48, NTEST = 24, B = 8, STEPS = 2 };

static const VitConfig VC = {.S = 16, .CH = 1, .P0 = 4, .C = 16, .L = 1, .NH = 2,
                             .mlp_ratio = 2, .ln_eps = 1e-6f};
static const MethodConfig MC = {.hidden = 16, .out = 8, .prototypes = 16, .local_crops = 1,
                                .local_side = 8, .tau = 0.2f};
static char tmpdir[64];


static void synthetic(Dataset *d, size_t n, const char *name, uint64_t seed)
{
    Rng r = rng_stream(seed, 99, 0, 0);

    dataset_alloc(d, n, VC.CH, VC.S, VC.S, 4, name);
    for (size_t i = 0; i < n * VC.CH * VC.S * VC.S; i++)
        d->pixels[i] = (uint8_t)rng_below(&r, 256);
    for (size_t i = 0; i < n; i++)
        d->labels[i] = (int32_t)(i % 4);
}


/* Everything one backend produces on the paths under test, in host memory. */
typedef struct {
    double loss[STEPS], gnorm[STEPS], knn;
    float *p, *ftrain;
    double *gs_rows;
} Outcome;


/* The training loop of train.c (views uploaded once per step, divergence checks, clipped
 * AdamW), then features, kNN and gradient statistics of two strategies. */
static Outcome run_paths(const Backend *be, MethodKind kind, const Dataset *train,
                         const Dataset *test, Method *me)
{
    Strategy strat[2] = {{4, 1.0f, COMPRESS_NONE}, {8, 0.5f, COMPRESS_ONLINE}};
    double rel_cost[2] = {1.0, 0.5};
    GradstatsConfig gc = {.draws = 3, .ref_draws = 3, .batch = 4, .var_scale = 0.5,
                          .per_group = 1, .seed = 3};
    Outcome o;
    TrainData td;

    memset(&o, 0, sizeof o);
    method_init(me, kind, &VC, &MC, be, B, 2385);
    train_data_init(&td, train, me, B, 5);
    for (int k = 0; k < STEPS; k++) {
        MethodStep ms = {.strat = strat[k], .lr = 1e-3f, .wd = 0.05f, .momentum = 0.99f,
                         .teacher_temp = 0.04f, .seed = 5, .step = (uint64_t)k};
        train_data_step(&td, k);
        o.loss[k] = method_grad(me, td.dev, B, &ms);
        HASSERT(be->all_finite(me->g, me->params->total));
        o.gnorm[k] = method_update(me, &ms, 1.0f);
    }
    train_data_free(&td);

    o.p = xmalloc(me->params->total * sizeof(float));
    be->download(o.p, me->p, me->params->total * sizeof(float));
    o.ftrain = eval_features(me, train, NTRAIN);
    float *ftest = eval_features(me, test, NTEST);
    o.knn = eval_knn(me, o.ftrain, train, NTRAIN, ftest, test, NTEST, 5);
    free(ftest);

    GradstatsStage gs = gradstats_stage(me, train, strat, 2, rel_cost, 0.5, STEPS, 1, &gc);
    o.gs_rows = xmalloc(2 * GS_COLS * sizeof(double));
    memcpy(o.gs_rows, gs.rows, 2 * GS_COLS * sizeof(double));
    gradstats_stage_free(&gs);
    return o;
}


static int same_doubles(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i]))))
            return 0;
    return 1;
}


/* Writes me's checkpoint, reads it into a fresh Method on the same backend, and compares every
 * vector the checkpoint holds. */
static void checkpoint_round_trip(Method *me, MethodKind kind, const char *label)
{
    const Backend *be = me->be;
    char path[128], name[160];
    TrainState st = {.step = STEPS, .budget_spent = 1.0, .fraction = 0.5, .seed = 2385};
    TrainState back;
    Method me2;
    int same = 1;

    snprintf(path, sizeof path, "%s/%s.h5", tmpdir, label);
    H5Out *out = h5out_begin(path, 0);
    checkpoint_write(h5out_file(out), me, &st);
    h5out_commit(out);

    method_init(&me2, kind, &VC, &MC, be, B, 1);
    hid_t f = h5in_open(path);
    checkpoint_read(f, path, -1, &me2, &back);
    h5in_close(f);

    size_t np = me->params->total, nb = me->buffers->total;
    struct { const float *a, *b; size_t n; } vec[] = {
        {me->p, me2.p, np}, {me->m, me2.m, np}, {me->v, me2.v, np},
        {me->p_t, me2.p_t, me->p_t != NULL ? me->target_count : 0},
        {me->buf, me2.buf, nb}, {me->buf_t, me2.buf_t, me->buf_t != NULL ? nb : 0}};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        float *ha = xmalloc((vec[i].n + 1) * sizeof(float)), *hb = xmalloc((vec[i].n + 1) *
                                                                             sizeof(float));
        be->download(ha, vec[i].a, vec[i].n * sizeof(float));
        be->download(hb, vec[i].b, vec[i].n * sizeof(float));
        same &= memcmp(ha, hb, vec[i].n * sizeof(float)) == 0;
        free(ha);
        free(hb);
    }
    if (me->extra != NULL)
        same &= memcmp(me->extra, me2.extra, me->extra_n * sizeof(float)) == 0;
    same &= *me->adam_t == *me2.adam_t && back.step == STEPS;
    snprintf(name, sizeof name, "%s: checkpoint write and read back (params, moments, target, "
             "buffers, extra, adam_t)", label);
    check_true(same, name, "bitwise");
    method_free(&me2);
    remove(path);
}


static void test_method(MethodKind kind, const Dataset *train, const Dataset *test)
{
    const Backend *be[2] = {backend_cpu(), guarded_backend_get()};
    Method me[2];
    Outcome o[2];
    char name[160], detail[200];
    const char *mname = method_name(kind);

    for (int s = 0; s < 2; s++)
        o[s] = run_paths(be[s], kind, train, test, &me[s]);

    snprintf(name, sizeof name, "%s on %s: %d training steps, losses and gradient norms", mname,
             be[1]->name, STEPS);
    snprintf(detail, sizeof detail, "loss %.9g %.9g vs cpu %.9g %.9g", o[1].loss[0],
             o[1].loss[1], o[0].loss[0], o[0].loss[1]);
    check_true(same_doubles(o[1].loss, o[0].loss, STEPS) &&
               same_doubles(o[1].gnorm, o[0].gnorm, STEPS), name, detail);
    snprintf(name, sizeof name, "%s on %s: parameters after the steps", mname, be[1]->name);
    check_true(memcmp(o[1].p, o[0].p, me[0].params->total * sizeof(float)) == 0, name,
               "bitwise equal to the cpu backend's");
    snprintf(name, sizeof name, "%s on %s: features and kNN top-1", mname, be[1]->name);
    snprintf(detail, sizeof detail, "kNN %.4f vs cpu %.4f", o[1].knn, o[0].knn);
    check_true(memcmp(o[1].ftrain, o[0].ftrain, (size_t)NTRAIN * VC.C * sizeof(float)) == 0 &&
               o[1].knn == o[0].knn, name, detail);
    snprintf(name, sizeof name, "%s on %s: gradient statistics of 2 strategies", mname,
             be[1]->name);
    check_true(same_doubles(o[1].gs_rows, o[0].gs_rows, 2 * GS_COLS), name, "bitwise");

    checkpoint_round_trip(&me[1], kind, mname);

    /* The cost table times steps; only that it runs matters here. */
    Strategy cs[2] = {{4, 1.0f, COMPRESS_NONE}, {8, 0.25f, COMPRESS_BOTH}};
    double unit;
    CostRow *rows = cost_measure(&me[1], cs, 2, 4, 1, 0, 0.0, &unit);
    snprintf(name, sizeof name, "%s on %s: cost table of 2 strategies", mname, be[1]->name);
    check_true(isfinite(rows[1].seconds_per_step) && unit > 0, name, NULL);
    free(rows);

    for (int s = 0; s < 2; s++) {
        free(o[s].p);
        free(o[s].ftrain);
        free(o[s].gs_rows);
        method_free(&me[s]);
    }
}


int main(void)
{
    Dataset train, test;

    snprintf(tmpdir, sizeof tmpdir, "/tmp/hasten-test-devmem-XXXXXX");
    HASSERT(mkdtemp(tmpdir) != NULL);
    synthetic(&train, NTRAIN, "synthetic/train", 1);
    synthetic(&test, NTEST, "synthetic/test", 2);

    /* The guard itself: a guarded pointer must fault when dereferenced, or this test would
     * prove nothing. Checked in a child, which the fault ends. */
    int status;
    pid_t pid = fork();
    if (pid == 0) {
        float *d = guarded_backend_get()->alloc(sizeof(float));
        volatile float x;

        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        x = *d;
        (void)x;
        _exit(0);
    }
    waitpid(pid, &status, 0);
    check_true(WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS),
               "a host read through a guarded pointer faults", NULL);
    guarded_install_handler();

    test_method(METHOD_MOCO, &train, &test);
    test_method(METHOD_SIMCLR, &train, &test);
    test_method(METHOD_DINO, &train, &test);

    dataset_free(&train);
    dataset_free(&test);
    rmdir(tmpdir);
    return check_summary();
}
