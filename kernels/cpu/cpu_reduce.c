/* cpu_reduce.c: reductions in double: column sums of x[N,K], sums of squares, finiteness.
 * Each thread sums a fixed block of rows into its own partial and the partials are added in
 * thread order, so for a given thread count the result is the same on every run. */
#include "cpu_ops.h"
#include "cpu_mathfn.h"
#include "common.h"

#include <omp.h>

/* out[k] (+)= sum_n x[n,k] for x[N,K], accumulated in double; accumulate != 0 adds into out. */
void cpu_colsum(float *out, const float *x, int N, int K, int accumulate)
{
    int nt = (size_t)N * K >= CPU_PAR_MIN ? omp_get_max_threads() : 1;
    double *part = xcalloc((size_t)nt * K, sizeof(double));

    #pragma omp parallel num_threads(nt)
    {
        int used = omp_get_num_threads(), t = omp_get_thread_num();
        int n0 = (int)((long)N * t / used), n1 = (int)((long)N * (t + 1) / used);
        double *restrict acc = part + (size_t)t * K;

        for (int n = n0; n < n1; n++) {
            const float *restrict xn = x + (size_t)n * K;
            #pragma omp simd
            for (int k = 0; k < K; k++)
                acc[k] += xn[k];
        }

        #pragma omp barrier
        #pragma omp for schedule(static)
        for (int k = 0; k < K; k++) {
            double s = accumulate ? out[k] : 0.0;
            for (int u = 0; u < used; u++)
                s += part[(size_t)u * K + k];
            out[k] = (float)s;
        }
    }
    free(part);
}


void cpu_sum_rows(float *out, const float *x, int N, int K)
{
    cpu_colsum(out, x, N, K, 0);
}


/* sum_i x[i]^2 in double: gradient norms of a few million parameters lose digits in float. */
double cpu_sumsq(const float *x, size_t n)
{
    int nt = n >= CPU_PAR_MIN ? omp_get_max_threads() : 1;
    double part[nt > 0 ? nt : 1], s = 0.0;
    int used = 1;

    #pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num();
        size_t i0, i1;
        double acc = 0.0;

        #pragma omp single
        used = omp_get_num_threads();
        i0 = n * t / used;
        i1 = n * (t + 1) / used;
        #pragma omp simd reduction(+:acc)
        for (size_t i = i0; i < i1; i++)
            acc += (double)x[i] * x[i];
        part[t] = acc;
    }

    for (int t = 0; t < used; t++)
        s += part[t];
    return s;
}


/* 1 when no element is NaN or +-inf: an exponent field of all ones marks both. */
int cpu_all_finite(const float *x, size_t n)
{
    int ok = 1;

    #pragma omp parallel for simd if (parallel: n >= CPU_PAR_MIN) reduction(&:ok) schedule(static)
    for (size_t i = 0; i < n; i++)
        ok &= (cpu_float_to_bits(x[i]) & 0x7f800000) != 0x7f800000;
    return ok;
}
