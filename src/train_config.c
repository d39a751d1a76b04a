/* train_config.c: defaults of `hasten train` and their record in /config of the run file. */
#include "train.h"

#include "common.h"

#include <stdio.h>
#include <string.h>

void train_config_default(TrainConfig *c, MethodKind m, int S, int CH)
{
    memset(c, 0, sizeof(*c));
    c->method = m;
    /* A ViT small enough to learn in minutes on two cores: 28 px images at patch 4 give
     * 7 x 7 = 49 patches, room for patch sizes 4..14 and keep ratios down to 0.1. */
    c->vcfg = (VitConfig){.S = S, .CH = CH, .P0 = 4, .C = 128, .L = 6, .NH = 4,
                          .mlp_ratio = 4, .ln_eps = 1e-6f};
    c->mcfg = (MethodConfig){.hidden = 1024, .out = 256, .prototypes = 1024,
                             .local_crops = 4, .local_side = S / 2 > 8 ? S / 2 : 8,
                             .tau = m == METHOD_SIMCLR ? 0.2f : 0.2f};
    snprintf(c->dataset, sizeof c->dataset, "fashion-mnist");
    c->B = 128;
    c->budget = 2e5;
    /* AdamW base rates at batch 256 (scaled by B/256): MoCo v3 ViT 1.5e-4 is tuned for
     * 300 epochs; short budgets want more, so 1e-3 here, as solo-learn's small-ViT DINO
     * (5e-4..5e-3). */
    c->lr = 1e-3;
    c->min_lr = 1e-6;
    c->warmup = 0.05;
    c->decay_poly = 0;
    c->alpha = 2.0;
    c->wd = m == METHOD_DINO ? 0.04 : 0.1;
    c->clip = m == METHOD_DINO ? 3.0 : 0.0;
    c->mom0 = m == METHOD_DINO ? 0.996 : 0.99;
    c->tt0 = 0.04;
    c->tt1 = 0.07;
    c->tt_warmup = 0.3;
    /* DINO freezes its last layer for the first of 100 epochs: the same 1% of training. */
    c->freeze_last = m == METHOD_DINO ? 0.01 : 0.0;
    c->sched = schedule_constant((Strategy){c->vcfg.P0, 1.0f, COMPRESS_NONE});
    snprintf(c->sched_src, sizeof c->sched_src, "constant");
    c->seed = 1;
    c->nstages = 5;
    for (int i = 0; i < 5; i++)
        c->stages[i] = 0.25 * i;
    c->eval_every = 0.25;
    c->eval_train = 10000;
    c->eval_test = 2000;
    c->knn_k = 20;
    snprintf(c->device, sizeof c->device, "cpu");
}


void train_config_write(hid_t f, const TrainConfig *c)
{
    hid_t g = h5_group(f, "/config");
    char sched[4096] = "";

    H5Gclose(g);
#define I(name, v) h5_attr_i64(f, "/config", name, (long long)(v))
#define D(name, v) h5_attr_f64(f, "/config", name, (double)(v))
#define S(name, v) h5_attr_str(f, "/config", name, v)
    S("version", HASTEN_VERSION);
    S("method", method_name(c->method));
    I("image", c->vcfg.S); I("channels", c->vcfg.CH); I("p0", c->vcfg.P0);
    I("width", c->vcfg.C); I("depth", c->vcfg.L); I("heads", c->vcfg.NH);
    I("mlp_ratio", c->vcfg.mlp_ratio); D("ln_eps", c->vcfg.ln_eps);
    I("hidden", c->mcfg.hidden); I("out_dim", c->mcfg.out); I("prototypes", c->mcfg.prototypes);
    I("local_crops", c->mcfg.local_crops); I("local_side", c->mcfg.local_side);
    D("tau", c->mcfg.tau);
    S("dataset", c->dataset); S("data_path", c->data_path);
    I("subset_train", c->subset_train); I("subset_test", c->subset_test);
    I("batch", c->B); D("budget", c->budget);
    S("budget_units", "forward passes of one sample through the uncompressed base model");
    D("lr", c->lr); D("min_lr", c->min_lr); D("warmup", c->warmup);
    S("lr_decay", c->decay_poly ? "poly" : "cosine"); D("poly_alpha", c->alpha);
    D("weight_decay", c->wd); D("clip", c->clip); D("momentum", c->mom0);
    D("teacher_temp", c->tt0); D("teacher_temp_final", c->tt1);
    D("teacher_temp_warmup", c->tt_warmup);
    D("freeze_last_layer", c->freeze_last);
    for (int i = 0; i < c->sched.n; i++) {
        char line[128];
        snprintf(line, sizeof line, "%s%.6f %d %.6g %s", i ? "; " : "", c->sched.start[i],
                 c->sched.strat[i].P, (double)c->sched.strat[i].keep,
                 compress_name(c->sched.strat[i].branches));
        strncat(sched, line, sizeof sched - strlen(sched) - 1);
    }
    S("schedule", sched);
    S("schedule_source", c->sched_src);
    S("cost_table", c->cost_path[0] ? c->cost_path : "FLOP model");
    I("seed", c->seed);
    h5_write(f, "/config/stages", H5IO_F64, 1, (size_t[]){(size_t)c->nstages}, c->stages);
    D("eval_every", c->eval_every); I("eval_train", c->eval_train); I("eval_test", c->eval_test);
    I("knn_k", c->knn_k); D("knn_temperature", 0.07);
    S("knn_features", c->method == METHOD_DINO ? "teacher backbone CLS after the final norm"
                      : "online backbone CLS after the final norm");
    S("device", c->device);
#undef I
#undef D
#undef S
}


