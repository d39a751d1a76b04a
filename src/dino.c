/* dino.c: the DINO training step (see dino.h). Teacher logits [2, B, K] and probabilities
 * stay on the device; per step only the centre (K floats) goes up, and the crops' row
 * losses and the teacher column sums (K floats) come back. Token-dropout view ids: student
 * global v uses v, teacher global a uses 2 + a (as MoCo's online and target views), student
 * local j uses 4 + j. */
#include "dino.h"

#include "common.h"
#include "losses.h"

#include <string.h>

void dino_init(Dino *d, const VitConfig *vcfg, const DinoConfig *dcfg, const Backend *be,
               int maxB, uint64_t seed)
{
    size_t n, nk = (size_t)maxB * dcfg->K;
    float *host;
    const HeadLayer *last;

    HASSERT(maxB >= 1 && dcfg->K >= 1 && dcfg->tau_s > 0.0f);
    memset(d, 0, sizeof(*d));
    d->vcfg = *vcfg;
    d->dcfg = *dcfg;
    d->be = be;
    d->maxB = maxB;
    params_init_table(&d->params);
    params_init_table(&d->buffers);

    vit_init(&d->vit, vcfg, &d->params, be);
    head_init(&d->head, "head", vcfg->C, be);
    head_build_mlp(&d->head, &d->params, &d->buffers, 3, dcfg->hidden, dcfg->bottleneck, 0, 1,
                   1);
    head_add_l2norm(&d->head);
    head_add_wnlinear(&d->head, &d->params, dcfg->K, 1);
    head_finish(&d->head, &d->params);
    HASSERT(d->buffers.total == 0);
    d->head_t = d->head;
    last = &d->head.layer[d->head.n - 1];
    d->last_first = last->w;
    d->last_count = d->params.total - last->w;

    n = d->params.total;
    d->p = be->alloc(n * sizeof(float));
    d->g = be->alloc(n * sizeof(float));
    d->m = be->alloc(n * sizeof(float));
    d->v = be->alloc(n * sizeof(float));
    d->decay = be->alloc(n * sizeof(float));
    d->p_t = be->alloc(n * sizeof(float));

    host = xmalloc(n * sizeof(float));
    params_fill_init(&d->params, host, seed);
    be->upload(d->p, host, n * sizeof(float));
    be->upload(d->p_t, host, n * sizeof(float));
    params_decay_mask(&d->params, host);
    be->upload(d->decay, host, n * sizeof(float));
    free(host);

    vit_acts_init(&d->acts, &d->vit, maxB, 1);
    vit_acts_init(&d->acts_t, &d->vit, maxB, 0);
    head_alloc(&d->head, maxB);
    head_alloc(&d->head_t, maxB);
    d->center = xcalloc((size_t)dcfg->K, sizeof(float));
    d->h_tsum = xmalloc((size_t)dcfg->K * sizeof(float));
    d->d_t = be->alloc(2 * nk * sizeof(float));
    d->d_pt = be->alloc(3 * nk * sizeof(float));
    d->d_center = be->alloc((size_t)dcfg->K * sizeof(float));
    d->d_tsum = be->alloc((size_t)dcfg->K * sizeof(float));
    d->d_ds = be->alloc(nk * sizeof(float));
    loss_bufs_init(&d->lb, be, maxB, 0);
    d->idx = xmalloc((size_t)maxB * (size_t)(2 * vcfg->S) * (size_t)(2 * vcfg->S) *
                     sizeof(int32_t));
}


void dino_free(Dino *d)
{
    const Backend *be = d->be;
    float *dev[] = {d->p, d->g, d->m, d->v, d->decay, d->p_t, d->d_t, d->d_pt, d->d_center,
                    d->d_tsum, d->d_ds};
    float *hst[] = {d->center, d->h_tsum};

    vit_acts_free(&d->acts, &d->vit);
    vit_acts_free(&d->acts_t, &d->vit);
    head_free(&d->head);
    head_free(&d->head_t);
    vit_free(&d->vit);
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        be->free(dev[i]);
    for (size_t i = 0; i < sizeof hst / sizeof hst[0]; i++)
        free(hst[i]);
    loss_bufs_free(&d->lb);
    free(d->idx);
    params_free_table(&d->params);
    params_free_table(&d->buffers);
    memset(d, 0, sizeof(*d));
}


VitShape dino_local_shape(VitShape online, int S_local)
{
    VitShape sh = {online.P < S_local ? online.P : S_local, online.keep, S_local};

    return sh;
}


