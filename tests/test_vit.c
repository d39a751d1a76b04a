/* test_vit.c: the whole ViT backbone and the head layers on the CPU backend:
 * finite-difference gradient checks at small sizes for every compression shape (base patch,
 * larger patch with both resize maps and an image resize, token dropout), and the property
 * tests of token dropout and sequence assembly. */
#include "check.h"

#include "backend.h"
#include "common.h"
#include "head.h"
#include "rng.h"
#include "vit.h"

#include <math.h>
#include <string.h>

static const Backend *be;

typedef struct {
    Vit vit;
    ParamTable t;
    VitActs acts;
    float *params, *grads, *img, *dout;
    float *hparams, *hgrads, *himg, *hR;
    int B;
} Fixture;


static void fill_normal(float *x, size_t n, uint64_t seed, double scale)
{
    Rng r = rng_stream(seed, 99, 0, 0);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * rng_normal(&r));
}


static void fixture_init(Fixture *f, VitConfig cfg, int B)
{
    size_t nimg = (size_t)B * cfg.CH * cfg.S * cfg.S;

    memset(f, 0, sizeof(*f));
    f->B = B;
    params_init_table(&f->t);
    vit_init(&f->vit, &cfg, &f->t, be);
    vit_acts_init(&f->acts, &f->vit, B, 1);
    f->hparams = xmalloc(f->t.total * sizeof(float));
    f->hgrads = xmalloc(f->t.total * sizeof(float));
    params_fill_init(&f->t, f->hparams, 7);
    /* Perturb every tensor so that no gradient is hidden by a zero or one initialisation. */
    for (size_t i = 0; i < f->t.total; i++)
        f->hparams[i] += 0.2f * (float)sin(2.385 * (double)i);
    f->params = be->alloc(f->t.total * sizeof(float));
    f->grads = be->alloc(f->t.total * sizeof(float));
    be->upload(f->params, f->hparams, f->t.total * sizeof(float));
    f->himg = xmalloc(nimg * sizeof(float));
    fill_normal(f->himg, nimg, 11, 1.0);
    f->img = be->alloc(nimg * sizeof(float));
    be->upload(f->img, f->himg, nimg * sizeof(float));
    f->hR = xmalloc((size_t)B * cfg.C * sizeof(float));
    fill_normal(f->hR, (size_t)B * cfg.C, 13, 1.0);
    f->dout = be->alloc((size_t)B * cfg.C * sizeof(float));
    be->upload(f->dout, f->hR, (size_t)B * cfg.C * sizeof(float));
}


static void fixture_free(Fixture *f)
{
    vit_acts_free(&f->acts, &f->vit);
    vit_free(&f->vit);
    be->free(f->params);
    be->free(f->grads);
    be->free(f->img);
    be->free(f->dout);
    free(f->hparams);
    free(f->hgrads);
    free(f->himg);
    free(f->hR);
    params_free_table(&f->t);
}


/* L = sum(out * R), accumulated in double. */
static double loss_at(Fixture *f, const int32_t *idx, VitShape sh)
{
    int C = f->vit.cfg.C;
    float *out = xmalloc((size_t)f->B * C * sizeof(float));
    double L = 0;

    be->upload(f->params, f->hparams, f->t.total * sizeof(float));
    vit_forward(&f->vit, &f->acts, f->params, f->img, idx, f->B, sh);
    be->download(out, f->acts.out, (size_t)f->B * C * sizeof(float));
    for (size_t i = 0; i < (size_t)f->B * C; i++)
        L += (double)out[i] * f->hR[i];
    free(out);
    return L;
}


/* Central differences on a few entries of every tensor. The model runs in float32, so the
 * loss carries rounding noise of about 1e-7 * sum|out*R| ~ 1e-6; with h = 1e-2 that is 1e-4
 * in the slope, and the O(h^2) truncation is of the same order for these smooth layers
 * (LayerNorm, GELU, softmax). A relative error of the gradient vector of 1e-2 is thus far
 * above the noise and far below any real mistake (a wrong term gives O(1)). */
