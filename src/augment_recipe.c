/* augment_recipe.c: per-method augmentation presets (REFERENCES.md 2.3-2.5 and 3).
 * Large images (side > AUG_SMALL_SIDE) get the published ImageNet recipes unchanged.
 * Small images (Fashion-MNIST 28 px, CIFAR 32 px) get the community's small-image variant:
 *  - no Gaussian blur: solo-learn's CIFAR MoCo v3 config and google-research/simclr's CIFAR
 *    command both drop it; a 28-32 px image has little high-frequency detail left to remove;
 *  - crop scale from 0.2 instead of 0.08: at 28 px an 8 % crop is about 8 x 8 source pixels,
 *    two 4-px patches across, upsampled 3.5x; 0.2 (MoCo's ResNet recipe) keeps at least
 *    12 x 12. solo-learn's CIFAR configs keep 0.08; set scale_min to match them;
 *  - SimCLR colour strength 0.5 (jitter 0.4, 0.4, 0.4, 0.1), as in SimCLR's CIFAR runs.
 * Colour jitter is applied in a random order per view, as torchvision's ColorJitter does. */
#include "augment.h"
#include "common.h"

/* Sides up to this count as small images. */
#define AUG_SMALL_SIDE 64

/* Fashion-MNIST train-set statistics (one channel) and CIFAR-10's (RGB). */
static const float FMNIST_MEAN = 0.2860f, FMNIST_STD = 0.3530f;
static const float CIFAR_MEAN[3] = {0.4914f, 0.4822f, 0.4465f};
static const float CIFAR_STD[3] = {0.2470f, 0.2435f, 0.2616f};


/* A recipe that only crops (full scale range) and normalises; presets edit it. */
static AugRecipe recipe_base(int CH, int S)
{
    HASSERT(CH == 1 || CH == 3);
    HASSERT(S > 0);
    AugRecipe r = {0};

    r.CH = CH;
    r.S = S;
    r.scale_min = 0.08f;
    r.scale_max = 1.0f;
    r.ratio_min = 3.0f / 4.0f;
    r.ratio_max = 4.0f / 3.0f;
    r.blur_sigma_min = 0.1f;
    r.blur_sigma_max = 2.0f;
    r.blur_ref_side = 224.0f;   /* sigma in pixels of the 224-px ImageNet view */
    for (int c = 0; c < CH; c++) {
        r.mean[c] = CH == 1 ? FMNIST_MEAN : CIFAR_MEAN[c];
        r.std[c] = CH == 1 ? FMNIST_STD : CIFAR_STD[c];
    }
    return r;
}


/* MoCo v3 / BYOL colour: jitter (0.4, 0.4, 0.2, 0.1) at p 0.8, grayscale at p 0.2. */
static void set_colour(AugRecipe *r)
{
    r->jitter_p = 0.8f;
    r->brightness = 0.4f;
    r->contrast = 0.4f;
    r->saturation = 0.2f;
    r->hue = 0.1f;
    r->gray_p = 0.2f;
}


/* MoCo v3's asymmetric pair: view 0 always blurred, view 1 rarely blurred and solarised. */
AugRecipe aug_recipe_moco(int view, int CH, int S)
{
    HASSERT(view == 0 || view == 1);
    AugRecipe r = recipe_base(CH, S);
    int small = S <= AUG_SMALL_SIDE;

    r.flip_p = 0.5f;
    set_colour(&r);
    r.scale_min = small ? 0.2f : 0.08f;
    r.blur_p = small ? 0.0f : (view == 0 ? 1.0f : 0.1f);
    r.solarize_p = view == 0 ? 0.0f : 0.2f;
    return r;
}


/* SimCLR: symmetric; colour strength 1 on ImageNet (0.8, 0.8, 0.8, 0.2), blur p 0.5. */
AugRecipe aug_recipe_simclr(int CH, int S)
{
    AugRecipe r = recipe_base(CH, S);
    int small = S <= AUG_SMALL_SIDE;
    float s = small ? 0.5f : 1.0f;

    r.flip_p = 0.5f;
    r.jitter_p = 0.8f;
    r.brightness = 0.8f * s;
    r.contrast = 0.8f * s;
    r.saturation = 0.8f * s;
    r.hue = 0.2f * s;
    r.gray_p = 0.2f;
    r.scale_min = small ? 0.2f : 0.08f;
    r.blur_p = small ? 0.0f : 0.5f;
    return r;
}


/* DINO global view 0 or 1: scale 0.4-1 with local crops, 0.14-1 without; blur 1.0 / 0.1;
 * solarise 0.2 on view 1 only. */
AugRecipe aug_recipe_dino_global(int view, int n_local, int CH, int S)
{
    HASSERT(view == 0 || view == 1);
    AugRecipe r = recipe_base(CH, S);
    int small = S <= AUG_SMALL_SIDE;

    r.flip_p = 0.5f;
    set_colour(&r);
    r.scale_min = n_local > 0 ? 0.4f : 0.14f;
    r.blur_p = small ? 0.0f : (view == 0 ? 1.0f : 0.1f);
    r.solarize_p = view == 0 ? 0.0f : 0.2f;
    return r;
}


/* DINO local view: scale 0.05-0.4 at side S_local (96 next to 224 in DINO; 12 for 28-px and
 * 16 for 32-px images keep whole 4-px patches); blur p 0.5 with sigma in pixels of the
 * 96-px view. S_global decides whether the small-image variant applies. */
AugRecipe aug_recipe_dino_local(int CH, int S_global, int S_local)
{
    AugRecipe r = recipe_base(CH, S_local);
    int small = S_global <= AUG_SMALL_SIDE;

    r.flip_p = 0.5f;
    set_colour(&r);
    r.scale_min = 0.05f;
    r.scale_max = 0.4f;
    r.blur_p = small ? 0.0f : 0.5f;
    r.blur_ref_side = 96.0f;
    return r;
}


/* Evaluation: no randomness; the whole image (centred square) at side S, normalised. */
AugRecipe aug_recipe_eval(int CH, int S)
{
    AugRecipe r = recipe_base(CH, S);

    r.scale_min = r.scale_max = 1.0f;
    r.ratio_min = r.ratio_max = 1.0f;
    return r;
}


void aug_recipe_set_norm(AugRecipe *r, const float *mean, const float *std)
{
    for (int c = 0; c < r->CH; c++) {
        HASSERT(std[c] > 0.0f);
        r->mean[c] = mean[c];
        r->std[c] = std[c];
    }
}
