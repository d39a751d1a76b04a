/* cuda_tokens.cu: from images to token sequences and back. img[B,CH,H,W] with H = W = G*P;
 * idx[B,TK] (device int32) lists the kept patches (row-major in the G x G grid);
 * patches[B,TK,CH*P*P]; x[B,1+TK,C] is the sequence with the CLS token first; pos[NP,C].
 * A patch index out of range stops the kernel with a device assert, which the next CUDA call
 * reports through CHECK_CUDA (the CPU backend's HASSERT, a step later). */
#include "cuda_common.h"
#include "cuda_ops.h"

#include <assert.h>

/* Threads of the kernels below, which take one row (a patch, a token) per block: the lanes
 * stride the row, and only the row's index is divided, once per block. */
#define ROW_THREADS 128

/* out[b,j,(ch,py,px)] = img[b, ch, gy*P + py, gx*P + px] for patch idx[b,j] = gy*G + gx;
 * block bj = b*TK + j writes patch row out[b,j,:], contiguously. */
__global__ static void patchify_kernel(float *out, const float *img, const int32_t *idx,
                                       int CH, int G, int P, int TK)
{
    size_t bj = blockIdx.x, b = bj / TK;
    int plen = CH * P * P, S = G * P;
    int32_t pi = idx[bj];
    const float *src;

    assert(pi >= 0 && pi < G * G);
    src = img + b * CH * S * S + (size_t)(pi / G) * P * S + (size_t)(pi % G) * P;
    for (int e = threadIdx.x; e < plen; e += blockDim.x) {
        int ch = e / (P * P), py = e / P % P, px = e % P;
        out[bj * plen + e] = src[((size_t)ch * S + py) * S + px];
    }
}


void cuda_patchify(float *out, const float *img, const int32_t *idx,
                   int B, int CH, int G, int P, int TK)
{
    if ((size_t)B * TK * CH * P * P == 0)
        return;
    patchify_kernel<<<B * TK, ROW_THREADS>>>(out, img, idx, CH, G, P, TK);
    CHECK_LAUNCH();
}


/* x[b,0] = cls; x[b,1+j] = emb[b,j] + pos[idx[b,j]]; block bt = b*T + t writes row x[b,t]. */
__global__ static void tokens_forward_kernel(float *x, const float *emb, const float *cls,
                                             const float *pos, const int32_t *idx,
                                             int TK, int NP, int C)
{
    size_t bt = blockIdx.x, b = bt / (TK + 1);
    int t = (int)(bt % (TK + 1));
    float *xr = x + bt * C;
    const float *e, *pr;
    int32_t pi;

    if (t == 0) {
        for (int c = threadIdx.x; c < C; c += blockDim.x)
            xr[c] = cls[c];
        return;
    }
    pi = idx[b * TK + t - 1];
    assert(pi >= 0 && pi < NP);
    e = emb + (b * TK + t - 1) * C;
    pr = pos + (size_t)pi * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        xr[c] = e[c] + pr[c];
}


void cuda_tokens_forward(float *x, const float *emb, const float *cls, const float *pos,
                         const int32_t *idx, int B, int TK, int NP, int C)
{
    if (B <= 0 || C <= 0)
        return;
    tokens_forward_kernel<<<B * (TK + 1), ROW_THREADS>>>(x, emb, cls, pos, idx, TK, NP, C);
    CHECK_LAUNCH();
}


/* demb[b,j] += dx[b,1+j]; block bj = b*TK + j takes row dx[b,1+j]. */
__global__ static void tokens_demb_kernel(float *demb, const float *dx, int TK, int C)
{
    size_t bj = blockIdx.x;
    const float *d = dx + ((bj / TK) * (TK + 1) + 1 + bj % TK) * C;

    for (int c = threadIdx.x; c < C; c += blockDim.x)
        demb[bj * C + c] += d[c];
}


/* dpos[p,:] += dx[b,1+j,:] for every (b, j) with idx[b,j] = p, BTK = B*TK. Several samples
 * keep the same patch, so this is a scatter-add; atomics would make its last bits vary from
 * run to run and break --resume's exact replay. Instead block p scans all of idx, staged in
 * shared memory, and adds its matches in increasing b*TK + j, each thread owning the same
 * columns throughout: the CPU's order, so the result is the same on every run and equal to
 * the CPU's. The price is B*TK compares per thread (a shared-memory broadcast each), small
 * beside the step's matrix products. */
