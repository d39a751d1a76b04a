/* strategy.h: compression strategies and schedules of them.
 * A strategy is (patch side P, keep ratio r, compressed branches: none, online, both); a
 * schedule is a piecewise-constant map from the fraction of budget spent to a strategy. The
 * text form, one phase a line ("start P keep branches", '#' starts a comment), is shared by
 * `hasten train --schedule` and `hasten search`:
 *     # hasten schedule: phase start (fraction of budget), patch, keep ratio, branches
 *     0.00  8  0.50  online
 *     0.40  4  0.75  online
 *     0.80  4  1.00  none
 */
#ifndef HASTEN_STRATEGY_H
#define HASTEN_STRATEGY_H

#include "vit.h"

typedef enum { COMPRESS_NONE = 0, COMPRESS_ONLINE = 1, COMPRESS_BOTH = 2 } CompressBranches;

typedef struct {
    int P;
    float keep;
    CompressBranches branches;
} Strategy;

#define SCHEDULE_MAX_PHASES 64

typedef struct {
    int n;
    double start[SCHEDULE_MAX_PHASES];
    Strategy strat[SCHEDULE_MAX_PHASES];
} Schedule;

const char *compress_name(CompressBranches b);
/* Parses "none", "online" or "both"; -1 otherwise. */
int compress_parse(const char *s);

/* The shapes of the online and target branches under a strategy. A strategy that compresses
 * nothing is the base shape (P0, 1) on both branches. */
VitShape strategy_online_shape(const VitConfig *cfg, Strategy s);
VitShape strategy_target_shape(const VitConfig *cfg, Strategy s);

/* A one-phase schedule. */
Schedule schedule_constant(Strategy s);
/* The strategy in force at budget fraction t, and the index of its phase. */
Strategy schedule_at(const Schedule *sch, double t);
int schedule_phase(const Schedule *sch, double t);

/* Reads the text form; a malformed line, phases out of order, fractions outside [0, 1], a
 * first phase that does not start at 0 or a strategy the model cannot run are user errors
 * naming the file and line. */
void schedule_read(Schedule *sch, const char *path, const VitConfig *cfg);
/* Writes the text form (atomically: aside, then rename). */
void schedule_write(const Schedule *sch, const char *path, const char *comment);
/* Checks a schedule; returns NULL when valid, else a message (static storage). */
const char *schedule_error(const Schedule *sch, const VitConfig *cfg);

#endif
