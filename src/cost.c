/* cost.c: measured cost tables (see cost.h). */
#include "cost.h"

#include "common.h"
#include "h5io.h"
#include "rng.h"
#include "study.h"
#include "train_data.h"

#include <stdio.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}


static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}


static float *random_views(const Method *me, int B, int v)
{
    int S = method_view_side(me, v);
    size_t n = (size_t)B * me->vcfg.CH * S * S;
    float *h = xmalloc(n * sizeof(float)), *d = me->be->alloc(n * sizeof(float));
    Rng r = rng_stream(17, RNG_EVAL, (uint64_t)v, 0);

    for (size_t i = 0; i < n; i++)
        h[i] = (float)rng_normal(&r);
    me->be->upload(d, h, n * sizeof(float));
    free(h);
    return d;
}


double cost_data_seconds(const Method *me, const Dataset *d, int B, int reps, int warmup)
{
    TrainData td;
    double *t = xcalloc((size_t)reps, sizeof(double));

    train_data_init(&td, d, me, B, 17);
    for (int i = -warmup; i < reps; i++) {
        double t0 = now_seconds();
        train_data_step(&td, i + warmup);
        me->be->sync();
        if (i >= 0)
            t[i] = now_seconds() - t0;
    }
    double sec = median(t, reps);

    train_data_free(&td);
    free(t);
    return sec;
}


CostRow *cost_measure(Method *me, const Strategy *s, size_t n, int B, int reps, int warmup,
                      double data_seconds, double *unit_seconds)
{
    int nv = method_num_views(me);
    float *views[16];
    double *t = xcalloc((size_t)reps, sizeof(double));
    CostRow *rows = xcalloc(n, sizeof(CostRow));
    VitShape base = {me->vcfg.P0, 1.0f, 0};
    double unit_flops = vit_flops_forward(&me->vcfg, base, 1);

    for (int v = 0; v < nv; v++)
        views[v] = random_views(me, B, v);

    /* The unit: a forward of B samples through the uncompressed backbone, per sample. */
    float *feat = xmalloc((size_t)B * me->vcfg.C * sizeof(float));
    for (int i = -warmup; i < reps; i++) {
        double t0 = now_seconds();
        method_features(me, views[0], B, feat);
        if (i >= 0)
            t[i] = now_seconds() - t0;
    }
    free(feat);
    *unit_seconds = median(t, reps) / B;
    printf("unit: %.3f ms per sample (forward of the base model, batch %d); data pipeline "
           "%.3f s per step, added to every strategy\n", 1e3 * *unit_seconds, B, data_seconds);
    printf("  #  |  P  keep  branches |  s/step | units/sample | FLOP units | rel cost | "
           "rel FLOPs\n");

    for (size_t k = 0; k < n; k++) {
        MethodStep st = {.strat = s[k], .lr = 0.0f, .wd = 0.0f, .momentum = 1.0f,
                         .teacher_temp = 0.04f, .freeze_center = 1, .seed = 5};
        for (int i = -warmup; i < reps; i++) {
            st.step = (uint64_t)(i + warmup);
            double t0 = now_seconds();
            /* The update is part of every step: at lr 0 it leaves the weights as they are. */
            method_grad(me, views, B, &st);
            method_update(me, &st, 0.0f);
            me->be->sync();
            if (i >= 0)
                t[i] = now_seconds() - t0;
        }
        CostRow *r = &rows[k];
        r->seconds_per_step = median(t, reps) + data_seconds;
        r->flops_per_sample = method_step_flops(me, s[k], 1);
        r->cost_units = r->seconds_per_step / B / *unit_seconds;
        r->cost_units_flop = r->flops_per_sample / unit_flops;
        r->rel_cost = r->seconds_per_step / rows[0].seconds_per_step;
        r->rel_flops = r->flops_per_sample / rows[0].flops_per_sample;
        printf("%4zu | %2d  %4.2f  %-8s | %7.3f | %12.3f | %10.3f | %8.3f | %9.3f\n", k,
               s[k].P, (double)s[k].keep, compress_name(s[k].branches), r->seconds_per_step,
               r->cost_units, r->cost_units_flop, r->rel_cost, r->rel_flops);
        fflush(stdout);
    }
    /* Measured and FLOP-model costs agree within a few percent on an idle machine (see
     * `hasten bench`); a large disagreement means the timings were taken under load. */
    for (size_t k = 0; k < n; k++) {
        double ratio = rows[k].cost_units / rows[k].cost_units_flop;
        if (ratio > 3 || ratio < 1.0 / 3) {
            warn("strategy %zu: measured cost %.3g units/sample is %.1fx the FLOP model's "
                 "%.3g; was the machine busy? (median of %d steps)", k, rows[k].cost_units,
                 ratio, rows[k].cost_units_flop, reps);
            break;
        }
    }
    for (int v = 0; v < nv; v++)
        me->be->free(views[v]);
    free(t);
    return rows;
}


double cost_lookup(const char *study_path, Strategy s)
{
    hid_t f = h5in_open(study_path);
    size_t ns, nc;
    Strategy *list = study_read_strategies(f, study_path, &ns);
    double *rows = study_read_table(f, study_path, "/cost", COST_COLS, &nc);
    int i = study_find(list, ns, s);
    double c;

    h5in_close(f);
    if (nc != ns)
        user_error("%s: /cost has %zu rows but /strategies %zu", study_path, nc, ns);
    if (i < 0)
        user_error("%s: no measured cost for patch %d keep %g %s; measure it with hasten cost "
                   "or train without --cost", study_path, s.P, (double)s.keep,
                   compress_name(s.branches));
    c = rows[(size_t)i * COST_COLS + 2];
    free(list);
    free(rows);
    return c;
}
