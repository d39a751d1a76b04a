/* train.c: the training loop of `hasten train` (see train.h). */
#include "train.h"

#include "checkpoint.h"
#include "common.h"
#include "cost.h"
#include "dataset.h"
#include "eval.h"
#include "schedule.h"
#include "train_data.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CURVE_COLS 8
#define EVAL_COLS 5
static const char *const CURVE_NAMES[CURVE_COLS] = {"step", "budget", "wall_s", "loss", "lr",
                                                    "P", "keep", "grad_norm"};
static const char *const EVAL_NAMES[EVAL_COLS] = {"step", "budget", "fraction", "knn_top1",
                                                  "linear_top1"};

typedef struct {
    double *rows;
    size_t n, cap;
    int cols;
} Rows;


static void rows_add(Rows *r, const double *row)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->rows = realloc(r->rows, r->cap * (size_t)r->cols * sizeof(double));
        CHECK_ALLOC(r->rows);
    }
    memcpy(r->rows + r->n * (size_t)r->cols, row, (size_t)r->cols * sizeof(double));
    r->n++;
}


static void rows_write(hid_t f, const char *path, const Rows *r, const char *const *names,
                       const char *meaning)
{
    size_t dims[2] = {r->n, (size_t)r->cols};
    double empty = 0;

    h5_write(f, path, H5IO_F64, 2, dims, r->n ? r->rows : &empty);
    h5_attr_strs(f, path, "columns", (size_t)r->cols, names);
    h5_attr_str(f, path, "meaning", meaning);
}


/* Reads a table written by rows_write, keeping the rows whose step (column 0) <= max_step. */
static void rows_read(hid_t f, const char *path, Rows *r, long max_step)
{
    int rank;
    size_t dims[H5IO_MAX_RANK];

    r->n = 0;
    if (!h5_exists(f, path))
        return;
    double *x = h5_read(f, path, H5IO_F64, 2, (long[]){H5IO_ANY, r->cols}, &rank, dims);
    for (size_t i = 0; i < dims[0]; i++)
        if (x[i * (size_t)r->cols] <= (double)max_step)
            rows_add(r, x + i * (size_t)r->cols);
    free(x);
}


double train_cost_per_sample(const TrainConfig *c, const Method *me, Strategy s)
{
    VitShape base = {c->vcfg.P0, 1.0f, 0};

    if (c->cost_path[0] != '\0')
        return cost_lookup(c->cost_path, s);

    /* FLOP model: the step's FLOPs per sample in units of one base forward of one sample. */
    return method_step_flops(me, s, 1) / vit_flops_forward(&c->vcfg, base, 1);
}


/* Names the first tensor holding a non-finite value of the device vector x. */
static const char *nonfinite_tensor(const Method *me, const float *x)
{
    const ParamTable *t = me->params;
    float *h = xmalloc(t->total * sizeof(float));
    const char *name = "(none)";

    me->be->download(h, x, t->total * sizeof(float));
    for (int i = 0; i < t->count && strcmp(name, "(none)") == 0; i++)
        for (size_t j = 0; j < t->info[i].size; j++)
            if (!isfinite(h[t->info[i].offset + j])) {
                name = t->info[i].name;
                break;
            }
    free(h);
    return name;
}


/* Test hook: HASTEN_TEST_INJECT_NAN_STEP=N makes the gradient of step N hold a NaN, in the
 * tensor HASTEN_TEST_INJECT_NAN_TENSOR (default: the first one), so that tests can watch the
 * divergence check fire and the run file keep its last good checkpoint. Unset: no effect. */
static void inject_nan_for_test(const Method *me, float *g, long step)
{
    const char *at = getenv("HASTEN_TEST_INJECT_NAN_STEP");
    const char *name = getenv("HASTEN_TEST_INJECT_NAN_TENSOR");
    const ParamTable *t = me->params;
    float nan = NAN;
    int k = 0;

    if (at == NULL || strtol(at, NULL, 10) != step)
        return;
    while (name != NULL && k < t->count && strcmp(t->info[k].name, name) != 0)
        k++;
    HASSERT(k < t->count);
    me->be->upload(g + t->info[k].offset + t->info[k].size / 2, &nan, sizeof nan);
}


