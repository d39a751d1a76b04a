/* ci.h: small confidence-interval helpers shared by the analysis code.
 * Jackknife variances, Student-t quantiles, Welch-Satterthwaite degrees of freedom and a
 * median for repeated timings. All inputs are plain double arrays. */
#ifndef HASTEN_CI_H
#define HASTEN_CI_H

#include <stddef.h>

/* The two-sided Student-t multiplier: t such that P(|T| <= t) = level with dof degrees of
 * freedom (dof may be fractional, >= 1); level in (0, 1). */
double ci_t_multiplier(double level, double dof);

/* The delete-one jackknife variance of a statistic from its m leave-one-out replicates
 * rep[0..m): (m-1)/m * sum_j (rep[j] - mean(rep))^2. m >= 2. */
double ci_jackknife_var(const double *rep, size_t m);

/* Welch-Satterthwaite degrees of freedom of var1 + var2, where var_i is an estimated variance
 * with df_i degrees of freedom. A zero term drops out; if both are zero, min(df1, df2). */
double ci_satterthwaite_dof(double var1, double df1, double var2, double df2);

/* The median of x[0..n) (n >= 1); x is left untouched. */
double ci_median(const double *x, size_t n);

#endif
