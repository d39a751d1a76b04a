/* strategy.c: strategies, schedules and their text form. */
#include "strategy.h"

#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const BRANCH_NAMES[] = {"none", "online", "both"};

const char *compress_name(CompressBranches b)
{
    return BRANCH_NAMES[b];
}


int compress_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, BRANCH_NAMES[i]) == 0)
            return i;
    return -1;
}


VitShape strategy_online_shape(const VitConfig *cfg, Strategy s)
{
    if (s.branches == COMPRESS_NONE)
        return (VitShape){cfg->P0, 1.0f, 0};
    return (VitShape){s.P, s.keep, 0};
}


VitShape strategy_target_shape(const VitConfig *cfg, Strategy s)
{
    if (s.branches == COMPRESS_BOTH)
        return (VitShape){s.P, s.keep, 0};
    return (VitShape){cfg->P0, 1.0f, 0};
}


Schedule schedule_constant(Strategy s)
{
    Schedule sch;

    memset(&sch, 0, sizeof sch);
    sch.n = 1;
    sch.start[0] = 0.0;
    sch.strat[0] = s;
    return sch;
}


int schedule_phase(const Schedule *sch, double t)
{
    int i = 0;

    while (i + 1 < sch->n && t >= sch->start[i + 1])
        i++;
    return i;
}


Strategy schedule_at(const Schedule *sch, double t)
{
    return sch->strat[schedule_phase(sch, t)];
}


const char *schedule_error(const Schedule *sch, const VitConfig *cfg)
{
    static char msg[256];

    if (sch->n < 1)
        return "the schedule has no phase";
    for (int i = 0; i < sch->n; i++) {
        const char *e;
        if (!(sch->start[i] >= 0.0 && sch->start[i] <= 1.0)) {
            snprintf(msg, sizeof msg, "phase %d starts at %g; starts must be in [0, 1]", i + 1,
                     sch->start[i]);
            return msg;
        }
        if (i == 0 && sch->start[0] != 0.0) {
            snprintf(msg, sizeof msg, "the first phase starts at %g; it must start at 0",
                     sch->start[0]);
            return msg;
        }
        if (i > 0 && !(sch->start[i] > sch->start[i - 1])) {
            snprintf(msg, sizeof msg, "phase %d starts at %g, not after phase %d (%g); phases "
                     "must be in increasing order", i + 1, sch->start[i], i, sch->start[i - 1]);
            return msg;
        }
        e = vit_shape_error(cfg, (VitShape){sch->strat[i].P, sch->strat[i].keep, 0});
        if (e != NULL) {
            snprintf(msg, sizeof msg, "phase %d: %s", i + 1, e);
            return msg;
        }
    }
    return NULL;
}


void schedule_read(Schedule *sch, const char *path, const VitConfig *cfg)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int lineno = 0;
    const char *err;

    if (f == NULL)
        user_error("--schedule %s: cannot open: %s", path, strerror(errno));
    memset(sch, 0, sizeof *sch);
    while (fgets(line, sizeof line, f) != NULL) {
        char *hash = strchr(line, '#'), branches[32], extra[8];
        double start, keep;
        int P, nf;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f))
            user_error("%s:%d: line too long", path, lineno);
        if (hash != NULL)
            *hash = '\0';
        if (strspn(line, " \t\r\n") == strlen(line))
            continue;
        nf = sscanf(line, "%lf %d %lf %31s %7s", &start, &P, &keep, branches, extra);
        if (nf != 4 || compress_parse(branches) < 0)
            user_error("%s:%d: expected 'start patch keep branches' (e.g. '0.25 8 0.5 online'"
                       ", branches none|online|both)", path, lineno);
        if (sch->n == SCHEDULE_MAX_PHASES)
            user_error("%s:%d: more than %d phases", path, lineno, SCHEDULE_MAX_PHASES);
        sch->start[sch->n] = start;
        sch->strat[sch->n] = (Strategy){P, (float)keep, (CompressBranches)compress_parse(branches)};
        sch->n++;
    }
    fclose(f);
    err = schedule_error(sch, cfg);
    if (err != NULL)
        user_error("%s: %s", path, err);
}


void schedule_write(const Schedule *sch, const char *path, const char *comment)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
    f = fopen(tmp, "w");
    if (f == NULL)
        user_error("cannot write %s: %s", path, strerror(errno));
    fprintf(f, "# hasten schedule: phase start (fraction of budget), patch, keep ratio, "
            "compressed branches\n");
    if (comment != NULL)
        fprintf(f, "# %s\n", comment);
    for (int i = 0; i < sch->n; i++)
        fprintf(f, "%.6f %d %.6g %s\n", sch->start[i], sch->strat[i].P,
                (double)sch->strat[i].keep, compress_name(sch->strat[i].branches));
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
        unlink(tmp);
        user_error("cannot write %s: %s", path, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        user_error("cannot write %s: %s", path, strerror(errno));
    }
}
