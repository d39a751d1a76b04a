/* test_augment.c: properties of the augmentation ops, recipes and batch drivers.
 * Reproducibility across thread counts, per-sample streams, and analytic invariants of each
 * pixel op (identities, fixed points, kernel mass, linear ramps, normalisation). */
#include "augment.h"
#include "check.h"
#include "common.h"

#include <omp.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEED 2385u


/* n random uint8 images [n, CH, H, W] from a fixed stream. */
static uint8_t *random_images(int n, int CH, int H, int W, uint64_t salt)
{
    size_t sz = (size_t)n * CH * H * W;
    uint8_t *px = xmalloc(sz);
    Rng rng = rng_stream(SEED, 99, salt, 0);

    for (size_t i = 0; i < sz; i++)
        px[i] = (uint8_t)rng_below(&rng, 256);
    return px;
}


static void fill_random(float *x, size_t n, uint64_t salt)
{
    Rng rng = rng_stream(SEED, 98, salt, 0);

    for (size_t i = 0; i < n; i++)
        x[i] = (float)rng_uniform(&rng);
}


static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;

    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}


/* A recipe with every op switched on, blur visible at small sides. */
static AugRecipe recipe_everything(int CH, int S)
{
    AugRecipe r = aug_recipe_moco(1, CH, S);

    r.blur_p = 0.5f;
    r.blur_ref_side = (float)S;
    r.solarize_p = 0.3f;
    return r;
}


static void test_reproducible(void)
{
    enum { N = 40, B = 24, CH = 3, H = 32, W = 32, S = 24 };
    uint8_t *px = random_images(N, CH, H, W, 1);
    int32_t idx[B];
    size_t n = (size_t)B * CH * S * S;
    float *a = xmalloc(n * sizeof(float)), *b = xmalloc(n * sizeof(float));
    float *c = xmalloc(n * sizeof(float));
    AugRecipe r = recipe_everything(CH, S);
    int saved = omp_get_max_threads();
    char msg[128];

    for (int i = 0; i < B; i++)
        idx[i] = (i * 7 + 3) % N;
    omp_set_num_threads(1);
    augment_batch(a, px, idx, B, CH, H, W, &r, SEED, 17, 1);
    omp_set_num_threads(2);
    augment_batch(b, px, idx, B, CH, H, W, &r, SEED, 17, 1);
    augment_batch(c, px, idx, B, CH, H, W, &r, SEED, 17, 1);
    omp_set_num_threads(saved);
    check_true(memcmp(a, b, n * sizeof(float)) == 0, "batch: 1 thread == 2 threads, bitwise",
               NULL);
    check_true(memcmp(b, c, n * sizeof(float)) == 0, "batch: 2 threads twice, bitwise", NULL);

    augment_batch(c, px, idx, B, CH, H, W, &r, SEED, 18, 1);
    snprintf(msg, sizeof msg, "max |diff| %.3g", max_abs_diff(a, c, n));
    check_true(max_abs_diff(a, c, n) > 0.1, "batch: step 17 vs 18 differ", msg);
    augment_batch(c, px, idx, B, CH, H, W, &r, SEED + 1, 17, 1);
    check_true(max_abs_diff(a, c, n) > 0.1, "batch: seed differs -> output differs", NULL);

    /* Keyed by image index: a batch split in two pieces augments as the whole batch. */
    size_t half = n / 2;
    augment_batch(c, px, idx, B / 2, CH, H, W, &r, SEED, 17, 1);
    augment_batch(c + half, px, idx + B / 2, B / 2, CH, H, W, &r, SEED, 17, 1);
    check_true(memcmp(a, c, n * sizeof(float)) == 0, "batch: split in two == whole", NULL);
    free(px); free(a); free(b); free(c);
}


