/* search.h: schedule search: from a CA-MSE table measured at stages of a baseline run, the
 * piecewise-constant schedule of strategies that a compressed run should follow.
 * Layout: stage[nst] strictly increasing fractions of budget in [0, 1]; camse[nst][ns]
 * row-major (row k: every strategy at stage k); s[ns] the strategies, index = column. */
#ifndef HASTEN_SEARCH_H
#define HASTEN_SEARCH_H

#include "strategy.h"

#include <stddef.h>

#define SEARCH_GRID_DEFAULT 200
/* A value <= 0 (debiased CA-MSE can be negative) counts as this fraction of the largest
 * positive value of the table before the logarithm; see search_density. */
#define SEARCH_FLOOR_REL 1e-6

/* The paper's procedure. At each measured stage, the strategy of least CA-MSE (raw values,
 * negative ones included; ties go to the lower index). Switching rule: the phase of stage k
 * runs from the midpoint between stages k-1 and k to the midpoint between k and k+1; the
 * first phase starts at 0 and the last ends at 1. Consecutive equal strategies are merged.
 * Needs 1 <= nst <= SCHEDULE_MAX_PHASES. */
Schedule search_argmin(const double *stage, size_t nst, const double *camse, const Strategy *s,
                       size_t ns);

/* The interpolated CA-MSE of every strategy at the midpoint of each of `grid` equal cells of
 * [0, 1]: returns [ns][grid] from xmalloc. Interpolation is over the stages in log space
 * (GSL steffen, monotone, when nst >= 3; linear when nst == 2; constant when nst == 1) and
 * flat outside the measured stages. Values <= 0 are clamped to SEARCH_FLOOR_REL times the
 * largest positive value of the table (to 1 when none is positive): a strategy whose bias was
 * debiased below zero counts as nearly free, not as undefined. Every value must be finite. */
double *search_density(const double *stage, size_t nst, const double *camse, size_t ns,
                       int grid);

/* The schedule of at most K phases, with switches on the cell boundaries k/grid, that
 * minimises the integrated CA-MSE sum_cells density * cell width, found exactly by dynamic
 * programming: per-strategy prefix sums, the best strategy of every segment [i, j)
 * (O(grid^2 ns)), then best cost of covering [0, j) with at most k phases (O(K grid^2)).
 * Ties go to fewer phases, then to the lower strategy index. Equal neighbouring phases are
 * merged. *integral_out (when not NULL) receives the minimum. 1 <= K <= SCHEDULE_MAX_PHASES,
 * grid >= 1. */
Schedule search_kphase(const double *stage, size_t nst, const double *camse, const Strategy *s,
                       size_t ns, int K, int grid, double *integral_out);

/* The integrated interpolated CA-MSE of any schedule on the same grid: each cell's density
 * times its overlap with each phase (a phase [start_k, start_k+1), the last one to 1). For a
 * schedule that switches on cell boundaries this is the objective of search_kphase. NAN when
 * a phase runs a strategy that is not in s. */
double search_integral(const Schedule *sch, const double *stage, size_t nst,
                       const double *camse, const Strategy *s, size_t ns, int grid);

/* Index of strategy x in s (same patch, keep within 1e-6, same branches), -1 when absent. */
int search_strategy_index(const Strategy *s, size_t ns, Strategy x);

/* The HDF5 table form of a schedule, /schedule [phases, 4]: start, P, keep, branches
 * (0 none, 1 online, 2 both). rows has room for sch->n * 4 doubles. */
#define SEARCH_TABLE_COLS 4
extern const char *const SEARCH_TABLE_COLUMNS[SEARCH_TABLE_COLS];
void search_schedule_to_table(const Schedule *sch, double *rows);
/* Fills sch from n table rows; returns NULL, or a message (static storage) naming the row
 * that is not a phase (too many rows, a whole patch >= 1, keep in (0, 1], branches 0/1/2,
 * starts from 0 increasing within [0, 1]). */
const char *search_schedule_from_table(Schedule *sch, const double *rows, size_t n);

#endif
