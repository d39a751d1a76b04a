/* augment_ops.c: the pixel ops of the augmentation pipeline.
 * Each op works in place on one float image [CH, H, W] (planar) with values in [0, 1] and
 * keeps them there; only aug_normalize leaves that range. Semantics follow torchvision's
 * functional ops (blend-and-clamp jitter, ITU-R 601 luma, half-pixel bilinear), but in
 * float throughout: torchvision's PIL path rounds to uint8 after every op, we do not. */
#include "augment.h"
#include "common.h"

#include <math.h>
#include <string.h>


static inline float clamp01(float x)
{
    return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
}


/* Plain selects: unlike fmaxf/fminf (whose NaN rules block it) they vectorise. */
static inline float max2(float a, float b)
{
    return a > b ? a : b;
}


static inline float min2(float a, float b)
{
    return a < b ? a : b;
}


static inline float luma(float r, float g, float b)
{
    return 0.299f * r + 0.587f * g + 0.114f * b;
}


/* Python's round-half-to-even, which torchvision's integer crop sides go through. */
static int round_even(double x)
{
    return (int)nearbyint(x);
}


void aug_crop_box(AugParams *p, Rng *rng, int H, int W, float scale_min, float scale_max,
                  float ratio_min, float ratio_max)
{
    double area = (double)H * W;
    double lr0 = log(ratio_min), lr1 = log(ratio_max);

    for (int t = 0; t < 10; t++) {
        double target = area * (scale_min + (scale_max - scale_min) * rng_uniform(rng));
        double aspect = exp(lr0 + (lr1 - lr0) * rng_uniform(rng));
        int w = round_even(sqrt(target * aspect));
        int h = round_even(sqrt(target / aspect));

        if (w > 0 && w <= W && h > 0 && h <= H) {
            p->y0 = (int)rng_below(rng, (uint64_t)(H - h + 1));
            p->x0 = (int)rng_below(rng, (uint64_t)(W - w + 1));
            p->h = h;
            p->w = w;
            return;
        }
    }

    /* Fallback: the whole image, trimmed to the nearest allowed aspect ratio, centred. */
    double in_ratio = (double)W / H;
    int w = W, h = H;
    if (in_ratio < ratio_min)
        h = round_even(w / (double)ratio_min);
    else if (in_ratio > ratio_max)
        w = round_even(h * (double)ratio_max);
    p->h = h;
    p->w = w;
    p->y0 = (H - h) / 2;
    p->x0 = (W - w) / 2;
}


/* Source taps of output position o for a box of n pixels starting at start, resized to S:
 * half-pixel centres, clamped to the box (as torch's align_corners=False). */
static void bilinear_taps(int *i0, int *i1, float *frac, int S, int start, int n)
{
    double scale = (double)n / S;

    for (int o = 0; o < S; o++) {
        double s = (o + 0.5) * scale - 0.5;
        if (s < 0.0)
            s = 0.0;
        if (s > n - 1)
            s = n - 1;
        int a = (int)s;
        i0[o] = start + a;
        i1[o] = start + (a + 1 < n ? a + 1 : a);
        frac[o] = (float)(s - a);
    }
}


void aug_resize_bilinear(float *out, int S, const float *img, int CH, int H, int W,
                         int y0, int x0, int h, int w)
{
    HASSERT(h > 0 && w > 0 && y0 >= 0 && x0 >= 0 && y0 + h <= H && x0 + w <= W);
    int ya[S], yb[S], xa[S], xb[S];
    float fy[S], fx[S];

    bilinear_taps(ya, yb, fy, S, y0, h);
    bilinear_taps(xa, xb, fx, S, x0, w);
    for (int c = 0; c < CH; c++) {
        const float *src = img + (size_t)c * H * W;
        float *dst = out + (size_t)c * S * S;
        for (int oy = 0; oy < S; oy++) {
            const float *ra = src + (size_t)ya[oy] * W, *rb = src + (size_t)yb[oy] * W;
            for (int ox = 0; ox < S; ox++) {
                float top = ra[xa[ox]] + fx[ox] * (ra[xb[ox]] - ra[xa[ox]]);
                float bot = rb[xa[ox]] + fx[ox] * (rb[xb[ox]] - rb[xa[ox]]);
                dst[(size_t)oy * S + ox] = top + fy[oy] * (bot - top);
            }
        }
    }
}


