/* dataset.c: the dataset loader by name, random subsets, and freeing.
 * Layout: pixels [n, channels, height, width] uint8, labels [n] int32 (see dataset.h). */
#include "dataset.h"

#include "common.h"
#include "rng.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const FASHION_MNIST_CLASSES[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static const char *const CIFAR10_CLASSES[10] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};


void dataset_alloc(Dataset *d, size_t n, int channels, int height, int width, int num_classes,
                   const char *name)
{
    size_t per_image;

    HASSERT(channels > 0 && height > 0 && width > 0 && num_classes > 0);
    memset(d, 0, sizeof(*d));
    per_image = (size_t)channels * (size_t)height * (size_t)width;
    if (n > 0 && per_image > SIZE_MAX / n)
        user_error("%s: %zu images of %dx%dx%d do not fit in memory", name, n, channels, height,
                   width);
    d->n = n;
    d->channels = channels;
    d->height = height;
    d->width = width;
    d->num_classes = num_classes;
    d->pixels = xmalloc(n * per_image);
    d->labels = xcalloc(n, sizeof(int32_t));
    snprintf(d->name, sizeof(d->name), "%s", name);
}


void dataset_free(Dataset *d)
{
    if (d->class_names != NULL) {
        for (int k = 0; k < d->num_classes; k++)
            free(d->class_names[k]);
        free(d->class_names);
    }
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof(*d));
}


static char **copy_names(const char *const *names, int K)
{
    char **out;

    if (names == NULL)
        return NULL;
    out = xcalloc((size_t)K, sizeof(char *));
    for (int k = 0; k < K; k++) {
        out[k] = strdup(names[k]);
        CHECK_ALLOC(out[k]);
    }
    return out;
}


/* Joins dir and file into buf (PATH_MAX bytes); a path too long is the user's to shorten. */
static void join_path(char *buf, const char *dir, const char *file)
{
    int len = snprintf(buf, PATH_MAX, "%s/%s", dir, file);

    if (len < 0 || len >= PATH_MAX)
        user_error("path too long: %s/%s", dir, file);
}


static int is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}


/* dir/base.gz when it exists, else dir/base (Debian ships the .gz files). */
static void idx_path(char *buf, const char *dir, const char *base)
{
    char gz[PATH_MAX];

    join_path(buf, dir, base);
    snprintf(gz, sizeof(gz), "%s.gz", buf);
    if (is_file(gz))
        memcpy(buf, gz, sizeof(gz));
}


static void load_fashion_mnist(Dataset *train, Dataset *test, const char *dir)
{
    char img[PATH_MAX], lab[PATH_MAX];
    struct stat st;

    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        user_error("fashion-mnist: %s is not a folder (%s); expected the gzip'd IDX files there "
                   "(Debian package dataset-fashion-mnist: `make data`)", dir,
                   errno ? strerror(errno) : "not a directory");
    idx_path(img, dir, "train-images-idx3-ubyte");
    idx_path(lab, dir, "train-labels-idx1-ubyte");
    idx_load(train, img, lab, 10, "fashion-mnist/train");
    idx_path(img, dir, "t10k-images-idx3-ubyte");
    idx_path(lab, dir, "t10k-labels-idx1-ubyte");
    idx_load(test, img, lab, 10, "fashion-mnist/test");
    train->class_names = copy_names(FASHION_MNIST_CLASSES, 10);
    test->class_names = copy_names(FASHION_MNIST_CLASSES, 10);
}


/* The batches may sit in dir itself or in the subfolder the official archive unpacks to. */
static const char *cifar_dir(char *buf, const char *dir, const char *first, const char *sub)
{
    char probe[PATH_MAX];

    join_path(probe, dir, first);
    if (is_file(probe))
        return dir;
    join_path(buf, dir, sub);
    join_path(probe, buf, first);
    return is_file(probe) ? buf : dir;
}


static void load_cifar(Dataset *train, Dataset *test, const char *dir, int K)
{
    char sub[PATH_MAX], paths[6][PATH_MAX];
    const char *p[6];
    const char *base = K == 10 ? cifar_dir(sub, dir, "data_batch_1.bin", "cifar-10-batches-bin")
                               : cifar_dir(sub, dir, "train.bin", "cifar-100-binary");

    if (K == 10) {
        for (int i = 0; i < 5; i++) {
            char file[32];
            snprintf(file, sizeof(file), "data_batch_%d.bin", i + 1);
            join_path(paths[i], base, file);
            p[i] = paths[i];
        }
        join_path(paths[5], base, "test_batch.bin");
        p[5] = paths[5];
        cifar_load(train, p, 5, 10, "cifar10/train");
        cifar_load(test, p + 5, 1, 10, "cifar10/test");
        train->class_names = copy_names(CIFAR10_CLASSES, 10);
        test->class_names = copy_names(CIFAR10_CLASSES, 10);
    } else {
        join_path(paths[0], base, "train.bin");
        join_path(paths[1], base, "test.bin");
        p[0] = paths[0];
        p[1] = paths[1];
        cifar_load(train, p, 1, 100, "cifar100/train");
        cifar_load(test, p + 1, 1, 100, "cifar100/test");
    }
}


void dataset_load(Dataset *train, Dataset *test, const char *name, const char *path)
{
    int has_path = path != NULL && path[0] != '\0';

    if (strcmp(name, "fashion-mnist") == 0) {
        load_fashion_mnist(train, test, has_path ? path : FASHION_MNIST_DIR);
        return;
    }
    if (strcmp(name, "cifar10") != 0 && strcmp(name, "cifar100") != 0
        && strcmp(name, "folder") != 0)
        user_error("unknown dataset '%s'; expected fashion-mnist, cifar10, cifar100 or folder",
                   name);
    if (!has_path)
        user_error("dataset %s needs a path: the folder that holds its files", name);
    if (strcmp(name, "cifar10") == 0)
        load_cifar(train, test, path, 10);
    else if (strcmp(name, "cifar100") == 0)
        load_cifar(train, test, path, 100);
    else
        image_folder_load(train, test, path);
}


static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return (x > y) - (x < y);
}


void dataset_subset(Dataset *out, const Dataset *in, size_t n, uint64_t seed)
{
    size_t *idx, per_image;
    Rng r;
    char name[64];

    if (n > in->n)
        user_error("%s: a subset of %zu images asked for, but the set holds only %zu", in->name,
                   n, in->n);

    /* A partial Fisher-Yates shuffle: the first n entries are a uniform sample without
     * replacement. The stream's `a` index is out of the range epochs use, so a subset never
     * shares numbers with the data order of some epoch. */
    idx = xmalloc((in->n > 0 ? in->n : 1) * sizeof(size_t));
    for (size_t i = 0; i < in->n; i++)
        idx[i] = i;
    r = rng_stream(seed, RNG_DATA_ORDER, UINT64_MAX, 0);
    for (size_t i = 0; i < n; i++) {
        size_t j = i + (size_t)rng_below(&r, in->n - i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    qsort(idx, n, sizeof(size_t), cmp_size);

    snprintf(name, sizeof(name), "%s", in->name);
    dataset_alloc(out, n, in->channels, in->height, in->width, in->num_classes, name);
    per_image = (size_t)in->channels * in->height * in->width;
    for (size_t i = 0; i < n; i++) {
        memcpy(dataset_image(out, i), dataset_image(in, idx[i]), per_image);
        out->labels[i] = in->labels[idx[i]];
    }
    out->class_names = copy_names((const char *const *)in->class_names, in->num_classes);
    free(idx);
}
