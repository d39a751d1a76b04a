/* cuda_backend.cu: the CUDA backend's table, joining the kernels of the cuda_*.cu files to the
 * struct Backend interface of backend.h, and its one-time set-up (device check, cuBLAS handle,
 * math mode). */
#include "cuda_common.h"
#include "cuda_ops.h"

#include <string.h>

cublasHandle_t cuda_cublas;

static Backend cuda_backend;
static int cuda_tf32;


static void cuda_fill_table(Backend *be)
{
    be->name = "cuda";

    be->alloc = cuda_alloc;
    be->free = cuda_free;
    be->upload = cuda_upload;
    be->download = cuda_download;
    be->copy = cuda_copy;
    be->zero = cuda_zero;
    be->sync = cuda_sync;

    be->gemm = cuda_gemm;
    be->matmul_forward = cuda_matmul_forward;
    be->matmul_backward = cuda_matmul_backward;

    be->add = cuda_add;
    be->accumulate = cuda_accumulate;
    be->scale = cuda_scale;
    be->axpby = cuda_axpby;
    be->sum_rows = cuda_sum_rows;
    be->sumsq = cuda_sumsq;
    be->all_finite = cuda_all_finite;

    be->gelu_forward = cuda_gelu_forward;
    be->gelu_backward = cuda_gelu_backward;
    be->relu_forward = cuda_relu_forward;
    be->relu_backward = cuda_relu_backward;

    be->layernorm_forward = cuda_layernorm_forward;
    be->layernorm_backward = cuda_layernorm_backward;
    be->batchnorm_forward = cuda_batchnorm_forward;
    be->batchnorm_backward = cuda_batchnorm_backward;
    be->l2norm_forward = cuda_l2norm_forward;
    be->l2norm_backward = cuda_l2norm_backward;
    be->weightnorm_forward = cuda_weightnorm_forward;
    be->weightnorm_backward = cuda_weightnorm_backward;

    be->attention_forward = cuda_attention_forward;
    be->attention_backward = cuda_attention_backward;

    be->patchify = cuda_patchify;
    be->tokens_forward = cuda_tokens_forward;
    be->tokens_backward = cuda_tokens_backward;
    be->select_row = cuda_select_row;
    be->select_row_backward = cuda_select_row_backward;

    be->xent_rows = cuda_xent_rows;
    be->softmax_rows = cuda_softmax_rows;

    be->adamw_step = cuda_adamw_step;
    be->ema_update = cuda_ema_update;
}


/* Does nothing: cuda_init asks the runtime for it to learn whether this build holds code the
 * GPU can run. */
__global__ static void cuda_probe_kernel(void)
{
}


/* Dies at set-up, naming the compute capability, when the build has no kernel image for the
 * GPU (the Makefile's -gencode list): otherwise cuBLAS works and the first hasten kernel
 * dies mid-step. */
static void cuda_check_arch(void)
{
    cudaFuncAttributes attr;
    cudaError_t err = cudaFuncGetAttributes(&attr, cuda_probe_kernel);
    int dev = 0, major = 0, minor = 0;

    if (err != cudaErrorNoKernelImageForDevice && err != cudaErrorInvalidDeviceFunction) {
        CHECK_CUDA(err); /* another failure, such as no context on a busy GPU */
        return;
    }
    CHECK_CUDA(cudaGetDevice(&dev));
    CHECK_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    CHECK_CUDA(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    die_at(__FILE__, __LINE__, __func__, "add -gencode for this GPU to NVFLAGS in the Makefile",
           "no hasten kernels for this GPU (compute capability %d.%d): %s", major, minor,
           cudaGetErrorString(err));
}


/* The cuBLAS handle on the default stream, in strict FP32 unless HASTEN_TF32=1 asks for TF32
 * tensor cores (about 10 bits of mantissa in the products' inputs: faster, and parity with
 * the CPU then needs looser tolerances). */
static void cuda_init(void)
{
    const char *tf32 = getenv("HASTEN_TF32");

    cuda_check_arch();
    CHECK_CUBLAS(cublasCreate(&cuda_cublas));
    cuda_tf32 = tf32 != NULL && strcmp(tf32, "1") == 0;
    CHECK_CUBLAS(cublasSetMathMode(cuda_cublas, cuda_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                          : CUBLAS_DEFAULT_MATH));
    cuda_fill_table(&cuda_backend);
}


/* Set up on the first call. NULL, silently, when there is no GPU or no driver (then
 * cudaGetDeviceCount fails or counts 0), so callers can fall back or skip; a GPU that is
 * present but fails to set up is an error and dies. Not thread-safe: call it from one thread
 * before any other. */
extern "C" const Backend *backend_cuda(void)
{
    static int state; /* 0 not tried yet, 1 ready, -1 no usable GPU */
    int count = 0;

    if (state != 0)
        return state > 0 ? &cuda_backend : NULL;

    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        (void)cudaGetLastError(); /* clears the error so later runtime calls don't see it */
        state = -1;
        return NULL;
    }
    cuda_init();
    state = 1;
    return &cuda_backend;
}


extern "C" int backend_cuda_tf32(void)
{
    return cuda_tf32;
}
