/* Energy profiles and the home simulator: replaying a measured year of PV
 * and house load through a battery model and a policy, with and without
 * compute, to say what compute cost the grid.
 *
 * Used by weft-energy replay, by weft-panelsim's day profiles, and by the
 * policy benchmark. Ownership: weft_profile owns its arrays (freed by
 * weft_profile_free); the other structs are plain values. Single-threaded.
 */
#ifndef WEFT_ENERGY_SIM_H
#define WEFT_ENERGY_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "weft/energy.h"

/* A profile: equal slots of mean power, from a CSV whose first column is a
 * "YYYY-MM-DD HH:MM:SS" timestamp and whose header names the columns. */
struct weft_profile {
    int n;           /* slots */
    int slot_s;      /* slot length, seconds (all slots equal) */
    int64_t start_s; /* first slot's start, seconds since the epoch, as if UTC */
    float *load_w;   /* house load per slot, W */
    float *pv_w;     /* PV per slot, W */
};

#define WEFT_PROFILE_MAX_ROWS (1 << 22)

/* Columns are in kW in the file (mean power per slot); pv_scale multiplies
 * PV (to model another array size). Errors name the file, line and column:
 * "day.csv:17: column GG: expected a number, got \"x\"". */
int weft_profile_load(const char *path, const char *load_col, const char *pv_col, double pv_scale,
                      struct weft_profile *out, char *err, size_t errcap);
void weft_profile_free(struct weft_profile *p);
/* Length in seconds. */
double weft_profile_seconds(const struct weft_profile *p);
/* Load and PV at t seconds after the start, linearly interpolated between
 * slot midpoints (held flat before the first and after the last). */
void weft_profile_at(const struct weft_profile *p, double t_s, double *load_w, double *pv_w);
/* Where in the profile a day spec falls, in days from its first slot: a
 * number of days ("30.5": noon of the 31st day) or a local date and time in
 * the profile's clock ("2012-01-15", "2012-01-15T12:00", "2012-01-15 12:00").
 * 0, or WEFT_EINVAL with why in err (not a day, or outside the profile). */
int weft_profile_day(const struct weft_profile *p, const char *spec, double *day, char *err,
                     size_t errcap);
struct weft_site;
/* A synthetic profile for a trial without a measured one (weft-panelsim
 * --clear-sky): days quarter hours from start_s (local midnight, as if
 * UTC) of the site's clear-sky PV (clearsky.h) under a house load held at
 * load_w. 0, WEFT_EINVAL (a site out of range, days outside 1..3660, a
 * negative load) or WEFT_ENOMEM. */
int weft_profile_clearsky(const struct weft_site *site, int64_t start_s, int days, double load_w,
                          struct weft_profile *out);
/* Local minute of day (0..1439) at t seconds after the start. */
int weft_profile_minute(const struct weft_profile *p, double t_s);

/* A self-consumption battery: PV surplus charges it, deficits discharge it,
 * within power limits and capacity; the rest goes to or comes from the
 * grid. capacity_wh 0 means no battery. Powers are at the battery's
 * terminals; the round trip loses 1 - efficiency, half of it (as the square
 * root) on the way in and half on the way out. The battery's own standby
 * draw comes from its energy while it has some, else from the house. */
struct weft_battery_model {
    double capacity_wh;
    double max_charge_w, max_discharge_w;
    double efficiency; /* round trip, (0, 1] */
    double standby_w;  /* >= 0 */
    double energy_wh;  /* state: what it holds */
};

/* One step of dt seconds with net = pv - load - compute (W). Writes grid_w
 * (+ import) and battery_w (+ charge). */
void weft_battery_step(struct weft_battery_model *b, double net_w, double dt_s, double *grid_w,
                       double *battery_w);
double weft_battery_soc(const struct weft_battery_model *b);

enum weft_replay_policy {
    WEFT_REPLAY_WEFT = 0,   /* weft_policy_step with the given settings */
    WEFT_REPLAY_NAIVE = 1,  /* start on export > min_run_w, stop on any import, no delays */
    WEFT_REPLAY_ALWAYS = 2, /* always at max_compute_w */
};

/* What the weft policy's battery plan forecasts from (issue 16). */
enum weft_replay_forecast {
    WEFT_REPLAY_FC_HISTORY = 0, /* the home's own past, causally */
    WEFT_REPLAY_FC_TRUE = 1,    /* the profile's true future: what the controller alone loses */
    WEFT_REPLAY_FC_OFF = 2,     /* no plan: the battery rules without one */
    WEFT_REPLAY_FC_FILE = 3,    /* PV from forecast_pv (day-ahead values), load from history */
};