static void gradcheck(Fixture *f, const int32_t *idx, VitShape sh, const char *label)
{
    const double h = 1e-2;
    char name[160];

    be->zero(f->grads, f->t.total * sizeof(float));
    loss_at(f, idx, sh);
    vit_backward(&f->vit, &f->acts, f->params, f->grads, f->dout);
    be->download(f->hgrads, f->grads, f->t.total * sizeof(float));

    double num = 0, den = 0, worst = 0;
    const char *worst_name = "";
    for (int p = 0; p < f->t.count; p++) {
        const ParamInfo *in = &f->t.info[p];
        double pn = 0, pd = 0;
        for (int s = 0; s < 4; s++) {
            size_t j = in->offset + (size_t)((s * 2654435761u) % in->size);
            float keep = f->hparams[j];
            f->hparams[j] = keep + (float)h;
            double lp = loss_at(f, idx, sh);
            f->hparams[j] = keep - (float)h;
            double lm = loss_at(f, idx, sh);
            f->hparams[j] = keep;
            double fd = (lp - lm) / (2 * h), an = f->hgrads[j];
            pn += (fd - an) * (fd - an);
            pd += fd * fd;
        }
        num += pn;
        den += pd;
        if (pd > 0 && sqrt(pn / pd) > worst) {
            worst = sqrt(pn / pd);
            worst_name = in->name;
        }
    }
    snprintf(name, sizeof name, "gradcheck %s (worst tensor %s %.2g)", label, worst_name, worst);
    check_relerr(sqrt(num / (den > 0 ? den : 1)), 1e-2, name);
}


static void test_gradients(void)
{
    VitConfig cfg = {.S = 8, .CH = 2, .P0 = 2, .C = 8, .L = 2, .NH = 2, .mlp_ratio = 2,
                     .ln_eps = 1e-6f};
    Fixture f;
    int B = 3;
    int32_t idx[3 * 16];

    fixture_init(&f, cfg, B);

    /* Base patch, all tokens. */
    VitShape base = {2, 1.0f, 0};
    vit_draw_tokens(idx, B, 16, 16, 1, 0, 0);
    gradcheck(&f, idx, base, "P=P0=2 keep=1 (16 tokens)");

    /* Token dropout: 8 of 16 per sample, different per sample. */
    VitShape drop = {2, 0.5f, 0};
    vit_draw_tokens(idx, B, 16, 8, 1, 3, 0);
    gradcheck(&f, idx, drop, "P=2 keep=0.5");

    /* Patch 4: pseudo-inverse resize of the weight and position grid 4x4 -> 2x2. */
    VitShape big = {4, 1.0f, 0};
    vit_draw_tokens(idx, B, 4, 4, 1, 0, 0);
    gradcheck(&f, idx, big, "P=4 keep=1 (pinv + pos resize)");

    /* Patch 3: G = round(8/3) = 3, the image is resized to 9 pixels as well. */
    VitShape odd = {3, 0.7f, 0};
    vit_draw_tokens(idx, B, 9, vit_kept_tokens(&cfg, odd), 1, 5, 0);
    gradcheck(&f, idx, odd, "P=3 keep=0.7 (image resize + pinv + pos + dropout)");

    fixture_free(&f);
}


static void download_out(Fixture *f, float *out)
{
    be->download(out, f->acts.out, (size_t)f->B * f->vit.cfg.C * sizeof(float));
}


static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}


