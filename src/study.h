/* study.h: the study file shared by `hasten cost`, `gradstats`, `report`, `search`, `plot`:
 *   /strategies  [n, 3] P, keep, branches (0 none, 1 online, 2 both); row 0 is strategy 0
 *   /cost        [n, 6] flops_per_sample, seconds_per_step, cost_units, cost_units_flop,
 *                       rel_cost, rel_flops  (cost_units: budget units per sample, measured)
 *   /gradstats   [stages x n, GS_COLS] see gradstats.h
 *   /schedule    [phases, 4] start, P, keep, branches
 * Every table is a float64 dataset with its column names in the attribute "columns". */
#ifndef HASTEN_STUDY_H
#define HASTEN_STUDY_H

#include "h5io.h"
#include "strategy.h"
#include "vit.h"

/* The default grid: strategy 0 first, then every patch side from P0 up to where fewer than
 * 4 patches remain (one side per grid size), keep ratios {1, 0.75, 0.5, 0.25, 0.1}, the
 * online branch or both compressed. Returns an array from xmalloc; *n gets its length. */
Strategy *study_default_grid(const VitConfig *cfg, size_t *n);

/* A grid from explicit lists (patches, keeps: n of each; branches: 1 online, 2 both, 3 the
 * two). */
Strategy *study_grid(const VitConfig *cfg, const int *patches, size_t np, const double *keeps,
                     size_t nk, int branches, size_t *n);

void study_write_strategies(hid_t f, const Strategy *s, size_t n);
/* User error naming the file when /strategies is missing or malformed. */
Strategy *study_read_strategies(hid_t f, const char *path, size_t *n);

/* Writes a table with its column names and a meaning attribute. */
void study_write_table(hid_t f, const char *name, const double *rows, size_t nrows, int ncols,
                       const char *const *columns, const char *meaning);
/* Reads a table, checking that it has ncols columns; user error naming the file otherwise. */
double *study_read_table(hid_t f, const char *path, const char *name, int ncols, size_t *nrows);

/* Index of the strategy equal to s in the list, -1 when absent. */
int study_find(const Strategy *list, size_t n, Strategy s);

#endif
