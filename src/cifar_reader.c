/* cifar_reader.c: CIFAR-10 and CIFAR-100 binary batches.
 * A record is its label byte(s), then 1024 R, 1024 G and 1024 B bytes of a 32x32 image in
 * row-major order: already the planar [3, 32, 32] layout of a Dataset image. */
#include "dataset.h"

#include "common.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_SIDE   32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)


/* The size of one file in bytes, checked to be a whole, non-zero number of records. */
static size_t cifar_file_records(const char *path, size_t record)
{
    struct stat st;

    if (stat(path, &st) != 0)
        user_error("cannot open %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        user_error("%s: not a regular file; expected a CIFAR binary batch", path);
    if (st.st_size == 0 || (size_t)st.st_size % record != 0)
        user_error("%s: %lld bytes is not a whole number of %zu-byte records; "
                   "expected a CIFAR-%s binary batch", path, (long long)st.st_size, record,
                   record == CIFAR_PIXELS + 1 ? "10" : "100");
    return (size_t)st.st_size / record;
}


/* Reads one batch of `count` records into d starting at image `first`. */
static void cifar_read_batch(Dataset *d, size_t first, size_t count, const char *path,
                             size_t record, int num_classes)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *rec = xmalloc(record);
    size_t nlabel = record - CIFAR_PIXELS;

    if (fp == NULL)
        user_error("cannot open %s: %s", path, strerror(errno));
    for (size_t i = 0; i < count; i++) {
        if (fread(rec, 1, record, fp) != record)
            user_error("%s: read failed at record %zu of %zu (%s); the file changed or is "
                       "unreadable", path, i, count, ferror(fp) ? strerror(errno) : "end of file");

        /* CIFAR-100 records carry the coarse label (20 superclasses) before the fine one. */
        if (nlabel == 2 && rec[0] >= 20)
            user_error("%s: coarse label %u in record %zu is out of range; expected 0 to 19",
                       path, rec[0], i);
        if (rec[nlabel - 1] >= num_classes)
            user_error("%s: label %u in record %zu is out of range; expected 0 to %d", path,
                       rec[nlabel - 1], i, num_classes - 1);
        d->labels[first + i] = rec[nlabel - 1];
        memcpy(dataset_image(d, first + i), rec + nlabel, CIFAR_PIXELS);
    }
    fclose(fp);
    free(rec);
}


void cifar_load(Dataset *d, const char *const *paths, size_t npaths, int num_classes,
                const char *name)
{
    size_t record, total = 0, first = 0;
    size_t *counts = xcalloc(npaths, sizeof(size_t));

    HASSERT(num_classes == 10 || num_classes == 100);
    record = CIFAR_PIXELS + (num_classes == 10 ? 1 : 2);

    /* Every file is sized up before anything is read, so one allocation holds them all and a
     * bad last batch fails at once rather than after minutes of reading. */
    for (size_t f = 0; f < npaths; f++) {
        counts[f] = cifar_file_records(paths[f], record);
        total += counts[f];
    }
    dataset_alloc(d, total, 3, CIFAR_SIDE, CIFAR_SIDE, num_classes, name);
    for (size_t f = 0; f < npaths; f++) {
        cifar_read_batch(d, first, counts[f], paths[f], record, num_classes);
        first += counts[f];
    }
    free(counts);
}