/* One step of a replay, as the trace sees it (the home with compute). */
struct weft_replay_point {
    double t_s; /* seconds from the profile's start */
    double pv_w, load_w, compute_w, grid_w, battery_w, soc_pct;
};

struct weft_replay_opts {
    enum weft_replay_policy policy;
    /* Called at every step of the policy's run (not of the always-on run
     * beside it), or NULL. */
    void (*trace)(void *ud, const struct weft_replay_point *pt);
    void *trace_ud;
    enum weft_replay_forecast forecast;
    int plan_every_s;                       /* how often the plan is made (0: 300) */
    const struct weft_profile *forecast_pv; /* WEFT_REPLAY_FC_FILE: day-ahead PV per slot */
    const struct weft_clearsky *clearsky;   /* history and file: the clear-sky layer, or NULL */
    struct weft_policy_settings settings;   /* max/min W also bound naive and always */
    double battery_wh, battery_w;           /* capacity, max charge = max discharge */
    double battery_eff;                     /* round trip, (0, 1] */
    double battery_standby_w;               /* the battery's own draw */
    double battery_start_soc;               /* % at the start */
    int poll_s;                             /* decision interval */
};

/* One calendar month of a replay (the profile's clock, as if UTC). Its
 * oracle_wh is what the oracle's plan computes in that month: the bound's
 * share of the month, not a bound of its own (the battery carries energy
 * across months). */
#define WEFT_REPLAY_MAX_MONTHS 240
struct weft_replay_month {
    int year, month; /* 2012, 1..12 */
    double days, compute_wh, import_with_wh, import_without_wh, export_with_wh, export_without_wh;
    double grid_import_for_compute_wh, compute_from_surplus_share, oracle_wh, oracle_share;
    long switches;
};

struct weft_replay_result {
    double days;
    double compute_wh;
    double grid_import_for_compute_wh; /* import(with) - import(without) */
    double compute_from_surplus_share; /* 1 - the above / compute_wh */
    /* The most compute that causes no extra grid import, as a perfect-
     * foresight controller could run it: set by weft_oracle() (0 until
     * then), with oracle_share = compute_wh / oracle_wh. */
    double oracle_wh;
    double oracle_share;
    /* Always-on's compute less the import it caused. For a lossless
     * battery without standby draw this is the bound itself: more compute
     * never raises later battery energy or export, and compute - extra
     * import = the export displaced + the change in the battery's end
     * energy (energy.md). With losses it is only a figure. */
    double always_free_wh;
    /* The old figure under an honest name: per day, the smaller of what the
     * home exported and what a controller could draw while PV exceeded the
     * load; not a bound (it ignores what the battery shifts). */
    double export_window_wh;
    double export_window_share; /* export displaced / export_window_wh */
    long switches;              /* times compute started */
    double import_with_wh, import_without_wh, export_with_wh, export_without_wh;
    struct weft_replay_month months[WEFT_REPLAY_MAX_MONTHS]; /* in order; more are dropped */
    int n_months;
};

/* Runs o->policy over the profile (and always-on beside it, for
 * always_free_wh). WEFT_EINVAL for a profile under two slots, a poll under
 * 1 s, or a battery efficiency outside (0, 1]. */
int weft_replay(const struct weft_profile *p, const struct weft_replay_opts *o,
                struct weft_replay_result *r);

/* The oracle (src/energy/oracle.c): the most compute that imports no more
 * than the home without compute, over the same model with losses and
 * standby, as a linear program over bins of bin_s seconds (a multiple of
 * o->poll_s). An upper bound for every policy. Fills r->oracle_wh,
 * oracle_share and each month's; r must come from weft_replay() with the
 * same profile and options. Two solvers give the same optimum:
 * WEFT_ORACLE_DP, the program's Lagrangian dual with an exact dynamic
 * program over the battery's energy (about 0.1 s per 10^4 bins), and
 * WEFT_ORACLE_LP, GLPK's simplex on the program itself, whose time grows
 * faster than the bins (14 s for 9 months of 30-minute bins; kept as the
 * check on the first). Coarser bins only loosen the bound (more netting
 * inside a bin), never break it. */
#define WEFT_ORACLE_BIN_S 300
enum weft_oracle_method {
    WEFT_ORACLE_DP = 0,
    WEFT_ORACLE_LP = 1,
};
int weft_oracle(const struct weft_profile *p, const struct weft_replay_opts *o, int bin_s,
                enum weft_oracle_method method, struct weft_replay_result *r, char *err,
                size_t errcap);
/* Copies the oracle of another policy's replay of the same home (it does
 * not depend on the policy) and computes r's shares of it. */
void weft_replay_set_oracle(struct weft_replay_result *r, const struct weft_replay_result *from);

#endif /* WEFT_ENERGY_SIM_H */
