/* test_ssl.c: the SimCLR, DINO and MoCo v3 training steps on the CPU backend, tiny shapes:
 * finite-difference checks of each step's whole gradient (target/teacher held fixed with
 * EMA momentum 1, DINO's centre frozen), descent of a few AdamW steps on a fixed batch,
 * compressed shapes (token dropout, patch 4, small local crops), the DINO centre and teacher
 * EMA, SimCLR's view symmetry, and DINO's per-crop loss against the library's full loss. */
#include "check.h"

#include "backend.h"
#include "common.h"
#include "dino.h"
#include "losses.h"
#include "moco.h"
#include "rng.h"
#include "simclr.h"

#include <math.h>
#include <string.h>

static const Backend *be;

/* The tiny model of every test: 8 px, 1 channel, patch 2 (16 tokens), width 8, depth 2. */
static const VitConfig TINY = {.S = 8, .CH = 1, .P0 = 2, .C = 8, .L = 2, .NH = 2,
                               .mlp_ratio = 2, .ln_eps = 1e-6f};
enum { TB = 4, NLOC = 2, SLOC = 4 };


/* ---- helpers ---- */

static float *device_images(int B, int CH, int S, uint64_t stream, double scale)
{
    size_t n = (size_t)B * CH * S * S;
    float *h = xmalloc(n * sizeof(float)), *d = be->alloc(n * sizeof(float));
    Rng r = rng_stream(2385, 77, stream, 0);

    for (size_t i = 0; i < n; i++)
        h[i] = (float)(scale * rng_normal(&r));
    be->upload(d, h, n * sizeof(float));
    free(h);
    return d;
}


/* Moves every parameter off its initial value (zeros, ones) so that no gradient is hidden by
 * a convenient initialisation, as test_vit does. The CLS token (initialised ~1e-6) gets
 * entries of O(1): a CLS row of spread ~0.1 makes block 0's LayerNorm on it scale by ~10 and
 * curve by ~100, and central differences in float32 then have no good step size. */
static void perturb_params(float *p, size_t n, double amp, const Vit *vit)
{
    float *h = xmalloc(n * sizeof(float));

    be->download(h, p, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        h[i] += (float)(amp * sin(2.385 * (double)i));
    for (int c = 0; c < vit->cfg.C; c++)
        h[vit->cls + c] += (float)cos(1.7 * c + 0.4);
    be->upload(p, h, n * sizeof(float));
    free(h);
}


static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}


/* A method's gradient function seen by the checker: computes the loss at the current
 * device parameters and leaves the gradient in the method's gradient vector. */
typedef double (*GradFn)(void *ctx);

/* Central differences on 4 entries of every tensor of t against the analytic gradient
 * dev_g, for the loss computed by fn at parameters dev_p.
 * Tolerance: the model is float32, so a loss of O(1) carries rounding noise of ~1e-6, which
 * is ~1e-6 / h in a slope. DINO's network is smooth (GELU, LayerNorm, softmax): h = 3e-3
 * puts both that noise and the O(h^2) truncation near 1e-4 of |g|. SimCLR and MoCo have
 * ReLU after BatchNorm over a batch of 4 to 8 rows: a step of 1e-3 already carries some
 * inputs across the ReLU kink or through BN's steep curvature (errors of 1e-2 observed), so
 * they use h = 3e-4 (errors of ~2e-3, noise-dominated). The relative error of the whole
 * sampled gradient vector must be below 1e-2: above that noise, far below a wrong term
 * (O(1)). SSL_H overrides h, SSL_VERBOSE prints every tensor. */
