/* Forecasts of a home's PV and house load, and the battery plan built on
 * them (issue 16).
 *
 * The forecast learns from the home's own history: per quarter hour of the
 * local day, what PV produced and what the house drew (without compute)
 * over the last WEFT_FC_DAYS days, recent days weighing more. The plan
 * replays the battery over the next horizon on that forecast and says how
 * much stored energy compute may take now without the battery running out
 * before the forecast refills it: the headroom.
 *
 * Both are pure computation over caller-owned structs: no I/O, no clock,
 * no allocation, so the replay and weftd drive them the same way and tests
 * can show they are causal (a forecast made at t reads nothing observed
 * after t). One forecast per home; not shared between threads.
 */
#ifndef WEFT_FORECAST_H
#define WEFT_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#define WEFT_FC_SLOT_S 900 /* a quarter hour */
#define WEFT_FC_SLOTS  (86400 / WEFT_FC_SLOT_S)
#define WEFT_FC_DAYS   14

struct weft_forecast {
    /* Per day of the ring (day index modulo WEFT_FC_DAYS) and slot: mean
     * PV and house load in W, and whether the slot was observed. */
    float pv[WEFT_FC_DAYS][WEFT_FC_SLOTS];
    float load[WEFT_FC_DAYS][WEFT_FC_SLOTS];
    uint8_t seen[WEFT_FC_DAYS][WEFT_FC_SLOTS];
    int64_t day[WEFT_FC_DAYS]; /* which local day each ring entry holds; -1 none */
    /* The slot being accumulated. */
    int64_t cur_slot; /* local seconds / WEFT_FC_SLOT_S; -1 none */
    double sum_pv, sum_load;
    int n;
    double half_life_days; /* weight of a day: 0.5^(age / half_life) */
    double load_sigma;     /* load is forecast as mean + load_sigma x its spread (default 2) */
};

void weft_forecast_init(struct weft_forecast *f);

/* One observation at local time local_s (seconds since the epoch on the
 * local clock): PV and the house's load without compute, in W. Times must
 * not go backwards; a NaN value is skipped. */
void weft_forecast_observe(struct weft_forecast *f, int64_t local_s, double pv_w, double load_w);

/* The history as bytes to keep across restarts, and back. The form is
 * versioned and fixed in size (WEFT_FC_STATE_BYTES); weft_forecast_load
 * refuses any other size, a wrong version, and values no poll could have
 * made (negative or non-finite watts, a day ring out of order), leaving f
 * as weft_forecast_init made it (fuzzed: tests/fuzz/fuzz_forecast.c).
 * The slot being accumulated is not kept. */
#define WEFT_FC_STATE_BYTES (16 + WEFT_FC_DAYS * (8 + WEFT_FC_SLOTS * 9))
void weft_forecast_save(const struct weft_forecast *f, unsigned char out[WEFT_FC_STATE_BYTES]);
int weft_forecast_load(struct weft_forecast *f, const unsigned char *data, size_t len);

/* Days of history the forecast has (observed days in the ring). */
int weft_forecast_days(const struct weft_forecast *f);

/* The expected PV and load in the quarter hour holding local time t, from
 * the days before today_s's day: the weighted mean of PV, and of load plus
 * load_sigma weighted standard deviations. Returns 0, or WEFT_ESTALE with
 * no history for that slot. */
int weft_forecast_at(const struct weft_forecast *f, int64_t today_s, int64_t t, double *pv_w,
                     double *load_w);

/* The battery, as the plan models it (the replay's model, energy.md). */
struct weft_plan_battery {
    double capacity_wh;
    double max_charge_w, max_discharge_w;
    double efficiency; /* round trip, (0, 1] */
    double standby_w;
};

/* The battery as the policy's settings describe it (what the controller
 * believes, which the replay's simulated battery need not match): an
 * unknown power (battery_max_w 0) is taken as a full charge in an hour. */
struct weft_policy_settings;
void weft_plan_battery_of(const struct weft_policy_settings *s, struct weft_plan_battery *b);

/* A source of the expected PV and load per quarter hour: the history
 * forecast, or (in the replay) the profile's true future. */
typedef int (*weft_forecast_fn)(const void *ctx, int64_t now_s, int64_t t, double *pv_w,
                                double *load_w);
int weft_forecast_fn_history(const void *ctx, int64_t now_s, int64_t t, double *pv_w,
                             double *load_w);

/* The layers: PV from a day-ahead source (a weather service, an archive)
 * where it covers t, else from the clear-sky model scaled by the home's
 * own ratio, else from the history; load always from the history, which
 * knows the house. pv NULL: no day-ahead source. A source writes only
 * *pv_w. */
struct weft_clearsky;
struct weft_forecast_layers {
    const struct weft_forecast *history;
    weft_forecast_fn pv;
    const void *pv_ctx;
    /* Between the two, where set: the clear-sky PV times clearsky_ratio,
     * what recent days made of their clear sky (weft_forecast_clear_ratio;
     * <= 0: no ratio yet, the history's PV). */
    const struct weft_clearsky *clearsky;
    double clearsky_ratio;
};

/* What the home's PV made of its clear sky over the days before today_s's
 * day, weighted as the history weighs days; 0 without a sunny slot seen. */
double weft_forecast_clear_ratio(const struct weft_forecast *f, const struct weft_clearsky *cs,
                                 int64_t today_s);
int weft_forecast_fn_layers(const void *ctx, int64_t now_s, int64_t t, double *pv_w,
                            double *load_w);

struct weft_plan {
    int valid;          /* 0: no forecast for the horizon; rules without a plan apply */
    double headroom_wh; /* stored energy compute may take now (>= 0) */
    double low_wh;      /* the forecast battery's lowest point, stored Wh, without compute */
    int64_t low_at_s;   /* when (local) */
    int64_t full_at_s;  /* when the forecast battery is next full; -1 not in the horizon */
    double export_wh;   /* what the forecast home would export over the horizon */
};

/* Plans from now (local seconds) over horizon_s, in quarter hours, with the
 * battery holding energy_wh now: headroom = the least, over the horizon,
 * of the battery's energy plus the export it could still have absorbed by
 * then, less margin_wh. Taking d Wh now leaves the battery d lower until
 * export it would have had refills it, so d <= headroom never empties the
 * battery where it would not have emptied without compute. */
void weft_plan_headroom(weft_forecast_fn fc, const void *ctx, const struct weft_plan_battery *b,
                        double energy_wh, int64_t now_s, int horizon_s, double margin_wh,
                        struct weft_plan *out);

/* How long compute drawing draw_w can go on from now, by the forecast:
 * on PV the battery would not take, then on plan->headroom_wh of stored
 * energy, until both are spent; seconds, at most horizon_s. 0 when the
 * plan is invalid. The node reports it so the scheduler gives long work to
 * the homes whose sun or battery lasts (include/weft/nodemsg.h budget_s). */
int weft_plan_budget_s(weft_forecast_fn fc, const void *ctx, const struct weft_plan_battery *b,
                       double energy_wh, int64_t now_s, int horizon_s, const struct weft_plan *plan,
                       double draw_w);

#endif /* WEFT_FORECAST_H */
