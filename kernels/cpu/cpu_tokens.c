/* cpu_tokens.c: from images to token sequences and back. img[B,CH,H,W] with H = W = G*P;
 * idx[B,TK] lists the kept patches (row-major in the G x G grid); patches[B,TK,CH*P*P];
 * x[B,1+TK,C] is the sequence with the CLS token first; pos[NP,C], NP = G*G. */
#include "cpu_ops.h"
#include "common.h"

#include <omp.h>
#include <string.h>

/* out[b,j,(ch,py,px)] = img[b, ch, gy*P + py, gx*P + px] for patch idx[b,j] = gy*G + gx. */
void cpu_patchify(float *out, const float *img, const int32_t *idx,
                  int B, int CH, int G, int P, int TK)
{
    int S = G * P;
    size_t plen = (size_t)CH * P * P;

    #pragma omp parallel for collapse(2) if ((size_t)B * TK * plen >= CPU_PAR_MIN)
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < TK; j++) {
            int32_t pi = idx[(size_t)b * TK + j];
            float *o = out + ((size_t)b * TK + j) * plen;

            HASSERT(pi >= 0 && pi < G * G);
            for (int ch = 0; ch < CH; ch++) {
                const float *src = img + (((size_t)b * CH + ch) * S + (size_t)(pi / G) * P) * S
                                   + (size_t)(pi % G) * P;
                for (int py = 0; py < P; py++)
                    memcpy(o + ((size_t)ch * P + py) * P, src + (size_t)py * S,
                           (size_t)P * sizeof(float));
            }
        }
    }
}


/* x[b,0] = cls; x[b,1+j] = emb[b,j] + pos[idx[b,j]]. emb[B,TK,C], pos[NP,C]. */
void cpu_tokens_forward(float *x, const float *emb, const float *cls, const float *pos,
                        const int32_t *idx, int B, int TK, int NP, int C)
{
    int T = TK + 1;

    #pragma omp parallel for collapse(2) if ((size_t)B * T * C >= CPU_PAR_MIN)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            float *restrict xr = x + ((size_t)b * T + t) * C;
            const float *restrict e, *restrict pr;
            int32_t pi;

            if (t == 0) {
                memcpy(xr, cls, (size_t)C * sizeof(float));
                continue;
            }
            pi = idx[(size_t)b * TK + t - 1];
            HASSERT(pi >= 0 && pi < NP);
            e = emb + ((size_t)b * TK + t - 1) * C;
            pr = pos + (size_t)pi * C;
            #pragma omp simd
            for (int c = 0; c < C; c++)
                xr[c] = e[c] + pr[c];
        }
    }
}


/* demb[b,j] += dx[b,1+j]; dcls += sum_b dx[b,0]; dpos[idx[b,j]] += dx[b,1+j].
 * Several samples keep the same patch, so dpos is a scatter-add: each thread owns a range of
 * pos rows and scans all of idx for them, which avoids atomics and keeps the order of
 * additions (b, j increasing) the same on every run. */
void cpu_tokens_backward(float *demb, float *dcls, float *dpos, const float *dx,
                         const int32_t *idx, int B, int TK, int NP, int C)
{
    int T = TK + 1;
    int par = (size_t)B * T * C >= CPU_PAR_MIN;

    if (demb != NULL) {
        #pragma omp parallel for collapse(2) if (par)
        for (int b = 0; b < B; b++) {
            for (int j = 0; j < TK; j++) {
                float *restrict de = demb + ((size_t)b * TK + j) * C;
                const float *restrict d = dx + ((size_t)b * T + 1 + j) * C;
                #pragma omp simd
                for (int c = 0; c < C; c++)
                    de[c] += d[c];
            }
        }
    }

    if (dcls != NULL) {
        for (int b = 0; b < B; b++) {
            const float *restrict d = dx + (size_t)b * T * C;
            #pragma omp simd
            for (int c = 0; c < C; c++)
                dcls[c] += d[c];
        }
    }

    if (dpos == NULL)
        return;
    #pragma omp parallel if (par)
    {
        int used = omp_get_num_threads(), t = omp_get_thread_num();
        int p0 = (int)((long)NP * t / used), p1 = (int)((long)NP * (t + 1) / used);

        for (size_t bj = 0; bj < (size_t)B * TK; bj++) {
            int32_t pi = idx[bj];
            HASSERT(pi >= 0 && pi < NP);
            if (pi < p0 || pi >= p1)
                continue;
            float *restrict dp = dpos + (size_t)pi * C;
            const float *restrict d = dx + ((bj / TK) * T + 1 + bj % TK) * C;
            #pragma omp simd
            for (int c = 0; c < C; c++)
                dp[c] += d[c];
        }
    }
}


/* out[b,:] = x[b,row,:] for x[B,T,C]. */
void cpu_select_row(float *out, const float *x, int B, int T, int C, int row)
{
    HASSERT(row >= 0 && row < T);
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * C, x + ((size_t)b * T + row) * C, (size_t)C * sizeof(float));
}


/* dx[b,row,:] += dout[b,:]. */
void cpu_select_row_backward(float *dx, const float *dout, int B, int T, int C, int row)
{
    HASSERT(row >= 0 && row < T);
    for (int b = 0; b < B; b++) {
        float *restrict d = dx + ((size_t)b * T + row) * C;
        const float *restrict g = dout + (size_t)b * C;
        #pragma omp simd
        for (int c = 0; c < C; c++)
            d[c] += g[c];
    }
}