static void gradcheck(const char *label, const ParamTable *t, float *dev_p, const float *dev_g,
                      GradFn fn, void *ctx, double h)
{
    size_t n = t->total;
    float *hp = xmalloc(n * sizeof(float)), *hg = xmalloc(n * sizeof(float));
    double num = 0, den = 0, worst = 0;
    const char *worst_name = "";
    char name[200];

    if (getenv("SSL_H"))
        h = atof(getenv("SSL_H"));
    be->download(hp, dev_p, n * sizeof(float));
    fn(ctx);
    be->download(hg, dev_g, n * sizeof(float));
    for (int p = 0; p < t->count; p++) {
        const ParamInfo *in = &t->info[p];
        double pn = 0, pd = 0;
        for (int s = 0; s < 4; s++) {
            size_t j = in->offset + (size_t)(((unsigned)s * 2654435761u + 17u) % in->size);
            float keep = hp[j];
            hp[j] = keep + (float)h;
            be->upload(dev_p, hp, n * sizeof(float));
            double lp = fn(ctx);
            hp[j] = keep - (float)h;
            be->upload(dev_p, hp, n * sizeof(float));
            double lm = fn(ctx);
            hp[j] = keep;
            double fd = (lp - lm) / (2 * h), an = hg[j];
            pn += (fd - an) * (fd - an);
            pd += fd * fd;
        }
        num += pn;
        den += pd;
        if (getenv("SSL_VERBOSE"))
            printf("     %-28s |fd| %.4g  |fd - g| %.4g\n", in->name, sqrt(pd), sqrt(pn));
        if (sqrt(pn) > worst) {
            worst = sqrt(pn);
            worst_name = in->name;
        }
    }
    be->upload(dev_p, hp, n * sizeof(float));
    snprintf(name, sizeof name, "gradcheck %s, %d tensors, h %.0e (largest error in %s: "
             "%.2g of |g| %.3g)", label, t->count, h, worst_name, worst, sqrt(den));
    check_relerr(sqrt(num / (den > 0 ? den : 1)), 1e-2, name);
    free(hp);
    free(hg);
}


/* ---- SimCLR ---- */

typedef struct {
    Simclr *s;
    const float *x1, *x2;
    SimclrStep st;
} SimclrCtx;

static double simclr_fn(void *ctx)
{
    SimclrCtx *c = ctx;
    return simclr_grad(c->s, c->x1, c->x2, TB, &c->st);
}


