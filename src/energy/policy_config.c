/* JSON form of the policy settings: the schema, defaults and conversion. */
#include <stdio.h>
#include <string.h>

#include "weft/energy_config.h"
#include "weft/error.h"

int weft_parse_hhmm(const char *s)
{
    if (strlen(s) != 5 || s[2] != ':')
        return WEFT_EINVAL;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return WEFT_EINVAL;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59)
        return WEFT_EINVAL;
    return h * 60 + m;
}

static int check_window(const void *obj, char *err, size_t errcap)
{
    const struct weft_policy_window_cfg *w = obj;
    const char *bad = weft_parse_hhmm(w->start) < 0 ? w->start
                      : weft_parse_hhmm(w->end) < 0 ? w->end
                                                    : NULL;
    if (bad) {
        snprintf(err, errcap, "expected times as \"HH:MM\" (00:00..23:59), got \"%s\"", bad);
        return WEFT_ECONFIG;
    }
    if (strcmp(w->start, w->end) == 0) {
        snprintf(err, errcap, "start and end are both %s: the window would be empty", w->start);
        return WEFT_ECONFIG;
    }
    return 0;
}

static int check_policy(const void *obj, char *err, size_t errcap)
{
    const struct weft_policy_config *c = obj;
    if (c->min_run_w > c->max_compute_w) {
        snprintf(err, errcap, "min_run_w (%g) must not exceed max_compute_w (%g)", c->min_run_w,
                 c->max_compute_w);
        return WEFT_ECONFIG;
    }
    if (c->battery_full_by[0] && weft_parse_hhmm(c->battery_full_by) < 0) {
        snprintf(err, errcap, "battery_full_by: expected \"HH:MM\" or \"\", got \"%s\"",
                 c->battery_full_by);
        return WEFT_ECONFIG;
    }
    if (c->reserve_soc > c->priority_soc) {
        snprintf(err, errcap, "reserve_soc (%g) must not exceed priority_soc (%g)", c->reserve_soc,
                 c->priority_soc);
        return WEFT_ECONFIG;
    }
    return 0;
}

#define W struct weft_policy_window_cfg
static const struct weft_cfg_field window_fields[] = {
    WEFT_CFG_STRING_F(W, start, "start", WEFT_CFG_REQUIRED, "local time the window opens, HH:MM"),
    WEFT_CFG_STRING_F(W, end, "end", WEFT_CFG_REQUIRED, "local time it closes; may wrap midnight"),
    WEFT_CFG_DOUBLE_F(W, grid_cap_w, "grid_cap_w", 0, 100000, 0,
                      "grid power compute may use in an off-peak window, W"),
    WEFT_CFG_END,
};
static const struct weft_cfg_field quiet_fields[] = {
    WEFT_CFG_STRING_F(W, start, "start", WEFT_CFG_REQUIRED, "local time quiet hours begin, HH:MM"),
    WEFT_CFG_STRING_F(W, end, "end", WEFT_CFG_REQUIRED, "local time they end"),
    WEFT_CFG_END,
};
#undef W
static const struct weft_cfg_field offpeak_elem[] = {
    {.type = WEFT_CFG_OBJECT, .fields = window_fields, .validate = check_window},
};
static const struct weft_cfg_field quiet_elem[] = {
    {.type = WEFT_CFG_OBJECT, .fields = quiet_fields, .validate = check_window},
};

#define P struct weft_policy_config
const struct weft_cfg_field weft_policy_fields[] = {
    WEFT_CFG_DOUBLE_F(P, max_compute_w, "max_compute_w", 1, 100000, 0,
                      "most power compute may use, W"),
    WEFT_CFG_DOUBLE_F(P, min_run_w, "min_run_w", 0, 100000, 0, "least power worth running at, W"),
    WEFT_CFG_DOUBLE_F(P, safety_margin_w, "safety_margin_w", 0, 100000, 0,
                      "kept back from the surplus, W"),
    WEFT_CFG_DOUBLE_F(P, reserve_soc, "reserve_soc", 0, 100, 0,
                      "never discharge the battery for compute at or below this, %"),
    WEFT_CFG_DOUBLE_F(P, priority_soc, "priority_soc", 0, 100, 0,
                      "below this the battery charges before compute runs, %"),
    WEFT_CFG_DOUBLE_F(P, max_battery_discharge_w, "max_battery_discharge_w", 0, 100000, 0,
                      "battery power compute may use above the reserve, W (0: none)"),
    WEFT_CFG_INT_F(P, enable_delay_s, "enable_delay_s", 0, 86400, 0,
                   "budget must hold this long before compute starts, s"),
    WEFT_CFG_INT_F(P, disable_delay_s, "disable_delay_s", 0, 86400, 0,
                   "and stay gone this long before it stops, s"),
    WEFT_CFG_INT_F(P, stale_timeout_s, "stale_timeout_s", 1, 3600, 0,
                   "readings older than this count as missing, s"),
    WEFT_CFG_DOUBLE_F(P, max_plausible_w, "max_plausible_w", 1, 10000000, 0,
                      "power readings beyond this are implausible, W"),
    WEFT_CFG_DOUBLE_F(P, battery_capacity_wh, "battery_capacity_wh", 0, 10000000, 0,
                      "usable battery energy, Wh (0: unknown)"),
    WEFT_CFG_STRING_F(P, battery_full_by, "battery_full_by", 0,
                      "below priority_soc, charging power beyond what fills the battery by this "
                      "local time may run compute (\"\": off)"),
    WEFT_CFG_DOUBLE_F(P, charge_margin, "charge_margin", 1, 10, 0,
                      "factor on the charging rate the battery is left"),
    WEFT_CFG_DOUBLE_F(P, battery_max_w, "battery_max_w", 0, 10000000, 0,
                      "the battery's charge and discharge power, W (0: unknown)"),
    WEFT_CFG_DOUBLE_F(P, plan_horizon_h, "plan_horizon_h", 1, 168, 0,
                      "how far ahead the plan looks, h"),
    WEFT_CFG_DOUBLE_F(P, plan_margin_pct, "plan_margin_pct", 0, 100, 0,
                      "battery energy the plan keeps in hand for forecast errors, % of capacity"),
    WEFT_CFG_DOUBLE_F(P, battery_efficiency, "battery_efficiency", 0.5, 1, 0,
                      "the battery's round-trip efficiency, for the plan"),
    WEFT_CFG_DOUBLE_F(P, plan_load_sigma, "plan_load_sigma", 0, 10, 0,
                      "the plan takes the house's load as its mean plus this many standard "
                      "deviations over recent days"),
    WEFT_CFG_ARRAY_F(P, offpeak, n_offpeak, "offpeak", offpeak_elem, 0, 0,
                     "windows when grid power may run compute"),
    WEFT_CFG_ARRAY_F(P, quiet_hours, n_quiet, "quiet_hours", quiet_elem, 0, 0,
                     "windows when nothing runs"),
    WEFT_CFG_END,
};
#undef P