void aug_flip(float *img, int CH, int H, int W)
{
    for (size_t r = 0; r < (size_t)CH * H; r++) {
        float *row = img + r * W;
        for (int a = 0, b = W - 1; a < b; a++, b--) {
            float t = row[a];
            row[a] = row[b];
            row[b] = t;
        }
    }
}


void aug_brightness(float *img, int CH, int H, int W, float f)
{
    size_t n = (size_t)CH * H * W;

    for (size_t i = 0; i < n; i++)
        img[i] = clamp01(img[i] * f);
}


/* Blend with the image's mean gray level (the mean luma for RGB). */
void aug_contrast(float *img, int CH, int H, int W, float f)
{
    size_t hw = (size_t)H * W, n = (size_t)CH * hw;
    double sum = 0.0;   /* double: a float sum drifts over a large image */

    if (CH == 3)
        for (size_t i = 0; i < hw; i++)
            sum += luma(img[i], img[hw + i], img[2 * hw + i]);
    else
        for (size_t i = 0; i < n; i++)
            sum += img[i];
    float m = (float)(sum / (CH == 3 ? hw : n));
    for (size_t i = 0; i < n; i++)
        img[i] = clamp01(f * img[i] + (1.0f - f) * m);
}


/* Blend each pixel with its own luma. */
void aug_saturation(float *img, int CH, int H, int W, float f)
{
    if (CH != 3)
        return;
    size_t hw = (size_t)H * W;
    for (size_t i = 0; i < hw; i++) {
        float g = luma(img[i], img[hw + i], img[2 * hw + i]);
        for (int c = 0; c < 3; c++)
            img[c * hw + i] = clamp01(f * img[c * hw + i] + (1.0f - f) * g);
    }
}


/* One channel of HSV -> RGB without sector branches: n is 5, 3, 1 for r, g, b, h6 the hue
 * in sixths of a turn, [0, 6). */
static inline float hsv_channel(float n, float h6, float s, float v)
{
    float k = n + h6;
    k = k >= 6.0f ? k - 6.0f : k;
    float ramp = min2(min2(k, 4.0f - k), 1.0f);
    return v - v * s * max2(ramp, 0.0f);
}


/* Rotates the hue by shift (in turns, [-0.5, 0.5]) through HSV. Written with selects rather
 * than branches so the loop vectorises: random-looking pixels defeat branch prediction. */
void aug_hue(float *img, int CH, int H, int W, float shift)
{
    HASSERT(shift >= -0.5f && shift <= 0.5f);   /* torchvision's range too */
    if (CH != 3)
        return;
    size_t hw = (size_t)H * W;
    float *restrict pr = img, *restrict pg = img + hw, *restrict pb = img + 2 * hw;

    /* omp simd: -O2's cheap cost model would leave this loop scalar. */
    #pragma omp simd
    for (size_t i = 0; i < hw; i++) {
        float r = pr[i], g = pg[i], b = pb[i];
        float mx = max2(r, max2(g, b)), mn = min2(r, min2(g, b)), d = mx - mn;
        /* Unconditional divisions (a guarded one may not be vectorised under trapping
         * math); a gray pixel has d = 0, so its hue and saturation still come out 0. */
        float dinv = 1.0f / max2(d, 1e-30f);
        float s = d / max2(mx, 1e-30f);
        float h = mx == r ? (g - b) * dinv : (mx == g ? (b - r) * dinv + 2.0f
                                                      : (r - g) * dinv + 4.0f);
        h = h * (1.0f / 6.0f) + shift;      /* in [-2/3, 4/3): one wrap suffices */
        h = h < 0.0f ? h + 1.0f : (h >= 1.0f ? h - 1.0f : h);
        float h6 = h * 6.0f;
        h6 = h6 >= 6.0f ? 0.0f : h6;   /* h just below 1 can round up to 6 */

        pr[i] = clamp01(hsv_channel(5.0f, h6, s, mx));
        pg[i] = clamp01(hsv_channel(3.0f, h6, s, mx));
        pb[i] = clamp01(hsv_channel(1.0f, h6, s, mx));
    }
}


