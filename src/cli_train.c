/* cli_train.c: `hasten train`: flags -> TrainConfig -> train_run. */
#include "args.h"
#include "cli.h"
#include "common.h"
#include "train.h"

#include <stdio.h>
#include <string.h>

static void usage(void)
{
    printf(
"usage: hasten train --out RUN.h5 [flags]      or      hasten train --resume RUN.h5\n"
"  --method moco|simclr|dino (moco)   --dataset fashion-mnist|cifar10|cifar100|folder\n"
"  --data PATH                        dataset folder (default: Debian's Fashion-MNIST)\n"
"  --preset default|tiny              tiny: a very small model and data subset, for tests\n"
"  --budget UNITS                     compute budget in base forwards of one sample\n"
"  --batch B (128) --lr LR (1e-3 at batch 256, scaled by B/256) --min-lr --warmup FRAC\n"
"  --decay cosine|poly --alpha A (2) --wd WD --clip NORM (0: off) --momentum M0 --tau T\n"
"  --freeze-last-layer FRAC           DINO: last layer frozen for FRAC of training (0.01)\n"
"  --p0 P0 --width C --depth L --heads NH --mlp-ratio R\n"
"  --hidden H --out-dim D --prototypes K --local-crops L --local-side S\n"
"  --patch P --keep R --compress online|both|none   a constant strategy\n"
"  --schedule FILE                    a schedule of strategies (see README)\n"
"  --cost STUDY.h5                    budget accounting from a measured cost table\n"
"  --stages 0,0.25,0.5,0.75,1         checkpoint fractions of the budget\n"
"  --eval-every F (0.25) --eval-train N (10000) --eval-test N (2000) --knn-k K (20)\n"
"  --subset-train N --subset-test N   use random subsets of the data\n"
"  --seed S (1) --device cpu|cuda (cpu)\n"
"  --resume RUN.h5 [--checkpoint STEP] continue a run exactly where a checkpoint left it\n");
}


static void parse_stages(TrainConfig *c, const char *s)
{
    char buf[512], *save = NULL;

    snprintf(buf, sizeof buf, "%s", s);
    c->nstages = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        double v = strtod(tok, &end);
        if (*end != '\0' || !(v >= 0 && v <= 1))
            user_error("--stages %s: '%s' is not a fraction in [0, 1]", s, tok);
        if (c->nstages > 0 && v <= c->stages[c->nstages - 1])
            user_error("--stages %s: fractions must increase", s);
        if (c->nstages == TRAIN_MAX_STAGES)
            user_error("--stages %s: at most %d stages", s, TRAIN_MAX_STAGES);
        c->stages[c->nstages++] = v;
    }
}


/* The image side and channels of a dataset name (folder: from flags). */
static void dataset_shape(const char *name, int *S, int *CH)
{
    if (strcmp(name, "fashion-mnist") == 0) {
        *S = 28;
        *CH = 1;
    } else if (strcmp(name, "cifar10") == 0 || strcmp(name, "cifar100") == 0) {
        *S = 32;
        *CH = 3;
    } else if (strcmp(name, "folder") == 0) {
        *S = 32;
        *CH = 3;
    } else {
        user_error("--dataset %s: expected fashion-mnist, cifar10, cifar100 or folder", name);
    }
}