/* Every sample sees the same image, so any difference comes from its own stream. */
static void test_samples_differ(void)
{
    enum { N = 16, CH = 1, H = 28, W = 28, S = 28 };
    uint8_t *one = random_images(1, CH, H, W, 2), *px = xmalloc((size_t)N * H * W);
    int32_t idx[N];
    size_t sz = (size_t)CH * S * S;
    float *out = xmalloc(N * sz * sizeof(float));
    AugRecipe r = aug_recipe_moco(0, CH, S);
    int same = 0, boxes_same = 0;
    char msg[128];

    for (int i = 0; i < N; i++) {
        memcpy(px + (size_t)i * H * W, one, (size_t)H * W);
        idx[i] = i;
    }
    augment_batch(out, px, idx, N, CH, H, W, &r, SEED, 3, 0);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            same += max_abs_diff(out + i * sz, out + j * sz, sz) < 1e-3;
            AugParams p, q;
            Rng ri = rng_stream(SEED, RNG_AUGMENT, 3, (uint64_t)i * AUG_MAX_VIEWS);
            Rng rj = rng_stream(SEED, RNG_AUGMENT, 3, (uint64_t)j * AUG_MAX_VIEWS);
            aug_draw_params(&p, &ri, &r, H, W);
            aug_draw_params(&q, &rj, &r, H, W);
            boxes_same += p.y0 == q.y0 && p.x0 == q.x0 && p.h == q.h && p.w == q.w;
        }
    snprintf(msg, sizeof msg, "identical pairs %d of %d, expected 0", same, N * (N - 1) / 2);
    check_true(same == 0, "batch: samples of one image get different views", msg);
    snprintf(msg, sizeof msg, "equal crop boxes %d of %d, expected 0", boxes_same,
             N * (N - 1) / 2);
    check_true(boxes_same == 0, "batch: samples get different crop boxes", msg);

    /* The two MoCo views of one sample differ too. */
    augment_batch(out + sz, px, idx, 1, CH, H, W, &r, SEED, 3, 1);
    check_true(max_abs_diff(out, out + sz, sz) > 1e-3, "batch: view 0 and view 1 differ", NULL);
    free(one); free(px); free(out);
}


static void test_flip(void)
{
    enum { CH = 3, H = 5, W = 7 };
    float x[CH * H * W], y[CH * H * W];

    fill_random(x, CH * H * W, 3);
    memcpy(y, x, sizeof x);
    aug_flip(y, CH, H, W);
    check_close(y[2 * H * W + 3 * W + 1], x[2 * H * W + 3 * W + 5], 0, "flip: x[c2,y3,1] <- x[5]");
    aug_flip(y, CH, H, W);
    check_true(memcmp(x, y, sizeof x) == 0, "flip twice is the identity (odd width)", NULL);
    fill_random(x, 2 * 3 * 6, 4);
    memcpy(y, x, sizeof x);
    aug_flip(y, 2, 3, 6);
    aug_flip(y, 2, 3, 6);
    check_true(memcmp(x, y, sizeof(float) * 36) == 0, "flip twice is the identity (even width)",
               NULL);
}


