/* The module's one exported symbol (module.h): the table of the backend's
 * entry points (device.cu, backend.cu) that gpu_dl.c loads. */
#include "module.h"

extern "C" {
#include "../model.h"
}
#include "backend.h"

extern "C" __attribute__((visibility("default"))) const struct weft_cuda_api *weft_cuda_module(void)
{
    static const struct weft_cuda_api api = {
        WEFT_CUDA_ABI,       sizeof(struct weft_model), weft_gpu_count,    weft_gpu_describe,
        weft_cuda_model_new, weft_cuda_model_free,      weft_cuda_seq_new, weft_cuda_seq_free,
        weft_cuda_eval,      weft_cuda_decode,
    };
    return &api;
}
