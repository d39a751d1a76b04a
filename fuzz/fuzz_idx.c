/* fuzz_idx.c: the IDX reader (gzip'd or plain) on an image file and a label file.
 * Input: 2 bytes (little-endian) giving the length of the image file, the image file, then
 * the label file; either may be plain IDX or gzip data. */
#include "fuzz_common.h"

#include "dataset.h"

#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char img[512], lab[512];
    Dataset d;
    size_t n;

    if (size < 2)
        return 0;
    n = (size_t)data[0] | (size_t)data[1] << 8;
    if (n > size - 2)
        n = size - 2;
    fuzz_write("images", data + 2, n);
    fuzz_write("labels", data + 2 + n, size - 2 - n);
    snprintf(img, sizeof img, "%s/images", fuzz_dir());
    snprintf(lab, sizeof lab, "%s/labels", fuzz_dir());
    memset(&d, 0, sizeof d);
    FUZZ_RUN(idx_load(&d, img, lab, 10, "fuzz"));
    dataset_free(&d);
    return 0;
}
