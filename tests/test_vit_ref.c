/* test_vit_ref.c: hasten's ViT and head layers against reference tensors from an independent
 * PyTorch implementation (tests/ref_vit.py, float64). The reference file is committed, so
 * the test needs no torch. To remake it:
 *   build/tests/test_vit_ref --write-inputs tests/data/vit_ref_inputs.h5
 *   /usr/bin/python3 tests/ref_vit.py tests/data/vit_ref_inputs.h5 tests/data/vit_ref.h5
 * Cases cover the base patch, token dropout, a larger patch (pseudo-inverse upsampling of the
 * embedding, position grid shrunk), an odd patch that needs an image resize, and a smaller
 * patch (least-squares downsampling of the embedding, position grid grown). */
#include "check.h"

#include "backend.h"
#include "common.h"
#include "h5io.h"
#include "head.h"
#include "rng.h"
#include "vit.h"

#include <math.h>
#include <string.h>

#define REF_PATH "tests/data/vit_ref.h5"

static const VitConfig CFG = {.S = 16, .CH = 3, .P0 = 4, .C = 24, .L = 2, .NH = 3,
                              .mlp_ratio = 4, .ln_eps = 1e-6f};
static const int NB = 4, DOUT = 8;

static const struct { const char *name; int P; float keep; } CASES[] = {
    {"p4_keep1", 4, 1.0f}, {"p4_keep0.5", 4, 0.5f}, {"p8_keep1", 8, 1.0f},
    {"p5_keep0.75", 5, 0.75f}, {"p3_keep0.6", 3, 0.6f},
};
#define NCASES (int)(sizeof CASES / sizeof CASES[0])

typedef struct {
    ParamTable t, bufs;
    Vit vit;
    Head head;
    VitActs acts;
} RefModel;


static void model_init(RefModel *m, const Backend *be)
{
    params_init_table(&m->t);
    params_init_table(&m->bufs);
    vit_init(&m->vit, &CFG, &m->t, be);
    head_init(&m->head, "head", CFG.C, be);
    head_add_linear(&m->head, &m->t, 32, 1);
    head_add_bn(&m->head, &m->t, &m->bufs, 1);
    head_add_gelu(&m->head);
    head_add_linear(&m->head, &m->t, 16, 0);
    head_add_bn(&m->head, &m->t, &m->bufs, 0);
    head_add_l2norm(&m->head);
    head_add_wnlinear(&m->head, &m->t, DOUT, 0);
    head_finish(&m->head, &m->t);
    head_alloc(&m->head, NB);
    vit_acts_init(&m->acts, &m->vit, NB, 1);
}


static size_t dims_of(const ParamInfo *p, size_t *dims)
{
    for (int i = 0; i < p->ndim; i++)
        dims[i] = (size_t)p->shape[i];
    return (size_t)p->ndim;
}


