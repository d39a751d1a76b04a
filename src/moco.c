/* moco.c: the MoCo v3 training step (see moco.h). */
#include "moco.h"

#include "common.h"

#include <string.h>

void moco_init(Moco *mo, const VitConfig *vcfg, const MocoConfig *mcfg, const Backend *be,
               int maxB, uint64_t seed)
{
    size_t n;
    float *host;

    memset(mo, 0, sizeof(*mo));
    mo->vcfg = *vcfg;
    mo->mcfg = *mcfg;
    mo->be = be;
    mo->maxB = maxB;
    params_init_table(&mo->params);
    params_init_table(&mo->buffers);

    /* Layout [backbone | projector | predictor]: the target branch is a prefix. */
    vit_init(&mo->vit, vcfg, &mo->params, be);
    head_init(&mo->proj, "projector", vcfg->C, be);
    head_build_mlp(&mo->proj, &mo->params, &mo->buffers, 3, mcfg->hidden, mcfg->out, 1, 0, 0);
    head_finish(&mo->proj, &mo->params);
    mo->target_count = mo->params.total;
    mo->proj_t = mo->proj;
    head_add_l2norm(&mo->proj_t);
    head_init(&mo->pred, "predictor", mcfg->out, be);
    head_build_mlp(&mo->pred, &mo->params, &mo->buffers, 2, mcfg->hidden, mcfg->out, 0, 0, 0);
    head_add_l2norm(&mo->pred);
    head_finish(&mo->pred, &mo->params);

    n = mo->params.total;
    mo->p = be->alloc(n * sizeof(float));
    mo->g = be->alloc(n * sizeof(float));
    mo->m = be->alloc(n * sizeof(float));
    mo->v = be->alloc(n * sizeof(float));
    mo->decay = be->alloc(n * sizeof(float));
    mo->p_t = be->alloc(mo->target_count * sizeof(float));
    mo->buf = be->alloc(mo->buffers.total * sizeof(float));
    mo->buf_t = be->alloc(mo->buffers.total * sizeof(float));

    host = xmalloc((n > mo->buffers.total ? n : mo->buffers.total) * sizeof(float));
    params_fill_init(&mo->params, host, seed);
    be->upload(mo->p, host, n * sizeof(float));
    be->upload(mo->p_t, host, mo->target_count * sizeof(float));
    params_decay_mask(&mo->params, host);
    be->upload(mo->decay, host, n * sizeof(float));
    params_fill_init(&mo->buffers, host, seed);
    be->upload(mo->buf, host, mo->buffers.total * sizeof(float));
    be->upload(mo->buf_t, host, mo->buffers.total * sizeof(float));
    free(host);

    vit_acts_init(&mo->acts, &mo->vit, maxB, 1);
    vit_acts_init(&mo->acts_t, &mo->vit, maxB, 0);
    head_alloc(&mo->proj, maxB);
    head_alloc(&mo->pred, maxB);
    head_alloc(&mo->proj_t, maxB);
    mo->d_k[0] = be->alloc((size_t)maxB * mcfg->out * sizeof(float));
    mo->d_k[1] = be->alloc((size_t)maxB * mcfg->out * sizeof(float));
    mo->d_dq = be->alloc((size_t)maxB * mcfg->out * sizeof(float));
    loss_bufs_init(&mo->lb, be, maxB, maxB);
}


void moco_free(Moco *mo)
{
    const Backend *be = mo->be;
    float *dev[] = {mo->p, mo->g, mo->m, mo->v, mo->decay, mo->p_t, mo->buf, mo->buf_t,
                    mo->d_k[0], mo->d_k[1], mo->d_dq};

    vit_acts_free(&mo->acts, &mo->vit);
    vit_acts_free(&mo->acts_t, &mo->vit);
    head_free(&mo->proj);
    head_free(&mo->pred);
    head_free(&mo->proj_t);
    vit_free(&mo->vit);
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        be->free(dev[i]);
    loss_bufs_free(&mo->lb);
    params_free_table(&mo->params);
    params_free_table(&mo->buffers);
    memset(mo, 0, sizeof(*mo));
}


/* Kept-token indices of one branch and view. */
static int32_t *draw_idx(const Moco *mo, VitShape sh, int B, uint64_t seed, uint64_t step,
                         int view)
{
    int NP = vit_num_patches(&mo->vcfg, sh), TK = vit_kept_tokens(&mo->vcfg, sh);
    int32_t *idx = xmalloc((size_t)B * TK * sizeof(int32_t));

    vit_draw_tokens(idx, B, NP, TK, seed, step, view);
    return idx;
}


double moco_grad(Moco *mo, const float *img1, const float *img2, int B, const MocoStep *st)
{
    const Backend *be = mo->be;
    const float *imgs[2] = {img1, img2};
    size_t nq = (size_t)B * mo->mcfg.out * sizeof(float);
    double loss = 0;

    HASSERT(B >= 1 && B <= mo->maxB);

    /* The target branch is updated before the keys are computed, as in the reference code. */
    be->ema_update(mo->p_t, mo->p, mo->target_count, st->momentum);
    for (int v = 0; v < 2; v++) {
        int32_t *idx = draw_idx(mo, st->target, B, st->seed, st->step, 2 + v);
        vit_forward(&mo->vit, &mo->acts_t, mo->p_t, imgs[v], idx, B, st->target);
        const float *k = head_forward(&mo->proj_t, mo->p_t, mo->buf_t, mo->acts_t.out, B, 1);
        be->copy(mo->d_k[v], k, nq);
        free(idx);
    }

    be->zero(mo->g, mo->params.total * sizeof(float));
    for (int v = 0; v < 2; v++) {
        int32_t *idx = draw_idx(mo, st->online, B, st->seed, st->step, v);
        vit_forward(&mo->vit, &mo->acts, mo->p, imgs[v], idx, B, st->online);
        const float *z = head_forward(&mo->proj, mo->p, mo->buf, mo->acts.out, B, 1);
        const float *q = head_forward(&mo->pred, mo->p, mo->buf, z, B, 1);
        loss += loss_moco_ctr_be(&mo->lb, mo->d_dq, q, mo->d_k[1 - v], B, mo->mcfg.out,
                                 mo->mcfg.tau);

        /* Backward through predictor, projector and backbone; dz lands in the projector's
         * output gradient and is passed down. */
        head_backward(&mo->pred, mo->p, mo->g, mo->d_dq, NULL);
        head_backward(&mo->proj, mo->p, mo->g, mo->pred.dA, NULL);
        vit_backward(&mo->vit, &mo->acts, mo->p, mo->g, mo->proj.dA);
        free(idx);
    }
    return loss;
}


double moco_step(Moco *mo, const float *img1, const float *img2, int B, const MocoStep *st)
{
    double loss = moco_grad(mo, img1, img2, B, st);

    mo->adam_t++;
    mo->be->adamw_step(mo->p, mo->m, mo->v, mo->g, mo->decay, mo->params.total, st->lr, 0.9f,
                   0.999f, 1e-8f, st->wd, mo->adam_t);
    return loss;
}


double moco_step_flops(const Moco *mo, VitShape online, VitShape target, int B)
{
    double on = vit_flops_forward(&mo->vcfg, online, B) + head_flops_forward(&mo->proj, B) +
                head_flops_forward(&mo->pred, B);
    double tg = vit_flops_forward(&mo->vcfg, target, B) + head_flops_forward(&mo->proj_t, B);

    return 2 * (3 * on + tg);
}
