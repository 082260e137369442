/* GPU discovery and the CUDA backend's entry points, through the loadable
 * module (cuda/module.h): loaded on first use when an NVIDIA driver is
 * present, else every answer is "no GPU" and nothing CUDA is mapped. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda/module.h"
#include "model.h"
#include "weft/error.h"
#include "weft/gpu.h"

/* Written once under pthread_once, read-only after: the loaded module's
 * table (NULL when there is none) and why not. */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const struct weft_cuda_api *api;
static char load_why[320];

/* NVIDIA's driver shows itself as /dev/nvidiactl (or /dev/dxg under WSL).
 * Without either there is nothing to find: the module is not even opened. */
static int driver_present(void)
{
    return access("/dev/nvidiactl", F_OK) == 0 || access("/dev/dxg", F_OK) == 0;
}

static void *try_open(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL && access(path, F_OK) == 0)
        snprintf(load_why, sizeof load_why, "%s", dlerror());
    return h;
}

/* $WEFT_CUDA_MODULE, else beside the executable: ../lib/weft (installed)
 * or ../lib (the build tree, for tools in bin/ and tests in tests/). */
static void *open_module(void)
{
    const char *env = getenv("WEFT_CUDA_MODULE");
    if (env && *env)
        return try_open(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return NULL;
    *slash = '\0';
    static const char *const rel[] = {"../lib/weft/libweft_cuda.so", "../lib/libweft_cuda.so"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", exe, rel[i]);
        void *h = try_open(path);
        if (h)
            return h;
    }
    return NULL;
}

static void load(void)
{
    /* An explicit module path is loaded regardless (tests use it to check
     * the module on machines without a GPU). */
    const char *env = getenv("WEFT_CUDA_MODULE");
    if (!(env && *env) && !driver_present()) {
        snprintf(load_why, sizeof load_why, "no NVIDIA driver (/dev/nvidiactl absent)");
        return;
    }
    void *h = open_module();
    if (h == NULL) {
        if (!load_why[0])
            snprintf(load_why, sizeof load_why, "libweft_cuda.so not found beside the executable");
        return;
    }
    const struct weft_cuda_api *(*get)(void) = NULL;
    *(void **)&get = dlsym(h, WEFT_CUDA_MODULE_SYMBOL);
    const struct weft_cuda_api *a = get ? get() : NULL;
    if (a == NULL || a->abi != WEFT_CUDA_ABI || a->model_size != sizeof(struct weft_model)) {
        snprintf(load_why, sizeof load_why,
                 "libweft_cuda.so is from another build (ABI or model layout differs)");
        dlclose(h);
        return;
    }
    api = a; /* the module stays loaded for the life of the process */
}

static const struct weft_cuda_api *module(void)
{
    pthread_once(&load_once, load);
    return api;
}

static int absent(char *err, size_t errcap)
{
    if (errcap)
        snprintf(err, errcap, "no CUDA backend: %s", load_why[0] ? load_why : "not loaded");
    return WEFT_ENOTSUP;
}

int weft_gpu_built(void)
{
#ifdef WEFT_CUDA_BUILT
    return 1;
#else
    return 0;
#endif
}

int weft_gpu_count(void)
{
    const struct weft_cuda_api *a = module();
    return a ? a->gpu_count() : 0;
}

int weft_gpu_describe(int index, struct weft_gpu_info *info, char *err, size_t errcap)
{
    const struct weft_cuda_api *a = module();
    if (a)
        return a->gpu_describe(index, info, err, errcap);
    if (errcap)
        snprintf(err, errcap, "no CUDA device %d: %s", index, load_why);
    return WEFT_ENODEV;
}

int weft_cuda_model_new(const struct weft_model *m, int device, int n_ctx,
                        struct weft_cuda_model **out, char *err, size_t errcap)
{
    const struct weft_cuda_api *a = module();
    *out = NULL;
    return a ? a->model_new(m, device, n_ctx, out, err, errcap) : absent(err, errcap);
}

void weft_cuda_model_free(struct weft_cuda_model *cm)
{
    if (cm)
        module()->model_free(cm); /* only a loaded module made one */
}

int weft_cuda_seq_new(struct weft_cuda_model *cm, int n_ctx, struct weft_cuda_seq **out, char *err,
                      size_t errcap)
{
    const struct weft_cuda_api *a = module();
    *out = NULL;
    return a ? a->seq_new(cm, n_ctx, out, err, errcap) : absent(err, errcap);
}

void weft_cuda_seq_free(struct weft_cuda_seq *s)
{
    if (s)
        module()->seq_free(s);
}

int weft_cuda_eval(struct weft_cuda_seq *s, const int32_t *tokens, int n, int pos, float *logits,
                   char *err, size_t errcap)
{
    const struct weft_cuda_api *a = module();
    return a ? a->eval(s, tokens, n, pos, logits, err, errcap) : absent(err, errcap);
}

int weft_cuda_decode(struct weft_cuda_seq *const *seqs, int n, const int32_t *tokens,
                     const int *pos, float *const *logits, char *err, size_t errcap)
{
    const struct weft_cuda_api *a = module();
    return a ? a->decode(seqs, n, tokens, pos, logits, err, errcap) : absent(err, errcap);
}