static void test_simclr(void)
{
    SimclrConfig sc = {.hidden = 16, .out = 8, .out_bn = 1, .tau = 0.2f};
    Simclr s;
    float *x1 = device_images(TB, 1, 8, 1, 1.0), *x2 = device_images(TB, 1, 8, 2, 1.0);
    SimclrCtx c = {&s, x1, x2, {.online = {2, 1.0f, 0}, .lr = 3e-3f, .wd = 0.05f, .seed = 5}};
    char msg[160];

    simclr_init(&s, &TINY, &sc, be, TB, 3);
    perturb_params(s.p, s.params.total, 0.1, &s.vit);
    check_true(s.acts.maxB == 2 * TB, "simclr: backbone activations sized for 2B rows", NULL);

    gradcheck("simclr P=2 keep=1", &s.params, s.p, s.g, simclr_fn, &c, 3e-4);
    c.st.online = (VitShape){2, 0.5f, 0};
    c.st.step = 3;
    gradcheck("simclr P=2 keep=0.5", &s.params, s.p, s.g, simclr_fn, &c, 3e-4);

    /* Swapping the views maps row i to its twin i + B: NT-Xent and BN over all 2B rows are
     * unchanged, so loss and gradient are too (up to summation order). Keep 1 so the two
     * views' token streams do not matter. */
    size_t n = s.params.total;
    float *g1 = xmalloc(n * sizeof(float)), *g2 = xmalloc(n * sizeof(float));
    c.st.online = (VitShape){2, 1.0f, 0};
    double l12 = simclr_grad(&s, x1, x2, TB, &c.st);
    be->download(g1, s.g, n * sizeof(float));
    double l21 = simclr_grad(&s, x2, x1, TB, &c.st);
    be->download(g2, s.g, n * sizeof(float));
    check_close(l21, l12, 1e-5 * fabs(l12), "simclr: swapping the views leaves the loss");
    double gmax = 0;
    for (size_t i = 0; i < n; i++)
        gmax = fmax(gmax, fabs(g1[i]));
    check_close(max_abs_diff(g1, g2, n) / gmax, 0, 1e-4,
                "simclr: swapping the views leaves the gradient (max |diff| / max |g|)");

    /* Identical views: each row's twin is itself (cosine 1), the easiest positive there is,
     * so the loss is below the loss of two different views. */
    double lsame = simclr_grad(&s, x1, x1, TB, &c.st);
    snprintf(msg, sizeof msg, "identical views %.6g < different views %.6g", lsame, l12);
    check_true(lsame < l12, "simclr: identical views give a lower loss", msg);

    /* Descent: a few AdamW steps on a fixed batch lower its loss. */
    double l0 = simclr_grad(&s, x1, x2, TB, &c.st);
    for (int k = 0; k < 10; k++) {
        c.st.step = (uint64_t)k;
        simclr_step(&s, x1, x2, TB, &c.st);
    }
    double l10 = simclr_grad(&s, x1, x2, TB, &c.st);
    snprintf(msg, sizeof msg, "loss %.6g -> %.6g after 10 steps", l0, l10);
    check_true(l10 < l0 - 0.05, "simclr: AdamW steps on a fixed batch lower the loss", msg);

    /* Compression: keep 0.5 at patch 4 (2 of 4 tokens). */
    c.st.online = (VitShape){4, 0.5f, 0};
    double lc = simclr_step(&s, x1, x2, TB, &c.st);
    snprintf(msg, sizeof msg, "loss %.6g, T %d, gradient finite %d", lc, s.acts.T,
             be->all_finite(s.g, n));
    check_true(isfinite(lc) && s.acts.T == 3 && be->all_finite(s.g, n) &&
               be->all_finite(s.p, n), "simclr: keep 0.5 patch 4 runs, finite", msg);

    free(g1);
    free(g2);
    be->free(x1);
    be->free(x2);
    simclr_free(&s);
}


/* ---- DINO ---- */

typedef struct {
    Dino *d;
    const float *glob[2], *loc[NLOC];
    int L;
    DinoStep st;
} DinoCtx;

static double dino_fn(void *ctx)
{
    DinoCtx *c = ctx;
    return dino_grad(c->d, c->glob, c->loc, c->L, SLOC, TB, &c->st);
}


/* The loss recomputed from the student logits of every crop, run here one forward at a time
 * with the same token streams, through the library's full multi-crop loss_dino. */
static double dino_reference_loss(DinoCtx *c)
{
    Dino *d = c->d;
    int K = d->dcfg.K, nc = 2 + c->L;
    size_t nk = (size_t)TB * K;
    float *s = xmalloc((size_t)nc * nk * sizeof(float)), *ds = xmalloc((size_t)nc * nk * 4);
    int32_t *idx = xmalloc(TB * 64 * sizeof(int32_t));

    for (int v = 0; v < nc; v++) {
        VitShape sh = v < 2 ? c->st.online : dino_local_shape(c->st.online, SLOC);
        int NP = vit_num_patches(&d->vcfg, sh), TK = vit_kept_tokens(&d->vcfg, sh);
        vit_draw_tokens(idx, TB, NP, TK, c->st.seed, c->st.step, v < 2 ? v : 2 + v);
        vit_forward(&d->vit, &d->acts, d->p, v < 2 ? c->glob[v] : c->loc[v - 2], idx, TB, sh);
        const float *z = head_forward(&d->head, d->p, NULL, d->acts.out, TB, 1);
        be->download(s + (size_t)v * nk, z, nk * sizeof(float));
    }
    float *t = xmalloc(2 * nk * sizeof(float));
    be->download(t, d->d_t, 2 * nk * sizeof(float));
    double L = loss_dino(ds, NULL, s, t, d->center, 2, nc, TB, K, d->dcfg.tau_s, c->st.tau_t);
    free(t);
    free(s);
    free(ds);
    free(idx);
    return L;
}


