/* GPU discovery in a build without the CUDA backend: there is none. */
#include <stdio.h>

#include "weft/error.h"
#include "weft/gpu.h"

int weft_gpu_built(void)
{
    return 0;
}

int weft_gpu_count(void)
{
    return 0;
}

int weft_gpu_describe(int index, struct weft_gpu_info *info, char *why, size_t cap)
{
    (void)index;
    (void)info;
    if (cap)
        snprintf(why, cap, "this build has no CUDA backend");
    return WEFT_ENODEV;
}
