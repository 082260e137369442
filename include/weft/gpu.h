/* GPU discovery for the inference engine.
 *
 * Answers "is there a CUDA device this build can run on, and what is it"
 * without the caller knowing whether the build has CUDA at all: a build
 * without the CUDA backend reports zero devices.
 *
 * Thread-safety: may be called from any thread; the first call initialises
 * the CUDA runtime, which takes a moment and some host memory.
 */
#ifndef WEFT_GPU_H
#define WEFT_GPU_H

#include <stddef.h>
#include <stdint.h>

struct weft_gpu_info {
    char name[256];
    int cc_major, cc_minor; /* compute capability */
    uint64_t total_bytes;   /* device memory */
    uint64_t free_bytes;    /* free when asked */
    int multiprocessors;
};

/* 1 when this build includes the CUDA backend. */
int weft_gpu_built(void);

/* Number of usable CUDA devices (0 without CUDA, a driver or a device), or
 * WEFT_ECUDA when the runtime reports an unexpected failure. */
int weft_gpu_count(void);

/* Describes device `index` and checks that this build's kernels run on it
 * (a device newer than the built architectures and without PTX fallback
 * would fail here, not halfway through a model load). Returns 0,
 * WEFT_ENODEV for a bad index or no CUDA, or WEFT_ECUDA with a reason in
 * err[errcap]. */
int weft_gpu_describe(int index, struct weft_gpu_info *info, char *err, size_t errcap);

#endif /* WEFT_GPU_H */