/* Writes weights, images, kept indices and output gradients for the PyTorch script. */
static int write_inputs(const char *path)
{
    const Backend *be = backend_cpu();
    RefModel m;
    H5Out *out = h5out_begin(path, 0);
    hid_t f = h5out_file(out);
    char name[128];
    size_t dims[4];

    model_init(&m, be);
    float *hp = xmalloc(m.t.total * sizeof(float));
    params_fill_init(&m.t, hp, 2385);
    /* Move every tensor off its initial value so no term hides behind a 0 or a 1. */
    for (size_t i = 0; i < m.t.total; i++)
        hp[i] += 0.1f * (float)sin(0.7 * (double)i + 0.3);
    for (int i = 0; i < m.t.count; i++) {
        const ParamInfo *p = &m.t.info[i];
        snprintf(name, sizeof name, "/params/%s", p->name);
        h5_write(f, name, H5IO_F32, (int)dims_of(p, dims), dims, hp + p->offset);
    }
    const char *keys[] = {"S", "CH", "P0", "C", "L", "NH"};
    int vals[] = {CFG.S, CFG.CH, CFG.P0, CFG.C, CFG.L, CFG.NH};
    for (int i = 0; i < 6; i++)
        h5_attr_i64(f, ".", keys[i], vals[i]);

    for (int c = 0; c < NCASES; c++) {
        VitShape sh = {CASES[c].P, CASES[c].keep, 0};
        int NP = vit_num_patches(&CFG, sh), TK = vit_kept_tokens(&CFG, sh);
        size_t nimg = (size_t)NB * CFG.CH * CFG.S * CFG.S;
        float *img = xmalloc(nimg * sizeof(float)), *dout = xmalloc(NB * DOUT * sizeof(float));
        int32_t *idx = xmalloc((size_t)NB * TK * sizeof(int32_t));
        Rng r = rng_stream(2385, RNG_EVAL, (uint64_t)c, 0);

        for (size_t i = 0; i < nimg; i++)
            img[i] = (float)rng_normal(&r);
        for (int i = 0; i < NB * DOUT; i++)
            dout[i] = (float)rng_normal(&r);
        vit_draw_tokens(idx, NB, NP, TK, 2385, (uint64_t)c, 0);

        snprintf(name, sizeof name, "/cases/%s", CASES[c].name);
        hid_t g = h5_group(f, name);
        H5Gclose(g);
        h5_attr_i64(f, name, "P", CASES[c].P);
        h5_attr_f64(f, name, "keep", CASES[c].keep);
        snprintf(name, sizeof name, "/cases/%s/img", CASES[c].name);
        h5_write(f, name, H5IO_F32, 4, (size_t[]){NB, CFG.CH, CFG.S, CFG.S}, img);
        snprintf(name, sizeof name, "/cases/%s/idx", CASES[c].name);
        h5_write(f, name, H5IO_I32, 2, (size_t[]){NB, (size_t)TK}, idx);
        snprintf(name, sizeof name, "/cases/%s/dout", CASES[c].name);
        h5_write(f, name, H5IO_F32, 2, (size_t[]){NB, DOUT}, dout);
        free(img);
        free(dout);
        free(idx);
    }
    h5out_commit(out);
    printf("wrote %s\n", path);
    free(hp);
    return 0;
}


static double rel_err(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;

    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}


/* Float32 against a float64 reference: the relative error of a well-conditioned output is a
 * few times 1e-7 per layer; gradients through two blocks, LayerNorm and BatchNorm reach 1e-5
 * at most. 1e-4 leaves room for rounding and catches any wrong term (which costs >1e-2). */
