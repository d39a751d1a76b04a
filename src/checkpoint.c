/* checkpoint.c: writing and reading training state (see checkpoint.h). */
#include "checkpoint.h"

#include "common.h"

#include <stdio.h>
#include <string.h>

void checkpoint_name(char *out, size_t n, long step)
{
    snprintf(out, n, "/checkpoints/%012ld", step);
}


/* Writes the tensors of table t found in the device vector x (first `limit` floats only) as
 * datasets group/<name>. */
static void write_tensors(hid_t f, const char *group, const ParamTable *t, const Backend *be,
                          const float *x, size_t limit)
{
    float *host = xmalloc((t->total > 0 ? t->total : 1) * sizeof(float));
    char path[256];
    size_t dims[PARAM_MAX_DIMS];

    be->download(host, x, (limit < t->total ? limit : t->total) * sizeof(float));
    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->info[i];
        if (p->offset + p->size > limit)
            continue;
        for (int d = 0; d < p->ndim; d++)
            dims[d] = (size_t)p->shape[d];
        snprintf(path, sizeof path, "%s/%s", group, p->name);
        h5_write(f, path, H5IO_F32, p->ndim, dims, host + p->offset);
    }
    free(host);
}


static void read_tensors(hid_t f, const char *group, const ParamTable *t, const Backend *be,
                         float *x, size_t limit)
{
    float *host = xcalloc(t->total > 0 ? t->total : 1, sizeof(float));
    char path[256];
    long dims[PARAM_MAX_DIMS];

    for (int i = 0; i < t->count; i++) {
        const ParamInfo *p = &t->info[i];
        if (p->offset + p->size > limit)
            continue;
        for (int d = 0; d < p->ndim; d++)
            dims[d] = p->shape[d];
        snprintf(path, sizeof path, "%s/%s", group, p->name);
        h5_require(f, path);
        float *v = h5_read(f, path, H5IO_F32, p->ndim, dims, NULL, NULL);
        memcpy(host + p->offset, v, p->size * sizeof(float));
        free(v);
    }
    be->upload(x, host, (limit < t->total ? limit : t->total) * sizeof(float));
    free(host);
}


void checkpoint_write(hid_t f, const Method *me, const TrainState *st)
{
    char g[96], sub[160];
    const Backend *be = me->be;
    size_t all = (size_t)-1;

    checkpoint_name(g, sizeof g, st->step);
    H5Gclose(h5_group(f, g));
#define W(name, table, vec, limit) \
    do { snprintf(sub, sizeof sub, "%s/%s", g, name); \
         write_tensors(f, sub, table, be, vec, limit); } while (0)
    W("params", me->params, me->p, all);
    W("adam_m", me->params, me->m, all);
    W("adam_v", me->params, me->v, all);
    W("buffers", me->buffers, me->buf, all);
    if (me->p_t != NULL)
        W("target", me->params, me->p_t, me->target_count);
    if (me->buf_t != NULL)
        W("target_buffers", me->buffers, me->buf_t, all);
#undef W
    if (me->extra != NULL) {
        snprintf(sub, sizeof sub, "%s/extra/%s", g, me->extra_name);
        h5_write(f, sub, H5IO_F32, 1, (size_t[]){me->extra_n}, me->extra);
    }
    h5_attr_i64(f, g, "step", st->step);
    h5_attr_i64(f, g, "adam_t", *me->adam_t);
    h5_attr_f64(f, g, "budget_spent", st->budget_spent);
    h5_attr_f64(f, g, "fraction", st->fraction);
    h5_attr_f64(f, g, "wall_seconds", st->wall_seconds);
    h5_attr_i64(f, g, "seed", (long long)st->seed);
    h5_attr_str(f, g, "rng", "counter-based streams keyed by (seed, purpose, step, sample): "
                "seed and step are the whole random state");
}


long *checkpoint_list(hid_t f, size_t *n)
{
    char **names;
    long *steps;

    *n = 0;
    if (!h5_exists(f, "/checkpoints"))
        return NULL;
    names = h5_list(f, "/checkpoints", n);
    steps = xcalloc(*n + 1, sizeof(long));
    for (size_t i = 0; i < *n; i++)
        steps[i] = strtol(names[i], NULL, 10);
    h5_free_strs(names, *n);
    return steps;
}


void checkpoint_read(hid_t f, const char *path, long step, Method *me, TrainState *st)
{
    size_t n;
    long *steps = checkpoint_list(f, &n);
    char g[96], sub[160];
    const Backend *be = me->be;
    size_t all = (size_t)-1;
    int found = 0;

    if (n == 0)
        user_error("%s: no checkpoint in /checkpoints; nothing to resume or probe", path);
    if (step < 0)
        step = steps[n - 1];
    for (size_t i = 0; i < n; i++)
        found |= steps[i] == step;
    if (!found)
        user_error("%s: no checkpoint at step %ld; the file has steps %ld..%ld (%zu in all)",
                   path, step, steps[0], steps[n - 1], n);
    free(steps);

    checkpoint_name(g, sizeof g, step);
#define R(name, table, vec, limit) \
    do { snprintf(sub, sizeof sub, "%s/%s", g, name); \
         read_tensors(f, sub, table, be, vec, limit); } while (0)
    R("params", me->params, me->p, all);
    R("adam_m", me->params, me->m, all);
    R("adam_v", me->params, me->v, all);
    R("buffers", me->buffers, me->buf, all);
    if (me->p_t != NULL)
        R("target", me->params, me->p_t, me->target_count);
    if (me->buf_t != NULL)
        R("target_buffers", me->buffers, me->buf_t, all);
#undef R
    if (me->extra != NULL) {
        snprintf(sub, sizeof sub, "%s/extra/%s", g, me->extra_name);
        h5_require(f, sub);
        float *x = h5_read(f, sub, H5IO_F32, 1, (long[]){(long)me->extra_n}, NULL, NULL);
        memcpy(me->extra, x, me->extra_n * sizeof(float));
        free(x);
    }
    *me->adam_t = (int)h5_attr_get_i64(f, g, "adam_t");
    st->step = (long)h5_attr_get_i64(f, g, "step");
    st->budget_spent = h5_attr_get_f64(f, g, "budget_spent");
    st->fraction = h5_attr_get_f64(f, g, "fraction");
    st->wall_seconds = h5_attr_get_f64(f, g, "wall_seconds");
    st->seed = (unsigned long long)h5_attr_get_i64(f, g, "seed");
}
