/* vit_internal.h: the pieces of the ViT shared between vit.c, vit_embed.c and vit_block.c. */
#ifndef HASTEN_VIT_INTERNAL_H
#define HASTEN_VIT_INTERNAL_H

#include "vit.h"

void vit_embed_forward(Vit *m, VitActs *a, const float *params, const float *img);
void vit_embed_backward(Vit *m, VitActs *a, const float *params, float *grads);

void vit_block_forward(Vit *m, VitBlockActs *k, VitActs *a, const float *params,
                       const VitBlockParams *p, const float *xin);
void vit_block_backward(Vit *m, VitBlockActs *k, VitActs *a, const float *params, float *grads,
                        const VitBlockParams *p, const float *xin);

#endif
