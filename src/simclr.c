/* simclr.c: the SimCLR training step (see simclr.h). The two views are copied side by side
 * into one device batch [2B, CH, S, S]: view 1 rows 0..B-1, view 2 rows B..2B-1. */
#include "simclr.h"

#include "common.h"

#include <string.h>

void simclr_init(Simclr *s, const VitConfig *vcfg, const SimclrConfig *scfg, const Backend *be,
                 int maxB, uint64_t seed)
{
    size_t n, nb, n2 = 2 * (size_t)maxB;
    float *host;

    HASSERT(maxB >= 1 && scfg->tau > 0.0f);
    memset(s, 0, sizeof(*s));
    s->vcfg = *vcfg;
    s->scfg = *scfg;
    s->be = be;
    s->maxB = maxB;
    params_init_table(&s->params);
    params_init_table(&s->buffers);

    vit_init(&s->vit, vcfg, &s->params, be);
    head_init(&s->proj, "projector", vcfg->C, be);
    head_build_mlp(&s->proj, &s->params, &s->buffers, 2, scfg->hidden, scfg->out, scfg->out_bn,
                   0, 0);
    head_add_l2norm(&s->proj);
    head_finish(&s->proj, &s->params);

    n = s->params.total;
    nb = s->buffers.total;
    s->p = be->alloc(n * sizeof(float));
    s->g = be->alloc(n * sizeof(float));
    s->m = be->alloc(n * sizeof(float));
    s->v = be->alloc(n * sizeof(float));
    s->decay = be->alloc(n * sizeof(float));
    s->buf = be->alloc(nb * sizeof(float));

    host = xmalloc((n > nb ? n : nb) * sizeof(float));
    params_fill_init(&s->params, host, seed);
    be->upload(s->p, host, n * sizeof(float));
    params_decay_mask(&s->params, host);
    be->upload(s->decay, host, n * sizeof(float));
    params_fill_init(&s->buffers, host, seed);
    be->upload(s->buf, host, nb * sizeof(float));
    free(host);

    /* Inputs may be up to twice the configured side (vit_shape_error), and a patch below P0
     * gives more than NP0 tokens: size the image and index buffers for the worst case. */
    s->img2 = be->alloc(n2 * vcfg->CH * (size_t)(2 * vcfg->S) * (size_t)(2 * vcfg->S) *
                        sizeof(float));
    s->idx = xmalloc(n2 * (size_t)(2 * vcfg->S) * (size_t)(2 * vcfg->S) * sizeof(int32_t));
    vit_acts_init(&s->acts, &s->vit, (int)n2, 1);
    head_alloc(&s->proj, (int)n2);
    s->d_dz = be->alloc(n2 * scfg->out * sizeof(float));
    loss_bufs_init(&s->lb, be, (int)n2, (int)n2);
}


void simclr_free(Simclr *s)
{
    const Backend *be = s->be;
    float *dev[] = {s->p, s->g, s->m, s->v, s->decay, s->buf, s->img2, s->d_dz};

    vit_acts_free(&s->acts, &s->vit);
    head_free(&s->proj);
    vit_free(&s->vit);
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        be->free(dev[i]);
    free(s->idx);
    loss_bufs_free(&s->lb);
    params_free_table(&s->params);
    params_free_table(&s->buffers);
    memset(s, 0, sizeof(*s));
}


double simclr_grad(Simclr *s, const float *img1, const float *img2, int B, const SimclrStep *st)
{
    const Backend *be = s->be;
    const VitConfig *c = &s->vcfg;
    int N2 = 2 * B;
    int S = vit_input_side(c, st->online);
    int NP = vit_num_patches(c, st->online), TK = vit_kept_tokens(c, st->online);
    size_t nimg = (size_t)B * c->CH * S * S;
    double loss;

    HASSERT(B >= 1 && B <= s->maxB && S <= 2 * c->S);

    /* One batch of 2B: the views keep their own token-dropout streams (ids 0 and 1, the same
     * as MoCo's online views), so view v's rows draw what a per-view pass would. */
    be->copy(s->img2, img1, nimg * sizeof(float));
    be->copy(s->img2 + nimg, img2, nimg * sizeof(float));
    vit_draw_tokens(s->idx, B, NP, TK, st->seed, st->step, 0);
    vit_draw_tokens(s->idx + (size_t)B * TK, B, NP, TK, st->seed, st->step, 1);

    vit_forward(&s->vit, &s->acts, s->p, s->img2, s->idx, N2, st->online);
    const float *z = head_forward(&s->proj, s->p, s->buf, s->acts.out, N2, 1);
    loss = loss_ntxent_be(&s->lb, s->d_dz, z, N2, s->scfg.out, s->scfg.tau);

    be->zero(s->g, s->params.total * sizeof(float));
    head_backward(&s->proj, s->p, s->g, s->d_dz, NULL);
    vit_backward(&s->vit, &s->acts, s->p, s->g, s->proj.dA);
    return loss;
}


double simclr_step(Simclr *s, const float *img1, const float *img2, int B, const SimclrStep *st)
{
    double loss = simclr_grad(s, img1, img2, B, st);

    s->adam_t++;
    s->be->adamw_step(s->p, s->m, s->v, s->g, s->decay, s->params.total, st->lr, 0.9f, 0.999f,
                      1e-8f, st->wd, s->adam_t);
    return loss;
}


double simclr_step_flops(const Simclr *s, VitShape online, int B)
{
    return 3 * (vit_flops_forward(&s->vcfg, online, 2 * B) + head_flops_forward(&s->proj, 2 * B));
}
