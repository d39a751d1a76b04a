/* parity.h: the harness of the backend parity test (test_cuda.c). Every tensor exists twice,
 * side 0 on the reference backend (the CPU) and side 1 on the backend under test, both filled
 * from the same host values; an op runs on each side and the two results are downloaded and
 * compared by the normalised max error max|a - b| / max(1e-30, max|b|), b the reference.
 * Nothing here knows which backend is which: HASTEN_PARITY_SELF=1 puts the CPU on both. */
#ifndef HASTEN_PARITY_H
#define HASTEN_PARITY_H

#include "backend.h"
#include "check.h"
#include "common.h"
#include "rng.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Runs the statement after it once per side, s = 0 (reference) then s = 1 (under test). */
#define BOTH(s) for (int s = 0; s < 2; s++)

static const Backend *par_be[2];
static Rng par_rng;

/* One float tensor of n elements on both sides; p[s] NULL on both is a "not wanted" pointer. */
typedef struct {
    size_t n;
    float *p[2];
} Twin;

typedef struct {
    size_t n;
    int32_t *p[2];
} TwinIdx;


/* Fills host[n] with mean + sd * N(0, 1): offsets like 0.385 keep a lost sign or mean from
 * cancelling out of the comparison. */
static inline void par_fill(float *host, size_t n, double mean, double sd)
{
    for (size_t i = 0; i < n; i++)
        host[i] = (float)(mean + sd * rng_normal(&par_rng));
}


static inline Twin twin_upload(const float *host, size_t n)
{
    Twin t = {n, {NULL, NULL}};

    BOTH(s) {
        t.p[s] = par_be[s]->alloc(n * sizeof(float));
        par_be[s]->upload(t.p[s], host, n * sizeof(float));
    }
    return t;
}


static inline Twin twin_random(size_t n, double mean, double sd)
{
    float *host = xmalloc(n * sizeof(float));
    Twin t;

    par_fill(host, n, mean, sd);
    t = twin_upload(host, n);
    free(host);
    return t;
}


/* An output buffer: filled with stale values, so an op that should overwrite and does not,
 * or writes too little, shows up as a difference. */
static inline Twin twin_out(size_t n)
{
    return twin_random(n, 7.5, 3.0);
}


static inline Twin twin_null(void)
{
    Twin t = {0, {NULL, NULL}};
    return t;
}


/* Two device vectors that already exist, one per side (e.g. two Methods' parameters). */
static inline Twin twin_view(float *ref, float *dut, size_t n)
{
    Twin t = {n, {ref, dut}};
    return t;
}


static inline TwinIdx twin_idx(const int32_t *host, size_t n)
{
    TwinIdx t = {n, {NULL, NULL}};

    BOTH(s) {
        t.p[s] = par_be[s]->alloc(n * sizeof(int32_t));
        par_be[s]->upload(t.p[s], host, n * sizeof(int32_t));
    }
    return t;
}


static inline void twin_free(Twin *t)
{
    BOTH(s)
        if (t->p[s] != NULL)
            par_be[s]->free(t->p[s]);
    memset(t, 0, sizeof(*t));
}


static inline void twin_idx_free(TwinIdx *t)
{
    BOTH(s)
        par_be[s]->free(t->p[s]);
    memset(t, 0, sizeof(*t));
}


/* Side s of t downloaded into a new host array. */
static inline float *twin_host(const Twin *t, int s)
{
    float *h = xmalloc((t->n > 0 ? t->n : 1) * sizeof(float));

    par_be[s]->download(h, t->p[s], t->n * sizeof(float));
    return h;
}


/* max|a - b| / max(1e-30, max|b|), b the reference. Equal non-finite values (the same
 * infinity, NaN against NaN) count as agreement; any other non-finite value as infinite error. */
static inline double par_normerr(const float *a, const float *b, size_t n)
{
    double e = 0.0, m = 0.0;

    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) {
            int same = (isnan(a[i]) && isnan(b[i])) || a[i] == b[i];
            if (!same)
                return INFINITY;
            continue;
        }
        e = fmax(e, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return e / fmax(1e-30, m);
}


/* ||a - b|| / max(1e-30, ||b||) over finite entries; infinite when they disagree on one. */
static inline double par_l2err(const float *a, const float *b, size_t n)
{
    double e = 0.0, m = 0.0;

    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) {
            if (par_normerr(a + i, b + i, 1) != 0.0)
                return INFINITY;
            continue;
        }
        e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        m += (double)b[i] * b[i];
    }
    return sqrt(e) / fmax(1e-30, sqrt(m));
}


/* One PASS/FAIL line: "<op> [<shape>]: relative error <normalised max error> (tol <tol>)". */
static inline int par_check(const char *op, const char *shape, const Twin *t, double tol)
{
    float *a = twin_host(t, 1), *b = twin_host(t, 0);
    char name[192];
    int ok;

    snprintf(name, sizeof name, "%s [%s]", op, shape);
    ok = tol == 0.0 ? check_true(memcmp(a, b, t->n * sizeof(float)) == 0, name,
                                 "bitwise equal (tol 0)")
                    : check_relerr(par_normerr(a, b, t->n), tol, name);
    free(a);
    free(b);
    return ok;
}


#endif
