/* cuda_xent.cu: softmax and softmax cross-entropy over the rows of logits[N,K], the last step
 * of the self-supervised losses. One block of CUDA_BLOCK threads per row, since DINO's rows
 * are K = 65536 wide; max, exp sums and log in double, as the CPU backend. */
#include "cuda_common.h"
#include "cuda_ops.h"

#include <math.h>

/* Max over a block of CUDA_BLOCK threads, by comparison as the CPU; every thread gets it.
 * Every thread must call; the closing barrier lets the next reduction reuse the shared slots. */
static __device__ double block_max_all(double v)
{
    __shared__ double part[CUDA_BLOCK / 32];
    __shared__ double total;
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;

    for (int o = 16; o > 0; o >>= 1) {
        double u = __shfl_xor_sync(0xffffffffu, v, o);
        v = u > v ? u : v;
    }
    if (lane == 0)
        part[warp] = v;
    __syncthreads();

    if (threadIdx.x == 0) {
        double m = part[0];
        for (int w = 1; w < CUDA_BLOCK / 32; w++)
            m = part[w] > m ? part[w] : m;
        total = m;
    }
    __syncthreads();
    v = total;
    __syncthreads();
    return v;
}


/* block_sum_double handed to every thread of the block; every thread must call. */
static __device__ double block_sum_all(double v)
{
    __shared__ double total;

    v = block_sum_double(v);
    if (threadIdx.x == 0)
        total = v;
    __syncthreads();
    v = total;
    __syncthreads();
    return v;
}


/* Row n = blockIdx.x of xent_rows (backend.h): t[n,k] is target[n,k] or the one-hot label. */
__global__ static void xent_rows_kernel(float *loss, float *dlogits, const float *logits,
                                        const float *target, int K, int shift, int mask_self,
                                        double scale, double gscale)
{
    int n = blockIdx.x, skip = mask_self ? n : -1, label = (int)(((long)n + shift) % K);
    const float *x = logits + (size_t)n * K;
    const float *t = target != NULL ? target + (size_t)n * K : NULL;
    double mx = -INFINITY, sum = 0.0, m = 0.0, tx = 0.0, lse;

    for (int k = threadIdx.x; k < K; k += blockDim.x)
        if (k != skip && scale * x[k] > mx)
            mx = scale * x[k];
    mx = block_max_all(mx);

    for (int k = threadIdx.x; k < K; k += blockDim.x) {
        double tk = t != NULL ? (double)t[k] : (k == label ? 1.0 : 0.0);
        if (k == skip)
            continue;
        sum += exp(scale * x[k] - mx);
        m += tk;
        tx += tk * scale * x[k];
    }
    lse = mx + log(block_sum_all(sum));
    m = block_sum_all(m);
    tx = block_sum_all(tx);
    if (threadIdx.x == 0)
        loss[n] = (float)(m * lse - tx);

    /* d(m lse - sum_k t_k x_k)/dx_k = m p_k - t_k, and dx_k/dlogit_k = scale */
    if (dlogits == NULL)
        return;
    for (int k = threadIdx.x; k < K; k += blockDim.x) {
        double tk = t != NULL ? (double)t[k] : (k == label ? 1.0 : 0.0);
        dlogits[(size_t)n * K + k] =
            k == skip ? 0.0f : (float)(gscale * scale * (m * exp(scale * x[k] - lse) - tk));
    }
}


void cuda_xent_rows(float *loss, float *dlogits, const float *logits, const float *target,
                    int N, int K, int shift, int mask_self, float scale, float gscale)
{
    HASSERT(N >= 0 && K >= 1 && shift >= 0);
    HASSERT(!mask_self || (N <= K && K >= 2));
    if (N == 0)
        return;
    xent_rows_kernel<<<N, CUDA_BLOCK>>>(loss, dlogits, logits, target, K, shift, mask_self,
                                        (double)scale, (double)gscale);
    CHECK_LAUNCH();
}


/* Row n = blockIdx.x of softmax_rows: (x - c) * inv_temp recomputed in each pass, no scratch. */
__global__ static void softmax_center_kernel(float *out, const float *inp, const float *center,
                                             int K, double inv_temp)
{
    const float *x = inp + (size_t)blockIdx.x * K;
    float *o = out + (size_t)blockIdx.x * K;
    double mx = -INFINITY, sum = 0.0, lse;

    for (int k = threadIdx.x; k < K; k += blockDim.x) {
        double v = ((double)x[k] - (center != NULL ? (double)center[k] : 0.0)) * inv_temp;
        mx = v > mx ? v : mx;
    }
    mx = block_max_all(mx);

    for (int k = threadIdx.x; k < K; k += blockDim.x)
        sum += exp(((double)x[k] - (center != NULL ? (double)center[k] : 0.0)) * inv_temp - mx);
    lse = mx + log(block_sum_all(sum));

    for (int k = threadIdx.x; k < K; k += blockDim.x)
        o[k] = (float)exp(((double)x[k] - (center != NULL ? (double)center[k] : 0.0)) * inv_temp
                          - lse);
}


void cuda_softmax_rows(float *out, const float *inp, const float *center, int N, int K,
                       float inv_temp)
{
    HASSERT(N >= 0 && K >= 1);
    if (N == 0)
        return;
    softmax_center_kernel<<<N, CUDA_BLOCK>>>(out, inp, center, K, (double)inv_temp);
    CHECK_LAUNCH();
}
