/* Device-to-device copy bandwidth, the denominator of the CUDA decode
 * roofline (docs/BENCHMARKS.md): cudaMemcpy of a 1 GiB buffer, timed with
 * events, best of 20. Prints bytes moved per second (read + write, as
 * CUDA's bandwidthTest counts a copy) and the read rate alone (half).
 * Usage: cudabw [MiB]   (exit 77 without a device) */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t e_ = (x);                                                                      \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "cudabw: %s: %s\n", #x, cudaGetErrorString(e_));                       \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        fprintf(stderr, "cudabw: no CUDA device\n");
        return 77;
    }
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    if (mib == 0 || mib > (1u << 20)) {
        fprintf(stderr, "cudabw: expected a size in MiB\n");
        return 2;
    }
    size_t bytes = mib << 20;
    void *a, *b;
    CK(cudaMalloc(&a, bytes));
    CK(cudaMalloc(&b, bytes));
    CK(cudaMemset(a, 1, bytes));
    cudaEvent_t t0, t1;
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    float best = 1e30f;
    for (int i = 0; i < 20; i++) {
        CK(cudaEventRecord(t0));
        CK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));
        CK(cudaEventRecord(t1));
        CK(cudaEventSynchronize(t1));
        float ms;
        CK(cudaEventElapsedTime(&ms, t0, t1));
        if (ms < best)
            best = ms;
    }
    double moved = 2.0 * (double)bytes / (best / 1e3) / 1e9;
    printf("d2d copy %zu MiB: %.1f GB/s moved (read + write), %.1f GB/s read\n", mib, moved,
           moved / 2);
    return 0;
}
