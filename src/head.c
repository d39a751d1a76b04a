/* head.c: forward and backward of the layer stacks of head.h. */
#include "head.h"

#include "common.h"

#include <stdio.h>
#include <string.h>

void head_init(Head *h, const char *prefix, int in_dim, const Backend *be)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->prefix, sizeof h->prefix, "%s", prefix);
    h->in_dim = h->out_dim = h->max_dim = in_dim;
    h->bn_eps = 1e-5f;       /* PyTorch's BatchNorm1d defaults */
    h->bn_momentum = 0.1f;
    h->be = be;
    h->first = (size_t)-1;
}


static HeadLayer *push(Head *h, HeadKind kind, int out)
{
    HeadLayer *l;

    HASSERT(h->n < HEAD_MAX_LAYERS);
    l = &h->layer[h->n++];
    memset(l, 0, sizeof(*l));
    l->kind = kind;
    l->in = h->out_dim;
    l->out = out;
    h->out_dim = out;
    if (out > h->max_dim)
        h->max_dim = out;
    return l;
}


static size_t add_param(Head *h, ParamTable *t, const char *suffix, ParamInit init, int decay,
                        int d0, int d1)
{
    char name[PARAM_NAME_MAX];
    size_t off;

    snprintf(name, sizeof name, "%s.%d.%s", h->prefix, h->n - 1, suffix);
    off = params_add(t, name, init, decay, d0, d1, 0, 0);
    if (h->first == (size_t)-1)
        h->first = off;
    return off;
}


void head_add_linear(Head *h, ParamTable *t, int out, int bias)
{
    HeadLayer *l = push(h, HEAD_LINEAR, out);

    l->bias = bias;
    l->w = add_param(h, t, "weight", INIT_XAVIER, 1, out, l->in);
    if (bias)
        l->b = add_param(h, t, "bias", INIT_ZERO, 0, out, 0);
}


void head_add_bn(Head *h, ParamTable *t, ParamTable *buffers, int affine)
{
    HeadLayer *l = push(h, HEAD_BN, h->out_dim);
    char name[PARAM_NAME_MAX];

    l->affine = affine;
    if (affine) {
        l->w = add_param(h, t, "weight", INIT_ONE, 0, l->out, 0);
        l->b = add_param(h, t, "bias", INIT_ZERO, 0, l->out, 0);
    }
    snprintf(name, sizeof name, "%s.%d.running_mean", h->prefix, h->n - 1);
    l->run_mean = params_add(buffers, name, INIT_ZERO, 0, l->out, 0, 0, 0);
    snprintf(name, sizeof name, "%s.%d.running_var", h->prefix, h->n - 1);
    l->run_var = params_add(buffers, name, INIT_ONE, 0, l->out, 0, 0, 0);
}


void head_add_relu(Head *h)
{
    push(h, HEAD_RELU, h->out_dim);
}


void head_add_gelu(Head *h)
{
    push(h, HEAD_GELU, h->out_dim);
}


void head_add_l2norm(Head *h)
{
    push(h, HEAD_L2NORM, h->out_dim);
}


void head_add_wnlinear(Head *h, ParamTable *t, int out, int fixed_gain)
{
    HeadLayer *l = push(h, HEAD_WNLINEAR, out);

    l->fixed_gain = fixed_gain;
    l->w = add_param(h, t, "weight_v", INIT_XAVIER, 1, out, l->in);
    if (!fixed_gain)
        l->g = add_param(h, t, "weight_g", INIT_ONE, 0, out, 0);
}


void head_finish(Head *h, const ParamTable *t)
{
    if (h->first == (size_t)-1)
        h->first = t->total;
    h->count = t->total - h->first;
}


void head_build_mlp(Head *h, ParamTable *t, ParamTable *buffers, int nlayers, int hid, int out,
                    int last_bn, int bias, int act_gelu)
{
    for (int i = 0; i < nlayers; i++) {
        int last = i == nlayers - 1;

        head_add_linear(h, t, last ? out : hid, bias);
        if (last) {
            if (last_bn)
                head_add_bn(h, t, buffers, 0);
        } else if (act_gelu) {
            head_add_gelu(h);
        } else {
            head_add_bn(h, t, buffers, 1);
            head_add_relu(h);
        }
    }
}


void head_alloc(Head *h, int maxB)
{
    const Backend *be = h->be;
    size_t B = (size_t)maxB, wn_max = 0;

    h->maxB = maxB;
    for (int i = 0; i < h->n; i++) {
        HeadLayer *l = &h->layer[i];
        h->act[i + 1] = be->alloc(B * (size_t)l->out * sizeof(float));
        if (l->kind == HEAD_BN) {
            h->stat1[i] = be->alloc((size_t)l->out * sizeof(float));
            h->stat2[i] = be->alloc((size_t)l->out * sizeof(float));
        } else if (l->kind == HEAD_L2NORM) {
            h->stat1[i] = be->alloc(B * sizeof(float));
        } else if (l->kind == HEAD_WNLINEAR) {
            size_t nw = (size_t)l->out * l->in;
            h->wn_w[i] = be->alloc(nw * sizeof(float));
            h->stat1[i] = be->alloc((size_t)l->out * sizeof(float));
            wn_max = nw > wn_max ? nw : wn_max;
        }
    }
    if (wn_max > 0)
        h->wn_dw = be->alloc(wn_max * sizeof(float));
    h->dA = be->alloc(B * (size_t)h->max_dim * sizeof(float));
    h->dB = be->alloc(B * (size_t)h->max_dim * sizeof(float));
}


