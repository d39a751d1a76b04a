/* gradstats.c: gradient-estimation error of every strategy at one checkpoint. */
#include "gradstats.h"

#include "common.h"
#include "gstats.h"
#include "rng.h"
#include "train_data.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const GS_COLUMNS[GS_COLS] = {
    "stage", "step", "strategy", "K_s", "K_0", "rel_cost", "norm_ref",
    "bias2", "bias2_lo", "bias2_hi", "bias2_raw", "bias2_raw_lo", "bias2_raw_hi",
    "var", "var_lo", "var_hi", "cvar", "cvar_lo", "cvar_hi", "camse", "camse_lo", "camse_hi",
    "bias2_rel", "bias2_rel_lo", "bias2_rel_hi", "cvar_rel", "cvar_rel_lo", "cvar_rel_hi",
    "camse_rel", "camse_rel_lo", "camse_rel_hi"};


double gs_camse_clamped(const double *row, int relative)
{
    return relative ? fmax(row[22], 0.0) + row[25] : fmax(row[7], 0.0) + row[16];
}


/* Parameter groups: the embedding (patch, CLS, position), each block, and the final norm with
 * the heads. */
static int make_segments(const Method *me, size_t *ends, char **names)
{
    const Vit *v = me->vit;
    int n = 0;

    ends[n] = v->blocks[0].ln1_w;
    names[n++] = strdup("embed");
    for (int l = 0; l < v->cfg.L; l++) {
        char buf[32];
        ends[n] = l + 1 < v->cfg.L ? v->blocks[l + 1].ln1_w : v->lnf_w;
        snprintf(buf, sizeof buf, "block.%d", l);
        names[n++] = strdup(buf);
    }
    ends[n] = me->params->total;
    names[n++] = strdup("norm+heads");
    return n;
}


static void sample_indices(int32_t *idx, int B, size_t n, Rng *r)
{
    /* B distinct samples by rejection: B is far below n. */
    for (int j = 0; j < B; j++) {
        int dup;
        do {
            idx[j] = (int32_t)rng_below(r, n);
            dup = 0;
            for (int i = 0; i < j; i++)
                dup |= idx[i] == idx[j];
        } while (dup);
    }
}


static void accumulate(Method *me, TrainData *td, GStatsAcc *acc, Strategy s, int draws,
                       int stage, int sidx, int rep, const GradstatsConfig *cfg, float *host)
{
    for (int k = 0; k < draws; k++) {
        uint64_t id = ((uint64_t)stage << 32) | ((uint64_t)sidx << 12) | ((uint64_t)rep << 11) |
                      (uint64_t)k;
        Rng r = rng_stream(cfg->seed, RNG_GRADSTATS, id, 0);
        sample_indices(td->idx, cfg->batch, td->d->n, &r);
        /* Streams far above any training step: fresh augmentations and masks per draw. */
        uint64_t stream = (1ULL << 48) + id;
        train_data_views(td, stream);
        MethodStep st = {.strat = s, .lr = 0, .wd = 0, .momentum = 1.0f,
                         .teacher_temp = 0.04f, .freeze_center = 1, .seed = cfg->seed,
                         .step = stream};
        double loss = method_grad(me, td->dev, cfg->batch, &st);
        if (!isfinite(loss))
            user_error("gradstats: non-finite loss for strategy %d at stage %d", sidx, stage);
        me->be->download(host, me->g, me->params->total * sizeof(float));
        gstats_add(acc, host);
    }
}


static void fill_row(double *row, const GStatsResult *g, double fraction, long step, int sidx,
                     double rel_cost)
{
    const GStatsCI *ci[] = {&g->bias2, &g->bias2_raw, &g->var_s, &g->cvar, &g->camse,
                            &g->bias2_rel, &g->cvar_rel, &g->camse_rel};
    int c = 0;

    row[c++] = fraction;
    row[c++] = (double)step;
    row[c++] = sidx;
    row[c++] = (double)g->k_s;
    row[c++] = (double)g->k_ref;
    row[c++] = rel_cost;
    row[c++] = g->norm_ref.est;
    for (size_t i = 0; i < sizeof ci / sizeof ci[0]; i++) {
        row[c++] = ci[i]->est;
        row[c++] = ci[i]->lo;
        row[c++] = ci[i]->hi;
    }
    HASSERT(c == GS_COLS);
}


