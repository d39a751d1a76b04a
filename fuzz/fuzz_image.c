/* fuzz_image.c: the image-folder reader on one PNG or JPEG file: the input becomes the only
 * image of class "a" in both train/ and test/. */
#include "fuzz_common.h"

#include "dataset.h"

#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char root[512];
    Dataset train, test;

    fuzz_write("img/train/a/x", data, size);
    fuzz_write("img/test/a/x", data, size);
    snprintf(root, sizeof root, "%s/img", fuzz_dir());
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    FUZZ_RUN(image_folder_load(&train, &test, root));
    dataset_free(&train);
    dataset_free(&test);
    return 0;
}