const struct weft_cfg_field weft_policy_root =
    WEFT_CFG_ROOT(struct weft_policy_config, weft_policy_fields, check_policy);

void weft_policy_config_defaults(struct weft_policy_config *c)
{
    struct weft_policy_settings s;
    weft_policy_defaults(&s);
    memset(c, 0, sizeof *c);
    c->max_compute_w = s.max_compute_w;
    c->min_run_w = s.min_run_w;
    c->safety_margin_w = s.safety_margin_w;
    c->reserve_soc = s.reserve_soc;
    c->priority_soc = s.priority_soc;
    c->max_battery_discharge_w = s.max_battery_discharge_w;
    c->enable_delay_s = s.enable_delay_s;
    c->disable_delay_s = s.disable_delay_s;
    c->stale_timeout_s = s.stale_timeout_s;
    c->max_plausible_w = s.max_plausible_w;
    c->battery_capacity_wh = s.battery_capacity_wh;
    int fb = s.full_by_min >= 0 && s.full_by_min < 1440 ? s.full_by_min : 0;
    snprintf(c->battery_full_by, sizeof c->battery_full_by, "%02u:%02u", (unsigned)fb / 60 % 24,
             (unsigned)fb % 60);
    c->charge_margin = s.charge_margin;
    c->battery_max_w = s.battery_max_w;
    c->plan_horizon_h = s.plan_horizon_s / 3600.0;
    c->plan_margin_pct = s.plan_margin_pct;
    c->plan_load_sigma = s.plan_load_sigma;
    c->battery_efficiency = s.battery_efficiency;
}

void weft_policy_from_config(const struct weft_policy_config *c, bool has_battery,
                             struct weft_policy_settings *s)
{
    weft_policy_defaults(s);
    s->max_compute_w = c->max_compute_w;
    s->min_run_w = c->min_run_w;
    s->safety_margin_w = c->safety_margin_w;
    s->has_battery = has_battery;
    s->reserve_soc = c->reserve_soc;
    s->priority_soc = c->priority_soc;
    s->max_battery_discharge_w = c->max_battery_discharge_w;
    s->enable_delay_s = c->enable_delay_s;
    s->disable_delay_s = c->disable_delay_s;
    s->stale_timeout_s = c->stale_timeout_s;
    s->max_plausible_w = c->max_plausible_w;
    s->battery_capacity_wh = c->battery_capacity_wh;
    s->full_by_min = c->battery_full_by[0] ? weft_parse_hhmm(c->battery_full_by) : -1;
    s->charge_margin = c->charge_margin;
    s->battery_max_w = c->battery_max_w;
    s->plan_horizon_s = (int)(c->plan_horizon_h * 3600);
    s->plan_margin_pct = c->plan_margin_pct;
    s->plan_load_sigma = c->plan_load_sigma;
    s->battery_efficiency = c->battery_efficiency;
    s->n_offpeak = c->n_offpeak;
    for (int i = 0; i < c->n_offpeak; i++) {
        s->offpeak[i].start_min = weft_parse_hhmm(c->offpeak[i].start);
        s->offpeak[i].end_min = weft_parse_hhmm(c->offpeak[i].end);
        s->offpeak[i].grid_cap_w = c->offpeak[i].grid_cap_w;
    }
    s->n_quiet = c->n_quiet;
    for (int i = 0; i < c->n_quiet; i++) {
        s->quiet[i].start_min = weft_parse_hhmm(c->quiet_hours[i].start);
        s->quiet[i].end_min = weft_parse_hhmm(c->quiet_hours[i].end);
        s->quiet[i].grid_cap_w = 0;
    }
}
