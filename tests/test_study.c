/* test_study.c: `hasten cost`, `gradstats` and `report` end to end on a tiny run: the study
 * file's layout (what README documents, read back with h5io and h5dump), the identities
 * between its columns, and strategy 0 against itself. */
#include "check.h"

#include "common.h"
#include "cost.h"
#include "gradstats.h"
#include "h5io.h"
#include "test_util.h"
#include "study.h"

#include <stdlib.h>
#include <string.h>

static char dir[64];

int main(void)
{
    char cmd[512], study[128], runf[128], path[160];

    snprintf(dir, sizeof dir, "/tmp/hasten-test-study-XXXXXX");
    if (mkdtemp(dir) == NULL)
        die_at(__FILE__, __LINE__, __func__, NULL, "mkdtemp failed");
    snprintf(runf, sizeof runf, "%s/run.h5", dir);
    snprintf(study, sizeof study, "%s/study.h5", dir);

    snprintf(cmd, sizeof cmd, "build/hasten train --preset tiny --out %s", runf);
    check_true(test_run_logged(cmd, dir, "train.log") == 0, "tiny baseline run", cmd);
    snprintf(cmd, sizeof cmd, "build/hasten cost --run %s --out %s --patches 4,7 --keeps "
             "1,0.5 --reps 2 --warmup 1", runf, study);
    check_true(test_run_logged(cmd, dir, "cost.log") == 0, "hasten cost", cmd);
    snprintf(cmd, sizeof cmd, "build/hasten gradstats %s --out %s --stages 0,1 --draws 4 "
             "--ref-draws 6 --batch 16 --groups", runf, study);
    check_true(test_run_logged(cmd, dir, "gradstats.log") == 0, "hasten gradstats", cmd);
    snprintf(cmd, sizeof cmd, "build/hasten report %s", study);
    check_true(test_run_logged(cmd, dir, "report.log") == 0, "hasten report", cmd);
    snprintf(path, sizeof path, "%s/report.log", dir);
    check_true(test_file_contains(path, "best at stage 0.00") &&
               test_file_contains(path, "best at stage"
               " 1.00"), "report marks the best strategy of each stage", path);

    hid_t f = h5in_open(study);
    size_t ns, nc, ng, ngg;
    Strategy *s = study_read_strategies(f, study, &ns);
    check_close((double)ns, 7, 0, "strategy 0 + 2 patches x 2 keeps x 2 branches - 2 = 7");
    check_true(s[0].P == 4 && s[0].keep == 1.0f && s[0].branches == COMPRESS_NONE,
               "row 0 is strategy 0 (p0, 1, none)", NULL);
    double *cost = study_read_table(f, study, "/cost", COST_COLS, &nc);
    check_close((double)nc, (double)ns, 0, "/cost has one row per strategy");
    check_close(cost[4], 1.0, 1e-12, "strategy 0's relative cost is 1");
    double *g = study_read_table(f, study, "/gradstats", GS_COLS, &ng);
    check_close((double)ng, 2.0 * (double)ns, 0, "/gradstats has stages x strategies rows");
    double worst = 0;
    for (size_t i = 0; i < ng; i++) {
        const double *r = g + i * GS_COLS;
        worst = fmax(worst, fabs(r[19] - (r[7] + r[16])) / fmax(fabs(r[19]), 1e-300));
        worst = fmax(worst, fabs(r[28] * r[6] - r[19]) / fmax(fabs(r[19]), 1e-300));
    }
    check_relerr(worst, 1e-9, "CA-MSE = bias2 + cvar and camse_rel * |g0|^2 = camse, every row");
    for (int k = 0; k < 2; k++) {
        const double *r0 = g + (size_t)k * ns * GS_COLS;
        char name[128], det[128];
        snprintf(name, sizeof name, "stage %g: strategy 0 against itself, bias2 interval "
                 "contains 0", r0[0]);
        snprintf(det, sizeof det, "%.3g [%.3g, %.3g]", r0[7], r0[8], r0[9]);
        check_true(r0[8] <= 0 && r0[9] >= 0, name, det);
    }
    char **cols;
    size_t ncol;
    cols = h5_attr_get_strs(f, "/gradstats", "columns", &ncol);
    check_true(ncol == GS_COLS && strcmp(cols[28], "camse_rel") == 0,
               "/gradstats columns attribute names every column", cols[28]);
    h5_free_strs(cols, ncol);
    double *gg = study_read_table(f, study, "/gradstats_groups", GS_COLS + 1, &ngg);
    /* Groups: embedding, 2 blocks, final norm + heads. */
    check_close((double)ngg, 4.0 * (double)ng, 0, "/gradstats_groups: 4 groups per row");
    double sum = 0;
    for (int q = 0; q < 4; q++)
        sum += gg[(size_t)q * (GS_COLS + 1) + 11]; /* bias2_raw of strategy 0, stage 0 */
    check_close(sum, g[10], 1e-9 * fabs(g[10]) + 1e-30,
                "per-group raw bias2 add up to the whole");
    h5in_close(f);
    free(s);
    free(cost);
    free(g);
    free(gg);

    snprintf(cmd, sizeof cmd, "h5dump -H %s", study);
    check_true(test_run_logged(cmd, dir, "h5dump.log") == 0, "h5dump reads the study file", cmd);
    snprintf(path, sizeof path, "%s/h5dump.log", dir);
    check_true(test_file_contains(path, "DATASET \"gradstats\"") &&
               test_file_contains(path, "DATASET \"cost\"") &&
               test_file_contains(path, "DATASET \"strategies\"") &&
               test_file_contains(path, "ATTRIBUTE \"columns\"") &&
               test_file_contains(path, "ATTRIBUTE \"intervals\""),
               "h5dump lists /strategies, /cost, /gradstats with their attributes", path);

    int rc = check_summary();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (rc == 0 && system(cmd) != 0)
        warn("could not remove %s", dir);
    return rc;
}
