/* test_train.c: `hasten train` and `hasten probe` end to end on a tiny preset, exact resume
 * for each method, and the resume traps of the optimizer and the momentum schedule.
 * Runs the built program (build/hasten) in a temporary folder. */
#include "check.h"

#include "checkpoint.h"
#include "common.h"
#include "h5io.h"
#include "method.h"
#include "schedule.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static int run(const char *cmd)
{
    char full[1024];

    snprintf(full, sizeof full, "%s > %s/log.txt 2>&1", cmd, dir);
    return system(full);
}


/* Max |a - b| over every dataset of group g in two files (a missing one counts as 1e30). */
static double max_diff(const char *fa, const char *fb, const char *g)
{
    hid_t a = h5in_open(fa), b = h5in_open(fb);
    size_t n;
    char **names = h5_list(a, g, &n);
    double worst = n ? 0 : 1e30;
    char path[512];

    for (size_t i = 0; i < n; i++) {
        int ra, rb;
        size_t da[H5IO_MAX_RANK], db[H5IO_MAX_RANK], len = 1;
        snprintf(path, sizeof path, "%s/%s", g, names[i]);
        if (!h5_exists(b, path)) {
            worst = 1e30;
            continue;
        }
        float *x = h5_read(a, path, H5IO_F32, H5IO_ANY, NULL, &ra, da);
        float *y = h5_read(b, path, H5IO_F32, H5IO_ANY, NULL, &rb, db);
        for (int d = 0; d < ra; d++)
            len *= da[d];
        for (size_t j = 0; j < len; j++)
            worst = fmax(worst, fabs((double)x[j] - y[j]));
        free(x);
        free(y);
    }
    h5_free_strs(names, n);
    h5in_close(a);
    h5in_close(b);
    return worst;
}


static long last_step(const char *f)
{
    hid_t h = h5in_open(f);
    size_t n;
    long *s = checkpoint_list(h, &n), last = n ? s[n - 1] : -1;

    free(s);
    h5in_close(h);
    return last;
}


static void test_method(const char *method)
{
    char cmd[512], a[128], b[128], name[128], g[160];
    size_t n;

    snprintf(a, sizeof a, "%s/%s_a.h5", dir, method);
    snprintf(b, sizeof b, "%s/%s_b.h5", dir, method);
    snprintf(cmd, sizeof cmd, "%s train --preset tiny --method %s --seed 3 --out %s",
             check_hasten_bin(), method, a);
    snprintf(name, sizeof name, "%s: tiny training run exits 0", method);
    check_true(run(cmd) == 0, name, cmd);

    hid_t f = h5in_open(a);
    long *steps = checkpoint_list(f, &n);
    snprintf(name, sizeof name, "%s: 5 stage checkpoints (0, 25, 50, 75, 100 %%)", method);
    check_close((double)n, 5, 0, name);
    size_t rows;
    int cols;
    double *curve = h5_table_read(f, "/curve", &rows, &cols, NULL);
    snprintf(name, sizeof name, "%s: one curve row per step", method);
    check_close((double)rows, (double)steps[n - 1], 0, name);
    int finite = 1;
    for (size_t i = 0; i < rows; i++)
        finite &= isfinite(curve[i * (size_t)cols + 3]);
    snprintf(name, sizeof name, "%s: every loss finite", method);
    check_true(finite, name, NULL);
    free(curve);
    long mid = steps[2];
    h5in_close(f);
    free(steps);

    /* Resume from the middle checkpoint of a copy: the second half is computed again and
     * must end exactly where the uninterrupted run ended. */
    snprintf(cmd, sizeof cmd, "cp %s %s && %s train --resume %s --checkpoint %ld",
             a, b, check_hasten_bin(), b, mid);
    snprintf(name, sizeof name, "%s: resume from step %ld exits 0", method, mid);
    check_true(run(cmd) == 0, name, cmd);
    checkpoint_name(g, sizeof g, last_step(a));
    const char *parts[] = {"params", "adam_m", "adam_v", "target"};
    for (int i = 0; i < (strcmp(method, "simclr") == 0 ? 3 : 4); i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s/%s", g, parts[i]);
        snprintf(name, sizeof name, "%s: resumed final %s equal the uninterrupted run's",
                 method, parts[i]);
        check_close(max_diff(a, b, sub), 0, 0, name);
    }

    snprintf(cmd, sizeof cmd, "%s probe %s --subset-train 300 --subset-test 77",
             check_hasten_bin(), a);
    snprintf(name, sizeof name, "%s: probe on 77 test images exits 0", method);
    check_true(run(cmd) == 0, name, cmd);
    f = h5in_open(a);
    char **pr = h5_list(f, "/probe", &n);
    snprintf(g, sizeof g, "/probe/%s", pr[0]);
    double knn = h5_attr_get_f64(f, g, "knn_top1"), lin = h5_attr_get_f64(f, g, "linear_top1");
    snprintf(name, sizeof name, "%s: probe accuracies written and above chance (10%%)", method);
    char det[96];
    snprintf(det, sizeof det, "kNN %.3f, linear %.3f", knn, lin);
    check_true(knn > 0.2 && knn <= 1 && lin > 0.2 && lin <= 1, name, det);
    h5_free_strs(pr, n);
    h5in_close(f);
}


