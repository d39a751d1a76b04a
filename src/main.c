/* main.c: the hasten command line: dispatches to the subcommands. */
#include "cli.h"
#include "common.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "hasten %s: self-supervised ViT pretraining with compressed token sequences\n"
        "\n"
        "usage: hasten COMMAND [flags]\n"
        "  run       the main job: baseline, cost, gradstats, search, accelerated runs, probes,\n"
        "            figures and a summary of the speed-ups (what `make run` calls)\n"
        "  train     self-supervised pretraining under a compute budget (MoCo v3, SimCLR, DINO)\n"
        "  probe     kNN and linear-probe accuracy of a run's checkpoint\n"
        "  cost      per-sample cost of a training step for every strategy -> STUDY.h5\n"
        "  gradstats gradient bias, variance and CA-MSE per strategy at stage checkpoints\n"
        "  report    the table of a study: best strategy per stage, with intervals\n"
        "  search    schedules of strategies from a study's CA-MSE: argmin and K-phase optimum\n"
        "  plot      the figures of a study (PNG + PDF/SVG) drawn with gnuplot\n"
        "  bench     images/s of the backbone and of a MoCo v3 training step per strategy\n"
        "  version   print the version\n"
        "  help      this text\n"
        "'hasten COMMAND --help' describes a command's flags.\n", HASTEN_VERSION);
}


int main(int argc, char **argv)
{
    /* Past the file size limit (ulimit -f) a write should fail with EFBIG, which the HDF5
     * layer reports as a full disk and cleans up after; the default action of SIGXFSZ would
     * kill us with the temp file and the lock file left behind. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "train") == 0)
        return cli_train(argc - 2, argv + 2);
    if (strcmp(argv[1], "probe") == 0)
        return cli_probe(argc - 2, argv + 2);
    if (strcmp(argv[1], "cost") == 0)
        return cli_cost(argc - 2, argv + 2);
    if (strcmp(argv[1], "gradstats") == 0)
        return cli_gradstats(argc - 2, argv + 2);
    if (strcmp(argv[1], "report") == 0)
        return cli_report(argc - 2, argv + 2);
    if (strcmp(argv[1], "search") == 0)
        return cli_search(argc - 2, argv + 2);
    if (strcmp(argv[1], "plot") == 0)
        return cli_plot(argc - 2, argv + 2);
    if (strcmp(argv[1], "run") == 0)
        return cli_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "bench") == 0)
        return cli_bench(argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("hasten %s\n", HASTEN_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
