/* cpu_memory.c: the CPU backend's "device" memory is ordinary host memory, 64-byte aligned
 * so every row an AVX-512 loop starts on a buffer's first element is one cache line. */
#include "cpu_ops.h"
#include "common.h"

#include <stdlib.h>
#include <string.h>

/* Zero-filled, 64-byte aligned; dies when the machine is out of memory. */
void *cpu_alloc(size_t bytes)
{
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p;

    if (rounded == 0)
        rounded = 64;
    p = aligned_alloc(64, rounded);
    CHECK_ALLOC(p);
    memset(p, 0, rounded);
    return p;
}


void cpu_free(void *p)
{
    free(p);
}


void cpu_upload(void *dst, const void *host_src, size_t bytes)
{
    if (bytes > 0)
        memcpy(dst, host_src, bytes);
}


void cpu_download(void *host_dst, const void *src, size_t bytes)
{
    if (bytes > 0)
        memcpy(host_dst, src, bytes);
}


/* memmove, not memcpy: a caller copying within one buffer must not get undefined results. */
void cpu_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes > 0)
        memmove(dst, src, bytes);
}


void cpu_zero(void *p, size_t bytes)
{
    if (bytes > 0)
        memset(p, 0, bytes);
}


/* Every CPU kernel has finished when it returns: nothing to wait for. */
void cpu_sync(void)
{
}
