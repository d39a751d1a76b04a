/* backend_select.c: picks a backend by the name given to --device. */
#include "backend.h"
#include "common.h"

#include <string.h>

/* A build with CUDA defines these in kernels/cuda/cuda_backend.cu; without it, no GPU. */
#ifndef HASTEN_CUDA
const Backend *backend_cuda(void)
{
    return NULL;
}


int backend_cuda_tf32(void)
{
    return 0;
}
#endif


const Backend *backend_by_name(const char *name)
{
    if (strcmp(name, "cpu") == 0)
        return backend_cpu();
    if (strcmp(name, "cuda") == 0) {
        const Backend *be = backend_cuda();
        if (be == NULL)
            user_error("--device cuda: no usable GPU (hasten built %s CUDA); use --device cpu",
#ifdef HASTEN_CUDA
                       "with"
#else
                       "without"
#endif
                       );
        return be;
    }
    user_error("--device %s: unknown device; expected cpu or cuda", name);
}