void train_config_read(hid_t f, TrainConfig *c, const char *path)
{
    char *s;
    int rank;
    size_t dims[H5IO_MAX_RANK];

    h5_require(f, "/config");
    memset(c, 0, sizeof(*c));
#define I(name) h5_attr_get_i64(f, "/config", name)
#define D(name) h5_attr_get_f64(f, "/config", name)
    s = h5_attr_get_str(f, "/config", "method");
    if (method_parse(s) < 0)
        user_error("%s: /config method '%s' is not moco, simclr or dino", path, s);
    c->method = (MethodKind)method_parse(s);
    free(s);
    c->vcfg = (VitConfig){.S = (int)I("image"), .CH = (int)I("channels"), .P0 = (int)I("p0"),
                          .C = (int)I("width"), .L = (int)I("depth"), .NH = (int)I("heads"),
                          .mlp_ratio = (int)I("mlp_ratio"), .ln_eps = (float)D("ln_eps")};
    if (vit_config_error(&c->vcfg) != NULL)
        user_error("%s: /config: %s", path, vit_config_error(&c->vcfg));
    c->mcfg = (MethodConfig){.hidden = (int)I("hidden"), .out = (int)I("out_dim"),
                             .prototypes = (int)I("prototypes"),
                             .local_crops = (int)I("local_crops"),
                             .local_side = (int)I("local_side"), .tau = (float)D("tau")};
    s = h5_attr_get_str(f, "/config", "dataset");
    snprintf(c->dataset, sizeof c->dataset, "%s", s);
    free(s);
    s = h5_attr_get_str(f, "/config", "data_path");
    snprintf(c->data_path, sizeof c->data_path, "%s", s);
    free(s);
    c->subset_train = (int)I("subset_train");
    c->subset_test = (int)I("subset_test");
    c->B = (int)I("batch");
    c->budget = D("budget");
    c->lr = D("lr"); c->min_lr = D("min_lr"); c->warmup = D("warmup");
    s = h5_attr_get_str(f, "/config", "lr_decay");
    c->decay_poly = strcmp(s, "poly") == 0;
    free(s);
    c->alpha = D("poly_alpha"); c->wd = D("weight_decay"); c->clip = D("clip");
    c->mom0 = D("momentum");
    c->tt0 = D("teacher_temp"); c->tt1 = D("teacher_temp_final");
    c->tt_warmup = D("teacher_temp_warmup");
    /* Run files written before the freeze existed trained without it. */
    c->freeze_last = h5_attr_exists(f, "/config", "freeze_last_layer")
                     ? D("freeze_last_layer") : 0.0;
    s = h5_attr_get_str(f, "/config", "schedule");
    {
        char *save = NULL, *tok = strtok_r(s, ";", &save);
        c->sched.n = 0;
        while (tok != NULL && c->sched.n < SCHEDULE_MAX_PHASES) {
            double st, keep;
            int P;
            char br[16];
            if (sscanf(tok, "%lf %d %lf %15s", &st, &P, &keep, br) != 4 || compress_parse(br) < 0)
                user_error("%s: /config schedule '%s' is malformed", path, tok);
            c->sched.start[c->sched.n] = st;
            c->sched.strat[c->sched.n++] = (Strategy){P, (float)keep,
                                                      (CompressBranches)compress_parse(br)};
            tok = strtok_r(NULL, ";", &save);
        }
        if (schedule_error(&c->sched, &c->vcfg) != NULL)
            user_error("%s: /config schedule: %s", path, schedule_error(&c->sched, &c->vcfg));
    }
    free(s);
    s = h5_attr_get_str(f, "/config", "schedule_source");
    snprintf(c->sched_src, sizeof c->sched_src, "%s", s);
    free(s);
    s = h5_attr_get_str(f, "/config", "cost_table");
    snprintf(c->cost_path, sizeof c->cost_path, "%s", strcmp(s, "FLOP model") ? s : "");
    free(s);
    c->seed = (unsigned long long)I("seed");
    double *st = h5_read(f, "/config/stages", H5IO_F64, 1, (long[]){H5IO_ANY}, &rank, dims);
    c->nstages = (int)(dims[0] < TRAIN_MAX_STAGES ? dims[0] : TRAIN_MAX_STAGES);
    memcpy(c->stages, st, (size_t)c->nstages * sizeof(double));
    free(st);
    c->eval_every = D("eval_every");
    c->eval_train = (int)I("eval_train");
    c->eval_test = (int)I("eval_test");
    c->knn_k = (int)I("knn_k");
    s = h5_attr_get_str(f, "/config", "device");
    snprintf(c->device, sizeof c->device, "%s", s);
    free(s);
#undef I
#undef D
}
