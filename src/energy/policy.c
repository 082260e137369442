/* The surplus policy: readings in, a power budget out.
 *
 * Order of decisions, safest first:
 *  1. quiet hours: nothing runs;
 *  2. missing, stale or implausible grid (or, with a battery, battery/SoC)
 *     readings: budget 0 now. A dead meter must never read as "no import"
 *     (the hazard in evcc's surplus control), nor a failed battery read as
 *     0 W (which would hide a discharge);
 *  3. the raw budget: export, plus what compute draws now (running must not
 *     cancel the surplus it uses), plus battery charging once the SoC is
 *     above priority, minus any battery discharge, minus the safety margin;
 *     then battery power above the reserve and an off-peak grid allowance;
 *  4. hysteresis: start after the budget held min_run_w for the enable
 *     delay; once running, hold min_run_w through dips shorter than the
 *     disable delay, so passing clouds do not flap the GPU.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "weft/energy.h"

void weft_policy_defaults(struct weft_policy_settings *s)
{
    memset(s, 0, sizeof *s);
    s->max_compute_w = 350;
    s->min_run_w = 100;
    s->safety_margin_w = 50;
    s->has_battery = false;
    s->reserve_soc = 30;
    s->priority_soc = 95;
    s->max_battery_discharge_w = 0;
    s->battery_capacity_wh = 0;
    s->full_by_min = 15 * 60;
    s->charge_margin = 1.0;
    s->plan = 0;
    s->battery_max_w = 0;
    s->plan_horizon_s = 36 * 3600;
    s->plan_margin_pct = 10;
    s->plan_load_sigma = 2;
    s->battery_efficiency = 0.9;
    s->enable_delay_s = 60;
    s->disable_delay_s = 120;
    s->stale_timeout_s = 15;
    s->max_plausible_w = 100000;
}

const char *weft_policy_state_name(enum weft_policy_state s)
{
    switch (s) {
    case WEFT_POLICY_OFF:
        return "off";
    case WEFT_POLICY_STARTING:
        return "starting";
    case WEFT_POLICY_ON:
        return "on";
    case WEFT_POLICY_STOPPING:
        return "stopping";
    }
    return "unknown";
}

void weft_policy_init(struct weft_policy *p)
{
    memset(p, 0, sizeof *p);
    p->state = WEFT_POLICY_OFF;
    p->fault = WEFT_CAUSE_NONE;
}

int weft_window_contains(const struct weft_window *w, int m)
{
    if (w->start_min <= w->end_min)
        return m >= w->start_min && m < w->end_min;
    return m >= w->start_min || m < w->end_min; /* wraps past midnight */
}

/* Checks one quantity: missing, stale or out of [lo, hi]. Returns a cause
 * (and writes the reason) or WEFT_CAUSE_NONE. */
static enum weft_policy_cause check(const struct weft_quantity *q, const char *what, double lo,
                                    double hi, uint64_t now_ms, int stale_s,
                                    enum weft_policy_cause missing, enum weft_policy_cause stale,
                                    char *err, size_t errcap)
{
    if (q->at_ms == 0 || isnan(q->w)) {
        snprintf(err, errcap, "%s reading missing", what);
        return missing;
    }
    uint64_t age = now_ms > q->at_ms ? now_ms - q->at_ms : 0;
    if (age > (uint64_t)stale_s * 1000) {
        snprintf(err, errcap, "%s stale for %llu s", what, (unsigned long long)(age / 1000));
        return stale;
    }
    if (!(q->w >= lo && q->w <= hi)) {
        snprintf(err, errcap, "%s reading %.0f is implausible", what, q->w);
        return WEFT_CAUSE_IMPLAUSIBLE;
    }
    return WEFT_CAUSE_NONE;
}

static void finish(struct weft_policy *p, struct weft_policy_out *out, enum weft_policy_cause c)
{
    out->state = p->state;
    out->cause = c;
    out->cause_changed = (int)c != p->fault;
    p->fault = (int)c;
}

void weft_policy_step(struct weft_policy *p, const struct weft_policy_settings *s,
                      const struct weft_energy_reading *r, uint64_t now_ms, int minute_of_day,
                      struct weft_policy_out *out)
{
    weft_policy_step_plan(p, s, r, NULL, now_ms, minute_of_day, out);
}

