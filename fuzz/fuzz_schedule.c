/* fuzz_schedule.c: the schedule reader (the text of `hasten train --schedule FILE`), checked
 * against the tiny preset's model on 28 px images. */
#include "fuzz_common.h"

#include "strategy.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    Schedule s;
    VitConfig v = {.S = 28, .CH = 1, .P0 = 4, .C = 32, .L = 2, .NH = 2, .mlp_ratio = 4,
                   .ln_eps = 1e-6f};

    fuzz_write("schedule.txt", data, size);
    snprintf(path, sizeof path, "%s/schedule.txt", fuzz_dir());
    FUZZ_RUN(schedule_read(&s, path, &v));
    return 0;
}