static void test_crop_box(void)
{
    AugParams p;
    Rng rng = rng_stream(SEED, RNG_AUGMENT, 0, 5);
    char msg[160];

    aug_crop_box(&p, &rng, 28, 28, 1.0f, 1.0f, 1.0f, 1.0f);
    snprintf(msg, sizeof msg, "box (%d,%d,%d,%d), expected (0,0,28,28)", p.y0, p.x0, p.h, p.w);
    check_true(p.y0 == 0 && p.x0 == 0 && p.h == 28 && p.w == 28, "crop: scale 1 ratio 1", msg);

    /* 28 x 36 at scale 1 ratio 1 never fits (32 > 28): centre-crop fallback to 28 x 28. */
    aug_crop_box(&p, &rng, 28, 36, 1.0f, 1.0f, 1.0f, 1.0f);
    snprintf(msg, sizeof msg, "box (%d,%d,%d,%d), expected (0,4,28,28)", p.y0, p.x0, p.h, p.w);
    check_true(p.y0 == 0 && p.x0 == 4 && p.h == 28 && p.w == 28, "crop: fallback centred", msg);

    /* Many draws: inside the image, area and ratio within range up to integer rounding. */
    int bad = 0;
    double area_sum = 0.0;
    for (int t = 0; t < 20000; t++) {
        aug_crop_box(&p, &rng, 32, 32, 0.2f, 1.0f, 0.75f, 4.0f / 3.0f);
        double a = p.h * p.w / 1024.0, ar = (double)p.w / p.h;
        bad += p.y0 < 0 || p.x0 < 0 || p.y0 + p.h > 32 || p.x0 + p.w > 32;
        bad += a < 0.2 * 0.8 || a > 1.0 || ar < 0.75 * 0.9 || ar > 4.0 / 3.0 / 0.9;
        area_sum += a;
    }
    snprintf(msg, sizeof msg, "%d of 20000 boxes out of bounds or range", bad);
    check_true(bad == 0, "crop: boxes inside image, area and ratio in range", msg);
    /* Expected mean area by quadrature over (area, log ratio): a try is kept when both
     * rounded sides fit; after 10 failed tries the whole image (area 1) is used. */
    double acc = 0.0, acc_area = 0.0;
    for (int i = 0; i < 400; i++)
        for (int j = 0; j < 400; j++) {
            double a = 0.2 + 0.8 * (i + 0.5) / 400;
            double ar = exp(log(0.75) + (log(4.0 / 3.0) - log(0.75)) * (j + 0.5) / 400);
            double w = nearbyint(sqrt(a * 1024 * ar)), h = nearbyint(sqrt(a * 1024 / ar));
            if (w <= 32 && h <= 32) {
                acc += 1.0;
                acc_area += w * h / 1024.0;
            }
        }
    double miss10 = pow(1.0 - acc / 160000.0, 10);
    check_close(area_sum / 20000, acc_area / acc * (1.0 - miss10) + miss10, 0.006,
                "crop: mean area fraction (scale 0.2-1, 32 px)");
}


static void test_crop_constant(void)
{
    enum { CH = 3, H = 30, W = 26, S = 19 };
    uint8_t px[CH * H * W];
    float out[CH * S * S];
    AugRecipe r = aug_recipe_eval(CH, S);
    float zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};

    memset(px, 97, sizeof px);
    aug_recipe_set_norm(&r, zero, one);
    augment_batch(out, px, NULL, 1, CH, H, W, &r, SEED, 0, 0);
    double err = 0.0;
    for (int i = 0; i < CH * S * S; i++)
        err = fmax(err, fabs(out[i] - 97.0 / 255.0));
    check_close(err, 0.0, 1e-6, "crop scale 1 ratio 1 on constant 97/255: max |err|");
}


static void test_solarize(void)
{
    float x[5] = {0.2385f, 0.49999f, 0.5f, 0.7385f, 1.0f};
    float e[5] = {0.2385f, 0.49999f, 0.5f, 1.0f - 0.7385f, 0.0f};

    aug_solarize(x, 1, 1, 5);
    check_close(max_abs_diff(x, e, 5), 0.0, 0.0, "solarize: <0.5 kept, >=0.5 inverted");
}


