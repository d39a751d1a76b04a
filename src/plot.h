/* plot.h: `hasten plot`: the study file's tables exported to whitespace-separated text files
 * for the gnuplot scripts in plots/, one column a quantity, NaN where a value is missing or
 * cannot be drawn (gnuplot breaks a line at NaN). Alongside them, vars.gp holds the settings
 * the scripts read: counts, labels, and for each panel a message that is empty when the panel
 * has finite data and otherwise says, inside the figure, why it is empty. */
#ifndef HASTEN_PLOT_H
#define HASTEN_PLOT_H

#include <stddef.h>
#include <stdio.h>

#define PLOT_MAX_NOTES 16

/* What the export found missing, for the terminal (the figures say it too). */
typedef struct {
    int nnotes;
    char notes[PLOT_MAX_NOTES][256];
    int tables;        /* how many of /strategies, /cost, /gradstats, /runs, /schedule exist */
} PlotExport;

/* Reads the study at path and writes the data files and vars.gp into dir (which exists).
 * Malformed tables are user errors naming the file; missing ones become notes and panel
 * messages. */
PlotExport plot_export(const char *path, const char *dir);

/* Writes s as a gnuplot double-quoted string: backslash and quote escaped, a newline as \n,
 * other control characters dropped. */
void plot_gp_string(FILE *f, const char *s);

#endif