typedef struct {
    TrainConfig *c;
    Method me;
    Dataset train, test;
    TrainState st;
    Rows curve, evals;
    float *ftrain, *ftest;
    double eval_seconds;
} Run;


/* Rewrites the run file atomically: config, curve, evaluations, and a checkpoint if asked. */
static void save(Run *r, int with_checkpoint)
{
    struct stat sb;
    H5Out *out = h5out_begin(r->c->out, stat(r->c->out, &sb) == 0);
    hid_t f = h5out_file(out);

    train_config_write(f, r->c);
    if (with_checkpoint)
        checkpoint_write(f, &r->me, &r->st);
    rows_write(f, "/curve", &r->curve, CURVE_NAMES, "one row per step: step, budget units "
               "spent after it, training wall seconds (evaluation excluded), loss, learning "
               "rate, patch side and keep ratio of the online branch, gradient L2 norm");
    rows_write(f, "/eval", &r->evals, EVAL_NAMES, "kNN top-1 (and linear top-1 when probed, "
               "else NaN) on the evaluation subsets during training");
    h5out_commit(out);
}


static void evaluate(Run *r)
{
    TrainConfig *c = r->c;
    double t0 = now_seconds();
    size_t ntr = (size_t)c->eval_train < r->train.n ? (size_t)c->eval_train : r->train.n;
    size_t nte = (size_t)c->eval_test < r->test.n ? (size_t)c->eval_test : r->test.n;

    float *ftr = eval_features(&r->me, &r->train, ntr);
    float *fte = eval_features(&r->me, &r->test, nte);
    double acc = eval_knn(&r->me, ftr, &r->train, ntr, fte, &r->test, nte, c->knn_k);
    double row[EVAL_COLS] = {(double)r->st.step, r->st.budget_spent, r->st.fraction, acc, NAN};

    rows_add(&r->evals, row);
    free(ftr);
    free(fte);
    r->eval_seconds += now_seconds() - t0;
    printf("eval  | step %ld | budget %5.1f%% | kNN top-1 %.2f%% (%zu train, %zu test, k=%d) "
           "| %.1f s\n", r->st.step, 100 * r->st.fraction, 100 * acc, ntr, nte, c->knn_k,
           now_seconds() - t0);
    fflush(stdout);
}


static void print_settings(const Run *r, double c0)
{
    const TrainConfig *c = r->c;

    printf("hasten %s train\n", HASTEN_VERSION);
    printf("  method     %s (tau %.3g%s)\n", method_name(c->method), (double)c->mcfg.tau,
           c->method == METHOD_DINO ? ", teacher temp warm-up" : "");
    printf("  model      ViT %dx%dx%d p0 %d, width %d, depth %d, heads %d, mlp %d, %zu params\n",
           c->vcfg.CH, c->vcfg.S, c->vcfg.S, c->vcfg.P0, c->vcfg.C, c->vcfg.L, c->vcfg.NH,
           c->vcfg.mlp_ratio, r->me.params->total);
    printf("  data       %s: %zu train, %zu test images of %dx%dx%d\n", c->dataset, r->train.n,
           r->test.n, r->train.channels, r->train.height, r->train.width);
    printf("  strategy   %s (%d phase%s; first: patch %d keep %.2f %s)\n", c->sched_src,
           c->sched.n, c->sched.n > 1 ? "s" : "", c->sched.strat[0].P,
           (double)c->sched.strat[0].keep, compress_name(c->sched.strat[0].branches));
    printf("  budget     %.4g units (base forwards of one sample); base step %.3g units/sample"
           " (%s)\n", c->budget, c0, c->cost_path[0] ? c->cost_path : "FLOP model");
    printf("  optimizer  AdamW lr %.3g (batch %d), %s decay, warm-up %.0f%%, wd %.3g, clip %g\n",
           c->lr * c->B / 256.0, c->B, c->decay_poly ? "poly" : "cosine", 100 * c->warmup,
           c->wd, c->clip);
    printf("  seed %llu | threads %d | device %s | out %s\n", c->seed, omp_get_max_threads(),
           c->device, c->out);
    printf("step | budget %% | loss | lr | p r | img/s | ETA\n");
    fflush(stdout);
}


