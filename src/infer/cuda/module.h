/* The CUDA backend as a loadable module (private to src/infer).
 *
 * Kernels for three GPU generations, the static CUDA runtime and the C++
 * runtime under it come to megabytes; a home node without an NVIDIA GPU
 * should not map any of that. So the backend (device.cu, backend.cu) is
 * built as libweft_cuda.so, and gpu_dl.c loads it on first use, only when
 * an NVIDIA driver is present (/dev/nvidiactl, or /dev/dxg under WSL).
 *
 * The module exports one symbol, weft_cuda_module(), returning this table.
 * The module and its loader must come from the same build: the table
 * carries the ABI number and the size of struct weft_model it was compiled
 * against, and the loader refuses a mismatch with a clear message.
 */
#ifndef WEFT_INFER_CUDA_MODULE_H
#define WEFT_INFER_CUDA_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#ifdef __cplusplus
extern "C" {
#include "weft/gpu.h"
}
#else
#include "weft/gpu.h"
#endif

#define WEFT_CUDA_ABI           1
#define WEFT_CUDA_MODULE_SYMBOL "weft_cuda_module"

struct weft_cuda_api {
    uint32_t abi;
    size_t model_size; /* sizeof(struct weft_model) in the module's build */
    int (*gpu_count)(void);
    int (*gpu_describe)(int index, struct weft_gpu_info *info, char *err, size_t errcap);
    int (*model_new)(const struct weft_model *m, int device, int n_ctx,
                     struct weft_cuda_model **out, char *err, size_t errcap);
    void (*model_free)(struct weft_cuda_model *cm);
    int (*seq_new)(struct weft_cuda_model *cm, int n_ctx, struct weft_cuda_seq **out, char *err,
                   size_t errcap);
    void (*seq_free)(struct weft_cuda_seq *s);
    int (*eval)(struct weft_cuda_seq *s, const int32_t *tokens, int n, int pos, float *logits,
                char *err, size_t errcap);
    int (*decode)(struct weft_cuda_seq *const *seqs, int n, const int32_t *tokens, const int *pos,
                  float *const *logits, char *err, size_t errcap);
};

#ifdef __cplusplus
extern "C"
#endif
    const struct weft_cuda_api *
    weft_cuda_module(void);

#endif /* WEFT_INFER_CUDA_MODULE_H */
