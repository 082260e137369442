/* weftd's view of NVML (private to src/node): GPU power draw and the
 * power-management limit, when the NVIDIA driver is there. See nvml.c. */
#ifndef WEFT_NODE_NVML_H
#define WEFT_NODE_NVML_H

#include <stddef.h>

/* Room for the private state inside struct weftd (no allocation). */
#define NODE_NVML_SIZE 128

/* 0 when NVML and a GPU are there; -1 otherwise, with why[] saying which
 * (either way why[] is a line for the log and the status page). */
int node_nvml_open(void *storage, char *why, size_t cap);
int node_nvml_ok(const void *storage);
/* The GPU's draw now in W, or -1. */
double node_nvml_power_w(void *storage);
/* The GPU's energy counter (mJ since the driver loaded) into *mj: 0, or -1
 * where NVML or the counter (GPUs before Volta) is missing. */
int node_nvml_energy_mj(void *storage, unsigned long long *mj);
/* Sets the power limit to watts, clamped to what the GPU allows (0: its
 * minimum). 0, or -1 when not possible. */
int node_nvml_limit(void *storage, double watts);
/* The limit weftd last set, in W, or -1 when it has set none. */
double node_nvml_limit_w(const void *storage);
/* Restores the default limit if we changed it, and unloads NVML. */
void node_nvml_close(void *storage);

#endif /* WEFT_NODE_NVML_H */
