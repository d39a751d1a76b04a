/* cpu_layernorm.c: layer norm over the last dim of inp[N,C] (N = B*T tokens, C width), with
 * weight w[C] and bias b[C]; the forward saves mean[N] and rstd[N] = 1/sqrt(var + eps) for
 * the backward. Rows are independent, so both passes split rows over OpenMP threads. */
#include "cpu_ops.h"
#include "common.h"

#include <math.h>
#include <omp.h>

/* out[n,:] = (inp[n,:] - mean) * rstd * w + b, with the biased variance as nn.LayerNorm.
 * Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2, which cancels
 * badly when |mean| >> std. */
void cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                           const float *w, const float *b, int N, int C, float eps)
{
    #pragma omp parallel for if ((size_t)N * C >= CPU_PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *restrict x = inp + (size_t)n * C;
        float *restrict o = out + (size_t)n * C;
        float m = 0.0f, v = 0.0f, s;

        #pragma omp simd reduction(+:m)
        for (int c = 0; c < C; c++)
            m += x[c];
        m /= (float)C;

        #pragma omp simd reduction(+:v)
        for (int c = 0; c < C; c++)
            v += (x[c] - m) * (x[c] - m);
        s = 1.0f / sqrtf(v / (float)C + eps);

        #pragma omp simd
        for (int c = 0; c < C; c++)
            o[c] = (x[c] - m) * s * w[c] + b[c];
        mean[n] = m;
        rstd[n] = s;
    }
}


/* Backward of y = norm * w + b, norm = (x - mean) * rstd. With dnorm = dout * w:
 *   dinp += rstd * (dnorm - mean_c(dnorm) - norm * mean_c(dnorm * norm))
 *   dw += sum_n dout * norm;  db += sum_n dout.
 * dw and db sum over rows, so each thread sums its rows into its own partial, and the
 * partials are added in thread order (same result on every run at a given thread count). */
void cpu_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, const float *mean,
                            const float *rstd, int N, int C)
{
    int nt = (size_t)N * C >= CPU_PAR_MIN ? omp_get_max_threads() : 1;
    float *part = xcalloc((size_t)2 * nt * C, sizeof(float));

    #pragma omp parallel num_threads(nt)
    {
        int used = omp_get_num_threads(), t = omp_get_thread_num();
        int n0 = (int)((long)N * t / used), n1 = (int)((long)N * (t + 1) / used);
        float *restrict pdw = part + (size_t)2 * t * C;
        float *restrict pdb = pdw + C;

        for (int n = n0; n < n1; n++) {
            const float *restrict x = inp + (size_t)n * C;
            const float *restrict dy = dout + (size_t)n * C;
            float m = mean[n], s = rstd[n], sd = 0.0f, sdn = 0.0f;

            #pragma omp simd reduction(+:sd, sdn)
            for (int c = 0; c < C; c++) {
                float dn = w[c] * dy[c];
                sd += dn;
                sdn += dn * (x[c] - m) * s;
            }
            sd /= (float)C;
            sdn /= (float)C;

            if (dinp != NULL) {
                float *restrict dx = dinp + (size_t)n * C;
                #pragma omp simd
                for (int c = 0; c < C; c++)
                    dx[c] += s * (w[c] * dy[c] - sd - (x[c] - m) * s * sdn);
            }

            #pragma omp simd
            for (int c = 0; c < C; c++) {
                pdw[c] += dy[c] * (x[c] - m) * s;
                pdb[c] += dy[c];
            }
        }

        #pragma omp barrier
        #pragma omp for schedule(static)
        for (int c = 0; c < C; c++) {
            double sw = 0.0, sb = 0.0;
            for (int u = 0; u < used; u++) {
                sw += part[(size_t)2 * u * C + c];
                sb += part[(size_t)2 * u * C + C + c];
            }
            if (dw != NULL)
                dw[c] += (float)sw;
            if (db != NULL)
                db[c] += (float)sb;
        }
    }
    free(part);
}
