/* cuda_memory.cu: device memory of the CUDA backend and its grow-only scratch buffers. Every
 * transfer and kernel runs on the legacy default stream, so they run in the order they were
 * issued and a blocking cudaMemcpy waits for all work before it. */
#include "cuda_common.h"
#include "cuda_ops.h"

/* Zero-filled; dies naming the size when the GPU is out of memory. At least 256 bytes, so a
 * zero-size request still gives a distinct pointer, as the CPU backend does. */
void *cuda_alloc(size_t bytes)
{
    size_t rounded = bytes < 256 ? 256 : bytes;
    void *p = NULL;
    cudaError_t err = cudaMalloc(&p, rounded);

    if (err != cudaSuccess)
        die_at(__FILE__, __LINE__, __func__, "a smaller batch or model needs less GPU memory",
               "cudaMalloc of %zu bytes failed: %s", rounded, cudaGetErrorString(err));
    CHECK_CUDA(cudaMemsetAsync(p, 0, rounded, 0));
    return p;
}


/* Waits for the device first, so no queued kernel still reads p: the driver documents only
 * that cudaFree "may" synchronize, and memory freed under a running kernel can be handed to
 * the next cudaMalloc. Frees are rare (set-up, evaluation buffers, scratch growth). */
void cuda_free(void *p)
{
    if (p == NULL)
        return;
    CHECK_CUDA(cudaDeviceSynchronize());
    CHECK_CUDA(cudaFree(p));
}


/* Returns once host_src may be reused (pageable memory is staged before the call returns). */
void cuda_upload(void *dst, const void *host_src, size_t bytes)
{
    if (bytes > 0)
        CHECK_CUDA(cudaMemcpy(dst, host_src, bytes, cudaMemcpyHostToDevice));
}


/* Waits for every queued kernel, then copies: host_dst is complete when this returns. */
void cuda_download(void *host_dst, const void *src, size_t bytes)
{
    if (bytes > 0)
        CHECK_CUDA(cudaMemcpy(host_dst, src, bytes, cudaMemcpyDeviceToHost));
}


/* memmove semantics, as the CPU backend: cudaMemcpy leaves overlapping ranges undefined, so
 * an overlapping copy goes through a staging buffer. */
void cuda_copy(void *dst, const void *src, size_t bytes)
{
    const char *s = (const char *)src;
    char *d = (char *)dst;

    if (bytes == 0 || d == s)
        return;

    if (d < s + bytes && s < d + bytes) {
        void *stage = cuda_scratch(SCRATCH_STAGE, bytes);
        CHECK_CUDA(cudaMemcpyAsync(stage, src, bytes, cudaMemcpyDeviceToDevice, 0));
        CHECK_CUDA(cudaMemcpyAsync(dst, stage, bytes, cudaMemcpyDeviceToDevice, 0));
        return;
    }
    CHECK_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0));
}


void cuda_zero(void *p, size_t bytes)
{
    if (bytes > 0)
        CHECK_CUDA(cudaMemsetAsync(p, 0, bytes, 0));
}


/* Waits for every queued kernel: timing and host reads of results need it. */
void cuda_sync(void)
{
    CHECK_CUDA(cudaDeviceSynchronize());
}


/* A device buffer of at least `bytes` for the given slot, kept and grown (never shrunk)
 * across calls. Growing frees the old buffer first: cuda_free waits for the kernels that may
 * still use it. The contents are not preserved. */
void *cuda_scratch(int slot, size_t bytes)
{
    static void *buf[SCRATCH_COUNT];
    static size_t cap[SCRATCH_COUNT];

    HASSERT(slot >= 0 && slot < SCRATCH_COUNT);
    if (bytes <= cap[slot])
        return buf[slot];

    cuda_free(buf[slot]);
    buf[slot] = NULL;
    cap[slot] = 0;
    buf[slot] = cuda_alloc(bytes); /* an out-of-memory death names the size, as elsewhere */
    cap[slot] = bytes;
    return buf[slot];
}
