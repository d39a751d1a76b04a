/* replay_main.c: runs a fuzz target once on each file named on the command line, without
 * libFuzzer (built by the ordinary compiler for `make test`; see tests/test_fuzz_corpus.c).
 * Production user_error exits 2 there, so the caller runs one file per process. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        long n;
        uint8_t *buf;

        if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
            perror(argv[i]);
            return 3;
        }
        rewind(f);
        buf = malloc((size_t)n + 1);
        if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
            perror(argv[i]);
            return 3;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
    }
    return 0;
}
