/* GPU power through NVML, loaded with dlopen so weftd runs (and builds)
 * where the NVIDIA driver is absent. Only the handful of entry points
 * weftd needs, declared from NVIDIA's public API documentation: power
 * draw (mW), the energy counter (mJ), the power-management limit and its
 * allowed range (mW).
 *
 * Everything here runs on the loop thread. Setting a limit needs the
 * right to (root or the driver's persistence settings); weftd does it
 * only when the homeowner turned compute.gpu_power_limit on, and puts the
 * default back when it stops. */
#include "nvml.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "weft/error.h"

typedef int nvml_ret;
typedef struct nvml_device *nvml_dev;

struct node_nvml {
    void *lib;
    nvml_dev dev;
    unsigned min_mw, max_mw, default_mw, set_mw;
    nvml_ret (*init)(void);
    nvml_ret (*shutdown)(void);
    nvml_ret (*by_index)(unsigned, nvml_dev *);
    nvml_ret (*power)(nvml_dev, unsigned *);
    nvml_ret (*energy)(nvml_dev, unsigned long long *);
    nvml_ret (*constraints)(nvml_dev, unsigned *, unsigned *);
    nvml_ret (*default_limit)(nvml_dev, unsigned *);
    nvml_ret (*set_limit)(nvml_dev, unsigned);
};

/* One node_nvml per daemon, kept inside struct node_energy's storage. */
_Static_assert(sizeof(struct node_nvml) <= NODE_NVML_SIZE, "NODE_NVML_SIZE too small");

int node_nvml_open(void *storage, char *err, size_t errcap)
{
    struct node_nvml *n = storage;
    memset(n, 0, sizeof *n);
    n->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!n->lib) {
        snprintf(err, errcap, "no NVML (libnvidia-ml.so.1 not found): draw is estimated");
        return WEFT_ENODEV;
    }
    *(void **)&n->init = dlsym(n->lib, "nvmlInit_v2");
    *(void **)&n->shutdown = dlsym(n->lib, "nvmlShutdown");
    *(void **)&n->by_index = dlsym(n->lib, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&n->power = dlsym(n->lib, "nvmlDeviceGetPowerUsage");
    *(void **)&n->energy = dlsym(n->lib, "nvmlDeviceGetTotalEnergyConsumption");
    *(void **)&n->constraints = dlsym(n->lib, "nvmlDeviceGetPowerManagementLimitConstraints");
    *(void **)&n->default_limit = dlsym(n->lib, "nvmlDeviceGetPowerManagementDefaultLimit");
    *(void **)&n->set_limit = dlsym(n->lib, "nvmlDeviceSetPowerManagementLimit");
    if (!n->init || !n->shutdown || !n->by_index || !n->power) {
        snprintf(err, errcap, "NVML lacks the power calls: draw is estimated");
        dlclose(n->lib);
        n->lib = NULL;
        return WEFT_ENOSYS;
    }
    if (n->init() != 0 || n->by_index(0, &n->dev) != 0) {
        snprintf(err, errcap, "NVML found no GPU: draw is estimated");
        n->shutdown();
        dlclose(n->lib);
        n->lib = NULL;
        return WEFT_ENODEV;
    }
    if (n->constraints && n->constraints(n->dev, &n->min_mw, &n->max_mw) != 0)
        n->min_mw = n->max_mw = 0;
    if (n->default_limit && n->default_limit(n->dev, &n->default_mw) != 0)
        n->default_mw = 0;
    snprintf(err, errcap, "NVML: GPU power read from the driver");
    return 0;
}

int node_nvml_ok(const void *storage)
{
    return ((const struct node_nvml *)storage)->lib != NULL;
}

double node_nvml_power_w(void *storage)
{
    struct node_nvml *n = storage;
    unsigned mw = 0;
    if (!n->lib || n->power(n->dev, &mw) != 0)
        return NAN;
    return mw / 1000.0;
}

int node_nvml_energy_mj(void *storage, unsigned long long *mj)
{
    struct node_nvml *n = storage;
    if (!n->lib || !n->energy)
        return WEFT_ENOSYS;
    return n->energy(n->dev, mj) == 0 ? 0 : WEFT_EIO;
}

int node_nvml_limit(void *storage, double watts)
{
    struct node_nvml *n = storage;
    if (!n->lib || !n->set_limit || n->max_mw == 0)
        return WEFT_ENOSYS;
    unsigned mw = watts <= 0 ? n->min_mw : (unsigned)(watts * 1000);
    if (mw < n->min_mw)
        mw = n->min_mw;
    if (mw > n->max_mw)
        mw = n->max_mw;
    /* The driver takes a moment per change: skip changes under 5 %. */
    if (n->set_mw && (mw > n->set_mw ? mw - n->set_mw : n->set_mw - mw) < n->max_mw / 20)
        return 0;
    if (n->set_limit(n->dev, mw) != 0)
        return WEFT_EACCES; /* NVML_ERROR_NO_PERMISSION, mostly: the right is root's */
    n->set_mw = mw;
    return 0;
}

double node_nvml_limit_w(const void *storage)
{
    const struct node_nvml *n = storage;
    return n->lib && n->set_mw ? n->set_mw / 1000.0 : -1;
}

void node_nvml_close(void *storage)
{
    struct node_nvml *n = storage;
    if (!n->lib)
        return;
    if (n->set_mw && n->default_mw && n->set_limit)
        n->set_limit(n->dev, n->default_mw); /* the homeowner's GPU as we found it */
    n->shutdown();
    dlclose(n->lib);
    n->lib = NULL;
}