void head_free(Head *h)
{
    const Backend *be = h->be;
    float *extra[] = {h->wn_dw, h->dA, h->dB};

    for (int i = 0; i < h->n; i++) {
        float *own[] = {h->act[i + 1], h->stat1[i], h->stat2[i], h->wn_w[i]};
        for (size_t j = 0; j < sizeof own / sizeof own[0]; j++)
            if (own[j] != NULL)
                be->free(own[j]);
        h->act[i + 1] = h->stat1[i] = h->stat2[i] = h->wn_w[i] = NULL;
    }
    for (size_t j = 0; j < sizeof extra / sizeof extra[0]; j++)
        if (extra[j] != NULL)
            be->free(extra[j]);
    h->wn_dw = h->dA = h->dB = NULL;
}


const float *head_forward(Head *h, const float *params, float *buffers, const float *inp,
                          int B, int train)
{
    const Backend *be = h->be;

    HASSERT(B <= h->maxB);
    h->B = B;
    h->act[0] = (float *)inp;
    for (int i = 0; i < h->n; i++) {
        HeadLayer *l = &h->layer[i];
        const float *x = h->act[i];
        float *y = h->act[i + 1];
        size_t n = (size_t)B * l->out;

        switch (l->kind) {
        case HEAD_LINEAR:
            be->matmul_forward(y, x, params + l->w, l->bias ? params + l->b : NULL,
                               B, l->in, l->out);
            break;
        case HEAD_BN:
            be->batchnorm_forward(y, h->stat1[i], h->stat2[i], buffers + l->run_mean,
                                  buffers + l->run_var, x, l->affine ? params + l->w : NULL,
                                  l->affine ? params + l->b : NULL, B, l->out, h->bn_eps,
                                  h->bn_momentum, train);
            break;
        case HEAD_RELU:
            be->relu_forward(y, x, n);
            break;
        case HEAD_GELU:
            be->gelu_forward(y, x, n);
            break;
        case HEAD_L2NORM:
            be->l2norm_forward(y, h->stat1[i], x, B, l->out, 1e-12f);
            break;
        case HEAD_WNLINEAR:
            be->weightnorm_forward(h->wn_w[i], h->stat1[i], params + l->w,
                                   l->fixed_gain ? NULL : params + l->g, l->out, l->in);
            be->matmul_forward(y, x, h->wn_w[i], NULL, B, l->in, l->out);
            break;
        }
    }
    return h->act[h->n];
}


void head_backward(Head *h, const float *params, float *grads, const float *dout, float *dinp)
{
    const Backend *be = h->be;
    int B = h->B;
    const float *dy = dout;
    float *bufs[2] = {h->dA, h->dB};

    for (int i = h->n - 1; i >= 0; i--) {
        HeadLayer *l = &h->layer[i];
        const float *x = h->act[i];
        float *dx = i == 0 ? dinp : bufs[i & 1];
        size_t nin = (size_t)B * l->in;

        if (dx == NULL)
            dx = bufs[i & 1]; /* the layer still needs somewhere to write; the result is unused */
        if (i > 0 || dinp == NULL)
            be->zero(dx, nin * sizeof(float));

        switch (l->kind) {
        case HEAD_LINEAR:
            be->matmul_backward(dx, grads + l->w, l->bias ? grads + l->b : NULL, dy, x,
                                params + l->w, B, l->in, l->out);
            break;
        case HEAD_BN:
            be->batchnorm_backward(dx, l->affine ? grads + l->w : NULL,
                                   l->affine ? grads + l->b : NULL, dy, x,
                                   l->affine ? params + l->w : NULL, h->stat1[i], h->stat2[i],
                                   B, l->out);
            break;
        case HEAD_RELU:
            be->relu_backward(dx, x, dy, nin);
            break;
        case HEAD_GELU:
            be->gelu_backward(dx, x, dy, nin);
            break;
        case HEAD_L2NORM:
            be->l2norm_backward(dx, dy, x, h->stat1[i], B, l->out, 1e-12f);
            break;
        case HEAD_WNLINEAR:
            be->zero(h->wn_dw, (size_t)l->out * l->in * sizeof(float));
            be->matmul_backward(dx, h->wn_dw, NULL, dy, x, h->wn_w[i], B, l->in, l->out);
            be->weightnorm_backward(grads + l->w, l->fixed_gain ? NULL : grads + l->g,
                                    h->wn_dw, params + l->w,
                                    l->fixed_gain ? NULL : params + l->g, h->stat1[i],
                                    l->out, l->in);
            break;
        }
        dy = dx;
    }
}


double head_flops_forward(const Head *h, int B)
{
    double f = 0;

    for (int i = 0; i < h->n; i++)
        if (h->layer[i].kind == HEAD_LINEAR || h->layer[i].kind == HEAD_WNLINEAR)
            f += 2.0 * B * h->layer[i].in * h->layer[i].out;
    return f;
}
