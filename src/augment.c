/* augment.c: one augmented view per sample, and the batch drivers (OpenMP over samples).
 * Images in: uint8 planar [n, CH, H, W]. Views out: float32 planar [B, CH, S, S].
 * Sample b draws only from rng_stream(seed, RNG_AUGMENT, step, image*16 + view), keyed by
 * its dataset index, so a view does not depend on the thread count, on the schedule, or on
 * where the image sits in the batch (a batch split into pieces augments the same). */
#include "augment.h"
#include "common.h"

#include <math.h>


static float uniform_in(Rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * (float)rng_uniform(rng);
}


/* Per-op draws sit at fixed positions whatever the probabilities, so changing one
 * probability changes only that op's decision; the crop, whose tries vary, draws last. */
void aug_draw_params(AugParams *p, Rng *rng, const AugRecipe *r, int H, int W)
{
    p->flip = rng_uniform(rng) < r->flip_p;
    p->jitter = rng_uniform(rng) < r->jitter_p;
    p->brightness = uniform_in(rng, fmaxf(0.0f, 1.0f - r->brightness), 1.0f + r->brightness);
    p->contrast = uniform_in(rng, fmaxf(0.0f, 1.0f - r->contrast), 1.0f + r->contrast);
    p->saturation = uniform_in(rng, fmaxf(0.0f, 1.0f - r->saturation), 1.0f + r->saturation);
    p->hue = uniform_in(rng, -r->hue, r->hue);
    for (int i = 0; i < 4; i++)
        p->order[i] = i;
    for (int i = 3; i > 0; i--) {    /* Fisher-Yates: a uniform permutation, 3 draws */
        int j = (int)rng_below(rng, (uint64_t)i + 1);
        int t = p->order[i];
        p->order[i] = p->order[j];
        p->order[j] = t;
    }
    p->gray = rng_uniform(rng) < r->gray_p;
    p->blur = rng_uniform(rng) < r->blur_p;
    p->sigma_px = uniform_in(rng, r->blur_sigma_min, r->blur_sigma_max) * r->S
                  / r->blur_ref_side;
    p->solarize = rng_uniform(rng) < r->solarize_p;
    aug_crop_box(p, rng, H, W, r->scale_min, r->scale_max, r->ratio_min, r->ratio_max);
}


size_t aug_scratch_floats(int CH, int H, int W, int S)
{
    return (size_t)CH * ((size_t)H * W + (size_t)S * S);
}


static void apply_jitter(float *img, int CH, int S, const AugRecipe *r, const AugParams *p)
{
    for (int k = 0; k < 4; k++) {
        switch (p->order[k]) {
        case 0: if (r->brightness > 0) aug_brightness(img, CH, S, S, p->brightness); break;
        case 1: if (r->contrast > 0) aug_contrast(img, CH, S, S, p->contrast); break;
        case 2: if (r->saturation > 0) aug_saturation(img, CH, S, S, p->saturation); break;
        default: if (r->hue > 0) aug_hue(img, CH, S, S, p->hue); break;
        }
    }
}


void aug_apply(float *out, const uint8_t *img, int H, int W, const AugRecipe *r,
               const AugParams *p, float *scratch)
{
    int CH = r->CH, S = r->S;
    size_t n = (size_t)CH * H * W;
    float *src = scratch, *tmp = scratch + n;

    for (size_t i = 0; i < n; i++)
        src[i] = img[i] * (1.0f / 255.0f);
    aug_resize_bilinear(out, S, src, CH, H, W, p->y0, p->x0, p->h, p->w);

    /* The flip commutes with every op below (all pointwise, or a symmetric blur with
     * symmetric padding), so its place in torchvision's pipelines does not matter. */
    if (p->flip)
        aug_flip(out, CH, S, S);
    if (p->jitter)
        apply_jitter(out, CH, S, r, p);
    if (p->gray)
        aug_grayscale(out, CH, S, S);
    if (p->blur)
        aug_blur(out, tmp, CH, S, S, p->sigma_px);
    if (p->solarize)
        aug_solarize(out, CH, S, S);
    aug_normalize(out, CH, S, S, r->mean, r->std);
}


static void recipe_check(const AugRecipe *r, int CH)
{
    HASSERT(r->CH == CH && (CH == 1 || CH == 3));
    HASSERT(r->S > 0);
    HASSERT(r->scale_min > 0.0f && r->scale_min <= r->scale_max);
    HASSERT(r->ratio_min > 0.0f && r->ratio_min <= r->ratio_max);
    HASSERT(r->blur_ref_side > 0.0f && r->blur_sigma_min > 0.0f);
    for (int c = 0; c < CH; c++)
        HASSERT(r->std[c] > 0.0f);
}


void augment_batch(float *out, const uint8_t *pixels, const int32_t *indices, int B, int CH,
                   int H, int W, const AugRecipe *r, uint64_t seed, uint64_t step, int view)
{
    recipe_check(r, CH);
    HASSERT(view >= 0 && view < AUG_MAX_VIEWS);
    size_t in_sz = (size_t)CH * H * W, out_sz = (size_t)CH * r->S * r->S;

    #pragma omp parallel
    {
        float *scratch = xmalloc(aug_scratch_floats(CH, H, W, r->S) * sizeof(float));
        #pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            HASSERT(indices == NULL || indices[b] >= 0);
            uint64_t img = indices ? (uint64_t)indices[b] : (uint64_t)b;
            Rng rng = rng_stream(seed, RNG_AUGMENT, step, img * AUG_MAX_VIEWS + view);
            AugParams p;
            aug_draw_params(&p, &rng, r, H, W);
            aug_apply(out + b * out_sz, pixels + img * in_sz, H, W, r, &p, scratch);
        }
        free(scratch);
    }
}


void augment_eval_batch(float *out, const uint8_t *pixels, const int32_t *indices, int B,
                        int CH, int H, int W, const AugRecipe *r)
{
    recipe_check(r, CH);
    int side = H < W ? H : W;
    AugParams p = {.y0 = (H - side) / 2, .x0 = (W - side) / 2, .h = side, .w = side};
    size_t in_sz = (size_t)CH * H * W, out_sz = (size_t)CH * r->S * r->S;

    #pragma omp parallel
    {
        float *scratch = xmalloc(aug_scratch_floats(CH, H, W, r->S) * sizeof(float));
        #pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            HASSERT(indices == NULL || indices[b] >= 0);
            uint64_t img = indices ? (uint64_t)indices[b] : (uint64_t)b;
            aug_apply(out + b * out_sz, pixels + img * in_sz, H, W, r, &p, scratch);
        }
        free(scratch);
    }
}


void augment_multicrop(float *global, float *local, const uint8_t *pixels,
                       const int32_t *indices, int B, int CH, int H, int W,
                       const AugRecipe *g0, const AugRecipe *g1, const AugRecipe *loc, int L,
                       uint64_t seed, uint64_t step)
{
    HASSERT(g0->S == g1->S && L >= 0 && L + 2 <= AUG_MAX_VIEWS);
    size_t g_sz = (size_t)B * CH * g0->S * g0->S;

    augment_batch(global, pixels, indices, B, CH, H, W, g0, seed, step, 0);
    augment_batch(global + g_sz, pixels, indices, B, CH, H, W, g1, seed, step, 1);
    if (L == 0)
        return;
    size_t l_sz = (size_t)B * CH * loc->S * loc->S;
    for (int v = 0; v < L; v++)
        augment_batch(local + v * l_sz, pixels, indices, B, CH, H, W, loc, seed, step, 2 + v);
}
