/* weftd's view of NVML (private to src/node): GPU power draw and the
 * power-management limit, when the NVIDIA driver is there. See nvml.c. */
#ifndef WEFT_NODE_NVML_H
#define WEFT_NODE_NVML_H

#include <stddef.h>

/* Room for the private state inside struct node_energy (no allocation). */
#define NODE_NVML_SIZE 128

/* 0 when NVML and a GPU are there; otherwise WEFT_ENODEV (no driver, or no
 * GPU) or WEFT_ENOSYS (a driver without the power calls). Either way err
 * holds a line for the log and the status page. */
int node_nvml_open(void *storage, char *err, size_t errcap);
int node_nvml_ok(const void *storage);
/* The GPU's draw now in W, or NAN when none is measured. */
double node_nvml_power_w(void *storage);
/* The GPU's energy counter (mJ since the driver loaded) into *mj: 0, or
 * WEFT_ENOSYS where NVML or the counter (GPUs before Volta) is missing,
 * WEFT_EIO when the driver refused. */
int node_nvml_energy_mj(void *storage, unsigned long long *mj);
/* Sets the power limit to watts, clamped to what the GPU allows (0: its
 * minimum). 0, WEFT_ENOSYS (no limit to set here) or WEFT_EACCES (the
 * driver refused: weftd lacks the right). */
int node_nvml_limit(void *storage, double watts);
/* The limit weftd last set, in W, or -1 when it has set none. */
double node_nvml_limit_w(const void *storage);
/* Restores the default limit if we changed it, and unloads NVML. */
void node_nvml_close(void *storage);

#endif /* WEFT_NODE_NVML_H */
