/* params.c: registration and initialisation of named tensors in a flat parameter vector. */
#include "params.h"

#include "common.h"
#include "rng.h"

#include <math.h>
#include <string.h>

void params_init_table(ParamTable *t)
{
    memset(t, 0, sizeof(*t));
}


void params_free_table(ParamTable *t)
{
    free(t->info);
    memset(t, 0, sizeof(*t));
}


size_t params_add(ParamTable *t, const char *name, ParamInit init, int decay,
                  int d0, int d1, int d2, int d3)
{
    int dims[PARAM_MAX_DIMS] = {d0, d1, d2, d3};
    ParamInfo *p;

    if (t->count == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->info = realloc(t->info, (size_t)t->cap * sizeof(ParamInfo));
        CHECK_ALLOC(t->info);
    }
    p = &t->info[t->count++];
    memset(p, 0, sizeof(*p));
    HASSERT(strlen(name) < PARAM_NAME_MAX);
    strcpy(p->name, name);
    p->size = 1;
    for (int i = 0; i < PARAM_MAX_DIMS && dims[i] > 0; i++) {
        p->shape[p->ndim++] = dims[i];
        p->size *= (size_t)dims[i];
    }
    p->init = init;
    p->decay = decay;
    p->fan_out = p->ndim > 0 ? p->shape[0] : 1;
    p->fan_in = p->ndim > 1 ? (int)(p->size / (size_t)p->shape[0]) : 1;

    /* Keep every tensor 16-float aligned so vector loads of one tensor never straddle two. */
    p->offset = t->total;
    t->total += (p->size + 15) & ~(size_t)15;
    return p->offset;
}


const ParamInfo *params_find(const ParamTable *t, const char *name)
{
    for (int i = 0; i < t->count; i++)
        if (strcmp(t->info[i].name, name) == 0)
            return &t->info[i];
    return NULL;
}


/* 2-D sin-cos position table as in MoCo v3: for a G x G grid and width C, a quarter of the
 * channels each for sin(x w), cos(x w), sin(y w), cos(y w), w_d = 10000^(-d / (C/4)). */
static void fill_sincos2d(float *out, int G, int C)
{
    int q = C / 4;

    for (int gy = 0; gy < G; gy++)
        for (int gx = 0; gx < G; gx++) {
            float *row = out + ((size_t)gy * G + gx) * C;
            memset(row, 0, (size_t)C * sizeof(float));
            for (int d = 0; d < q; d++) {
                double w = pow(10000.0, -(double)d / q);
                row[d] = (float)sin(gx * w);
                row[q + d] = (float)cos(gx * w);
                row[2 * q + d] = (float)sin(gy * w);
                row[3 * q + d] = (float)cos(gy * w);
            }
        }
}


void params_fill_init(const ParamTable *t, float *host, uint64_t seed)
{
    memset(host, 0, t->total * sizeof(float));
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->info[i];
        float *x = host + p->offset;
        Rng r = rng_stream(seed, RNG_INIT, (uint64_t)i, 0);

        switch (p->init) {
        case INIT_ZERO:
            break;
        case INIT_ONE:
            for (size_t j = 0; j < p->size; j++) x[j] = 1.0f;
            break;
        case INIT_XAVIER: {
            double a = sqrt(6.0 / (double)(p->fan_in + p->fan_out));
            for (size_t j = 0; j < p->size; j++) x[j] = (float)(a * (2.0 * rng_uniform(&r) - 1));
            break;
        }
        case INIT_NORMAL:
            for (size_t j = 0; j < p->size; j++) x[j] = (float)(p->init_scale * rng_normal(&r));
            break;
        case INIT_SINCOS2D: {
            int G = (int)lround(sqrt((double)p->shape[0]));
            HASSERT(G * G == p->shape[0]);
            fill_sincos2d(x, G, p->shape[1]);
            break;
        }
        }
    }
}


void params_decay_mask(const ParamTable *t, float *host_mask)
{
    memset(host_mask, 0, t->total * sizeof(float));
    for (int i = 0; i < t->count; i++)
        for (size_t j = 0; j < t->info[i].size; j++)
            host_mask[t->info[i].offset + j] = (float)t->info[i].decay;
}