static void test_colour_identities(void)
{
    enum { CH = 3, H = 6, W = 9, N = CH * H * W };
    float x[N], y[N], g[N];

    fill_random(x, N, 5);
    memcpy(y, x, sizeof x);
    aug_brightness(y, CH, H, W, 1.0f);
    check_close(max_abs_diff(x, y, N), 0.0, 0.0, "brightness 1 is the identity");
    aug_contrast(y, CH, H, W, 1.0f);
    check_close(max_abs_diff(x, y, N), 0.0, 0.0, "contrast 1 is the identity");
    aug_saturation(y, CH, H, W, 1.0f);
    check_close(max_abs_diff(x, y, N), 0.0, 0.0, "saturation 1 is the identity");
    aug_hue(y, CH, H, W, 0.0f);
    check_close(max_abs_diff(x, y, N), 0.0, 1e-6, "hue 0 is the identity (HSV round trip)");

    memcpy(y, x, sizeof x);
    aug_brightness(y, CH, H, W, 0.5f);
    check_close(y[7], 0.5f * x[7], 0, "brightness 0.5 halves");

    /* Saturation 0 is grayscale; grayscale of a gray image is unchanged. */
    memcpy(g, x, sizeof x);
    aug_grayscale(g, CH, H, W);
    memcpy(y, x, sizeof x);
    aug_saturation(y, CH, H, W, 0.0f);
    check_close(max_abs_diff(g, y, N), 0.0, 1e-6, "saturation 0 equals grayscale");
    check_close(g[3], 0.299 * x[3] + 0.587 * x[H * W + 3] + 0.114 * x[2 * H * W + 3], 1e-6,
                "grayscale: ITU-R 601 luma");
    memcpy(y, g, sizeof g);
    aug_grayscale(y, CH, H, W);
    check_close(max_abs_diff(g, y, N), 0.0, 1e-6, "grayscale of a gray image is unchanged");

    /* Contrast 0 gives the mean luma everywhere. */
    double m = 0.0;
    for (int i = 0; i < H * W; i++)
        m += 0.299 * x[i] + 0.587 * x[H * W + i] + 0.114 * x[2 * H * W + i];
    memcpy(y, x, sizeof x);
    aug_contrast(y, CH, H, W, 0.0f);
    check_close(y[N - 1], m / (H * W), 1e-6, "contrast 0 gives the mean luma");

    /* A third of a turn maps red to green; one channel: saturation and hue are no-ops. */
    float rgb[3] = {0.8385f, 0.0f, 0.0f};
    aug_hue(rgb, 3, 1, 1, 1.0f / 3.0f);
    check_close(fabs(rgb[0]) + fabs(rgb[1] - 0.8385f) + fabs(rgb[2]), 0, 1e-5,
                "hue +1/3: red (0.8385,0,0) -> green");
    memcpy(y, x, sizeof x);
    aug_hue(y, CH, H, W, 0.2385f);
    check_true(max_abs_diff(x, y, N) > 0.05, "hue +0.2385 changes a random image", NULL);
    aug_hue(y, CH, H, W, -0.2385f);
    check_close(max_abs_diff(x, y, N), 0.0, 1e-5, "hue +0.2385 then -0.2385 is the identity");
    memcpy(y, x, sizeof(float) * H * W);
    aug_saturation(y, 1, H, W, 0.3f);
    aug_hue(y, 1, H, W, 0.25f);
    aug_grayscale(y, 1, H, W);
    check_close(max_abs_diff(x, y, H * W), 0.0, 0.0, "1 channel: saturation/hue/gray no-ops");
}