int cli_train(int argc, char **argv)
{
    static const char *const methods[] = {"moco", "simclr", "dino", NULL};
    static const char *const decays[] = {"cosine", "poly", NULL};
    static const char *const presets[] = {"default", "tiny", NULL};
    static const char *const branches[] = {"none", "online", "both", NULL};
    TrainConfig c;
    Args a;
    int S, CH;

    args_init(&a, argc, argv);
    if (args_flag(&a, "--help")) {
        usage();
        return 0;
    }
    const char *resume = args_str(&a, "--resume", NULL);
    if (resume != NULL) {
        long step = args_int(&a, "--checkpoint", -1, 0, 2000000000);
        const char *dev = args_str(&a, "--device", NULL);
        args_finish(&a, "train");
        hid_t f = h5in_open(resume);
        train_config_read(f, &c, resume);
        h5in_close(f);
        snprintf(c.out, sizeof c.out, "%s", resume);
        if (dev != NULL)
            snprintf(c.device, sizeof c.device, "%s", dev);
        return train_run(&c, 1, step);
    }

    MethodKind m = (MethodKind)args_choice(&a, "--method", 0, methods);
    const char *dataset = args_str(&a, "--dataset", "fashion-mnist");
    dataset_shape(dataset, &S, &CH);
    S = args_int(&a, "--image", S, 1, 4096);
    CH = args_int(&a, "--channels", CH, 1, 3);
    train_config_default(&c, m, S, CH);
    snprintf(c.dataset, sizeof c.dataset, "%s", dataset);
    snprintf(c.data_path, sizeof c.data_path, "%s", args_str(&a, "--data", ""));
    if (args_choice(&a, "--preset", 0, presets) == 1) {
        c.vcfg.C = 32;
        c.vcfg.L = 2;
        c.vcfg.NH = 2;
        c.mcfg.hidden = 64;
        c.mcfg.out = 32;
        c.mcfg.prototypes = 64;
        c.mcfg.local_crops = 2;
        c.B = 32;
        c.budget = 3000;
        c.subset_train = 512;
        c.subset_test = 256;
        c.eval_every = 0.5;
        c.eval_train = 512;
        c.eval_test = 256;
    }
    c.vcfg.P0 = args_int(&a, "--p0", c.vcfg.P0, 1, S);
    c.vcfg.C = args_int(&a, "--width", c.vcfg.C, 4, 8192);
    c.vcfg.L = args_int(&a, "--depth", c.vcfg.L, 1, 256);
    c.vcfg.NH = args_int(&a, "--heads", c.vcfg.NH, 1, 256);
    c.vcfg.mlp_ratio = args_int(&a, "--mlp-ratio", c.vcfg.mlp_ratio, 1, 16);
    if (vit_config_error(&c.vcfg) != NULL)
        user_error("%s", vit_config_error(&c.vcfg));
    c.mcfg.hidden = args_int(&a, "--hidden", c.mcfg.hidden, 1, 65536);
    c.mcfg.out = args_int(&a, "--out-dim", c.mcfg.out, 1, 65536);
    c.mcfg.prototypes = args_int(&a, "--prototypes", c.mcfg.prototypes, 2, 262144);
    c.mcfg.local_crops = args_int(&a, "--local-crops", c.mcfg.local_crops, 0, 14);
    c.mcfg.local_side = args_int(&a, "--local-side", c.mcfg.local_side, c.vcfg.P0, S);
    c.mcfg.tau = (float)args_double_open(&a, "--tau", c.mcfg.tau, 0, 100);
    c.B = args_int(&a, "--batch", c.B, 2, 65536);
    c.budget = args_double_open(&a, "--budget", c.budget, 0, 1e15);
    c.lr = args_double_open(&a, "--lr", c.lr, 0, 10);
    c.min_lr = args_double(&a, "--min-lr", c.min_lr, 0, 10);
    c.warmup = args_double(&a, "--warmup", c.warmup, 0, 0.99);
    c.decay_poly = args_choice(&a, "--decay", c.decay_poly, decays);
    c.alpha = args_double_open(&a, "--alpha", c.alpha, 0, 100);
    c.wd = args_double(&a, "--wd", c.wd, 0, 10);
    c.clip = args_double(&a, "--clip", c.clip, 0, 1e6);
    c.mom0 = args_double(&a, "--momentum", c.mom0, 0, 1);
    c.freeze_last = args_double(&a, "--freeze-last-layer", c.freeze_last, 0, 1);
    c.seed = (unsigned long long)args_int(&a, "--seed", (int)c.seed, 0, 2000000000);
    c.eval_every = args_double(&a, "--eval-every", c.eval_every, 0, 1);
    c.eval_train = args_int(&a, "--eval-train", c.eval_train, 1, 100000000);
    c.eval_test = args_int(&a, "--eval-test", c.eval_test, 1, 100000000);
    c.knn_k = args_int(&a, "--knn-k", c.knn_k, 1, 10000);
    c.subset_train = args_int(&a, "--subset-train", c.subset_train, 0, 2000000000);
    c.subset_test = args_int(&a, "--subset-test", c.subset_test, 0, 2000000000);
    snprintf(c.device, sizeof c.device, "%s", args_str(&a, "--device", "cpu"));
    const char *stages = args_str(&a, "--stages", NULL);
    if (stages != NULL)
        parse_stages(&c, stages);

    const char *cost = args_str(&a, "--cost", NULL);
    if (cost != NULL)
        snprintf(c.cost_path, sizeof c.cost_path, "%s", cost);
    const char *sched = args_str(&a, "--schedule", NULL);
    int P = args_int(&a, "--patch", c.vcfg.P0, 1, S);
    double keep = args_double_open(&a, "--keep", 1.0, 0, 1);
    int br = args_choice(&a, "--compress", -1, branches);
    if (sched != NULL) {
        schedule_read(&c.sched, sched, &c.vcfg);
        snprintf(c.sched_src, sizeof c.sched_src, "%s", sched);
    } else {
        if (br < 0)
            br = (P == c.vcfg.P0 && keep == 1.0) ? COMPRESS_NONE : COMPRESS_ONLINE;
        c.sched = schedule_constant((Strategy){P, (float)keep, (CompressBranches)br});
        const char *e = vit_shape_error(&c.vcfg, (VitShape){P, (float)keep, 0});
        if (e != NULL)
            user_error("%s", e);
    }
    const char *out = args_str(&a, "--out", NULL);
    if (out == NULL)
        user_error("train: --out RUN.h5 is required (or --resume RUN.h5)");
    snprintf(c.out, sizeof c.out, "%s", out);
    args_finish(&a, "train");
    args_free(&a);
    return train_run(&c, 0, -1);
}
