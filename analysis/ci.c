/* ci.c: confidence-interval helpers (jackknife, Student t, Satterthwaite, median) on GSL. */
#include "ci.h"
#include "common.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <string.h>


double ci_t_multiplier(double level, double dof)
{
    HASSERT(level > 0.0 && level < 1.0);
    HASSERT(dof >= 1.0);
    return gsl_cdf_tdist_Pinv(0.5 + 0.5 * level, dof);
}


double ci_jackknife_var(const double *rep, size_t m)
{
    double mean = 0.0, ss = 0.0;

    HASSERT(m >= 2);
    for (size_t j = 0; j < m; j++)
        mean += rep[j];
    mean /= (double)m;
    for (size_t j = 0; j < m; j++)
        ss += (rep[j] - mean) * (rep[j] - mean);
    return ss * (double)(m - 1) / (double)m;
}


double ci_satterthwaite_dof(double var1, double df1, double var2, double df2)
{
    double den = 0.0;

    HASSERT(df1 >= 1.0 && df2 >= 1.0);
    if (var1 > 0.0)
        den += var1 * var1 / df1;
    if (var2 > 0.0)
        den += var2 * var2 / df2;
    if (!(den > 0.0))
        return df1 < df2 ? df1 : df2;
    return (var1 + var2) * (var1 + var2) / den;
}


double ci_median(const double *x, size_t n)
{
    double *tmp, med;

    HASSERT(n >= 1);
    tmp = xmalloc(n * sizeof *tmp);
    memcpy(tmp, x, n * sizeof *tmp);
    gsl_sort(tmp, 1, n);
    med = gsl_stats_median_from_sorted_data(tmp, 1, n);
    free(tmp);
    return med;
}