/* The raw budget under a battery plan: what the home would export anyway
 * (PV beyond the house and what the battery can still take), plus, while
 * the plan has headroom and the SoC is above the reserve, battery power:
 * less charging or more discharging. */
static double planned_surplus(const struct weft_policy_settings *s,
                              const struct weft_energy_reading *r,
                              const struct weft_plan_input *plan, const char **why)
{
    double compute = r->compute_w > 0 ? r->compute_w : 0;
    double net = -r->grid.w + r->battery.w + compute; /* PV less the house */
    int full = r->soc.w >= 99.5;
    double room = full ? 0 : s->battery_max_w > 0 ? s->battery_max_w : INFINITY;
    double free_w = net > room ? net - room : 0;
    double battery = 0;
    /* Compute that stops keeps min_run_w for the disable delay: stop
     * offering the battery that much SoC before the reserve, so the node
     * has yielded by the time the reserve is reached, not after. */
    double hold_pct = s->battery_capacity_wh > 0
                          ? 100.0 * fmax(compute, s->min_run_w) * s->disable_delay_s / 3600.0 /
                                s->battery_capacity_wh
                          : 0;
    if (r->soc.w <= s->reserve_soc) {
        *why = "battery at or below reserve";
    } else if (r->soc.w <= s->reserve_soc + hold_pct && free_w < s->min_run_w) {
        *why = "battery nearly at reserve";
    } else if (plan->draw_wh > 0 && plan->for_s > 0) {
        battery = plan->draw_wh * 3600.0 / plan->for_s;
        if (s->battery_max_w > 0) /* the battery's discharge limit, house first */
            battery = fmin(battery, fmax(s->battery_max_w + fmin(net, 0), 0));
    } else {
        *why = "the plan keeps the battery for the house";
    }
    return free_w + battery - s->safety_margin_w;
}

