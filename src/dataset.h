/* dataset.h: labelled image sets held in memory, and the readers that fill them.
 * Pixels are uint8 in [n, channels, height, width] order (planar, row-major), labels int32
 * in [0, num_classes). Every reader treats a bad input file as a user mistake: user_error()
 * names the file and what was expected, and the program exits 2. */
#ifndef HASTEN_DATASET_H
#define HASTEN_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n;                 /* number of images */
    int channels, height, width;
    int num_classes;          /* K */
    uint8_t *pixels;          /* [n, channels, height, width], planar */
    int32_t *labels;          /* [n], each in [0, num_classes) */
    char **class_names;       /* [num_classes] owned strings, or NULL when the format has none */
    char name[64];            /* e.g. "fashion-mnist/train" */
} Dataset;

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Loads the train and test splits of a dataset by name:
 *   "fashion-mnist"  path: folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *                    (NULL or "" means FASHION_MNIST_DIR);
 *   "cifar10"        path: folder with data_batch_1..5.bin and test_batch.bin;
 *   "cifar100"       path: folder with train.bin and test.bin (fine labels, K = 100);
 *   "folder"         path: folder with train/ and test/, each holding one subfolder per class
 *                    (classes sorted by name) of PNG or JPEG images of one size.
 * An unknown name, a missing path or a bad file is a user error (exit 2). */
void dataset_load(Dataset *train, Dataset *test, const char *name, const char *path);

/* Frees what a loader or dataset_subset allocated and zeroes *d; a zeroed Dataset is fine. */
void dataset_free(Dataset *d);

/* Copies n images drawn without replacement from in into out, keeping their order in in.
 * Deterministic in seed (and independent of threads). n > in->n is a user error. */
void dataset_subset(Dataset *out, const Dataset *in, size_t n, uint64_t seed);

/* Allocates pixels and labels for n images of channels x height x width and fills in the
 * sizes; the readers call it once they know the shape. Labels start at 0, pixels uninitialised. */
void dataset_alloc(Dataset *d, size_t n, int channels, int height, int width, int num_classes,
                   const char *name);

/* Image i's pixels: channels * height * width bytes. */
static inline uint8_t *dataset_image(const Dataset *d, size_t i)
{
    return d->pixels + i * (size_t)d->channels * (size_t)d->height * (size_t)d->width;
}

/* --- format readers (dataset_load calls these; tests call them directly) --- */

/* IDX image file (magic 0x00000803) plus IDX label file (magic 0x00000801), gzip'd or plain.
 * Gives [n, 1, rows, cols]; the counts must agree and labels lie in [0, num_classes). */
void idx_load(Dataset *d, const char *images_path, const char *labels_path, int num_classes,
              const char *name);

/* CIFAR binary batches, concatenated in the order given. num_classes 10: 3073-byte records
 * (label, 1024 R, 1024 G, 1024 B); num_classes 100: 3074-byte records (coarse, fine label,
 * pixels) and the fine label is kept. Gives [n, 3, 32, 32]. */
void cifar_load(Dataset *d, const char *const *paths, size_t npaths, int num_classes,
                const char *name);

/* An image folder: root/train/<class>/<image> and root/test/<class>/<image>. Classes are the
 * subfolders of train/ sorted by name (byte order); test/ may hold a subset of them. Files are
 * read in name order; names starting with '.' are skipped. PNG and JPEG are told apart by their
 * magic bytes; all images must share one size and channel count (grayscale: 1, colour: 3;
 * alpha is dropped, 16-bit samples are scaled to 8). */
void image_folder_load(Dataset *train, Dataset *test, const char *root);

#endif
