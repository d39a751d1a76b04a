/* params.h: a table of named parameter tensors living in one flat float vector.
 * All trainable tensors of a network (backbone and heads) sit side by side in one backend
 * buffer, so the optimizer, the EMA and the gradient statistics work on one flat vector, and
 * checkpoints store each tensor under its timm-style name. Non-trainable state (BatchNorm
 * running statistics) lives in a second table of "buffers". */
#ifndef HASTEN_PARAMS_H
#define HASTEN_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define PARAM_NAME_MAX 64
#define PARAM_MAX_DIMS 4

typedef enum { INIT_ZERO, INIT_ONE, INIT_XAVIER, INIT_NORMAL, INIT_SINCOS2D } ParamInit;

typedef struct {
    char name[PARAM_NAME_MAX];
    size_t offset, size;
    int ndim;
    int shape[PARAM_MAX_DIMS];
    int decay;          /* 1: takes weight decay (matrices); 0: norms, biases, pos, cls */
    ParamInit init;
    float init_scale;   /* std for INIT_NORMAL; xavier fan-in/fan-out come from the shape */
    int fan_in, fan_out;
} ParamInfo;

typedef struct {
    ParamInfo *info;
    int count, cap;
    size_t total;
} ParamTable;

void params_init_table(ParamTable *t);
void params_free_table(ParamTable *t);

/* Registers a tensor and returns its offset in the flat vector. The shape is given as up to
 * four dims, a 0 ending the list early. */
size_t params_add(ParamTable *t, const char *name, ParamInit init, int decay,
                  int d0, int d1, int d2, int d3);

const ParamInfo *params_find(const ParamTable *t, const char *name);

/* Fills host[t->total] with initial values drawn from streams keyed by (seed, tensor index). */
void params_fill_init(const ParamTable *t, float *host, uint64_t seed);

/* The 0/1 weight-decay mask over the flat vector (host array of t->total floats). */
void params_decay_mask(const ParamTable *t, float *host_mask);

#endif