static void test_blur(void)
{
    float sigmas[4] = {0.1f, 0.2385f, 1.0f, 2.0f};
    float k[64];
    double worst = 0.0;

    for (int s = 0; s < 4; s++) {
        int R = aug_blur_radius(sigmas[s]);
        double sum = 0.0;
        aug_blur_kernel(k, sigmas[s]);
        for (int i = 0; i <= 2 * R; i++)
            sum += k[i];
        worst = fmax(worst, fabs(sum - 1.0));
    }
    check_close(worst, 0.0, 1e-6, "blur: kernel weights sum to 1 (sigma 0.1..2)");
    check_true(aug_blur_radius(2.0f) == 6 && aug_blur_radius(0.1f) == 1,
               "blur: radius ceil(3 sigma), at least 1", NULL);

    enum { CH = 3, H = 7, W = 11, N = CH * H * W };
    float x[N], tmp[N];
    for (int i = 0; i < N; i++)
        x[i] = 0.2385f + 0.25f * (i / (H * W));
    aug_blur(x, tmp, CH, H, W, 2.0f);   /* radius 6 > H/2: reflect must fold */
    double err = 0.0;
    for (int i = 0; i < N; i++)
        err = fmax(err, fabs(x[i] - (0.2385 + 0.25 * (i / (H * W)))));
    check_close(err, 0.0, 1e-6, "blur keeps a constant image (per channel) constant");

    /* A single bright pixel spreads but keeps its mass away from the borders. */
    float d[21 * 21] = {0}, t2[21 * 21];
    d[10 * 21 + 10] = 1.0f;
    aug_blur(d, t2, 1, 21, 21, 1.0f);
    double mass = 0.0;
    for (int i = 0; i < 21 * 21; i++)
        mass += d[i];
    check_close(mass, 1.0, 1e-5, "blur: mass of an interior impulse is kept");
    check_true(d[10 * 21 + 10] < 0.2f && d[10 * 21 + 11] > 0.0f, "blur: impulse spreads", NULL);
}


/* Full pipeline with every op forced on and mean 0, std 1: values must stay in [0, 1]. */
static void test_range(void)
{
    enum { N = 64, CH = 3, H = 32, W = 32, S = 32 };
    uint8_t *px = random_images(N, CH, H, W, 6);
    size_t n = (size_t)N * CH * S * S;
    float *out = xmalloc(n * sizeof(float));
    AugRecipe r = recipe_everything(CH, S);
    float zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
    char msg[128];

    r.jitter_p = 1.0f;
    r.brightness = r.contrast = r.saturation = 0.9f;
    r.hue = 0.5f;
    r.gray_p = 0.3f;
    r.blur_p = 0.7f;
    r.solarize_p = 0.5f;
    aug_recipe_set_norm(&r, zero, one);
    augment_batch(out, px, NULL, N, CH, H, W, &r, SEED, 9, 0);
    float lo = out[0], hi = out[0];
    for (size_t i = 0; i < n; i++) {
        lo = fminf(lo, out[i]);
        hi = fmaxf(hi, out[i]);
    }
    snprintf(msg, sizeof msg, "observed [%.9g, %.9g], expected within [0, 1]", lo, hi);
    check_true(lo >= 0.0f && hi <= 1.0f, "pipeline without normalisation stays in [0,1]", msg);
    free(px); free(out);
}


/* Bilinear resampling reproduces a linear function wherever no tap is clamped. */
static void test_ramp(void)
{
    enum { H = 20, W = 20 };
    int sides[2] = {33, 13};
    float img[H * W];

    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            img[y * W + x] = 0.1f + 0.0385f * x + 0.0115f * y;
    for (int k = 0; k < 2; k++) {
        int S = sides[k];
        float out[33 * 33];
        double err = 0.0;
        aug_resize_bilinear(out, S, img, 1, H, W, 0, 0, H, W);
        for (int oy = 0; oy < S; oy++)
            for (int ox = 0; ox < S; ox++) {
                double sy = (oy + 0.5) * H / S - 0.5, sx = (ox + 0.5) * W / S - 0.5;
                if (sy < 0 || sx < 0 || sy > H - 1 || sx > W - 1)
                    continue;   /* edge taps are clamped, not extrapolated */
                err = fmax(err, fabs(out[oy * S + ox] - (0.1 + 0.0385 * sx + 0.0115 * sy)));
            }
        char name[64];
        snprintf(name, sizeof name, "bilinear 20 -> %d keeps a linear ramp (interior)", S);
        check_close(err, 0.0, 2e-6, name);
    }

    /* A sub-box: 0 <= x, y within (y0 4, x0 3, 10 x 12) resized to 24, centre pixel. */
    float out[24 * 24];
    aug_resize_bilinear(out, 24, img, 1, H, W, 4, 3, 10, 12);
    double sx = 3 + (12 + 0.5) * 12 / 24.0 - 0.5, sy = 4 + (12 + 0.5) * 10 / 24.0 - 0.5;
    check_close(out[12 * 24 + 12], 0.1 + 0.0385 * sx + 0.0115 * sy, 2e-6,
                "bilinear on a crop box samples inside the box");
}


