/* GPU discovery with the CUDA runtime. cudaError_t stops here: callers see
 * WEFT_* codes and a reason string. */
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

extern "C" {
#include "weft/error.h"
#include "weft/gpu.h"
}

/* A kernel that proves this binary carries code the device can run. */
__global__ static void probe_kernel(int *out)
{
    *out = 0x5eed;
}

static int fail(cudaError_t e, const char *what, char *err, size_t errcap)
{
    if (errcap)
        snprintf(err, errcap, "%s: %s", what, cudaGetErrorString(e));
    return WEFT_ECUDA;
}

extern "C" int weft_gpu_built(void)
{
    return 1;
}

extern "C" int weft_gpu_count(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver)
        return 0;
    if (e != cudaSuccess) {
        /* A driver that is present but unusable (no kernel module loaded in
         * a container, say) is "no GPU" to a node, not a crash. */
        return 0;
    }
    return n;
}

extern "C" int weft_gpu_describe(int index, struct weft_gpu_info *info, char *err, size_t errcap)
{
    if (errcap)
        err[0] = '\0';
    int n = weft_gpu_count();
    if (index < 0 || index >= n) {
        if (errcap)
            snprintf(err, errcap, "no CUDA device %d (%d present)", index, n);
        return WEFT_ENODEV;
    }
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, index);
    if (e != cudaSuccess)
        return fail(e, "cudaGetDeviceProperties", err, errcap);
    e = cudaSetDevice(index);
    if (e != cudaSuccess)
        return fail(e, "cudaSetDevice", err, errcap);
    size_t free_b = 0, total_b = 0;
    e = cudaMemGetInfo(&free_b, &total_b);
    if (e != cudaSuccess)
        return fail(e, "cudaMemGetInfo", err, errcap);

    int *d = NULL;
    int h = 0;
    e = cudaMalloc(&d, sizeof *d);
    if (e != cudaSuccess)
        return fail(e, "cudaMalloc", err, errcap);
    probe_kernel<<<1, 1>>>(d);
    e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost);
    cudaFree(d);
    if (e != cudaSuccess)
        return fail(e, "probe kernel", err, errcap);
    if (h != 0x5eed) {
        if (errcap)
            snprintf(err, errcap, "probe kernel wrote %#x, expected 0x5eed", h);
        return WEFT_ECUDA;
    }

    snprintf(info->name, sizeof info->name, "%s", p.name);
    info->cc_major = p.major;
    info->cc_minor = p.minor;
    info->total_bytes = total_b;
    info->free_bytes = free_b;
    info->multiprocessors = p.multiProcessorCount;
    return 0;
}
