/* test_fuzz_corpus.c: replays every file of fuzz/corpus/<target>/ (the seeds and every
 * fixed fuzzer finding) through its fuzz driver built as a plain program
 * (<build>/fuzz/replay_<target>, next to HASTEN_BIN). Each file runs in its own process and
 * must end in success (0) or a user error (2): never a crash, a sanitizer report, an
 * internal error (die_at: 1) or a hang (20 s). */
#include "check.h"

#include "common.h"

#include <dirent.h>
#include <libgen.h>
#include <string.h>
#include <sys/wait.h>

int main(void)
{
    const char *targets[] = {"idx", "cifar", "image", "schedule", "args"};
    char bindir[512], copy[512];

    snprintf(copy, sizeof copy, "%s", check_hasten_bin());
    snprintf(bindir, sizeof bindir, "%s", dirname(copy));
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char dir[600];
        int n = 0;
        snprintf(dir, sizeof dir, "fuzz/corpus/%s", targets[t]);
        DIR *d = opendir(dir);
        struct dirent *e;
        if (!check_true(d != NULL, targets[t], "corpus folder exists"))
            continue;
        while ((e = readdir(d)) != NULL) {
            char cmd[1600], name[700], det[64];
            if (e->d_name[0] == '.')
                continue;
            snprintf(cmd, sizeof cmd, "timeout 20 %s/fuzz/replay_%s %s/%s > /dev/null 2>&1",
                     bindir, targets[t], dir, e->d_name);
            int rc = system(cmd);
            int st = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
            snprintf(name, sizeof name, "replay %s/%s", targets[t], e->d_name);
            snprintf(det, sizeof det, "exit %d, expected 0 or 2", st);
            check_true(st == 0 || st == 2, name, det);
            n++;
        }
        closedir(d);
        char name[64];
        snprintf(name, sizeof name, "%s: corpus not empty", targets[t]);
        check_true(n > 0, name, NULL);
    }
    return check_summary();
}
