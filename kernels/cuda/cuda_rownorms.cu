/* cuda_rownorms.cu: norms of rows: L2 normalisation of features inp[N,C] (the DINO head's
 * bottleneck, MoCo/SimCLR embeddings) and weight normalisation of a weight v[OC,IC] by rows
 * (DINO's last layer). One warp per row; lanes stride the row and warp shuffles reduce. */
#include "cuda_common.h"
#include "cuda_ops.h"

/* out[n,:] = inp[n,:] / max(||inp[n,:]||, eps); norm[n] = ||inp[n,:]|| (unclamped, so the
 * backward can tell which side of eps the row was on). */
__global__ static void l2norm_forward_kernel(float *out, float *norm, const float *inp,
                                             int N, int C, float eps)
{
    int n = blockIdx.x * CUDA_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    const float *x = inp + (size_t)n * C;
    float *o = out + (size_t)n * C;
    float ss = 0.0f, nrm, inv;

    if (n >= N)
        return;
    for (int c = lane; c < C; c += 32)
        ss += x[c] * x[c];
    nrm = sqrtf(warp_sum(ss));
    inv = 1.0f / (nrm > eps ? nrm : eps);

    for (int c = lane; c < C; c += 32)
        o[c] = x[c] * inv;
    if (lane == 0)
        norm[n] = nrm;
}


void cuda_l2norm_forward(float *out, float *norm, const float *inp, int N, int C, float eps)
{
    if (N <= 0)
        return;
    l2norm_forward_kernel<<<cuda_row_grid(N), CUDA_WARPS * 32>>>(out, norm, inp, N, C, eps);
    CHECK_LAUNCH();
}


/* Backward of y = x / ||x||: dinp += (dout - y (y . dout)) / ||x||. Below eps the divisor is
 * the constant eps, so there dinp += dout / eps. */
__global__ static void l2norm_backward_kernel(float *dinp, const float *dout, const float *inp,
                                              const float *norm, int N, int C, float eps)
{
    int n = blockIdx.x * CUDA_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    const float *x = inp + (size_t)n * C;
    const float *dy = dout + (size_t)n * C;
    float *dx = dinp + (size_t)n * C;
    float nrm, inv, xdy = 0.0f, k;

    if (n >= N)
        return;
    nrm = norm[n];
    if (!(nrm > eps)) {
        for (int c = lane; c < C; c += 32)
            dx[c] += dy[c] / eps;
        return;
    }

    for (int c = lane; c < C; c += 32)
        xdy += x[c] * dy[c];
    xdy = warp_sum(xdy);
    inv = 1.0f / nrm;
    k = xdy * inv * inv;

    for (int c = lane; c < C; c += 32)
        dx[c] += (dy[c] - x[c] * k) * inv;
}


void cuda_l2norm_backward(float *dinp, const float *dout, const float *inp,
                          const float *norm, int N, int C, float eps)
{
    if (N <= 0 || dinp == NULL)
        return;
    l2norm_backward_kernel<<<cuda_row_grid(N), CUDA_WARPS * 32>>>(dinp, dout, inp, norm, N, C,
                                                                  eps);
    CHECK_LAUNCH();
}


/* w[o,:] = g[o] * v[o,:] / ||v[o,:]|| (g NULL: g = 1); vnorm[o] = ||v[o,:]||. As in PyTorch's
 * weight_norm there is no eps: a zero row of v is a broken model and gives inf/NaN. */
__global__ static void weightnorm_forward_kernel(float *w, float *vnorm, const float *v,
                                                 const float *g, int OC, int IC)
{
    int o = blockIdx.x * CUDA_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    const float *vr = v + (size_t)o * IC;
    float *wr = w + (size_t)o * IC;
    double ss = 0.0;
    float nrm, k;

    if (o >= OC)
        return;
    /* double: IC can be large and a norm's error scales every weight of the row */
    for (int i = lane; i < IC; i += 32)
        ss += (double)vr[i] * vr[i];
    nrm = (float)sqrt(warp_sum_double(ss));
    k = (g ? g[o] : 1.0f) / nrm;

    for (int i = lane; i < IC; i += 32)
        wr[i] = vr[i] * k;
    if (lane == 0)
        vnorm[o] = nrm;
}


void cuda_weightnorm_forward(float *w, float *vnorm, const float *v, const float *g,
                             int OC, int IC)
{
    if (OC <= 0)
        return;
    weightnorm_forward_kernel<<<cuda_row_grid(OC), CUDA_WARPS * 32>>>(w, vnorm, v, g, OC, IC);
    CHECK_LAUNCH();
}


/* Backward of w = g v / ||v|| given dw[OC,IC], per row with s = v . dw:
 *   dg += s / ||v||;  dv += (g / ||v||) * (dw - v * s / ||v||^2). */
__global__ static void weightnorm_backward_kernel(float *dv, float *dg, const float *dw,
                                                  const float *v, const float *g,
                                                  const float *vnorm, int OC, int IC)
{
    int o = blockIdx.x * CUDA_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    const float *vr = v + (size_t)o * IC;
    const float *dwr = dw + (size_t)o * IC;
    float inv, gg, s = 0.0f, k;

    if (o >= OC)
        return;
    inv = 1.0f / vnorm[o];
    gg = g ? g[o] : 1.0f;
    for (int i = lane; i < IC; i += 32)
        s += vr[i] * dwr[i];
    s = warp_sum(s);
    if (lane == 0 && dg != NULL && g != NULL)
        dg[o] += s * inv;
    if (dv == NULL)
        return;

    k = s * inv * inv;
    for (int i = lane; i < IC; i += 32)
        dv[(size_t)o * IC + i] += gg * inv * (dwr[i] - vr[i] * k);
}


void cuda_weightnorm_backward(float *dv, float *dg, const float *dw, const float *v,
                              const float *g, const float *vnorm, int OC, int IC)
{
    if (OC <= 0 || (dv == NULL && (dg == NULL || g == NULL)))
        return;
    weightnorm_backward_kernel<<<cuda_row_grid(OC), CUDA_WARPS * 32>>>(dv, dg, dw, v, g, vnorm,
                                                                       OC, IC);
    CHECK_LAUNCH();
}