static void check_case(RefModel *m, const Backend *be, hid_t f, int c)
{
    char path[160], label[200];
    VitShape sh = {CASES[c].P, CASES[c].keep, 0};
    int TK = vit_kept_tokens(&CFG, sh);
    size_t nimg = (size_t)NB * CFG.CH * CFG.S * CFG.S;

    snprintf(path, sizeof path, "/cases/%s/img", CASES[c].name);
    float *himg = h5_read(f, path, H5IO_F32, 4, (long[]){NB, CFG.CH, CFG.S, CFG.S}, NULL, NULL);
    snprintf(path, sizeof path, "/cases/%s/idx", CASES[c].name);
    int32_t *idx = h5_read(f, path, H5IO_I32, 2, (long[]){NB, TK}, NULL, NULL);
    snprintf(path, sizeof path, "/cases/%s/dout", CASES[c].name);
    float *hdout = h5_read(f, path, H5IO_F32, 2, (long[]){NB, DOUT}, NULL, NULL);
    snprintf(path, sizeof path, "/cases/%s/out", CASES[c].name);
    float *ref_out = h5_read(f, path, H5IO_F32, 2, (long[]){NB, DOUT}, NULL, NULL);

    float *hp = xmalloc(m->t.total * sizeof(float)), *hg = xmalloc(m->t.total * sizeof(float));
    for (int i = 0; i < m->t.count; i++) {
        const ParamInfo *p = &m->t.info[i];
        float *x;
        snprintf(path, sizeof path, "/params/%s", p->name);
        x = h5_read(f, path, H5IO_F32, H5IO_ANY, NULL, NULL, NULL);
        memcpy(hp + p->offset, x, p->size * sizeof(float));
        free(x);
    }

    float *p = be->alloc(m->t.total * 4), *g = be->alloc(m->t.total * 4);
    float *bufs = be->alloc(m->bufs.total * 4), *img = be->alloc(nimg * 4);
    float *dout = be->alloc(NB * DOUT * 4), *dfeat = be->alloc((size_t)NB * CFG.C * 4);
    float out[NB * DOUT];
    be->upload(p, hp, m->t.total * 4);
    be->upload(img, himg, nimg * 4);
    be->upload(dout, hdout, NB * DOUT * 4);

    vit_forward(&m->vit, &m->acts, p, img, idx, NB, sh);
    const float *y = head_forward(&m->head, p, bufs, m->acts.out, NB, 1);
    be->download(out, y, sizeof out);
    snprintf(label, sizeof label, "%s: output vs PyTorch", CASES[c].name);
    check_relerr(rel_err(out, ref_out, NB * DOUT), 1e-4, label);

    head_backward(&m->head, p, g, dout, dfeat);
    vit_backward(&m->vit, &m->acts, p, g, dfeat);
    be->download(hg, g, m->t.total * 4);
    /* Biases in front of a BatchNorm (the final LN's bias, head.0.bias) have an exactly zero
     * gradient; for those tensors the float32 rounding noise is compared with the norm of the
     * whole gradient instead (it must stay below 1e-6 of it). */
    float **refs = xcalloc((size_t)m->t.count, sizeof(float *));
    double all = 0, worst = 0, zero_worst = 0;
    const char *worst_name = "";
    int nzero = 0;
    for (int i = 0; i < m->t.count; i++) {
        const ParamInfo *pi = &m->t.info[i];
        snprintf(path, sizeof path, "/cases/%s/grads/%s", CASES[c].name, pi->name);
        refs[i] = h5_read(f, path, H5IO_F32, H5IO_ANY, NULL, NULL, NULL);
        for (size_t j = 0; j < pi->size; j++)
            all += (double)refs[i][j] * refs[i][j];
    }
    for (int i = 0; i < m->t.count; i++) {
        const ParamInfo *pi = &m->t.info[i];
        double num = 0, den = 0;
        for (size_t j = 0; j < pi->size; j++) {
            double d = (double)hg[pi->offset + j] - refs[i][j];
            num += d * d;
            den += (double)refs[i][j] * refs[i][j];
        }
        if (den < 1e-12 * all) {
            nzero++;
            zero_worst = fmax(zero_worst, sqrt(num / all));
            free(refs[i]);
            continue;
        }
        double e = sqrt(num / den);
        if (e > worst) {
            worst = e;
            worst_name = pi->name;
        }
        free(refs[i]);
    }
    free(refs);
    snprintf(label, sizeof label, "%s: every parameter gradient vs PyTorch (worst: %s)",
             CASES[c].name, worst_name);
    check_relerr(worst, 1e-4, label);
    snprintf(label, sizeof label, "%s: %d zero-gradient tensors stay zero (|g| / |whole grad|)",
             CASES[c].name, nzero);
    check_relerr(zero_worst, 1e-6, label);

    be->free(p); be->free(g); be->free(bufs); be->free(img); be->free(dout); be->free(dfeat);
    free(hp); free(hg); free(himg); free(idx); free(hdout); free(ref_out);
}


int main(int argc, char **argv)
{
    const Backend *be = backend_cpu();
    RefModel m;

    if (argc == 3 && strcmp(argv[1], "--write-inputs") == 0)
        return write_inputs(argv[2]);

    hid_t f = h5in_open(argc == 2 ? argv[1] : REF_PATH);
    printf("reference: %s\n", h5_attr_get_str(f, ".", "reference"));
    model_init(&m, be);
    for (int c = 0; c < NCASES; c++)
        check_case(&m, be, f, c);
    h5in_close(f);
    return check_summary();
}