static int crossed(double before, double after, double mark)
{
    return before < mark - 1e-12 && after >= mark - 1e-12;
}


int train_run(TrainConfig *c, int resume, long resume_step)
{
    Run r;
    int lock;
    const Backend *be = backend_by_name(c->device);
    LrSchedule lrs = sched_lr_default(c->lr * c->B / 256.0, c->warmup);
    struct stat sb;

    memset(&r, 0, sizeof r);
    r.c = c;
    r.curve.cols = CURVE_COLS;
    r.evals.cols = EVAL_COLS;
    lrs.min_lr = c->min_lr;
    lrs.decay = c->decay_poly ? SCHED_POLY : SCHED_COSINE;
    lrs.alpha = c->alpha;

    if (!resume && stat(c->out, &sb) == 0 && !S_ISREG(sb.st_mode))
        user_error("--out %s is a folder or other non-file; expected the path of a new run file",
                   c->out);
    if (!resume && stat(c->out, &sb) == 0)
        user_error("--out %s exists; continue it with --resume %s or choose another path",
                   c->out, c->out);
    lock = h5lock_acquire(c->out);

    dataset_load(&r.train, &r.test, c->dataset, c->data_path[0] ? c->data_path : NULL);
    if (r.train.height != c->vcfg.S || r.train.width != c->vcfg.S ||
        r.train.channels != c->vcfg.CH)
        user_error("%s images are %dx%dx%d but the model expects %dx%dx%d (--image, --channels)",
                   c->dataset, r.train.channels, r.train.height, r.train.width, c->vcfg.CH,
                   c->vcfg.S, c->vcfg.S);
    if (c->subset_train > 0 && (size_t)c->subset_train < r.train.n) {
        Dataset s;
        dataset_subset(&s, &r.train, (size_t)c->subset_train, c->seed);
        dataset_free(&r.train);
        r.train = s;
    }
    if (c->subset_test > 0 && (size_t)c->subset_test < r.test.n) {
        Dataset s;
        dataset_subset(&s, &r.test, (size_t)c->subset_test, c->seed + 1);
        dataset_free(&r.test);
        r.test = s;
    }

    method_init(&r.me, c->method, &c->vcfg, &c->mcfg, be, c->B, c->seed);
    Strategy s0 = {c->vcfg.P0, 1.0f, COMPRESS_NONE};
    double c0 = train_cost_per_sample(c, &r.me, s0);
    double first = train_cost_per_sample(c, &r.me, schedule_at(&c->sched, 0)) * c->B;
    if (c->budget < first)
        user_error("--budget %g: smaller than one step (%.4g units at batch %d); give at least "
                   "%.4g", c->budget, first, c->B, first);

    if (resume) {
        hid_t f = h5in_open(c->out);
        checkpoint_read(f, c->out, resume_step, &r.me, &r.st);
        rows_read(f, "/curve", &r.curve, r.st.step);
        rows_read(f, "/eval", &r.evals, r.st.step);
        h5in_close(f);
        printf("resuming %s from step %ld (%.1f%% of the budget)\n", c->out, r.st.step,
               100 * r.st.fraction);
    } else {
        r.st.seed = c->seed;
    }
    print_settings(&r, c0);

    TrainData td;
    train_data_init(&td, &r.train, &r.me, c->B, c->seed);
    if (!resume) {
        if (c->eval_every > 0)
            evaluate(&r);
        save(&r, c->nstages > 0 && c->stages[0] <= 0.0);
    }

    /* Training wall time excludes evaluation: eval_seconds is subtracted below, and the
     * evaluation before the first step is already in it. */
    double phase_cost[SCHEDULE_MAX_PHASES];
    for (int i = 0; i < c->sched.n; i++)
        phase_cost[i] = train_cost_per_sample(c, &r.me, c->sched.strat[i]) * c->B;
    double t_start = now_seconds() - r.st.wall_seconds - r.eval_seconds, last_print = 0;
    long steps_this_run = 0;
    while (r.st.budget_spent < c->budget) {
        double t = r.st.fraction;
        int phase = schedule_phase(&c->sched, t);
        Strategy s = c->sched.strat[phase];
        double cost = phase_cost[phase];
        MethodStep ms = {.strat = s, .lr = (float)sched_lr(&lrs, t), .wd = (float)c->wd,
                         .momentum = (float)sched_momentum(c->mom0, t),
                         .teacher_temp = (float)sched_teacher_temp(c->tt0, c->tt1,
                                                                   c->tt_warmup, t),
                         .freeze_last_layer = t < c->freeze_last, .seed = c->seed,
                         .step = (uint64_t)r.st.step};
        double t0 = now_seconds();

        train_data_step(&td, r.st.step);
        double loss = method_grad(&r.me, td.dev, c->B, &ms);
        inject_nan_for_test(&r.me, r.me.g, r.st.step);
        if (!isfinite(loss))
            user_error("training diverged at step %ld: the loss is %g; the last good "
                       "checkpoint in %s is intact", r.st.step, loss, c->out);
        if (!be->all_finite(r.me.g, r.me.params->total))
            user_error("training diverged at step %ld: non-finite gradient in %s; the last "
                       "good checkpoint in %s is intact", r.st.step,
                       nonfinite_tensor(&r.me, r.me.g), c->out);
        double gnorm = method_update(&r.me, &ms, (float)c->clip);

        double before = r.st.fraction;
        r.st.step++;
        steps_this_run++;
        r.st.budget_spent += cost;
        r.st.fraction = fmin(1.0, r.st.budget_spent / c->budget);
        r.st.wall_seconds = now_seconds() - t_start - r.eval_seconds;
        double row[CURVE_COLS] = {(double)r.st.step, r.st.budget_spent, r.st.wall_seconds, loss,
                                  ms.lr, s.P, s.keep, gnorm};
        rows_add(&r.curve, row);

        double now = now_seconds(), rate = c->B / (now - t0);
        if (now - last_print > 5.0 || r.st.fraction >= 1.0 || steps_this_run <= 2) {
            double eta = (1 - r.st.fraction) * r.st.wall_seconds / fmax(r.st.fraction, 1e-9);
            eta = fmax(eta, 0.0);
            if (resume)
                eta = (1 - r.st.fraction) / fmax(r.st.fraction - before, 1e-12) * (now - t0);
            printf("%ld | %5.1f%% | %.4f | %.3g | %d %.2f | %.0f | %.0fs\n", r.st.step,
                   100 * r.st.fraction, loss, (double)ms.lr, s.P, (double)s.keep, rate, eta);
            fflush(stdout);
            last_print = now;
        }

        int ck = 0, ev = 0;
        for (int i = 0; i < c->nstages; i++)
            ck |= crossed(before, r.st.fraction, c->stages[i]) && c->stages[i] > 0;
        if (c->eval_every > 0)
            for (double m = c->eval_every; m <= 1.0 + 1e-9; m += c->eval_every)
                ev |= crossed(before, r.st.fraction, m);
        if (ev)
            evaluate(&r);
        if (ck || ev)
            save(&r, ck);
    }

    if (r.st.fraction >= 1.0)
        save(&r, 0);
    printf("done: %ld steps, %.4g budget units, %.1f s training + %.1f s evaluation -> %s\n",
           r.st.step, r.st.budget_spent, r.st.wall_seconds, r.eval_seconds, c->out);
    train_data_free(&td);
    method_free(&r.me);
    dataset_free(&r.train);
    dataset_free(&r.test);
    free(r.curve.rows);
    free(r.evals.rows);
    h5lock_release(lock);
    return 0;
}