__global__ static void tokens_dpos_kernel(float *dpos, const float *dx, const int32_t *idx,
                                          int BTK, int TK, int NP, int C)
{
    __shared__ int32_t sidx[ROW_THREADS];
    int p = blockIdx.x;
    float *dp = dpos + (size_t)p * C;

    for (int s0 = 0; s0 < BTK; s0 += ROW_THREADS) {
        int m = min(ROW_THREADS, BTK - s0);

        __syncthreads(); /* every thread is done with the previous stage */
        if (threadIdx.x < m) {
            sidx[threadIdx.x] = idx[s0 + threadIdx.x];
            assert(sidx[threadIdx.x] >= 0 && sidx[threadIdx.x] < NP);
        }
        __syncthreads();

        for (int u = 0; u < m; u++) {
            size_t bj = (size_t)s0 + u;
            const float *d;

            if (sidx[u] != p)
                continue;
            d = dx + ((bj / TK) * (TK + 1) + 1 + bj % TK) * C;
            for (int c = threadIdx.x; c < C; c += blockDim.x)
                dp[c] += d[c];
        }
    }
}


/* dcls[c] += dx[b,0,c] for b = 0, 1, ... in order, as the CPU: B rows are too few to split. */
__global__ static void tokens_dcls_kernel(float *dcls, const float *dx, int B, int T, int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    float s;

    if (c >= C)
        return;
    s = dcls[c];
    for (int b = 0; b < B; b++)
        s += dx[(size_t)b * T * C + c];
    dcls[c] = s;
}


/* demb[b,j] += dx[b,1+j]; dcls += sum_b dx[b,0]; dpos[idx[b,j]] += dx[b,1+j]. */
void cuda_tokens_backward(float *demb, float *dcls, float *dpos, const float *dx,
                          const int32_t *idx, int B, int TK, int NP, int C)
{
    if (B > 0 && TK > 0 && C > 0 && demb != NULL) {
        tokens_demb_kernel<<<B * TK, ROW_THREADS>>>(demb, dx, TK, C);
        CHECK_LAUNCH();
    }
    if (B > 0 && TK > 0 && C > 0 && NP > 0 && dpos != NULL) {
        tokens_dpos_kernel<<<NP, ROW_THREADS>>>(dpos, dx, idx, B * TK, TK, NP, C);
        CHECK_LAUNCH();
    }

    if (dcls != NULL && B > 0 && C > 0) {
        tokens_dcls_kernel<<<(C + CUDA_BLOCK - 1) / CUDA_BLOCK, CUDA_BLOCK>>>(dcls, dx, B,
                                                                              TK + 1, C);
        CHECK_LAUNCH();
    }
}


/* out[b,:] = x[b,row,:] for x[B,T,C]: B rows of C floats, T*C apart, as one strided copy. */
void cuda_select_row(float *out, const float *x, int B, int T, int C, int row)
{
    HASSERT(row >= 0 && row < T);
    if (B <= 0 || C <= 0)
        return;
    CHECK_CUDA(cudaMemcpy2DAsync(out, (size_t)C * sizeof(float), x + (size_t)row * C,
                                 (size_t)T * C * sizeof(float), (size_t)C * sizeof(float), B,
                                 cudaMemcpyDeviceToDevice, 0));
}


/* dx[b,row,:] += dout[b,:]; block b takes sample b. */
__global__ static void select_row_backward_kernel(float *dx, const float *dout, int T, int C,
                                                  int row)
{
    size_t b = blockIdx.x;
    float *d = dx + (b * T + row) * C;
    const float *g = dout + b * C;

    for (int c = threadIdx.x; c < C; c += blockDim.x)
        d[c] += g[c];
}


void cuda_select_row_backward(float *dx, const float *dout, int B, int T, int C, int row)
{
    HASSERT(row >= 0 && row < T);
    if (B <= 0 || C <= 0)
        return;
    select_row_backward_kernel<<<B, ROW_THREADS>>>(dx, dout, T, C, row);
    CHECK_LAUNCH();
}
