/* A schema shaped like a node's config (nested objects, arrays of objects,
 * arrays of strings, enums, cross-field checks), shared by the config unit
 * tests and the config fuzz target so that both exercise the same paths. */
#ifndef WEFT_TEST_SAMPLE_SCHEMA_H
#define WEFT_TEST_SAMPLE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "weft/config.h"
#include "weft/error.h"

struct sample_device {
    char name[32];
    int proto;
    char host[64];
    int port;
    int unit_id;
};

struct sample_battery {
    double reserve_soc;
    double priority_soc;
    double max_discharge_w;
};

struct sample_energy {
    int poll_ms;
    struct sample_battery battery;
    struct sample_device devices[4];
    int n_devices;
};

struct sample_config {
    char node_name[32];
    bool allow_interactive;
    int log_level;
    char urls[3][128];
    int n_urls;
    struct sample_energy energy;
};

static const char *const sample_protos[] = {"tcp", "rtu", NULL};
static const char *const sample_levels[] = {"error", "warn", "info", "debug", NULL};

static int sample_battery_check(const void *obj, char *err, size_t errcap)
{
    const struct sample_battery *b = obj;
    if (b->reserve_soc > b->priority_soc) {
        snprintf(err, errcap, "reserve_soc (%g) must not exceed priority_soc (%g)", b->reserve_soc,
                 b->priority_soc);
        return WEFT_ECONFIG;
    }
    return 0;
}

static const struct weft_cfg_field sample_battery_fields[] = {
    WEFT_CFG_DOUBLE_F(struct sample_battery, reserve_soc, "reserve_soc", 0, 100, 0,
                      "never discharge below this state of charge, %"),
    WEFT_CFG_DOUBLE_F(struct sample_battery, priority_soc, "priority_soc", 0, 100, 0,
                      "below this the battery charges first, %"),
    WEFT_CFG_DOUBLE_F(struct sample_battery, max_discharge_w, "max_discharge_w", 0, 100000, 0,
                      "battery power compute may use, W"),
    WEFT_CFG_END,
};

static const struct weft_cfg_field sample_device_fields[] = {
    WEFT_CFG_STRING_F(struct sample_device, name, "name", 0, "label in logs"),
    WEFT_CFG_ENUM_F(struct sample_device, proto, "proto", sample_protos, 0, "transport"),
    WEFT_CFG_STRING_F(struct sample_device, host, "host", WEFT_CFG_REQUIRED, "address"),
    WEFT_CFG_INT_F(struct sample_device, port, "port", 1, 65535, 0, "TCP port"),
    WEFT_CFG_INT_F(struct sample_device, unit_id, "unit_id", 0, 255, 0, "Modbus unit id"),
    WEFT_CFG_END,
};

static const struct weft_cfg_field sample_device_elem[] = {
    {.type = WEFT_CFG_OBJECT, .fields = sample_device_fields},
};

static const struct weft_cfg_field sample_url_elem[] = {
    {.type = WEFT_CFG_STRING, .size = 128, .min = 8, .max = 127},
};

static const struct weft_cfg_field sample_energy_fields[] = {
    WEFT_CFG_INT_F(struct sample_energy, poll_ms, "poll_ms", 100, 60000, 0, "poll period"),
    {.key = "battery",
     .type = WEFT_CFG_OBJECT,
     .offset = offsetof(struct sample_energy, battery),
     .fields = sample_battery_fields,
     .validate = sample_battery_check},
    WEFT_CFG_ARRAY_F(struct sample_energy, devices, n_devices, "devices", sample_device_elem, 0, 0,
                     "energy devices"),
    WEFT_CFG_END,
};

static const struct weft_cfg_field sample_fields[] = {
    WEFT_CFG_STRING_F(struct sample_config, node_name, "node_name", WEFT_CFG_REQUIRED, "node name"),
    WEFT_CFG_BOOL_F(struct sample_config, allow_interactive, "allow_interactive", 0,
                    "take interactive requests"),
    WEFT_CFG_ENUM_F(struct sample_config, log_level, "log_level", sample_levels, 0, "verbosity"),
    WEFT_CFG_ARRAY_F(struct sample_config, urls, n_urls, "scheduler_urls", sample_url_elem, 1, 0,
                     "schedulers to dial"),
    WEFT_CFG_OBJECT_F(struct sample_config, energy, "energy", sample_energy_fields, 0, "energy"),
    WEFT_CFG_END,
};

static const struct weft_cfg_field sample_root =
    WEFT_CFG_ROOT(struct sample_config, sample_fields, NULL);

static inline void sample_defaults(struct sample_config *c)
{
    *c = (struct sample_config){
        .allow_interactive = true,
        .log_level = 2,
        .energy = {.poll_ms = 1000,
                   .battery = {.reserve_soc = 20, .priority_soc = 50, .max_discharge_w = 0}},
    };
}

#endif /* WEFT_TEST_SAMPLE_SCHEMA_H */
