/* study.c: the strategy grid and the tables of the study file (see study.h). */
#include "study.h"

#include "common.h"
#include "resize.h"

#include <math.h>
#include <string.h>

static const char *const STRAT_COLS[3] = {"P", "keep", "branches"};

Strategy *study_grid(const VitConfig *cfg, const int *patches, size_t np, const double *keeps,
                     size_t nk, int branches, size_t *n)
{
    Strategy *s = xmalloc((1 + np * nk * 2) * sizeof(Strategy));
    size_t m = 0;

    s[m++] = (Strategy){cfg->P0, 1.0f, COMPRESS_NONE};
    for (int b = COMPRESS_ONLINE; b <= COMPRESS_BOTH; b++) {
        if (!(branches & b))
            continue;
        for (size_t i = 0; i < np; i++)
            for (size_t j = 0; j < nk; j++) {
                /* (P0, 1) compresses nothing: it is strategy 0 whatever the branches. */
                if (patches[i] == cfg->P0 && keeps[j] == 1.0)
                    continue;
                s[m++] = (Strategy){patches[i], (float)keeps[j], (CompressBranches)b};
            }
    }
    *n = m;
    return s;
}


Strategy *study_default_grid(const VitConfig *cfg, size_t *n)
{
    int patches[64], np = 0, G0 = resize_grid_side(cfg->S, cfg->P0);
    const double keeps[] = {1.0, 0.75, 0.5, 0.25, 0.1};

    /* One patch side per grid side G = G0, G0-1, ..., 2: the smallest P giving that G. */
    for (int G = G0; G >= 2 && np < 64; G--)
        for (int P = cfg->P0; P <= cfg->S; P++)
            if (resize_grid_side(cfg->S, P) == G) {
                patches[np++] = P;
                break;
            }
    return study_grid(cfg, patches, (size_t)np, keeps, 5, 3, n);
}


void study_write_table(hid_t f, const char *name, const double *rows, size_t nrows, int ncols,
                       const char *const *columns, const char *meaning)
{
    double empty = 0;

    h5_write(f, name, H5IO_F64, 2, (size_t[]){nrows, (size_t)ncols}, nrows ? rows : &empty);
    h5_attr_strs(f, name, "columns", (size_t)ncols, columns);
    h5_attr_str(f, name, "meaning", meaning);
}


double *study_read_table(hid_t f, const char *path, const char *name, int ncols, size_t *nrows)
{
    int rank;
    size_t dims[H5IO_MAX_RANK];

    if (!h5_exists(f, name))
        user_error("%s: missing %s; run the command that makes it first (see README)", path,
                   name);
    double *x = h5_read(f, name, H5IO_F64, 2, (long[]){H5IO_ANY, ncols}, &rank, dims);
    *nrows = dims[0];
    return x;
}


void study_write_strategies(hid_t f, const Strategy *s, size_t n)
{
    double *rows = xmalloc((n ? n : 1) * 3 * sizeof(double));

    for (size_t i = 0; i < n; i++) {
        rows[3 * i] = s[i].P;
        rows[3 * i + 1] = s[i].keep;
        rows[3 * i + 2] = s[i].branches;
    }
    study_write_table(f, "/strategies", rows, n, 3, STRAT_COLS,
                      "compression strategies: patch side, keep ratio, compressed branches "
                      "(0 none, 1 online, 2 both); row 0 is strategy 0, the uncompressed base");
    free(rows);
}


Strategy *study_read_strategies(hid_t f, const char *path, size_t *n)
{
    double *rows = study_read_table(f, path, "/strategies", 3, n);
    Strategy *s = xmalloc((*n ? *n : 1) * sizeof(Strategy));

    for (size_t i = 0; i < *n; i++) {
        double P = rows[3 * i], keep = rows[3 * i + 1], b = rows[3 * i + 2];
        if (!(P >= 1 && P == floor(P)) || !(keep > 0 && keep <= 1) || !(b == 0 || b == 1 ||
                                                                         b == 2))
            user_error("%s: /strategies row %zu (%g, %g, %g) is not (patch >= 1, keep in "
                       "(0, 1], branches 0/1/2)", path, i, P, keep, b);
        s[i] = (Strategy){(int)P, (float)keep, (CompressBranches)(int)b};
    }
    free(rows);
    return s;
}


int study_find(const Strategy *list, size_t n, Strategy s)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].P == s.P && fabsf(list[i].keep - s.keep) < 1e-6f &&
            list[i].branches == s.branches)
            return (int)i;
    /* Uncompressed shapes are all strategy 0. */
    if (s.branches == COMPRESS_NONE || (s.keep == 1.0f && n > 0 && s.P == list[0].P))
        return 0;
    return -1;
}
