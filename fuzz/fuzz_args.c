/* fuzz_args.c: the command line of every subcommand. Input: one byte choosing the command,
 * then its arguments separated by '\n' (at most 48). The stubs of fuzz_common.c stop a
 * command once its flags are parsed, before it trains, measures or opens an HDF5 file.
 * Arguments naming device or kernel files are dropped: reading /dev/stdin would hang. */
#include "fuzz_common.h"

#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int (*const cmds[])(int, char **) = {cli_train, cli_probe, cli_cost,
                                                cli_gradstats, cli_report, cli_bench};
    char *buf, *argv[MAX_ARGS + 1];
    int argc = 0;

    if (size < 1 || size > 4096)
        return 0;
    buf = malloc(size);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    for (char *p = buf, *end = buf + size - 1; p <= end && argc < MAX_ARGS;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl != NULL)
            *nl = '\0';
        if (strstr(p, "/dev") == NULL && strstr(p, "/proc") == NULL &&
            strstr(p, "/sys") == NULL)
            argv[argc++] = p;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    argv[argc] = NULL;
    FUZZ_RUN(cmds[data[0] % 6](argc, argv));
    free(buf);
    return 0;
}
