/* cpu_backend.c: the CPU backend's table, joining the kernels of the cpu_*.c files to the
 * struct Backend interface of backend.h. */
#include "backend.h"
#include "cpu_ops.h"

static const Backend cpu_backend = {
    .name = "cpu",

    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,

    .gemm = cpu_gemm,
    .matmul_forward = cpu_matmul_forward,
    .matmul_backward = cpu_matmul_backward,

    .add = cpu_add,
    .accumulate = cpu_accumulate,
    .scale = cpu_scale,
    .axpby = cpu_axpby,
    .sum_rows = cpu_sum_rows,
    .sumsq = cpu_sumsq,
    .all_finite = cpu_all_finite,

    .gelu_forward = cpu_gelu_forward,
    .gelu_backward = cpu_gelu_backward,
    .relu_forward = cpu_relu_forward,
    .relu_backward = cpu_relu_backward,

    .layernorm_forward = cpu_layernorm_forward,
    .layernorm_backward = cpu_layernorm_backward,
    .batchnorm_forward = cpu_batchnorm_forward,
    .batchnorm_backward = cpu_batchnorm_backward,
    .l2norm_forward = cpu_l2norm_forward,
    .l2norm_backward = cpu_l2norm_backward,
    .weightnorm_forward = cpu_weightnorm_forward,
    .weightnorm_backward = cpu_weightnorm_backward,

    .attention_forward = cpu_attention_forward,
    .attention_backward = cpu_attention_backward,

    .patchify = cpu_patchify,
    .tokens_forward = cpu_tokens_forward,
    .tokens_backward = cpu_tokens_backward,
    .select_row = cpu_select_row,
    .select_row_backward = cpu_select_row_backward,

    .xent_rows = cpu_xent_rows,
    .softmax_rows = cpu_softmax_rows,

    .adamw_step = cpu_adamw_step,
    .ema_update = cpu_ema_update,
};


const Backend *backend_cpu(void)
{
    return &cpu_backend;
}
