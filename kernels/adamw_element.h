/* adamw_element.h: the AdamW update of one parameter, shared by the CPU loop and the CUDA
 * kernel so that both backends apply exactly one formula (see adamw_step in backend.h).
 * bc1, bc2 are the bias corrections 1 - b1^t and 1 - b2^t; dec is 1 when the parameter takes
 * weight decay, 0 when not. */
#ifndef HASTEN_ADAMW_ELEMENT_H
#define HASTEN_ADAMW_ELEMENT_H

#include <math.h>

#ifdef __CUDACC__
#define ADAMW_HD __host__ __device__
#else
#define ADAMW_HD
#endif

static inline ADAMW_HD void adamw_element(float *p, float *m, float *v, float g, float dec,
                                          float lr, float b1, float b2, float eps, float wd,
                                          float bc1, float bc2)
{
    float mi = b1 * *m + (1.0f - b1) * g;
    float vi = b2 * *v + (1.0f - b2) * g * g;

    *m = mi;
    *v = vi;
    *p -= lr * (mi / bc1 / (sqrtf(vi / bc2) + eps) + wd * dec * *p);
}

#endif