static void test_normalize(void)
{
    enum { CH = 3, HW = 64 };
    float x[CH * HW], mean[3] = {0.2385f, 0.5f, 0.7f}, std[3] = {0.4f, 0.25f, 0.125f};

    for (int i = 0; i < CH * HW; i++)
        x[i] = 0.6385f;
    aug_normalize(x, CH, 8, 8, mean, std);
    check_close(x[0], 1.0, 1e-6, "normalise constant 0.6385, mean 0.2385 std 0.4 -> 1");
    check_close(x[HW + 5], (0.6385 - 0.5) / 0.25, 1e-6, "normalise channel 1");
    check_close(x[2 * HW + 63], (0.6385 - 0.7) / 0.125, 1e-6, "normalise channel 2");

    /* Pixels m +- s in equal numbers have mean m and std s: they come out mean 0, std 1. */
    for (int c = 0; c < CH; c++)
        for (int i = 0; i < HW; i++)
            x[c * HW + i] = mean[c] + (i % 2 ? std[c] : -std[c]);
    aug_normalize(x, CH, 8, 8, mean, std);
    double m = 0.0, v = 0.0;
    for (int i = 0; i < CH * HW; i++)
        m += x[i];
    m /= CH * HW;
    for (int i = 0; i < CH * HW; i++)
        v += (x[i] - m) * (x[i] - m);
    check_close(m, 0.0, 1e-6, "normalise with the image's mean/std: mean 0");
    check_close(sqrt(v / (CH * HW)), 1.0, 1e-6, "normalise with the image's mean/std: std 1");
}


/* Frequencies of the per-view decisions match the recipe's probabilities. */
static void test_probabilities(void)
{
    enum { T = 20000 };
    AugRecipe r = aug_recipe_moco(1, 3, 224);
    int flip = 0, jit = 0, gray = 0, blur = 0, sol = 0, first_hue = 0;
    double fmin = 9, fmax = -9, smin = 99, smax = -1;

    for (int t = 0; t < T; t++) {
        Rng rng = rng_stream(SEED, RNG_AUGMENT, 1, (uint64_t)t * AUG_MAX_VIEWS + 1);
        AugParams p;
        aug_draw_params(&p, &rng, &r, 224, 224);
        flip += p.flip; jit += p.jitter; gray += p.gray; blur += p.blur; sol += p.solarize;
        first_hue += p.order[0] == 3;
        fmin = fmin < p.brightness ? fmin : p.brightness;
        fmax = fmax > p.brightness ? fmax : p.brightness;
        smin = smin < p.sigma_px ? smin : p.sigma_px;
        smax = smax > p.sigma_px ? smax : p.sigma_px;
    }
    /* 4 standard errors of a binomial proportion at T = 20000 are at most 0.0142. */
    check_close(flip / (double)T, 0.5, 0.0142, "draws: flip frequency");
    check_close(jit / (double)T, 0.8, 0.0142, "draws: jitter frequency");
    check_close(gray / (double)T, 0.2, 0.0142, "draws: grayscale frequency");
    check_close(blur / (double)T, 0.1, 0.0142, "draws: blur frequency (MoCo view 1)");
    check_close(sol / (double)T, 0.2, 0.0142, "draws: solarise frequency (MoCo view 1)");
    check_close(first_hue / (double)T, 0.25, 0.0142, "draws: hue first in 1/4 of orders");
    check_true(fmin >= 0.6 && fmax <= 1.4 && fmax - fmin > 0.79, "draws: brightness in [0.6,1.4]",
               NULL);
    check_true(smin >= 0.1 && smax <= 2.0 && smax - smin > 1.8, "draws: sigma in [0.1,2] at 224",
               NULL);

    AugRecipe m0 = aug_recipe_moco(0, 1, 28), d1 = aug_recipe_dino_global(1, 6, 3, 32);
    AugRecipe dl = aug_recipe_dino_local(3, 224, 96);
    check_true(m0.blur_p == 0 && m0.scale_min == 0.2f && m0.solarize_p == 0,
               "recipe: MoCo small view 0 (no blur, crop 0.2, no solarise)", NULL);
    check_true(d1.scale_min == 0.4f && d1.solarize_p == 0.2f && d1.blur_p == 0,
               "recipe: DINO small global view 1", NULL);
    check_true(dl.scale_min == 0.05f && dl.scale_max == 0.4f && dl.blur_p == 0.5f && dl.S == 96,
               "recipe: DINO local at 96 px", NULL);
}