/* theta0 = 1, lr 0.1, betas (0.9, 0.999): step 1 with g = 1 gives 0.9; save; resume; step 2
 * with g = 0 gives 0.832994 only if the moments and the step count came back. */
static void test_adam_trap(void)
{
    VitConfig v = {.S = 8, .CH = 1, .P0 = 4, .C = 8, .L = 1, .NH = 2, .mlp_ratio = 2,
                   .ln_eps = 1e-6f};
    MethodConfig mc = {.hidden = 8, .out = 4, .prototypes = 8, .tau = 0.2f};
    Method me, me2;
    TrainState st = {.step = 1, .budget_spent = 50, .fraction = 0.5, .seed = 1}, st2;
    MethodStep ms = {.lr = 0.1f, .wd = 0.0f};
    char path[128];

    method_init(&me, METHOD_MOCO, &v, &mc, backend_cpu(), 4, 1);
    size_t n = me.params->total;
    float *h = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) h[i] = 1.0f;
    me.be->upload(me.p, h, n * sizeof(float));
    me.be->upload(me.g, h, n * sizeof(float));
    method_update(&me, &ms, 0);
    me.be->download(h, me.p, n * sizeof(float));
    check_close(h[n / 2], 0.9, 1e-6, "AdamW step 1 with g = 1 from 1");

    snprintf(path, sizeof path, "%s/adam.h5", dir);
    H5Out *o = h5out_begin(path, 0);
    checkpoint_write(h5out_file(o), &me, &st);
    h5out_commit(o);

    method_init(&me2, METHOD_MOCO, &v, &mc, backend_cpu(), 4, 99);
    hid_t f = h5in_open(path);
    checkpoint_read(f, path, -1, &me2, &st2);
    h5in_close(f);
    me2.be->zero(me2.g, n * sizeof(float));
    method_update(&me2, &ms, 0);
    me2.be->download(h, me2.p, n * sizeof(float));
    check_close(h[n / 2], 0.832994, 1e-6, "AdamW step 2 with g = 0 after save and resume");
    check_close(sched_momentum(0.996, st2.fraction), 0.998, 1e-12,
                "momentum after resuming at 50% of a cosine 0.996 -> 1 schedule");
    free(h);
    method_free(&me);
    method_free(&me2);
}


int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/hasten-test-train-XXXXXX");
    if (mkdtemp(dir) == NULL)
        die_at(__FILE__, __LINE__, __func__, NULL, "mkdtemp failed");
    test_adam_trap();
    test_method("moco");
    test_method("simclr");
    test_method("dino");
    int rc = check_summary();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (rc == 0 && system(cmd) != 0)
        warn("could not remove %s", dir);
    return rc;
}