void weft_policy_step_plan(struct weft_policy *p, const struct weft_policy_settings *s,
                           const struct weft_energy_reading *r, const struct weft_plan_input *plan,
                           uint64_t now_ms, int minute_of_day, struct weft_policy_out *out)
{
    memset(out, 0, sizeof *out);
    enum weft_policy_cause c = WEFT_CAUSE_NONE;

    for (int i = 0; i < s->n_quiet && c == WEFT_CAUSE_NONE; i++) {
        if (weft_window_contains(&s->quiet[i], minute_of_day)) {
            snprintf(out->reason, sizeof out->reason, "quiet hours until %02d:%02d",
                     s->quiet[i].end_min / 60, s->quiet[i].end_min % 60);
            c = WEFT_CAUSE_QUIET;
        }
    }
    double lim = s->max_plausible_w;
    if (c == WEFT_CAUSE_NONE)
        c = check(&r->grid, "grid meter", -lim, lim, now_ms, s->stale_timeout_s,
                  WEFT_CAUSE_GRID_MISSING, WEFT_CAUSE_GRID_STALE, out->reason, sizeof out->reason);
    if (c == WEFT_CAUSE_NONE && s->has_battery)
        c = check(&r->battery, "battery power", -lim, lim, now_ms, s->stale_timeout_s,
                  WEFT_CAUSE_BATTERY_MISSING, WEFT_CAUSE_BATTERY_STALE, out->reason,
                  sizeof out->reason);
    if (c == WEFT_CAUSE_NONE && s->has_battery)
        c = check(&r->soc, "battery state of charge", 0, 100, now_ms, s->stale_timeout_s,
                  WEFT_CAUSE_BATTERY_MISSING, WEFT_CAUSE_BATTERY_STALE, out->reason,
                  sizeof out->reason);
    if (c != WEFT_CAUSE_NONE) {
        /* Fail safe: off now, no disable delay. */
        p->state = WEFT_POLICY_OFF;
        out->budget_w = 0;
        out->surplus_w = 0;
        finish(p, out, c);
        return;
    }

    /* The raw surplus. compute_w is added back: the meter already shows
     * compute's own draw as less export (or more import). */
    double surplus = -r->grid.w + (r->compute_w > 0 ? r->compute_w : 0);
    double soc = s->has_battery ? r->soc.w : 0;
    double batt = s->has_battery ? r->battery.w : 0;
    const char *why = NULL;
    int planned = s->has_battery && s->plan && plan && plan->valid;
    if (planned) {
        surplus = planned_surplus(s, r, plan, &why);
    } else if (batt < 0) {
        surplus += batt; /* a discharging battery is not surplus */
    } else if (batt > 0 && soc >= s->priority_soc) {
        surplus += batt; /* charging above priority may be redirected */
    } else if (batt > 0) {
        /* Below priority the battery charges first, but only as fast as it
         * must to be full by full_by: the rest of its charging power is
         * surplus that a sunny morning would otherwise waste later. */
        double redirect = 0;
        if (s->battery_capacity_wh > 0 && s->full_by_min >= 0 && minute_of_day < s->full_by_min) {
            double hours = (s->full_by_min - minute_of_day) / 60.0;
            double need = (100.0 - soc) / 100.0 * s->battery_capacity_wh / hours;
            redirect = batt - need * s->charge_margin;
        }
        if (redirect > 0)
            surplus += redirect;
        else
            why = "battery charging first";
    }
    if (!planned)
        surplus -= s->safety_margin_w;
    out->surplus_w = surplus;

    double allow = surplus;
    if (!planned && s->has_battery && s->max_battery_discharge_w > 0) {
        if (soc > s->reserve_soc)
            allow += s->max_battery_discharge_w;
        else if (surplus < s->min_run_w)
            why = "battery at or below reserve";
    }
    for (int i = 0; i < s->n_offpeak; i++)
        if (weft_window_contains(&s->offpeak[i], minute_of_day))
            allow += s->offpeak[i].grid_cap_w;
    double raw = allow < 0 ? 0 : allow > s->max_compute_w ? s->max_compute_w : allow;
    int enough = raw >= s->min_run_w;
    uint64_t held = now_ms > p->since_ms ? (now_ms - p->since_ms) / 1000 : 0;

    switch (p->state) {
    case WEFT_POLICY_OFF:
        if (enough) {
            p->state = WEFT_POLICY_STARTING;
            p->since_ms = now_ms;
            held = 0;
        }
        break;
    case WEFT_POLICY_STARTING:
        if (!enough)
            p->state = WEFT_POLICY_OFF;
        else if (held >= (uint64_t)s->enable_delay_s)
            p->state = WEFT_POLICY_ON;
        break;
    case WEFT_POLICY_ON:
        if (!enough) {
            p->state = WEFT_POLICY_STOPPING;
            p->since_ms = now_ms;
            held = 0;
        }
        break;
    case WEFT_POLICY_STOPPING:
        if (enough)
            p->state = WEFT_POLICY_ON;
        else if (held >= (uint64_t)s->disable_delay_s)
            p->state = WEFT_POLICY_OFF;
        break;
    }
    /* A zero enable delay starts at once. */
    if (p->state == WEFT_POLICY_STARTING && s->enable_delay_s == 0)
        p->state = WEFT_POLICY_ON;

    switch (p->state) {
    case WEFT_POLICY_OFF:
        out->budget_w = 0;
        snprintf(out->reason, sizeof out->reason, "%s (%.0f W available, %.0f W needed)",
                 why ? why : "not enough surplus", raw, s->min_run_w);
        break;
    case WEFT_POLICY_STARTING:
        out->budget_w = 0;
        snprintf(out->reason, sizeof out->reason, "waiting %llu s of %d s enable delay",
                 (unsigned long long)held, s->enable_delay_s);
        break;
    case WEFT_POLICY_ON:
        out->budget_w = raw;
        snprintf(out->reason, sizeof out->reason, "running on %.0f W", raw);
        break;
    case WEFT_POLICY_STOPPING:
        out->budget_w = s->min_run_w;
        snprintf(out->reason, sizeof out->reason,
                 "surplus gone; holding %.0f W, %llu s of %d s disable delay", s->min_run_w,
                 (unsigned long long)held, s->disable_delay_s);
        break;
    }
    finish(p, out, WEFT_CAUSE_NONE);
}