static void test_properties(void)
{
    VitConfig cfg = {.S = 16, .CH = 3, .P0 = 4, .C = 12, .L = 2, .NH = 3, .mlp_ratio = 4,
                     .ln_eps = 1e-6f};
    Fixture f;
    int B = 2, C = cfg.C;
    int32_t idx[2 * 16], perm[2 * 16];
    float o1[2 * 12], o2[2 * 12];
    char msg[128];

    fixture_init(&f, cfg, B);

    /* keep = 1 draws every token in order: the same as no dropout at all. */
    vit_draw_tokens(idx, B, 16, 16, 42, 9, 1);
    int inorder = 1;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < 16; j++)
            inorder &= idx[b * 16 + j] == j;
    check_true(inorder, "keep ratio 1 keeps all 16 patches in order", NULL);
    VitShape full = {4, 1.0f, 0};
    vit_forward(&f.vit, &f.acts, f.params, f.img, idx, B, full);
    download_out(&f, o1);

    /* Permuting the kept tokens leaves the CLS output unchanged (no position leaks from the
     * order of the sequence, only from the added embedding). */
    for (int b = 0; b < B; b++)
        for (int j = 0; j < 16; j++)
            perm[b * 16 + j] = idx[b * 16 + (j * 5 + 3 + b) % 16];
    vit_forward(&f.vit, &f.acts, f.params, f.img, perm, B, full);
    download_out(&f, o2);
    snprintf(msg, sizeof msg, "max |diff| %.3g", max_abs_diff(o1, o2, (size_t)B * C));
    check_true(max_abs_diff(o1, o2, (size_t)B * C) < 1e-5, "CLS output invariant to token order",
               msg);

    /* 16 patches, keep 0.25: CLS plus 4 distinct patches, each its own embedding + position. */
    VitShape quarter = {4, 0.25f, 0};
    int TK = vit_kept_tokens(&cfg, quarter);
    check_close(TK, 4, 0, "16 patches at keep 0.25 keep 4 tokens");
    vit_draw_tokens(idx, B, 16, TK, 42, 10, 0);
    int distinct = 1;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < TK; i++)
            for (int j = i + 1; j < TK; j++)
                distinct &= idx[b * TK + i] != idx[b * TK + j];
    check_true(distinct, "kept tokens are distinct in every sample", NULL);
    check_true(idx[0] != idx[TK] || idx[1] != idx[TK + 1] || idx[2] != idx[TK + 2],
               "the two samples keep different tokens", NULL);
    {
        int32_t other[2 * 4], again[2 * 4];
        vit_draw_tokens(other, B, 16, TK, 42, 11, 0);
        vit_draw_tokens(again, B, 16, TK, 42, 10, 0);
        check_true(memcmp(idx, other, sizeof other) != 0,
                   "masks differ from one step to the next", NULL);
        check_true(memcmp(idx, again, sizeof again) == 0,
                   "the same seed and step draw the same masks", NULL);
    }
    vit_forward(&f.vit, &f.acts, f.params, f.img, idx, B, quarter);
    check_close(f.acts.T, 5, 0, "sequence length is CLS + 4");

    size_t T = 5, nx = (size_t)B * T * C;
    float *x0 = xmalloc(nx * sizeof(float));
    be->download(x0, f.acts.x0, nx * sizeof(float));
    double worst = 0;
    const float *w = f.hparams + f.vit.patch_w, *bias = f.hparams + f.vit.patch_b;
    const float *pos = f.hparams + f.vit.pos, *cls = f.hparams + f.vit.cls;
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < C; c++)
            worst = fmax(worst, fabs(x0[(size_t)b * T * C + c] - cls[c]));
        for (int j = 0; j < TK; j++) {
            int pi = idx[b * TK + j], gy = pi / 4, gx = pi % 4;
            for (int c = 0; c < C; c++) {
                double e = bias[c] + pos[(size_t)pi * C + c];
                for (int ch = 0; ch < 3; ch++)
                    for (int y = 0; y < 4; y++)
                        for (int x = 0; x < 4; x++)
                            e += (double)w[(((size_t)c * 3 + ch) * 4 + y) * 4 + x] *
                                 f.himg[(((size_t)b * 3 + ch) * 16 + gy * 4 + y) * 16 + gx * 4 + x];
                worst = fmax(worst, fabs(x0[((size_t)b * T + 1 + j) * C + c] - e));
            }
        }
    }
    snprintf(msg, sizeof msg, "max |x0 - (W patch + b + pos)| = %.3g", worst);
    check_true(worst < 1e-4, "each kept token is its own patch embedding plus its own position",
               msg);
    free(x0);
    fixture_free(&f);
}


