/* Energy readings and the surplus policy: the one number a node lives by,
 * the watts compute may use now.
 *
 * Sign conventions, everywhere in Weft (readers convert vendors' signs at
 * the edge): grid_w is + import / - export; battery_w is + charge /
 * - discharge; pv_w, load_w and compute_w are >= 0.
 *
 * The policy is a pure function of (readings, settings, time, its own
 * state): weft_policy_step() does no I/O and reads no clock, so tables of
 * cases can drive it. The caller owns both structs; nothing allocates.
 * One policy state per node; not shared between threads.
 */
#ifndef WEFT_ENERGY_H
#define WEFT_ENERGY_H

#include <stdbool.h>
#include <stdint.h>

/* A quantity that was never read, or whose last read failed, is NAN with
 * at_ms == 0. at_ms is the monotonic time of the last good read. */
struct weft_quantity {
    double w; /* value; for soc, percent */
    uint64_t at_ms;
};

struct weft_energy_reading {
    struct weft_quantity pv;      /* W, >= 0 */
    struct weft_quantity load;    /* W, >= 0, the house including compute */
    struct weft_quantity grid;    /* W, + import / - export */
    struct weft_quantity battery; /* W, + charge / - discharge */
    struct weft_quantity soc;     /* % 0..100 */
    double compute_w;             /* what this node's compute draws now (NVML or estimate) */
};

/* A daily window [start_min, end_min) in local minutes since midnight;
 * end < start wraps past midnight. */
struct weft_window {
    int start_min, end_min;
    double grid_cap_w; /* off-peak windows: grid power compute may use */
};

#define WEFT_POLICY_MAX_WINDOWS 8

struct weft_policy_settings {
    double max_compute_w;           /* never budget more than this */
    double min_run_w;               /* below this compute is not worth starting */
    double safety_margin_w;         /* kept back from the surplus */
    bool has_battery;               /* false: battery readings are not needed */
    double reserve_soc;             /* never discharge for compute at or below this % */
    double priority_soc;            /* below this % the battery charges first */
    double max_battery_discharge_w; /* battery power compute may use above reserve; 0 = none */
    /* Below priority_soc, compute may still take the battery's charging
     * power beyond what it needs to be full by full_by_min (local minute of
     * day; -1: off), given its capacity (0: unknown, rule off). The rate it
     * needs is multiplied by charge_margin (>= 1) to allow for clouds. */
    double battery_capacity_wh;
    int full_by_min;
    double charge_margin;
    /* The battery plan (issue 16; include/weft/forecast.h). With plan set
     * and a valid plan the battery rules above give way to its headroom:
     * compute may take stored energy, day or night, as far as the forecast
     * refills it. Off by default: on the home's own history as the forecast
     * it imports too much (docs/BENCHMARKS.md); weft-energy replay turns it
     * on with --forecast. battery_max_w is the battery's charge/discharge
     * power (0: unknown); the plan looks plan_horizon_s ahead and keeps
     * plan_margin_pct of the capacity in hand for what the forecast gets
     * wrong. */
    int plan;
    double battery_max_w;
    int plan_horizon_s;
    double plan_margin_pct;
    double plan_load_sigma;    /* the house's load planned at mean + this x its spread */
    double battery_efficiency; /* round trip, (0, 1], for the plan's battery model */
    int enable_delay_s;        /* budget must stay >= min_run_w this long to start */
    int disable_delay_s;       /* and below it this long to stop */
    int stale_timeout_s;       /* older readings count as missing */
    double max_plausible_w;    /* |grid|, |battery|, pv, load above this are implausible */
    int n_offpeak;
    struct weft_window offpeak[WEFT_POLICY_MAX_WINDOWS];
    int n_quiet;
    struct weft_window quiet[WEFT_POLICY_MAX_WINDOWS];
};

/* Defaults documented in docs/energy.md. */
void weft_policy_defaults(struct weft_policy_settings *s);

enum weft_policy_state {
    WEFT_POLICY_OFF = 0,
    WEFT_POLICY_STARTING = 1, /* budget is there; waiting out the enable delay */
    WEFT_POLICY_ON = 2,
    WEFT_POLICY_STOPPING = 3, /* budget is gone; holding min_run_w for the disable delay */
};

const char *weft_policy_state_name(enum weft_policy_state s);

struct weft_policy {
    enum weft_policy_state state;
    uint64_t since_ms; /* when the current STARTING/STOPPING phase began */
    int fault;         /* the fail-safe cause last reported, for log-once */
};

/* Why the budget is what it is. Fail-safe causes force budget 0 at once,
 * skipping the disable delay. */
enum weft_policy_cause {
    WEFT_CAUSE_NONE = 0,
    WEFT_CAUSE_QUIET,
    WEFT_CAUSE_GRID_MISSING,
    WEFT_CAUSE_GRID_STALE,
    WEFT_CAUSE_BATTERY_MISSING,
    WEFT_CAUSE_BATTERY_STALE,
    WEFT_CAUSE_IMPLAUSIBLE,
};

struct weft_policy_out {
    enum weft_policy_state state;
    double budget_w;  /* what compute may draw now */
    double surplus_w; /* the raw figure behind it (for status pages) */
    enum weft_policy_cause cause;
    /* 1 when `cause` differs from the last step's: log the reason once. */
    int cause_changed;
    char reason[128]; /* one human sentence: "waiting 45 s of 60 s enable delay" */
};

void weft_policy_init(struct weft_policy *p);

/* One poll. now_ms: monotonic clock; minute_of_day: local wall clock, for
 * off-peak windows and quiet hours (0..1439). */
void weft_policy_step(struct weft_policy *p, const struct weft_policy_settings *s,
                      const struct weft_energy_reading *r, uint64_t now_ms, int minute_of_day,
                      struct weft_policy_out *out);

/* What the policy takes from a battery plan (weft_plan_headroom): the
 * energy compute may draw from the battery, at its terminals, before the
 * next plan, spread over the for_s seconds until then. */
struct weft_plan_input {
    int valid;
    double draw_wh;
    int for_s;
};

/* weft_policy_step with a plan (NULL, invalid, or s->plan off: the same as
 * without). The hard guards come first either way. */
void weft_policy_step_plan(struct weft_policy *p, const struct weft_policy_settings *s,
                           const struct weft_energy_reading *r, const struct weft_plan_input *plan,
                           uint64_t now_ms, int minute_of_day, struct weft_policy_out *out);

/* 1 when minute_of_day lies in the window. */
int weft_window_contains(const struct weft_window *w, int minute_of_day);

#endif /* WEFT_ENERGY_H */