static void test_dino(void)
{
    DinoConfig dc = {.hidden = 16, .bottleneck = 8, .K = 12, .tau_s = 0.1f,
                     .center_momentum = 0.9f};
    Dino d;
    DinoCtx c = {&d, {NULL, NULL}, {NULL, NULL}, NLOC,
                 {.online = {2, 1.0f, 0}, .target = {2, 1.0f, 0}, .lr = 3e-3f, .wd = 0.04f,
                  .momentum = 1.0f, .tau_t = 0.04f, .seed = 9, .freeze_center = 1}};
    char msg[200];

    dino_init(&d, &TINY, &dc, be, TB, 4);
    size_t n = d.params.total;
    float *hp = xmalloc(n * sizeof(float)), *ht = xmalloc(n * sizeof(float));
    for (int a = 0; a < 2; a++)
        c.glob[a] = device_images(TB, 1, 8, 10 + a, 1.0);
    for (int j = 0; j < NLOC; j++)
        c.loc[j] = device_images(TB, 1, SLOC, 20 + j, 1.0);

    /* (f) the teacher starts as an exact copy of the student. */
    be->download(hp, d.p, n * sizeof(float));
    be->download(ht, d.p_t, n * sizeof(float));
    check_true(memcmp(hp, ht, n * sizeof(float)) == 0, "dino: teacher == student after init",
               NULL);
    check_true(d.acts.maxB == TB && d.acts_t.maxB == TB,
               "dino: activations sized for one crop of B, not all crops", NULL);

    /* A teacher different from the student (and a non-zero centre) makes a generic case. */
    perturb_params(d.p, n, 0.1, &d.vit);
    perturb_params(d.p_t, n, 0.13, &d.vit);
    for (int k = 0; k < dc.K; k++)
        d.center[k] = 0.3f * (float)cos(2.385 * k);

    /* (a) gradient, teacher fixed (momentum 1), centre frozen; globals, then with locals. */
    c.L = 0;
    gradcheck("dino 2 globals, P=2 keep=1", &d.params, d.p, d.g, dino_fn, &c, 3e-3);
    c.L = NLOC;
    gradcheck("dino 2 globals + 2 locals (4 px), P=2 keep=1", &d.params, d.p, d.g, dino_fn, &c,
              3e-3);
    c.st.online = (VitShape){2, 0.5f, 0};
    c.st.step = 7;
    gradcheck("dino 2 + 2 crops, student keep=0.5", &d.params, d.p, d.g, dino_fn, &c, 3e-3);

    /* The per-crop accumulation is the full multi-crop loss of losses.h. */
    double lg = dino_fn(&c), lr = dino_reference_loss(&c);
    check_close(lg, lr, 1e-5 * fabs(lr), "dino: per-crop loss equals loss_dino over all crops");

    /* The freeze flag zeroes the last layer's gradient and nothing else. */
    float *g0 = xmalloc(n * sizeof(float)), *g1 = xmalloc(n * sizeof(float));
    dino_fn(&c);
    be->download(g0, d.g, n * sizeof(float));
    c.st.freeze_last_layer = 1;
    dino_fn(&c);
    be->download(g1, d.g, n * sizeof(float));
    c.st.freeze_last_layer = 0;
    double last_abs = 0, before_last = max_abs_diff(g0, g1, d.last_first), g0_last = 0;
    for (size_t i = d.last_first; i < n; i++) {
        last_abs = fmax(last_abs, fabs(g1[i]));
        g0_last = fmax(g0_last, fabs(g0[i]));
    }
    snprintf(msg, sizeof msg, "last layer max |g| %.3g (unfrozen %.3g), rest max |diff| %.3g",
             last_abs, g0_last, before_last);
    check_true(last_abs == 0 && g0_last > 0 && before_last == 0,
               "dino: freeze_last_layer zeroes exactly the last layer's gradient", msg);

    /* (d) the centre: c <- 0.9 c + 0.1 mean of both globals' teacher logits, after the loss;
     * it moves toward the teacher mean. freeze_center leaves it alone. */
    float *c0 = xmalloc(dc.K * sizeof(float)), *mean = xcalloc(dc.K, sizeof(float));
    memcpy(c0, d.center, dc.K * sizeof(float));
    dino_fn(&c);
    check_true(memcmp(c0, d.center, dc.K * sizeof(float)) == 0,
               "dino: freeze_center leaves the centre unchanged", NULL);
    c.st.freeze_center = 0;
    dino_fn(&c);
    c.st.freeze_center = 1;
    float *t = xmalloc(2 * TB * dc.K * sizeof(float));
    be->download(t, d.d_t, 2 * TB * dc.K * sizeof(float));
    for (int r = 0; r < 2 * TB; r++)
        for (int k = 0; k < dc.K; k++)
            mean[k] += t[(size_t)r * dc.K + k] / (2.0f * TB);
    free(t);
    double err = 0, dist0 = 0, dist1 = 0;
    for (int k = 0; k < dc.K; k++) {
        err = fmax(err, fabs(d.center[k] - (0.9 * c0[k] + 0.1 * mean[k])));
        dist0 += (c0[k] - mean[k]) * (c0[k] - mean[k]);
        dist1 += (d.center[k] - mean[k]) * (d.center[k] - mean[k]);
    }
    check_close(err, 0, 1e-6, "dino: centre = 0.9 c + 0.1 mean(teacher globals)");
    snprintf(msg, sizeof msg, "|c - mean| %.4g -> %.4g", sqrt(dist0), sqrt(dist1));
    check_true(dist1 < dist0, "dino: centre moves toward the teacher mean", msg);

    /* (f) with momentum < 1 the teacher follows the student by EMA, before the loss. */
    c.st.momentum = 0.9f;
    be->download(hp, d.p, n * sizeof(float));
    be->download(ht, d.p_t, n * sizeof(float));
    dino_step(&d, c.glob, c.loc, NLOC, SLOC, TB, &c.st);
    float *hp1 = xmalloc(n * sizeof(float)), *ht1 = xmalloc(n * sizeof(float));
    be->download(hp1, d.p, n * sizeof(float));
    be->download(ht1, d.p_t, n * sizeof(float));
    double ema_err = 0;
    for (size_t i = 0; i < n; i++)
        ema_err = fmax(ema_err, fabs(ht1[i] - (0.9 * ht[i] + 0.1 * hp[i])));
    check_close(ema_err, 0, 1e-6, "dino: teacher = 0.9 teacher + 0.1 student after a step");
    snprintf(msg, sizeof msg, "max |teacher - student| %.3g, student moved %.3g",
             max_abs_diff(hp1, ht1, n), max_abs_diff(hp1, hp, n));
    check_true(max_abs_diff(hp1, ht1, n) > 1e-4 && max_abs_diff(hp1, hp, n) > 1e-4,
               "dino: teacher differs from student after a step with momentum 0.9", msg);

    /* (b) descent on a fixed batch. With the teacher fixed (momentum 1) and the centre
     * frozen the loss is a function of the student alone, so AdamW must lower it. With DINO's
     * own dynamics (EMA 0.996, centre moving) the target moves as well; that run is only
     * required to stay finite. */
    c.st.online = (VitShape){2, 1.0f, 0};
    c.st.momentum = 1.0f;
    c.st.freeze_center = 1;
    double lb = dino_fn(&c);
    for (int k = 0; k < 10; k++) {
        c.st.step = 100;   /* the same token draws every step: a truly fixed batch */
        dino_step(&d, c.glob, c.loc, NLOC, SLOC, TB, &c.st);
    }
    double la = dino_fn(&c);
    snprintf(msg, sizeof msg, "loss %.6g -> %.6g after 10 steps", lb, la);
    check_true(la < lb - 0.05, "dino: AdamW steps on a fixed batch, fixed teacher, lower the "
               "loss", msg);
    c.st.momentum = 0.996f;
    c.st.freeze_center = 0;
    double lm = 0;
    for (int k = 0; k < 10; k++) {
        c.st.step = (uint64_t)k;
        lm = dino_step(&d, c.glob, c.loc, NLOC, SLOC, TB, &c.st);
        printf("     dino moving teacher step %d: loss %.6g\n", k, lm);
    }
    snprintf(msg, sizeof msg, "last loss %.6g", lm);
    check_true(isfinite(lm) && be->all_finite(d.p, n) && be->all_finite(d.p_t, n),
               "dino: 10 steps with teacher EMA 0.996 and a moving centre stay finite", msg);

    /* (c) compression: student keep 0.5 at patch 4 (globals 2 of 4 tokens; locals of 4 px
     * keep patch 4 = one token), teacher at patch 4 keep 1. */
    c.st.online = (VitShape){4, 0.5f, 0};
    c.st.target = (VitShape){4, 1.0f, 0};
    double lc = dino_step(&d, c.glob, c.loc, NLOC, SLOC, TB, &c.st);
    snprintf(msg, sizeof msg, "loss %.6g, last crop T %d, teacher T %d, finite grad %d", lc,
             d.acts.T, d.acts_t.T, be->all_finite(d.g, n));
    check_true(isfinite(lc) && d.acts.T == 2 && d.acts_t.T == 5 && be->all_finite(d.g, n) &&
               be->all_finite(d.p, n), "dino: keep 0.5 patch 4 with 4 px locals runs, finite",
               msg);
    double fl = dino_step_flops(&d, c.st.online, c.st.target, NLOC, SLOC, TB);
    double fl0 = dino_step_flops(&d, (VitShape){2, 1.0f, 0}, (VitShape){2, 1.0f, 0}, NLOC,
                                 SLOC, TB);
    snprintf(msg, sizeof msg, "%.4g < %.4g", fl, fl0);
    check_true(fl > 0 && fl < fl0, "dino: compressed step counts fewer FLOPs", msg);

    free(hp); free(ht); free(hp1); free(ht1); free(g0); free(g1); free(c0); free(mean);
    for (int a = 0; a < 2; a++)
        be->free((void *)c.glob[a]);
    for (int j = 0; j < NLOC; j++)
        be->free((void *)c.loc[j]);
    dino_free(&d);
}


