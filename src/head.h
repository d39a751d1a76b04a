/* head.h: the small networks on top of the backbone's CLS features (projector, predictor,
 * DINO head) as a stack of layers: linear, BatchNorm (train/eval), ReLU, GELU, L2
 * normalisation and a weight-normalised linear layer. Activations are [B, D]. Parameters
 * live in the shared flat vector (names "<prefix>.<index>.weight" as nn.Sequential would
 * give), BatchNorm running statistics in a second table of buffers. */
#ifndef HASTEN_HEAD_H
#define HASTEN_HEAD_H

#include "backend.h"
#include "params.h"

#define HEAD_MAX_LAYERS 16

typedef enum { HEAD_LINEAR, HEAD_BN, HEAD_RELU, HEAD_GELU, HEAD_L2NORM, HEAD_WNLINEAR } HeadKind;

typedef struct {
    HeadKind kind;
    int in, out;
    int bias;        /* linear: has a bias */
    int affine;      /* BN: has weight and bias */
    int fixed_gain;  /* weight-normalised linear: gain fixed at 1 (DINO's norm_last_layer) */
    size_t w, b, g;  /* parameter offsets (w is v for the weight-normalised layer) */
    size_t run_mean, run_var; /* buffer offsets (BN) */
} HeadLayer;

typedef struct {
    char prefix[32];
    HeadLayer layer[HEAD_MAX_LAYERS];
    int n, in_dim, out_dim, max_dim;
    size_t first, count;  /* span in the parameter vector */
    float bn_eps, bn_momentum;
    const Backend *be;
    /* buffers, sized by head_alloc */
    int maxB, B;
    float *act[HEAD_MAX_LAYERS + 1]; /* act[0] is the caller's input, not owned */
    float *stat1[HEAD_MAX_LAYERS], *stat2[HEAD_MAX_LAYERS];
    float *wn_w[HEAD_MAX_LAYERS];    /* materialised weight of a weight-normalised layer */
    float *wn_dw;                    /* its gradient, shared scratch of the largest size */
    float *dA, *dB;
} Head;

void head_init(Head *h, const char *prefix, int in_dim, const Backend *be);
void head_add_linear(Head *h, ParamTable *t, int out, int bias);
void head_add_bn(Head *h, ParamTable *t, ParamTable *buffers, int affine);
void head_add_relu(Head *h);
void head_add_gelu(Head *h);
void head_add_l2norm(Head *h);
void head_add_wnlinear(Head *h, ParamTable *t, int out, int fixed_gain);
/* Closes the parameter span; call after the last layer. */
void head_finish(Head *h, const ParamTable *t);

/* An MLP of nlayers linear layers in -> hid -> ... -> out, each hidden one followed by BN
 * and ReLU (act_gelu: GELU and no BN, as DINO), the last one by an affine-free BN when
 * last_bn. Linear layers have biases only when bias. */
void head_build_mlp(Head *h, ParamTable *t, ParamTable *buffers, int nlayers, int hid, int out,
                    int last_bn, int bias, int act_gelu);

void head_alloc(Head *h, int maxB);
void head_free(Head *h);

/* Forward of inp[B, in_dim]; returns the output [B, out_dim] (owned by the head).
 * train != 0: BatchNorm uses and updates batch statistics. */
const float *head_forward(Head *h, const float *params, float *buffers, const float *inp,
                          int B, int train);
/* Backward from dout[B, out_dim]; adds parameter gradients into grads and dL/dinp into dinp
 * (NULL: not wanted). Requires a train-mode forward just before. */
void head_backward(Head *h, const float *params, float *grads, const float *dout, float *dinp);

/* FLOPs of one forward of B rows. */
double head_flops_forward(const Head *h, int B);

#endif
