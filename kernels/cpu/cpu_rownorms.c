/* cpu_rownorms.c: norms of rows: L2 normalisation of features inp[N,C] (the DINO head's
 * bottleneck, MoCo/SimCLR embeddings) and weight normalisation of a weight v[OC,IC] by rows
 * (DINO's last layer). Rows are independent: OpenMP splits rows. */
#include "cpu_ops.h"

#include <math.h>

/* out[n,:] = inp[n,:] / max(||inp[n,:]||, eps); norm[n] = ||inp[n,:]|| (unclamped, so the
 * backward can tell which side of eps the row was on). */
void cpu_l2norm_forward(float *out, float *norm, const float *inp, int N, int C, float eps)
{
    #pragma omp parallel for if ((size_t)N * C >= CPU_PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *restrict x = inp + (size_t)n * C;
        float *restrict o = out + (size_t)n * C;
        float ss = 0.0f, nrm, inv;

        #pragma omp simd reduction(+:ss)
        for (int c = 0; c < C; c++)
            ss += x[c] * x[c];
        nrm = sqrtf(ss);
        inv = 1.0f / (nrm > eps ? nrm : eps);

        #pragma omp simd
        for (int c = 0; c < C; c++)
            o[c] = x[c] * inv;
        norm[n] = nrm;
    }
}


/* Backward of y = x / ||x||: dinp += (dout - y (y . dout)) / ||x||. Below eps the divisor is
 * the constant eps, so there dinp += dout / eps. */
void cpu_l2norm_backward(float *dinp, const float *dout, const float *inp,
                         const float *norm, int N, int C, float eps)
{
    #pragma omp parallel for if ((size_t)N * C >= CPU_PAR_MIN) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *restrict x = inp + (size_t)n * C;
        const float *restrict dy = dout + (size_t)n * C;
        float *restrict dx = dinp + (size_t)n * C;
        float nrm = norm[n], inv, xdy = 0.0f, k;

        if (!(nrm > eps)) {
            #pragma omp simd
            for (int c = 0; c < C; c++)
                dx[c] += dy[c] / eps;
            continue;
        }

        #pragma omp simd reduction(+:xdy)
        for (int c = 0; c < C; c++)
            xdy += x[c] * dy[c];
        inv = 1.0f / nrm;
        k = xdy * inv * inv;

        #pragma omp simd
        for (int c = 0; c < C; c++)
            dx[c] += (dy[c] - x[c] * k) * inv;
    }
}


/* w[o,:] = g[o] * v[o,:] / ||v[o,:]|| (g NULL: g = 1); vnorm[o] = ||v[o,:]||. As in PyTorch's
 * weight_norm there is no eps: a zero row of v is a broken model and gives inf/NaN. */
void cpu_weightnorm_forward(float *w, float *vnorm, const float *v, const float *g,
                            int OC, int IC)
{
    #pragma omp parallel for if ((size_t)OC * IC >= CPU_PAR_MIN) schedule(static)
    for (int o = 0; o < OC; o++) {
        const float *restrict vr = v + (size_t)o * IC;
        float *restrict wr = w + (size_t)o * IC;
        double ss = 0.0;
        float nrm, k;

        /* double: IC can be large and a norm's error scales every weight of the row */
        #pragma omp simd reduction(+:ss)
        for (int i = 0; i < IC; i++)
            ss += (double)vr[i] * vr[i];
        nrm = (float)sqrt(ss);
        k = (g ? g[o] : 1.0f) / nrm;

        #pragma omp simd
        for (int i = 0; i < IC; i++)
            wr[i] = vr[i] * k;
        vnorm[o] = nrm;
    }
}


/* Backward of w = g v / ||v|| given dw[OC,IC], per row with s = v . dw:
 *   dg += s / ||v||;  dv += (g / ||v||) * (dw - v * s / ||v||^2). */
void cpu_weightnorm_backward(float *dv, float *dg, const float *dw, const float *v,
                             const float *g, const float *vnorm, int OC, int IC)
{
    #pragma omp parallel for if ((size_t)OC * IC >= CPU_PAR_MIN) schedule(static)
    for (int o = 0; o < OC; o++) {
        const float *restrict vr = v + (size_t)o * IC;
        const float *restrict dwr = dw + (size_t)o * IC;
        float inv = 1.0f / vnorm[o], gg = g ? g[o] : 1.0f, s = 0.0f, k;

        #pragma omp simd reduction(+:s)
        for (int i = 0; i < IC; i++)
            s += vr[i] * dwr[i];
        if (dg != NULL && g != NULL)
            dg[o] += s * inv;
        if (dv == NULL)
            continue;

        k = s * inv * inv;
        #pragma omp simd
        for (int i = 0; i < IC; i++)
            dv[(size_t)o * IC + i] += gg * inv * (dwr[i] - vr[i] * k);
    }
}
