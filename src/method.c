/* method.c: dispatch of method.h to the MoCo v3, SimCLR and DINO implementations. */
#include "method.h"

#include "common.h"

#include <math.h>
#include <string.h>

static const char *const NAMES[] = {"moco", "simclr", "dino"};

const char *method_name(MethodKind k)
{
    return NAMES[k];
}


int method_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, NAMES[i]) == 0)
            return i;
    return -1;
}


void method_init(Method *me, MethodKind kind, const VitConfig *vcfg, const MethodConfig *mcfg,
                 const Backend *be, int maxB, uint64_t seed)
{
    memset(me, 0, sizeof(*me));
    me->kind = kind;
    me->vcfg = *vcfg;
    me->mcfg = *mcfg;
    me->be = be;
    me->maxB = maxB;

    if (kind == METHOD_MOCO) {
        Moco *mo = xcalloc(1, sizeof(Moco));
        MocoConfig mc = {mcfg->hidden, mcfg->out, mcfg->tau};
        moco_init(mo, vcfg, &mc, be, maxB, seed);
        me->impl = mo;
        me->params = &mo->params;
        me->buffers = &mo->buffers;
        me->vit = &mo->vit;
        me->p = mo->p; me->g = mo->g; me->m = mo->m; me->v = mo->v; me->decay = mo->decay;
        me->p_t = mo->p_t; me->buf = mo->buf; me->buf_t = mo->buf_t;
        me->target_count = mo->target_count;
        me->adam_t = &mo->adam_t;
        me->eval_acts = &mo->acts_t;
    } else if (kind == METHOD_SIMCLR) {
        Simclr *sc = xcalloc(1, sizeof(Simclr));
        SimclrConfig cfg = {mcfg->hidden, mcfg->out, 1, mcfg->tau};
        simclr_init(sc, vcfg, &cfg, be, maxB, seed);
        me->impl = sc;
        me->params = &sc->params;
        me->buffers = &sc->buffers;
        me->vit = &sc->vit;
        me->p = sc->p; me->g = sc->g; me->m = sc->m; me->v = sc->v; me->decay = sc->decay;
        me->buf = sc->buf;
        me->adam_t = &sc->adam_t;
        me->eval_acts = &sc->acts;
    } else {
        Dino *d = xcalloc(1, sizeof(Dino));
        DinoConfig cfg = {mcfg->hidden, mcfg->out, mcfg->prototypes, 0.1f, 0.9f};
        dino_init(d, vcfg, &cfg, be, maxB, seed);
        me->impl = d;
        me->params = &d->params;
        me->buffers = &d->buffers;
        me->vit = &d->vit;
        me->p = d->p; me->g = d->g; me->m = d->m; me->v = d->v; me->decay = d->decay;
        me->p_t = d->p_t;
        me->buf = me->buf_t = NULL;
        me->target_count = d->params.total;
        me->adam_t = &d->adam_t;
        me->eval_acts = &d->acts_t;
        me->extra = d->center;
        me->extra_n = (size_t)cfg.K;
        me->extra_name = "dino_center";
    }
}


void method_free(Method *me)
{
    if (me->kind == METHOD_MOCO)
        moco_free(me->impl);
    else if (me->kind == METHOD_SIMCLR)
        simclr_free(me->impl);
    else
        dino_free(me->impl);
    free(me->impl);
    memset(me, 0, sizeof(*me));
}


int method_num_views(const Method *me)
{
    return me->kind == METHOD_DINO ? 2 + me->mcfg.local_crops : 2;
}


int method_view_side(const Method *me, int v)
{
    return me->kind == METHOD_DINO && v >= 2 ? me->mcfg.local_side : me->vcfg.S;
}


double method_grad(Method *me, float *const *views, int B, const MethodStep *st)
{
    if (me->kind == METHOD_MOCO) {
        MocoStep ms = {.online = strategy_online_shape(&me->vcfg, st->strat),
                       .target = strategy_target_shape(&me->vcfg, st->strat),
                       .lr = st->lr, .wd = st->wd, .momentum = st->momentum,
                       .seed = st->seed, .step = st->step};
        return moco_grad(me->impl, views[0], views[1], B, &ms);
    }
    if (me->kind == METHOD_SIMCLR) {
        SimclrStep ss = {.online = strategy_online_shape(&me->vcfg, st->strat), .lr = st->lr,
                         .wd = st->wd, .seed = st->seed, .step = st->step};
        return simclr_grad(me->impl, views[0], views[1], B, &ss);
    }
    DinoStep ds = {.online = strategy_online_shape(&me->vcfg, st->strat),
                   .target = strategy_target_shape(&me->vcfg, st->strat), .lr = st->lr,
                   .wd = st->wd, .momentum = st->momentum, .tau_t = st->teacher_temp,
                   .seed = st->seed, .step = st->step,
                   .freeze_last_layer = st->freeze_last_layer, .freeze_center = st->freeze_center};
    const float *const globals[2] = {views[0], views[1]};
    return dino_grad(me->impl, globals, (const float *const *)views + 2, me->mcfg.local_crops,
                     me->mcfg.local_side, B, &ds);
}


double method_update(Method *me, const MethodStep *st, float clip)
{
    const Backend *be = me->be;
    size_t n = me->params->total;
    double norm = sqrt(be->sumsq(me->g, n));

    /* Clipping as torch.nn.utils.clip_grad_norm_: one global norm over all parameters. */
    if (clip > 0 && norm > clip)
        be->scale(me->g, (float)(clip / (norm + 1e-6)), n);
    (*me->adam_t)++;
    be->adamw_step(me->p, me->m, me->v, me->g, me->decay, n, st->lr, 0.9f, 0.999f, 1e-8f,
                   st->wd, *me->adam_t);
    return norm;
}


double method_step_flops(const Method *me, Strategy s, int B)
{
    if (me->kind == METHOD_MOCO)
        return moco_step_flops(me->impl, strategy_online_shape(&me->vcfg, s),
                               strategy_target_shape(&me->vcfg, s), B);
    if (me->kind == METHOD_SIMCLR)
        return simclr_step_flops(me->impl, strategy_online_shape(&me->vcfg, s), B);
    return dino_step_flops(me->impl, strategy_online_shape(&me->vcfg, s),
                           strategy_target_shape(&me->vcfg, s), me->mcfg.local_crops,
                           me->mcfg.local_side, B);
}


void method_features(Method *me, const float *img, int B, float *out)
{
    const float *p = me->kind == METHOD_DINO ? me->p_t : me->p;
    VitShape base = {me->vcfg.P0, 1.0f, 0};
    int NP = vit_num_patches(&me->vcfg, base);
    int32_t *idx = xmalloc((size_t)B * NP * sizeof(int32_t));

    HASSERT(B <= me->maxB);
    vit_draw_tokens(idx, B, NP, NP, 0, 0, 0);
    vit_forward(me->vit, me->eval_acts, p, img, idx, B, base);
    me->be->download(out, me->eval_acts->out, (size_t)B * me->vcfg.C * sizeof(float));
    free(idx);
}
