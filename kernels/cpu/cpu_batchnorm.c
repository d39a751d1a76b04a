/* cpu_batchnorm.c: BatchNorm1d over the batch dim of inp[N,C] (N samples, C features), as
 * PyTorch: training normalises with the biased batch variance and moves the running variance
 * towards the unbiased one. Statistics run down columns, so threads take blocks of
 * BN_BLOCK adjacent columns and stream over rows, each row touching one or two cache lines. */
#include "cpu_ops.h"
#include "common.h"

#include <math.h>

#define BN_BLOCK 32


/* Batch mean and biased variance of columns c0..c1-1 (two passes, in double). */
static void bn_block_stats(double *mu, double *var, const float *inp, int N, int C,
                           int c0, int c1)
{
    for (int c = c0; c < c1; c++)
        mu[c - c0] = var[c - c0] = 0.0;

    for (int n = 0; n < N; n++) {
        const float *restrict x = inp + (size_t)n * C;
        #pragma omp simd
        for (int c = c0; c < c1; c++)
            mu[c - c0] += x[c];
    }
    for (int c = c0; c < c1; c++)
        mu[c - c0] /= N;

    for (int n = 0; n < N; n++) {
        const float *restrict x = inp + (size_t)n * C;
        #pragma omp simd
        for (int c = c0; c < c1; c++)
            var[c - c0] += (x[c] - mu[c - c0]) * (x[c] - mu[c - c0]);
    }
    for (int c = c0; c < c1; c++)
        var[c - c0] /= N;
}


/* out[N,C] = (inp - mean) * rstd * w + b; train != 0 uses and saves batch statistics in
 * mean[C], rstd[C] and updates run_mean/run_var (either may be NULL: not tracked);
 * train == 0 normalises with the running statistics, updates nothing, and (when mean and
 * rstd are not NULL) stores the statistics it used there. w and b may be NULL. */
void cpu_batchnorm_forward(float *out, float *mean, float *rstd, float *run_mean,
                           float *run_var, const float *inp, const float *w, const float *b,
                           int N, int C, float eps, float momentum, int train)
{
    int nblk = (C + BN_BLOCK - 1) / BN_BLOCK;

    HASSERT(!train || N > 1); /* PyTorch refuses too: one sample has no variance */

    #pragma omp parallel for if ((size_t)N * C >= CPU_PAR_MIN) schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * BN_BLOCK, c1 = c0 + BN_BLOCK < C ? c0 + BN_BLOCK : C;
        double mu[BN_BLOCK], var[BN_BLOCK];
        float fm[BN_BLOCK], fs[BN_BLOCK];

        if (train) {
            bn_block_stats(mu, var, inp, N, C, c0, c1);
            for (int c = c0; c < c1; c++) {
                double unbiased = var[c - c0] * N / (N - 1);
                fm[c - c0] = (float)mu[c - c0];
                fs[c - c0] = (float)(1.0 / sqrt(var[c - c0] + eps));
                if (run_mean != NULL)
                    run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * fm[c - c0];
                if (run_var != NULL)
                    run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * unbiased);
            }
        } else {
            HASSERT(run_mean != NULL && run_var != NULL);
            for (int c = c0; c < c1; c++) {
                fm[c - c0] = run_mean[c];
                fs[c - c0] = (float)(1.0 / sqrt((double)run_var[c] + eps));
            }
        }

        for (int c = c0; c < c1; c++) {
            if (mean != NULL)
                mean[c] = fm[c - c0];
            if (rstd != NULL)
                rstd[c] = fs[c - c0];
        }

        for (int n = 0; n < N; n++) {
            const float *restrict x = inp + (size_t)n * C;
            float *restrict o = out + (size_t)n * C;
            #pragma omp simd
            for (int c = c0; c < c1; c++) {
                float y = (x[c] - fm[c - c0]) * fs[c - c0];
                o[c] = (w ? y * w[c] : y) + (b ? b[c] : 0.0f);
            }
        }
    }
}


/* Backward of the train-mode forward, y = norm * w + b with norm = (x - mean) * rstd and
 * mean, var functions of the whole column. Per column, with Sb = sum_n dout and
 * Sw = sum_n dout * norm (w constant along the column, so sum dnorm = w Sb and
 * sum dnorm * norm = w Sw):
 *   dinp += rstd * w * (dout - Sb / N - norm * Sw / N);  dw += Sw;  db += Sb. */
void cpu_batchnorm_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, const float *mean,
                            const float *rstd, int N, int C)
{
    int nblk = (C + BN_BLOCK - 1) / BN_BLOCK;

    #pragma omp parallel for if ((size_t)N * C >= CPU_PAR_MIN) schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * BN_BLOCK, c1 = c0 + BN_BLOCK < C ? c0 + BN_BLOCK : C;
        double sb[BN_BLOCK] = {0}, sw[BN_BLOCK] = {0};
        float gm[BN_BLOCK], gn[BN_BLOCK];

        for (int n = 0; n < N; n++) {
            const float *restrict x = inp + (size_t)n * C;
            const float *restrict dy = dout + (size_t)n * C;
            #pragma omp simd
            for (int c = c0; c < c1; c++) {
                sb[c - c0] += dy[c];
                sw[c - c0] += dy[c] * (x[c] - mean[c]) * rstd[c];
            }
        }

        for (int c = c0; c < c1; c++) {
            if (dw != NULL)
                dw[c] += (float)sw[c - c0];
            if (db != NULL)
                db[c] += (float)sb[c - c0];
            gm[c - c0] = (float)(sb[c - c0] / N);
            gn[c - c0] = (float)(sw[c - c0] / N);
        }
        if (dinp == NULL)
            continue;

        for (int n = 0; n < N; n++) {
            const float *restrict x = inp + (size_t)n * C;
            const float *restrict dy = dout + (size_t)n * C;
            float *restrict dx = dinp + (size_t)n * C;
            #pragma omp simd
            for (int c = c0; c < c1; c++) {
                float nrm = (x[c] - mean[c]) * rstd[c];
                float g = rstd[c] * (w ? w[c] : 1.0f);
                dx[c] += g * (dy[c] - gm[c - c0] - nrm * gn[c - c0]);
            }
        }
    }
}
