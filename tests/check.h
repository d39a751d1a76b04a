/* check.h: the tiny test harness every test program uses.
 * Each check prints PASS or FAIL with its name, the observed and the expected value;
 * check_summary() prints "N passed, N failed" and returns the exit status. */
#ifndef HASTEN_CHECK_H
#define HASTEN_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_npass, check_nfail;

/* The hasten program that end-to-end tests run: $HASTEN_BIN when set (`make test-asan` points
 * it at its sanitizer build), else build/hasten. */
static inline const char *check_hasten_bin(void)
{
    const char *s = getenv("HASTEN_BIN");
    return s != NULL && s[0] != '\0' ? s : "build/hasten";
}

/* A boolean check with a free-form detail line. */
static inline int check_true(int ok, const char *name, const char *detail)
{
    printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", name, detail ? ": " : "", detail ? detail : "");
    if (ok) check_npass++; else check_nfail++;
    return ok;
}

/* |observed - expected| <= tol. */
static inline int check_close(double observed, double expected, double tol, const char *name)
{
    /* An infinite expected value or tolerance would make any observation pass. */
    int ok = isfinite(observed) && isfinite(expected) && isfinite(tol) &&
             fabs(observed - expected) <= tol;
    printf("%s %s: observed %.9g, expected %.9g (tol %.2g)\n",
           ok ? "PASS" : "FAIL", name, observed, expected, tol);
    if (ok) check_npass++; else check_nfail++;
    return ok;
}

/* A relative error (already computed) at most tol. */
static inline int check_relerr(double relerr, double tol, const char *name)
{
    int ok = isfinite(relerr) && relerr <= tol;
    printf("%s %s: relative error %.3g (tol %.2g)\n", ok ? "PASS" : "FAIL", name, relerr, tol);
    if (ok) check_npass++; else check_nfail++;
    return ok;
}

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_npass, check_nfail);
    return check_nfail == 0 ? 0 : 1;
}

#endif
