/* cli_probe.c: `hasten probe RUN.h5 [--checkpoint STEP]`: kNN and linear-probe top-1 of a
 * checkpoint's frozen backbone features on the test split, beside kNN on raw pixels; the
 * results go into /probe/<step> of the run file and to the screen. */
#include "args.h"
#include "checkpoint.h"
#include "cli.h"
#include "common.h"
#include "eval.h"
#include "probe.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void usage(void)
{
    printf("usage: hasten probe RUN.h5 [--checkpoint STEP] [--subset-train N] [--subset-test N]"
           "\n       [--no-linear] [--knn-k K (20)] [--device cpu|cuda]\n"
           "  kNN (cosine, k 20, weights exp(s/0.07), train images as memory) and a linear probe"
           "\n  (L2-regularised multinomial logistic regression, penalty chosen on a held-out"
           "\n  tenth of train) on the test split, and kNN on raw pixels; written to /probe.\n");
}


int cli_probe(int argc, char **argv)
{
    TrainConfig c;
    Args a;
    Dataset train, test;
    Method me;
    TrainState st;

    args_init(&a, argc, argv);
    if (args_flag(&a, "--help")) {
        usage();
        return 0;
    }
    long step = args_int(&a, "--checkpoint", -1, 0, 2000000000);
    int ntr_max = args_int(&a, "--subset-train", 0, 0, 2000000000);
    int nte_max = args_int(&a, "--subset-test", 0, 0, 2000000000);
    int no_linear = args_flag(&a, "--no-linear");
    int k = args_int(&a, "--knn-k", 20, 1, 10000);
    const char *dev = args_str(&a, "--device", NULL);
    const char *path = args_positional(&a);
    args_finish(&a, "probe");
    args_free(&a);
    if (path == NULL)
        user_error("probe: which run? usage: hasten probe RUN.h5 [--checkpoint STEP]");

    hid_t f = h5in_open(path);
    train_config_read(f, &c, path);
    if (dev != NULL)
        snprintf(c.device, sizeof c.device, "%s", dev);
    method_init(&me, c.method, &c.vcfg, &c.mcfg, backend_by_name(c.device), c.B, c.seed);
    checkpoint_read(f, path, step, &me, &st);
    h5in_close(f);

    dataset_load(&train, &test, c.dataset, c.data_path[0] ? c.data_path : NULL);
    size_t ntr = ntr_max > 0 && (size_t)ntr_max < train.n ? (size_t)ntr_max : train.n;
    size_t nte = nte_max > 0 && (size_t)nte_max < test.n ? (size_t)nte_max : test.n;
    printf("probe %s | checkpoint step %ld (%.1f%% of the budget) | %s | %zu train, %zu test\n",
           path, st.step, 100 * st.fraction, c.dataset, ntr, nte);
    fflush(stdout);

    double t0 = now_seconds();
    float *ftr = eval_features(&me, &train, ntr);
    float *fte = eval_features(&me, &test, nte);
    double knn = eval_knn(&me, ftr, &train, ntr, fte, &test, nte, k);
    printf("  kNN top-1        %6.2f%%  (k=%d, T=0.07, %.1f s)\n", 100 * knn, k,
           now_seconds() - t0);
    fflush(stdout);

    double lin = NAN, lambda = NAN;
    if (!no_linear) {
        t0 = now_seconds();
        LinProbeResult lr = linprobe_fit_eval(ftr, train.labels, ntr, fte, test.labels, nte,
                                              c.vcfg.C, train.num_classes, c.seed);
        lin = lr.test_top1;
        lambda = lr.lambda;
        printf("  linear top-1     %6.2f%%  (L2 penalty %.0e chosen on held-out train, %.1f s)"
               "\n", 100 * lin, lambda, now_seconds() - t0);
        fflush(stdout);
    }

    t0 = now_seconds();
    size_t npx = (size_t)train.channels * train.height * train.width;
    double pix = knn_top1_pixels(me.be, train.pixels, train.labels, ntr, test.pixels,
                                 test.labels, nte, npx, train.num_classes, k, 0.07f, NULL);
    printf("  raw-pixel kNN    %6.2f%%  (same kNN on centred pixels, %.1f s)\n", 100 * pix,
           now_seconds() - t0);

    H5Out *out = h5out_begin(path, 1);
    hid_t w = h5out_file(out);
    char g[64];
    snprintf(g, sizeof g, "/probe/%012ld", st.step);
    H5Gclose(h5_group(w, g));
    h5_attr_i64(w, g, "step", st.step);
    h5_attr_f64(w, g, "budget_spent", st.budget_spent);
    h5_attr_f64(w, g, "fraction", st.fraction);
    h5_attr_f64(w, g, "knn_top1", knn);
    h5_attr_f64(w, g, "linear_top1", lin);
    h5_attr_f64(w, g, "linear_l2_penalty", lambda);
    h5_attr_f64(w, g, "pixel_knn_top1", pix);
    h5_attr_i64(w, g, "n_train", (long long)ntr);
    h5_attr_i64(w, g, "n_test", (long long)nte);
    h5_attr_i64(w, g, "knn_k", k);
    h5_attr_f64(w, g, "knn_temperature", 0.07);
    h5_attr_str(w, g, "features", c.method == METHOD_DINO ? "teacher backbone CLS"
                : "online backbone CLS");
    h5out_commit(out);
    printf("  written to %s%s\n", path, g);

    free(ftr);
    free(fte);
    method_free(&me);
    dataset_free(&train);
    dataset_free(&test);
    return 0;
}