static void test_setting_errors(void)
{
    VitConfig good = {.S = 32, .CH = 3, .P0 = 4, .C = 192, .L = 12, .NH = 3, .mlp_ratio = 4,
                      .ln_eps = 1e-6f};
    VitConfig bad = good;
    const char *e;

    check_true(vit_config_error(&good) == NULL, "reference configuration accepted", NULL);
    bad.NH = 5;
    e = vit_config_error(&bad);
    check_true(e && strstr(e, "--width 192") && strstr(e, "--heads 5"),
               "width not divisible by heads names both settings", e);
    e = vit_shape_error(&good, (VitShape){0, 1.0f, 0});
    check_true(e && strstr(e, "--patch 0") && strstr(e, "[1, 32]"), "patch 0 rejected", e);
    e = vit_shape_error(&good, (VitShape){-3, 1.0f, 0});
    check_true(e && strstr(e, "--patch -3"), "negative patch rejected", e);
    e = vit_shape_error(&good, (VitShape){33, 1.0f, 0});
    check_true(e && strstr(e, "smaller than one patch"), "image smaller than a patch rejected", e);
    e = vit_shape_error(&good, (VitShape){4, 0.0f, 0});
    check_true(e && strstr(e, "--keep 0") && strstr(e, "(0, 1]"), "keep 0 rejected", e);
    e = vit_shape_error(&good, (VitShape){4, 1.5f, 0});
    check_true(e && strstr(e, "--keep 1.5"), "keep 1.5 rejected", e);
    e = vit_shape_error(&good, (VitShape){4, NAN, 0});
    check_true(e != NULL, "keep NaN rejected", e);
}