void aug_grayscale(float *img, int CH, int H, int W)
{
    if (CH != 3)
        return;
    size_t hw = (size_t)H * W;
    for (size_t i = 0; i < hw; i++) {
        float g = clamp01(luma(img[i], img[hw + i], img[2 * hw + i]));
        img[i] = img[hw + i] = img[2 * hw + i] = g;
    }
}


/* Radius ceil(3 sigma), at least 1: the taps beyond hold under 0.3 % of the mass. */
int aug_blur_radius(float sigma_px)
{
    int R = (int)ceilf(3.0f * sigma_px);
    return R < 1 ? 1 : R;
}


void aug_blur_kernel(float *k, float sigma_px)
{
    int R = aug_blur_radius(sigma_px);
    double sum = 0.0, inv = 1.0 / (2.0 * (double)sigma_px * sigma_px);

    for (int i = -R; i <= R; i++) {
        double v = exp(-(double)i * i * inv);
        k[i + R] = (float)v;
        sum += v;
    }
    for (int i = 0; i <= 2 * R; i++)
        k[i] = (float)(k[i] / sum);
}


/* Reflect padding without repeating the edge (torch's "reflect"); folds as often as
 * needed, so a radius larger than the image is still defined. */
static int reflect(int i, int n)
{
    if (n == 1)
        return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}


/* Blurs one plane: rows from a reflect-padded copy into tmp, then columns back into img as
 * whole-row multiply-adds (contiguous; omp simd, as -O2 alone leaves them scalar). pad holds
 * max(H, W) + 2R floats, ry the reflected row of each y - R .. y + R. */
static void blur_plane(float *img, float *tmp, float *pad, int *ry, int H, int W,
                       const float *k, int R)
{
    for (int y = 0; y < H; y++) {
        const float *row = img + (size_t)y * W;
        for (int x = -R; x < W + R; x++)
            pad[x + R] = row[reflect(x, W)];
        #pragma omp simd
        for (int x = 0; x < W; x++) {
            float acc = 0.0f;
            for (int j = 0; j <= 2 * R; j++)
                acc += k[j] * pad[x + j];
            tmp[(size_t)y * W + x] = acc;
        }
    }
    for (int y = 0; y < H; y++) {
        float *dst = img + (size_t)y * W;
        for (int x = 0; x < W; x++)
            dst[x] = 0.0f;
        for (int j = 0; j <= 2 * R; j++) {
            const float *src = tmp + (size_t)ry[y + j] * W;
            #pragma omp simd
            for (int x = 0; x < W; x++)
                dst[x] += k[j] * src[x];
        }
        for (int x = 0; x < W; x++)
            dst[x] = clamp01(dst[x]);
    }
}


void aug_blur(float *img, float *tmp, int CH, int H, int W, float sigma_px)
{
    int R = aug_blur_radius(sigma_px), n = (H > W ? H : W) + 2 * R;
    float k[2 * R + 1], pad[n];
    int ry[H + 2 * R];

    aug_blur_kernel(k, sigma_px);
    for (int y = -R; y < H + R; y++)
        ry[y + R] = reflect(y, H);
    for (int c = 0; c < CH; c++)
        blur_plane(img + (size_t)c * H * W, tmp + (size_t)c * H * W, pad, ry, H, W, k, R);
}


/* PIL's solarize at threshold 128 of 255, on [0, 1]. */
void aug_solarize(float *img, int CH, int H, int W)
{
    size_t n = (size_t)CH * H * W;

    for (size_t i = 0; i < n; i++)
        if (img[i] >= 0.5f)
            img[i] = 1.0f - img[i];
}


void aug_normalize(float *img, int CH, int H, int W, const float *mean, const float *std)
{
    size_t hw = (size_t)H * W;

    for (int c = 0; c < CH; c++) {
        float m = mean[c], inv = 1.0f / std[c];
        for (size_t i = 0; i < hw; i++)
            img[c * hw + i] = (img[c * hw + i] - m) * inv;
    }
}
