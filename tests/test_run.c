/* test_run.c: `hasten run --preset tiny` end to end: the study file holds every group, each
 * run file exists, every figure is a non-empty file, and the summary is printed. */
#include "check.h"

#include "common.h"
#include "h5io.h"
#include "test_util.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int main(void)
{
    char dir[64], cmd[512], path[256], out[128];
    struct stat sb;

    snprintf(dir, sizeof dir, "/tmp/hasten-test-run-XXXXXX");
    if (mkdtemp(dir) == NULL)
        die_at(__FILE__, __LINE__, __func__, NULL, "mkdtemp failed");
    snprintf(out, sizeof out, "%s/study", dir);
    snprintf(cmd, sizeof cmd, "build/hasten run --preset tiny --out-dir %s > %s/run.log 2>&1",
             out, dir);
    check_true(system(cmd) == 0, "hasten run --preset tiny exits 0", cmd);
    snprintf(path, sizeof path, "%s/run.log", dir);
    check_true(test_file_contains(path, "summary (target: the baseline's final kNN"),
               "the summary table is printed", path);
    check_true(test_file_contains(path, "searched schedule") &&
               test_file_contains(path, "best token") &&
               test_file_contains(path, "best patch"), "summary rows for the schedule and the best "
               "constant token-dropout and patch-size runs", NULL);

    snprintf(path, sizeof path, "%s/study.h5", out);
    hid_t f = h5in_open(path);
    const char *groups[] = {"/config", "/strategies", "/cost", "/gradstats", "/schedule",
                            "/schedule_argmin", "/runs/baseline/eval", "/runs/baseline/curve",
                            "/runs/schedule/eval", "/runs/token/eval", "/runs/patch/eval"};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "study file holds %s", groups[i]);
        check_true(h5_exists(f, groups[i]), name, path);
    }
    h5in_close(f);

    const char *runs[] = {"baseline", "schedule", "token", "patch"};
    for (size_t i = 0; i < 4; i++) {
        char name[128];
        snprintf(path, sizeof path, "%s/%s.h5", out, runs[i]);
        snprintf(name, sizeof name, "run file %s.h5 exists and is not empty", runs[i]);
        check_true(stat(path, &sb) == 0 && sb.st_size > 0, name, path);
    }
    snprintf(path, sizeof path, "%s/schedule.txt", out);
    check_true(stat(path, &sb) == 0 && sb.st_size > 0, "schedule.txt written", path);

    snprintf(path, sizeof path, "%s/study_figures", out);
    DIR *d = opendir(path);
    int npng = 0, nempty = 0;
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char p[600];
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            if (stat(p, &sb) == 0 && sb.st_size == 0)
                nempty++;
            if (strstr(e->d_name, ".png") != NULL)
                npng++;
        }
        closedir(d);
    }
    check_true(npng >= 5, "at least five PNG figures", path);
    check_close(nempty, 0, 0, "no empty figure file");

    int rc = check_summary();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (rc == 0 && system(cmd) != 0)
        warn("could not remove %s", dir);
    return rc;
}