/* Head layers: gradient check of a stack that uses every layer kind. */
static void test_head_gradients(void)
{
    ParamTable t, bufs;
    Head h;
    int B = 5, D = 6;
    /* h = 1e-3, not 1e-2: a larger step can carry a ReLU input across its kink. */
    const double hstep = 1e-3;

    params_init_table(&t);
    params_init_table(&bufs);
    head_init(&h, "head", D, be);
    head_add_linear(&h, &t, 7, 1);
    head_add_bn(&h, &t, &bufs, 1);
    head_add_gelu(&h);
    head_add_linear(&h, &t, 5, 0);
    head_add_bn(&h, &t, &bufs, 0);
    head_add_relu(&h);
    head_add_l2norm(&h);
    head_add_wnlinear(&h, &t, 4, 0);
    head_add_l2norm(&h);
    head_add_wnlinear(&h, &t, 3, 1);
    head_finish(&h, &t);
    head_alloc(&h, B);

    float *hp = xmalloc(t.total * sizeof(float)), *hg = xmalloc(t.total * sizeof(float));
    float *hb = xmalloc(bufs.total * sizeof(float));
    float *hx = xmalloc((size_t)B * D * sizeof(float)), *hdx = xcalloc((size_t)B * D, 4);
    float *hR = xmalloc((size_t)B * 3 * sizeof(float)), *hy = xmalloc((size_t)B * 3 * 4);
    params_fill_init(&t, hp, 3);
    params_fill_init(&bufs, hb, 3);
    for (size_t i = 0; i < t.total; i++)
        hp[i] += 0.3f * (float)cos(2.385 * (double)i);
    fill_normal(hx, (size_t)B * D, 21, 1.5);
    fill_normal(hR, (size_t)B * 3, 22, 1.0);
    float *p = be->alloc(t.total * 4), *g = be->alloc(t.total * 4), *bb = be->alloc(bufs.total * 4);
    float *x = be->alloc((size_t)B * D * 4), *dx = be->alloc((size_t)B * D * 4);
    float *dy = be->alloc((size_t)B * 3 * 4);
    be->upload(x, hx, (size_t)B * D * 4);
    be->upload(dy, hR, (size_t)B * 3 * 4);

#define HEAD_LOSS(out_L) do { \
        be->upload(p, hp, t.total * 4); be->upload(x, hx, (size_t)B * D * 4); \
        be->upload(bb, hb, bufs.total * 4); \
        const float *yy = head_forward(&h, p, bb, x, B, 1); \
        be->download(hy, yy, (size_t)B * 3 * 4); \
        out_L = 0; for (int i_ = 0; i_ < B * 3; i_++) out_L += (double)hy[i_] * hR[i_]; \
    } while (0)

    double L;
    HEAD_LOSS(L);
    be->zero(g, t.total * 4);
    be->zero(dx, (size_t)B * D * 4);
    head_backward(&h, p, g, dy, dx);
    be->download(hg, g, t.total * 4);
    be->download(hdx, dx, (size_t)B * D * 4);

    double num = 0, den = 0;
    for (int pi = 0; pi < t.count; pi++) {
        double pn = 0, pd = 0;
        for (size_t j = t.info[pi].offset; j < t.info[pi].offset + t.info[pi].size; j++) {
            float keep = hp[j];
            double lp, lm;
            hp[j] = keep + (float)hstep; HEAD_LOSS(lp);
            hp[j] = keep - (float)hstep; HEAD_LOSS(lm);
            hp[j] = keep;
            double fd = (lp - lm) / (2 * hstep);
            pn += (fd - hg[j]) * (fd - hg[j]);
            pd += fd * fd;
        }
        printf("     %-22s |fd| %.3g  err %.3g\n", t.info[pi].name, sqrt(pd), sqrt(pn));
        num += pn;
        den += pd;
    }
    check_relerr(sqrt(num / den), 1e-2, "head gradcheck: parameters of linear, BN (affine and "
                 "affine-free), GELU, ReLU, L2, weight-normalised linear (free and fixed gain)");
    num = den = 0;
    for (int j = 0; j < B * D; j++) {
        float keep = hx[j];
        double lp, lm;
        hx[j] = keep + (float)hstep; HEAD_LOSS(lp);
        hx[j] = keep - (float)hstep; HEAD_LOSS(lm);
        hx[j] = keep;
        double fd = (lp - lm) / (2 * hstep);
        num += (fd - hdx[j]) * (fd - hdx[j]);
        den += fd * fd;
    }
    check_relerr(sqrt(num / den), 1e-2, "head gradcheck: input");
#undef HEAD_LOSS

    /* Eval mode reads the running statistics and leaves them alone. */
    float *before = xmalloc(bufs.total * 4), *after = xmalloc(bufs.total * 4);
    be->download(before, bb, bufs.total * 4);
    head_forward(&h, p, bb, x, B, 0);
    be->download(after, bb, bufs.total * 4);
    check_true(memcmp(before, after, bufs.total * 4) == 0,
               "BatchNorm eval mode leaves running statistics unchanged", NULL);
    head_forward(&h, p, bb, x, B, 1);
    be->download(after, bb, bufs.total * 4);
    check_true(memcmp(before, after, bufs.total * 4) != 0,
               "BatchNorm train mode updates running statistics", NULL);

    free(before); free(after); free(hp); free(hg); free(hb); free(hx); free(hdx); free(hR);
    free(hy);
    be->free(p); be->free(g); be->free(bb); be->free(x); be->free(dx); be->free(dy);
    head_free(&h);
    params_free_table(&t);
    params_free_table(&bufs);
}


int main(void)
{
    be = backend_cpu();
    test_setting_errors();
    test_properties();
    test_gradients();
    test_head_gradients();
    return check_summary();
}
