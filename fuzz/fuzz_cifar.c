/* fuzz_cifar.c: the CIFAR reader. Input: one byte choosing CIFAR-10 (even) or CIFAR-100
 * (odd), then the batch file. */
#include "fuzz_common.h"

#include "dataset.h"

#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    const char *paths[1] = {path};
    Dataset d;

    if (size < 1)
        return 0;
    fuzz_write("batch.bin", data + 1, size - 1);
    snprintf(path, sizeof path, "%s/batch.bin", fuzz_dir());
    memset(&d, 0, sizeof d);
    FUZZ_RUN(cifar_load(&d, paths, 1, data[0] & 1 ? 100 : 10, "fuzz"));
    dataset_free(&d);
    return 0;
}
