/* The policy's settings as homeowners write them in JSON (weftd.json's
 * "policy" object, or a file for weft-energy replay --config), with times
 * of day as "HH:MM". Validated by the strict config loader: unknown keys,
 * wrong types, out-of-range values and malformed times are rejected with
 * the key path. Caller-owned plain structs; nothing allocates. */
#ifndef WEFT_ENERGY_CONFIG_H
#define WEFT_ENERGY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "weft/config.h"
#include "weft/energy.h"

struct weft_policy_window_cfg {
    char start[8], end[8]; /* "HH:MM" */
    double grid_cap_w;
};

struct weft_policy_config {
    double max_compute_w, min_run_w, safety_margin_w;
    double reserve_soc, priority_soc, max_battery_discharge_w;
    int enable_delay_s, disable_delay_s, stale_timeout_s;
    double max_plausible_w;
    double battery_capacity_wh; /* 0: unknown (the full_by rule is then off) */
    char battery_full_by[8];    /* "HH:MM", or "" for off */
    double charge_margin;
    double battery_max_w; /* the battery's charge/discharge power, W (0: unknown) */
    double plan_horizon_h, plan_margin_pct, plan_load_sigma, battery_efficiency;
    int n_offpeak, n_quiet;
    struct weft_policy_window_cfg offpeak[WEFT_POLICY_MAX_WINDOWS];
    struct weft_policy_window_cfg quiet_hours[WEFT_POLICY_MAX_WINDOWS];
};

/* The "policy" object's fields, for embedding in a larger schema, and a
 * root schema for a file that holds only the policy. */
extern const struct weft_cfg_field weft_policy_fields[];
extern const struct weft_cfg_field weft_policy_root;

/* The defaults of weft_policy_defaults(), as a config. */
void weft_policy_config_defaults(struct weft_policy_config *c);

/* Converts a validated config into settings (has_battery is the caller's:
 * it depends on the devices, not the policy). */
void weft_policy_from_config(const struct weft_policy_config *c, bool has_battery,
                             struct weft_policy_settings *s);

/* "HH:MM" -> minutes since midnight, or WEFT_EINVAL. */
int weft_parse_hhmm(const char *s);

#endif /* WEFT_ENERGY_CONFIG_H */
