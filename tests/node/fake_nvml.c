/* A stand-in for NVIDIA's libnvidia-ml.so.1 with one GPU, for testing
 * weftd's NVML path (src/node/nvml.c) on machines without the driver. It
 * answers the eight calls weftd makes, with the signatures from NVIDIA's
 * NVML API reference, and writes every call that changes something to the
 * file named by FAKE_NVML_LOG, one line each:
 *   init | shutdown | set MILLIWATTS
 * The GPU: draw FAKE_NVML_POWER_MW (default 87000), limits 100-250 W,
 * default limit 200 W; its energy counter starts at 5 kJ and runs at
 * FAKE_NVML_ENERGY_MW (default: the draw). A counter that runs faster than
 * the sampled draw is what a GPU whose load comes in bursts between samples
 * looks like; the tests use it to tell which one weftd summed. FAKE_NVML_NO_GPU=1 makes nvmlInit_v2
 * fail the way the real library does without a driver. Only calls made between init and shutdown,
 * on the handle this library gave out, succeed: a caller that gets the order or the handle wrong
 * sees errors, as it would with the driver.
 *
 * It is a test double: passing against it shows weftd calls NVML as its
 * documentation says, not that a real GPU's limit moves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Return codes from nvml.h: NVML_SUCCESS, _ERROR_UNINITIALIZED,
 * _ERROR_INVALID_ARGUMENT, _ERROR_DRIVER_NOT_LOADED. */
enum { OK = 0, UNINIT = 1, INVALID = 2, NO_DRIVER = 9 };

struct nvml_device {
    int id;
};

static struct nvml_device gpu0 = {0};
static int inited;
static double inited_s;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned env_mw(const char *name, unsigned dflt)
{
    const char *p = getenv(name);
    return p ? (unsigned)strtoul(p, NULL, 10) : dflt;
}

static const unsigned min_mw = 100000, max_mw = 250000, default_mw = 200000;

/* One line: what, and the value when there is one (v >= 0). */
static void note(const char *what, long v)
{
    const char *path = getenv("FAKE_NVML_LOG");
    if (!path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    if (v >= 0)
        fprintf(f, "%s %ld\n", what, v);
    else
        fprintf(f, "%s\n", what);
    fclose(f);
}

/* A call's status: before init, on a handle not ours, or with a NULL
 * out-pointer (args_ok 0), what the real library returns. */
static int check(struct nvml_device *dev, int args_ok)
{
    if (!inited)
        return UNINIT;
    return dev == &gpu0 && args_ok ? OK : INVALID;
}

int nvmlInit_v2(void)
{
    const char *no = getenv("FAKE_NVML_NO_GPU");
    if (no && strcmp(no, "1") == 0)
        return NO_DRIVER;
    inited = 1;
    inited_s = now_s();
    note("init", -1);
    return OK;
}

int nvmlShutdown(void)
{
    if (!inited)
        return UNINIT;
    inited = 0;
    note("shutdown", -1);
    return OK;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned index, struct nvml_device **dev)
{
    if (!inited)
        return UNINIT;
    if (index != 0 || !dev)
        return INVALID;
    *dev = &gpu0;
    return OK;
}

int nvmlDeviceGetPowerUsage(struct nvml_device *dev, unsigned *mw)
{
    int rc = check(dev, mw != NULL);
    if (rc != OK)
        return rc;
    *mw = env_mw("FAKE_NVML_POWER_MW", 87000);
    return OK;
}

int nvmlDeviceGetTotalEnergyConsumption(struct nvml_device *dev, unsigned long long *mj)
{
    int rc = check(dev, mj != NULL);
    if (rc != OK)
        return rc;
    unsigned rate = env_mw("FAKE_NVML_ENERGY_MW", env_mw("FAKE_NVML_POWER_MW", 87000));
    *mj = 5000000ull + (unsigned long long)(rate * (now_s() - inited_s)); /* mW x s = mJ */
    return OK;
}

int nvmlDeviceGetPowerManagementLimitConstraints(struct nvml_device *dev, unsigned *lo,
                                                 unsigned *hi)
{
    int rc = check(dev, lo && hi);
    if (rc != OK)
        return rc;
    *lo = min_mw;
    *hi = max_mw;
    return OK;
}

int nvmlDeviceGetPowerManagementDefaultLimit(struct nvml_device *dev, unsigned *mw)
{
    int rc = check(dev, mw != NULL);
    if (rc != OK)
        return rc;
    *mw = default_mw;
    return OK;
}

int nvmlDeviceSetPowerManagementLimit(struct nvml_device *dev, unsigned mw)
{
    int rc = check(dev, 1);
    if (rc != OK)
        return rc;
    if (mw < min_mw || mw > max_mw)
        return INVALID;
    note("set", (long)mw);
    return OK;
}