/* Draws kept tokens of one pass into d->idx and runs the backbone on it. */
static void run_vit(Dino *d, VitActs *a, const float *params, const float *img, int B,
                    VitShape sh, const DinoStep *st, int view)
{
    int NP = vit_num_patches(&d->vcfg, sh), TK = vit_kept_tokens(&d->vcfg, sh);

    vit_draw_tokens(d->idx, B, NP, TK, st->seed, st->step, view);
    vit_forward(&d->vit, a, params, img, d->idx, B, sh);
}


/* One student crop v: forward, its share of the multi-crop loss (loss_dino_crop_be) and the
 * backward into d->g. Only its B row losses come back to the host. */
static double student_crop(Dino *d, const float *img, VitShape sh, int v, int view, int B,
                           int n_pairs, const DinoStep *st)
{
    double loss;

    run_vit(d, &d->acts, d->p, img, B, sh, st, view);
    const float *s = head_forward(&d->head, d->p, NULL, d->acts.out, B, 1);
    loss = loss_dino_crop_be(&d->lb, d->d_ds, s, d->d_pt, v, n_pairs, B, d->dcfg.K,
                             d->dcfg.tau_s);

    head_backward(&d->head, d->p, d->g, d->d_ds, NULL);
    vit_backward(&d->vit, &d->acts, d->p, d->g, d->head.dA);
    return loss;
}


/* Teacher pass over both globals into d->d_t, their probabilities softmax((t - c) / tau_t)
 * into d->d_pt with the centre uploaded (K floats), and their sum for the local crops. */
static void teacher_pass(Dino *d, const float *const *globals, int B, const DinoStep *st)
{
    const Backend *be = d->be;
    int K = d->dcfg.K;
    size_t nk = (size_t)B * K;

    for (int a = 0; a < 2; a++) {
        run_vit(d, &d->acts_t, d->p_t, globals[a], B, st->target, st, 2 + a);
        const float *t = head_forward(&d->head_t, d->p_t, NULL, d->acts_t.out, B, 0);
        be->copy(d->d_t + (size_t)a * nk, t, nk * sizeof(float));
    }
    be->upload(d->d_center, d->center, (size_t)K * sizeof(float));
    dino_targets_be(be, d->d_pt, d->d_t, d->d_center, B, K, st->tau_t);
}


double dino_grad(Dino *d, const float *const *globals, const float *const *locals, int L,
                 int S_local, int B, const DinoStep *st)
{
    const Backend *be = d->be;
    int K = d->dcfg.K, n_pairs = 2 * (2 + L) - 2;
    VitShape local = dino_local_shape(st->online, S_local);
    double loss = 0;

    HASSERT(B >= 1 && B <= d->maxB && L >= 0 && st->tau_t > 0.0f);
    HASSERT(L == 0 || (locals != NULL && S_local >= 1));

    /* The teacher is updated before its outputs are computed, as MoCo (and DINO's loop, which
     * updates after the step: the same sequence of teachers shifted by one call). */
    be->ema_update(d->p_t, d->p, d->params.total, st->momentum);
    teacher_pass(d, globals, B, st);

    be->zero(d->g, d->params.total * sizeof(float));
    for (int v = 0; v < 2; v++)
        loss += student_crop(d, globals[v], st->online, v, v, B, n_pairs, st);
    for (int j = 0; j < L; j++)
        loss += student_crop(d, locals[j], local, 2 + j, 4 + j, B, n_pairs, st);

    if (st->freeze_last_layer)
        be->zero(d->g + d->last_first, d->last_count * sizeof(float));

    /* DINO updates the centre after the loss, from the teacher outputs of both globals; the
     * centre lives on the host (checkpointed there), so only its K column sums come back. */
    if (!st->freeze_center) {
        be->sum_rows(d->d_tsum, d->d_t, 2 * B, K);
        be->download(d->h_tsum, d->d_tsum, (size_t)K * sizeof(float));
        dino_center_apply(d->center, d->h_tsum, 2L * B, K, d->dcfg.center_momentum);
    }
    return loss;
}


double dino_step(Dino *d, const float *const *globals, const float *const *locals, int L,
                 int S_local, int B, const DinoStep *st)
{
    double loss = dino_grad(d, globals, locals, L, S_local, B, st);

    d->adam_t++;
    d->be->adamw_step(d->p, d->m, d->v, d->g, d->decay, d->params.total, st->lr, 0.9f, 0.999f,
                      1e-8f, st->wd, d->adam_t);
    return loss;
}


double dino_step_flops(const Dino *d, VitShape online, VitShape target, int L, int S_local,
                       int B)
{
    double head = head_flops_forward(&d->head, B);
    double student = 2 * (vit_flops_forward(&d->vcfg, online, B) + head) +
                     L * (vit_flops_forward(&d->vcfg, dino_local_shape(online, S_local), B) +
                          head);
    double teacher = 2 * (vit_flops_forward(&d->vcfg, target, B) + head);

    return 3 * student + teacher;
}
