/* GPU discovery. On a machine without a CUDA device every case skips
 * (exit 77); on a GPU machine it checks the device is described sensibly
 * and that this build's kernels actually run on it. */
#include "harness.h"
#include "weft/error.h"
#include "weft/gpu.h"

TEST(describes_every_device_and_runs_a_kernel)
{
    int n = weft_gpu_count();
    ASSERT(n >= 0);
    if (n == 0)
        TEST_SKIP("no CUDA device (built with CUDA: %s)", weft_gpu_built() ? "yes" : "no");
    for (int i = 0; i < n; i++) {
        struct weft_gpu_info info;
        char why[256];
        int rc = weft_gpu_describe(i, &info, why, sizeof why);
        if (rc != 0)
            TEST_FAIL_("device %d: %s: %s", i, weft_strerror(rc), why);
        fprintf(stderr, "device %d: %s, cc %d.%d, %llu MiB (%llu free), %d SMs\n", i, info.name,
                info.cc_major, info.cc_minor, (unsigned long long)(info.total_bytes >> 20),
                (unsigned long long)(info.free_bytes >> 20), info.multiprocessors);
        ASSERT(info.name[0] != '\0');
        ASSERT(info.cc_major >= 5);
        ASSERT(info.total_bytes > 0 && info.free_bytes <= info.total_bytes);
        ASSERT(info.multiprocessors > 0);
    }
}

TEST(bad_index_is_refused)
{
    struct weft_gpu_info info;
    char why[256];
    ASSERT_EQ_INT(weft_gpu_describe(-1, &info, why, sizeof why), WEFT_ENODEV);
    ASSERT(why[0] != '\0');
    ASSERT_EQ_INT(weft_gpu_describe(1 << 20, &info, why, sizeof why), WEFT_ENODEV);
}