GradstatsStage gradstats_stage(Method *me, const Dataset *train, const Strategy *s, size_t n,
                               const double *rel_cost, double fraction, long step, int stage,
                               const GradstatsConfig *cfg)
{
    GradstatsStage out;
    TrainData td;
    size_t np = me->params->total, ends[300];
    char *names[300];
    int nseg = make_segments(me, ends, names);
    float *host = xmalloc(np * sizeof(float));
    GStatsAcc ref, acc;

    memset(&out, 0, sizeof out);
    out.rows = xcalloc(n * GS_COLS, sizeof(double));
    out.ngroups = cfg->per_group ? nseg : 0;
    out.group_names = cfg->per_group ? xcalloc((size_t)nseg, sizeof(char *)) : NULL;
    if (cfg->per_group)
        out.group_rows = xcalloc(n * (size_t)nseg * (GS_COLS + 1), sizeof(double));
    train_data_init(&td, train, me, cfg->batch, cfg->seed);

    /* Every draw is its own jackknife group (delete-one jackknife over draws). */
    gstats_init_segments(&ref, np, cfg->ref_draws, (size_t)nseg, ends);
    accumulate(me, &td, &ref, s[0], cfg->ref_draws, stage, 0, 0, cfg, host);

    for (size_t i = 0; i < n; i++) {
        double t0 = now_seconds();
        /* Strategy 0 is compared with an independent second set of its own draws. */
        gstats_init_segments(&acc, np, cfg->draws, (size_t)nseg, ends);
        accumulate(me, &td, &acc, s[i], cfg->draws, stage, (int)i, 1, cfg, host);
        double c_eff = rel_cost[i] * cfg->var_scale;
        GStatsResult g = gstats_compare(&acc, &ref, c_eff);
        fill_row(out.rows + i * GS_COLS, &g, fraction, step, (int)i, rel_cost[i]);
        for (int q = 0; q < out.ngroups; q++) {
            size_t lo = q == 0 ? 0 : ends[q - 1];
            GStatsResult gq = gstats_compare_range(&acc, &ref, c_eff, lo, ends[q], 0.95);
            double *row = out.group_rows + (i * (size_t)nseg + (size_t)q) * (GS_COLS + 1);
            double tmp[GS_COLS];
            fill_row(tmp, &gq, fraction, step, (int)i, rel_cost[i]);
            memcpy(row, tmp, 3 * sizeof(double));
            row[3] = q;
            memcpy(row + 4, tmp + 3, (GS_COLS - 3) * sizeof(double));
        }
        gstats_free(&acc);
        printf("  stage %.2f | %3zu P %2d keep %4.2f %-6s | bias2/|g0|^2 %9.3g [%9.3g, %9.3g] "
               "| cvar/|g0|^2 %9.3g | CA-MSE/|g0|^2 %9.3g | %.1f s\n", fraction, i, s[i].P,
               (double)s[i].keep, compress_name(s[i].branches), g.bias2_rel.est,
               g.bias2_rel.lo, g.bias2_rel.hi, g.cvar_rel.est, g.camse_rel.est,
               now_seconds() - t0);
        fflush(stdout);
    }
    for (int q = 0; q < nseg; q++) {
        if (cfg->per_group)
            out.group_names[q] = names[q];
        else
            free(names[q]);
    }
    gstats_free(&ref);
    train_data_free(&td);
    free(host);
    return out;
}


void gradstats_stage_free(GradstatsStage *g)
{
    for (int q = 0; q < g->ngroups; q++)
        free(g->group_names[q]);
    free(g->group_names);
    free(g->rows);
    free(g->group_rows);
    memset(g, 0, sizeof(*g));
}