static void test_eval_and_multicrop(void)
{
    enum { N = 6, CH = 1, H = 28, W = 28, Sl = 12, L = 4 };
    uint8_t *px = random_images(N, CH, H, W, 7);
    int32_t idx[3] = {5, 0, 2};
    float out[3 * H * W];
    AugRecipe r = aug_recipe_eval(CH, H);

    augment_eval_batch(out, px, idx, 3, CH, H, W, &r);
    double err = 0.0;
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < H * W; i++) {
            double e = (px[idx[b] * H * W + i] / 255.0 - r.mean[0]) / r.std[0];
            err = fmax(err, fabs(out[b * H * W + i] - e));
        }
    check_close(err, 0.0, 1e-5, "eval at native side: (x/255 - mean)/std");

    float *g = xmalloc(2 * N * H * W * sizeof(float));
    float *l = xmalloc(L * N * Sl * Sl * sizeof(float));
    float *ref = xmalloc(N * H * W * sizeof(float));
    AugRecipe g0 = aug_recipe_dino_global(0, L, CH, H), g1 = aug_recipe_dino_global(1, L, CH, H);
    AugRecipe lo = aug_recipe_dino_local(CH, H, Sl);
    augment_multicrop(g, l, px, NULL, N, CH, H, W, &g0, &g1, &lo, L, SEED, 4);
    augment_batch(ref, px, NULL, N, CH, H, W, &g1, SEED, 4, 1);
    check_true(memcmp(ref, g + N * H * W, N * H * W * sizeof(float)) == 0,
               "multicrop: global view 1 == augment_batch(view 1)", NULL);
    augment_batch(ref, px, NULL, N, CH, H, W, &lo, SEED, 4, 2 + L - 1);
    check_true(memcmp(ref, l + (L - 1) * N * Sl * Sl, N * Sl * Sl * sizeof(float)) == 0,
               "multicrop: last local view == augment_batch(view L+1)", NULL);
    check_true(max_abs_diff(l, l + N * Sl * Sl, N * Sl * Sl) > 1e-3,
               "multicrop: local views differ", NULL);
    free(px); free(g); free(l); free(ref);
}


/* A view index past AUG_MAX_VIEWS would alias another sample's stream: it must die. */
static void test_error_path(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        uint8_t px[4] = {0};
        float out[4];
        AugRecipe r = aug_recipe_eval(1, 2);
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(3);
        augment_batch(out, px, NULL, 1, 1, 2, 2, &r, SEED, 0, AUG_MAX_VIEWS);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    char msg[64];
    snprintf(msg, sizeof msg, "exit status %d, expected 1",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    check_true(WIFEXITED(status) && WEXITSTATUS(status) == 1, "view 16 is refused", msg);
}


int main(void)
{
    test_reproducible();
    test_samples_differ();
    test_flip();
    test_crop_box();
    test_crop_constant();
    test_solarize();
    test_colour_identities();
    test_blur();
    test_range();
    test_ramp();
    test_normalize();
    test_probabilities();
    test_eval_and_multicrop();
    test_error_path();
    return check_summary();
}
