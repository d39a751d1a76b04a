/* cuda_common.h: what every CUDA kernel file shares: the error-check macros, launch sizes,
 * warp and block reductions, and the C headers (backend.h, common.h) with C linkage.
 * Tensors are float32 row-major device arrays with the shapes named in backend.h. */
#ifndef HASTEN_CUDA_COMMON_H
#define HASTEN_CUDA_COMMON_H

/* The C library headers first, outside extern "C": in C++ they pull in templates, which
 * cannot have C linkage; common.h's own includes of them are then no-ops. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "backend.h"
#include "common.h"
}

/* One check per library: the failed call, its error string, file and line, then exit 1. */
#define CHECK_CUDA(call) \
    do { cudaError_t err_ = (call); if (err_ != cudaSuccess) \
        die_at(__FILE__, __LINE__, __func__, "CUDA_LAUNCH_BLOCKING=1 pins an asynchronous " \
               "error to the call that caused it", "%s: %s", #call, cudaGetErrorString(err_)); \
    } while (0)

#define CHECK_CUBLAS(call) \
    do { cublasStatus_t st_ = (call); if (st_ != CUBLAS_STATUS_SUCCESS) \
        die_at(__FILE__, __LINE__, __func__, NULL, "%s: %s", #call, \
               cublasGetStatusString(st_)); } while (0)

/* A kernel launch reports a bad configuration only through cudaGetLastError. */
#define CHECK_LAUNCH() CHECK_CUDA(cudaGetLastError())

/* Threads per block of the flat (grid-stride) kernels, and the most blocks they launch:
 * past that each thread takes several elements. */
#define CUDA_BLOCK 256
#define CUDA_MAX_GRID (1u << 20)

/* The loop of a flat kernel launched with cuda_grid(n) blocks: i visits every index below n
 * whatever the grid size. */
#define GRID_STRIDE_LOOP(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (size_t)gridDim.x * blockDim.x)

/* Rows per block of the one-warp-per-row kernels (256 threads). */
#define CUDA_WARPS 8

/* The shared cuBLAS handle, made once by backend_cuda() (cuda_backend.cu). */
extern cublasHandle_t cuda_cublas;

/* Grow-only device buffers kept between calls, so no operation allocates in the hot path.
 * Each slot serves one use at a time; all work runs on one stream, so a slot is free again
 * as soon as the next operation is enqueued. */
enum CudaScratchSlot {
    SCRATCH_PARTIALS, /* per-chunk partial sums of reductions (double) */
    SCRATCH_RESULT,   /* the few bytes a reduction hands back to the host */
    SCRATCH_STAGE,    /* staging for copies whose source and destination overlap */
    SCRATCH_COUNT
};
void *cuda_scratch(int slot, size_t bytes);


/* Blocks for a grid-stride loop over n elements (n > 0). */
static inline unsigned cuda_grid(size_t n)
{
    size_t g = (n + CUDA_BLOCK - 1) / CUDA_BLOCK;

    return (unsigned)(g < CUDA_MAX_GRID ? g : CUDA_MAX_GRID);
}


/* Blocks for the one-warp-per-row kernels over N rows (N > 0). */
static inline unsigned cuda_row_grid(int N)
{
    return (unsigned)((N + CUDA_WARPS - 1) / CUDA_WARPS);
}


/* Blocks of the column reductions are (COL_TX, COL_TY): a warp reads 32 adjacent floats of
 * a row, and COL_TY rows are read at once. */
#define COL_TX 32
#define COL_TY 16

/* Column reductions over x[N,K] split the rows into this many chunks (grid.y), each summed
 * by its own block, so a tall matrix with few columns still fills the GPU; the chunk count
 * depends only on N, so the order of additions is the same on every run. */
static inline int cuda_col_chunks(int N)
{
    int r = (N + 255) / 256;

    return r < 1 ? 1 : (r > 64 ? 64 : r);
}


/* Sum over the 32 lanes of a warp; every lane gets the total. */
static __device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}


static __device__ __forceinline__ double warp_sum_double(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}


/* Max over the 32 lanes, by comparison as the CPU softmax. With a NaN among the values lanes
 * may disagree, but a softmax row with a NaN comes out all NaN either way (through its sum). */
static __device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) {
        float u = __shfl_xor_sync(0xffffffffu, v, o);
        v = u > v ? u : v;
    }
    return v;
}


/* Sum over a block of CUDA_BLOCK threads; thread 0 gets the total. Every thread must call. */
static __device__ __forceinline__ double block_sum_double(double v)
{
    __shared__ double part[CUDA_BLOCK / 32];
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;

    v = warp_sum_double(v);
    if (lane == 0)
        part[warp] = v;
    __syncthreads();

    v = 0.0;
    if (warp == 0) {
        v = lane < CUDA_BLOCK / 32 ? part[lane] : 0.0;
        v = warp_sum_double(v);
    }
    return v;
}

#endif
