/* cli_report.c: `hasten report STUDY.h5`: every strategy's cost, bias², cost-adjusted
 * variance and CA-MSE per stage, relative to |mean g_0|^2, with 95% intervals; the best
 * strategy of each stage is marked '*', and '~' marks those whose CA-MSE interval overlaps
 * the best one's (not distinguishable from it at this number of draws). */
#include "args.h"
#include "cli.h"
#include "common.h"
#include "gradstats.h"
#include "study.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { C_STAGE = 0, C_STEP = 1, C_STRAT = 2, C_COST = 5, C_B2R = 22, C_CVR = 25, C_CMR = 28 };

int cli_report(int argc, char **argv)
{
    Args a;

    args_init(&a, argc, argv);
    if (args_flag(&a, "--help")) {
        printf("usage: hasten report STUDY.h5 [--best-only]\n");
        return 0;
    }
    int best_only = args_flag(&a, "--best-only");
    const char *path = args_positional(&a);
    args_finish(&a, "report");
    if (path == NULL)
        user_error("report: usage: hasten report STUDY.h5");

    hid_t f = h5in_open(path);
    size_t ns, nr;
    Strategy *s = study_read_strategies(f, path, &ns);
    double *g = study_read_table(f, path, "/gradstats", GS_COLS, &nr);
    h5in_close(f);
    if (nr % ns != 0)
        user_error("%s: /gradstats has %zu rows, not a multiple of the %zu strategies", path,
                   nr, ns);

    printf("%s: %zu strategies x %zu stages; figures relative to |mean g_0|^2, [95%% "
           "interval]\n", path, ns, nr / ns);
    for (size_t k = 0; k < nr / ns; k++) {
        const double *st = g + k * ns * GS_COLS;
        size_t best = 0;
        for (size_t i = 1; i < ns; i++)
            if (gs_camse_clamped(st + i * GS_COLS, 1) < gs_camse_clamped(st + best * GS_COLS, 1))
                best = i;
        double best_hi = st[best * GS_COLS + C_CMR + 2];

        printf("\nstage %.2f (step %.0f)\n", st[C_STAGE], st[C_STEP]);
        printf("     #   P  keep branches | cost |      bias2 [interval]       |"
               "       cvar [interval]        |      CA-MSE [interval]\n");
        for (size_t i = 0; i < ns; i++) {
            const double *r = st + i * GS_COLS;
            char mark = i == best ? '*' : (r[C_CMR + 1] <= best_hi ? '~' : ' ');
            if (best_only && i != best)
                continue;
            printf("  %c %3zu  %2d  %4.2f %-7s | %4.2f | %8.3g [%8.3g, %8.3g] | %8.3g "
                   "[%8.3g, %8.3g] | %8.3g [%8.3g, %8.3g]\n", mark, i, s[i].P,
                   (double)s[i].keep, compress_name(s[i].branches), r[C_COST], r[C_B2R],
                   r[C_B2R + 1], r[C_B2R + 2], r[C_CVR], r[C_CVR + 1], r[C_CVR + 2], r[C_CMR],
                   r[C_CMR + 1], r[C_CMR + 2]);
        }
        printf("  best at stage %.2f: #%zu patch %d keep %.2f %s, max(bias2, 0) + cvar %.3g "
               "(strategy 0: %.3g); CA-MSE %.3g [%.3g, %.3g]\n", st[C_STAGE], best, s[best].P,
               (double)s[best].keep, compress_name(s[best].branches),
               gs_camse_clamped(st + best * GS_COLS, 1), gs_camse_clamped(st, 1),
               st[best * GS_COLS + C_CMR], st[best * GS_COLS + C_CMR + 1], best_hi);
    }
    free(s);
    free(g);
    return 0;
}
