/* augment.h: per-sample data augmentation for the SSL methods (MoCo v3, SimCLR, DINO).
 * Input images are uint8 planar [n, CH, H, W]; views come out as float32 planar
 * [B, CH, S, S], normalised per channel. The pixel ops work on one float image [CH, H, W]
 * with values in [0, 1]. Every sample draws from its own counter-based stream
 * (seed, step, sample, view), so the output does not depend on the thread count. */
#ifndef HASTEN_AUGMENT_H
#define HASTEN_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

#define AUG_MAX_CH 3
#define AUG_MAX_VIEWS 16   /* the stream index is sample * AUG_MAX_VIEWS + view */

/* One view's transform. Probabilities are in [0, 1]; a strength of 0 turns a jitter off. */
typedef struct {
    int CH;                          /* 1 (grayscale) or 3 (RGB) */
    int S;                           /* output side */
    float scale_min, scale_max;      /* crop area as a fraction of the image area */
    float ratio_min, ratio_max;      /* crop aspect ratio w/h, drawn log-uniform */
    float flip_p;
    float jitter_p;                  /* probability of applying the colour jitter at all */
    float brightness, contrast;      /* factor drawn from [max(0, 1 - s), 1 + s] */
    float saturation, hue;           /* saturation as above; hue shift from [-hue, hue] */
    float gray_p;
    float blur_p;
    float blur_sigma_min, blur_sigma_max;  /* in pixels of a blur_ref_side image */
    float blur_ref_side;             /* sigma_px = sigma * S / blur_ref_side */
    float solarize_p;
    float mean[AUG_MAX_CH], std[AUG_MAX_CH];
} AugRecipe;

/* The random choices for one view, drawn before any pixel is touched. */
typedef struct {
    int y0, x0, h, w;                /* crop box in the source image */
    int flip, jitter, gray, blur, solarize;
    float brightness, contrast, saturation, hue;
    int order[4];                    /* jitter order: 0 bright, 1 contrast, 2 sat, 3 hue */
    float sigma_px;
} AugParams;

/* ---- pixel ops: img is [CH, H, W] (or [CH, S, S]) float in [0, 1] ---- */

/* Torchvision's RandomResizedCrop box: up to 10 tries of (area, log-ratio), then a centre
 * crop clamped to the ratio range. Writes the box to p->y0, x0, h, w. */
void aug_crop_box(AugParams *p, Rng *rng, int H, int W, float scale_min, float scale_max,
                  float ratio_min, float ratio_max);

/* Bilinear resize of the box (y0, x0, h, w) of img [CH, H, W] to out [CH, S, S]; half-pixel
 * centres (align_corners=False), source coordinates clamped to the box. No antialiasing. */
void aug_resize_bilinear(float *out, int S, const float *img, int CH, int H, int W,
                         int y0, int x0, int h, int w);

void aug_flip(float *img, int CH, int H, int W);
void aug_brightness(float *img, int CH, int H, int W, float f);
void aug_contrast(float *img, int CH, int H, int W, float f);
void aug_saturation(float *img, int CH, int H, int W, float f);   /* no-op unless CH == 3 */
void aug_hue(float *img, int CH, int H, int W, float shift);      /* shift in [-0.5, 0.5] */
void aug_grayscale(float *img, int CH, int H, int W);             /* no-op unless CH == 3 */

/* Gaussian blur, separable, reflect padding. tmp holds CH*H*W floats. */
void aug_blur(float *img, float *tmp, int CH, int H, int W, float sigma_px);

/* Normalised 1-D Gaussian taps k[0..2R], R = aug_blur_radius(sigma). */
int aug_blur_radius(float sigma_px);
void aug_blur_kernel(float *k, float sigma_px);

void aug_solarize(float *img, int CH, int H, int W);              /* x >= 0.5 -> 1 - x */
void aug_normalize(float *img, int CH, int H, int W, const float *mean, const float *std);

/* ---- recipes (defaults and their sources are in augment_recipe.c) ---- */

AugRecipe aug_recipe_moco(int view, int CH, int S);
AugRecipe aug_recipe_simclr(int CH, int S);
AugRecipe aug_recipe_dino_global(int view, int n_local, int CH, int S);
AugRecipe aug_recipe_dino_local(int CH, int S_global, int S_local);
AugRecipe aug_recipe_eval(int CH, int S);

/* Replaces the default normalisation (Fashion-MNIST for CH 1, CIFAR-10 for CH 3). */
void aug_recipe_set_norm(AugRecipe *r, const float *mean, const float *std);

/* ---- one sample and batches ---- */

/* Draws every random choice of one view from rng (fixed positions for the per-op draws,
 * the crop tries last), for a source image of H x W. */
void aug_draw_params(AugParams *p, Rng *rng, const AugRecipe *r, int H, int W);

/* Applies p to img [CH, H, W] uint8: out [CH, S, S] normalised. scratch holds
 * aug_scratch_floats(CH, H, W, S) floats. */
size_t aug_scratch_floats(int CH, int H, int W, int S);
void aug_apply(float *out, const uint8_t *img, int H, int W, const AugRecipe *r,
               const AugParams *p, float *scratch);

/* out [B, CH, S, S]; sample b is image indices[b] of pixels (b itself when indices is NULL).
 * The stream of sample b is rng_stream(seed, RNG_AUGMENT, step, indices[b]*16 + view): keyed
 * by the image, so one image listed twice in a batch gets the same view twice. */
void augment_batch(float *out, const uint8_t *pixels, const int32_t *indices, int B, int CH,
                   int H, int W, const AugRecipe *r, uint64_t seed, uint64_t step, int view);

/* No randomness: the centred square of side min(H, W), resized to r->S (a plain convert
 * when it is already S x S), normalised. */
void augment_eval_batch(float *out, const uint8_t *pixels, const int32_t *indices, int B,
                        int CH, int H, int W, const AugRecipe *r);

/* DINO multi-crop: global [2, B, CH, Sg, Sg] (views 0, 1 from g0, g1) and
 * local [L, B, CH, Sl, Sl] (views 2 .. L+1 from loc). L + 2 <= AUG_MAX_VIEWS. */
void augment_multicrop(float *global, float *local, const uint8_t *pixels,
                       const int32_t *indices, int B, int CH, int H, int W,
                       const AugRecipe *g0, const AugRecipe *g1, const AugRecipe *loc, int L,
                       uint64_t seed, uint64_t step);

#endif