/* ---- MoCo v3 ---- */

typedef struct {
    Moco *mo;
    const float *x1, *x2;
    MocoStep st;
} MocoCtx;

static double moco_fn(void *ctx)
{
    MocoCtx *c = ctx;
    return moco_grad(c->mo, c->x1, c->x2, TB, &c->st);
}


static void test_moco(void)
{
    MocoConfig mc = {.hidden = 16, .out = 8, .tau = 0.2f};
    Moco mo;
    float *x1 = device_images(TB, 1, 8, 30, 1.0), *x2 = device_images(TB, 1, 8, 31, 1.0);
    MocoCtx c = {&mo, x1, x2, {.online = {2, 1.0f, 0}, .target = {2, 1.0f, 0},
                               .momentum = 1.0f, .seed = 13}};

    moco_init(&mo, &TINY, &mc, be, TB, 6);
    perturb_params(mo.p, mo.params.total, 0.1, &mo.vit);
    perturb_params(mo.p_t, mo.target_count, 0.13, &mo.vit);
    gradcheck("moco P=2 keep=1, target fixed", &mo.params, mo.p, mo.g, moco_fn, &c, 3e-4);
    c.st.online = (VitShape){2, 0.5f, 0};
    c.st.step = 2;
    gradcheck("moco online keep=0.5, target fixed", &mo.params, mo.p, mo.g, moco_fn, &c, 3e-4);
    be->free(x1);
    be->free(x2);
    moco_free(&mo);
}


int main(void)
{
    be = backend_cpu();
    test_simclr();
    test_dino();
    test_moco();
    return check_summary();
}
