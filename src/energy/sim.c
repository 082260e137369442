/* The home simulator and the counterfactual replay.
 *
 * Two homes run side by side over the same profile: one with compute under
 * the chosen policy, one without. Whatever the first imports beyond the
 * second is grid energy that compute caused, whether it was drawn at once or
 * later because compute emptied the battery. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "weft/energy_sim.h"
#include "weft/error.h"
#include "weft/forecast.h"

void weft_battery_step(struct weft_battery_model *b, double net_w, double dt_s, double *grid_w,
                       double *battery_w)
{
    double h = dt_s / 3600.0, batt = 0, standby_import = 0;
    if (b->capacity_wh > 0) {
        double leg = sqrt(b->efficiency); /* each way */
        if (net_w > 0) {
            double room = (b->capacity_wh - b->energy_wh) / (leg * h);
            batt = fmin(net_w, fmin(b->max_charge_w, room));
            b->energy_wh += batt * leg * h;
        } else if (net_w < 0) {
            double avail = b->energy_wh * leg / h;
            batt = -fmin(-net_w, fmin(b->max_discharge_w, avail));
            b->energy_wh += batt / leg * h;
        }
        double standby = b->standby_w * h, own = fmin(standby, fmax(b->energy_wh, 0));
        b->energy_wh -= own;
        standby_import = (standby - own) / h;
        if (b->energy_wh < 0)
            b->energy_wh = 0;
        if (b->energy_wh > b->capacity_wh)
            b->energy_wh = b->capacity_wh;
    }
    *battery_w = batt;
    *grid_w = batt - net_w + standby_import; /* import covers what PV and battery do not */
}

double weft_battery_soc(const struct weft_battery_model *b)
{
    return b->capacity_wh > 0 ? 100.0 * b->energy_wh / b->capacity_wh : 0;
}

/* Compute's draw for the next interval under the baseline policies. */
static double naive_next(int *on, double grid_w, double compute_w, double min_w, double max_w)
{
    double exported = -grid_w + compute_w; /* what is left if compute stopped */
    if (!*on && -grid_w > min_w)
        *on = 1;
    else if (*on && grid_w > 0)
        *on = 0;
    if (!*on)
        return 0;
    return fmax(min_w, fmin(max_w, exported));
}

/* The month record for profile time t (seconds since the epoch, as if
 * UTC), opened when t starts a new one; NULL past WEFT_REPLAY_MAX_MONTHS. */
static struct weft_replay_month *month_at(struct weft_replay_result *r, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    struct weft_replay_month *m = r->n_months ? &r->months[r->n_months - 1] : NULL;
    if (m && m->year == tm.tm_year + 1900 && m->month == tm.tm_mon + 1)
        return m;
    if (r->n_months == WEFT_REPLAY_MAX_MONTHS)
        return NULL;
    m = &r->months[r->n_months++];
    memset(m, 0, sizeof *m);
    m->year = tm.tm_year + 1900;
    m->month = tm.tm_mon + 1;
    return m;
}

/* The profile's true future as a forecast: the mean of each quarter hour. */
static int true_future(const void *ctx, int64_t now_s, int64_t t, double *pv_w, double *load_w)
{
    (void)now_s;
    const struct weft_profile *p = ctx;
    double mid = (double)(t - t % WEFT_FC_SLOT_S - p->start_s) + WEFT_FC_SLOT_S / 2.0;
    weft_profile_at(p, mid, load_w, pv_w);
    return 0;
}

/* Day-ahead PV from an archive (o->forecast_pv): its slot holding t. */
static int archive_pv(const void *ctx, int64_t now_s, int64_t t, double *pv_w, double *load_w)
{
    (void)now_s;
    (void)load_w;
    const struct weft_profile *fc = ctx;
    int64_t i = (t - fc->start_s) / fc->slot_s;
    if (t < fc->start_s || i >= fc->n)
        return WEFT_ESTALE;
    *pv_w = fc->pv_w[i];
    return 0;
}

/* The clear-sky ratio, made once a day. */
struct clear_ratio {
    int64_t day;
    double ratio;
};

/* The weft policy's plan for the next interval, from the forecast and the
 * battery's energy now. */
static void make_plan(const struct weft_profile *p, const struct weft_replay_opts *o,
                      const struct weft_forecast *fc, double energy_wh, int64_t now_s, int for_s,
                      struct clear_ratio *cr, struct weft_plan_input *in)
{
    const struct weft_policy_settings *s = &o->settings;
    struct weft_plan_battery b;
    weft_plan_battery_of(s, &b); /* what the controller believes */
    struct weft_forecast_layers layers = {fc, NULL, NULL, o->clearsky, 0};
    if (o->clearsky && now_s / 86400 != cr->day) { /* it reads only days before today */
        cr->ratio = weft_forecast_clear_ratio(fc, o->clearsky, now_s);
        cr->day = now_s / 86400;
    }
    layers.clearsky_ratio = cr->ratio;
    if (o->forecast == WEFT_REPLAY_FC_FILE)
        layers.pv = archive_pv, layers.pv_ctx = o->forecast_pv;
    int truth = o->forecast == WEFT_REPLAY_FC_TRUE;
    struct weft_plan plan;
    weft_plan_headroom(truth ? true_future : weft_forecast_fn_layers,
                       truth ? (const void *)p : &layers, &b, energy_wh, now_s, s->plan_horizon_s,
                       s->plan_margin_pct / 100.0 * b.capacity_wh, &plan);
    in->valid = plan.valid;
    in->draw_wh = plan.headroom_wh * sqrt(b.efficiency);
    in->for_s = for_s;
}

static int run(const struct weft_profile *p, const struct weft_replay_opts *o,
               struct weft_replay_result *r)
{
    memset(r, 0, sizeof *r);
    if (p->n < 2 || o->poll_s <= 0 || !(o->battery_eff > 0 && o->battery_eff <= 1) ||
        (o->forecast == WEFT_REPLAY_FC_FILE && o->forecast_pv == NULL) ||
        !(o->battery_standby_w >= 0))
        return WEFT_EINVAL;
    const struct weft_policy_settings *s = &o->settings;
    struct weft_battery_model with = {.capacity_wh = o->battery_wh,
                                      .max_charge_w = o->battery_w,
                                      .max_discharge_w = o->battery_w,
                                      .efficiency = o->battery_eff,
                                      .standby_w = o->battery_standby_w,
                                      .energy_wh = o->battery_wh * o->battery_start_soc / 100.0};
    struct weft_battery_model without = with;
    struct weft_policy pol;
    weft_policy_init(&pol);
    int naive_on = 0;
    struct weft_forecast fc;
    weft_forecast_init(&fc);
    fc.load_sigma = s->plan_load_sigma;
    struct weft_plan_input plan = {0};
    struct clear_ratio cr = {-1, 0};
    int plan_every = o->plan_every_s > 0 ? o->plan_every_s : 300;
    int use_plan = o->policy == WEFT_REPLAY_WEFT && s->plan && o->forecast != WEFT_REPLAY_FC_OFF &&
                   o->battery_wh > 0;
    double next_plan = 0;
    double dt = o->poll_s, h = dt / 3600.0, total = weft_profile_seconds(p);
    double compute = 0; /* draw decided at the last poll */
    double min_w = s->min_run_w, max_w = s->max_compute_w;
    int64_t cur_day = p->start_s / 86400;
    double day_export = 0, day_window = 0;

    for (double t = 0; t < total; t += dt) {
        double load, pv;
        weft_profile_at(p, t, &load, &pv);

        double grid, batt, grid0, batt0;
        weft_battery_step(&with, pv - load - compute, dt, &grid, &batt);
        weft_battery_step(&without, pv - load, dt, &grid0, &batt0);
        if (o->trace) {
            struct weft_replay_point pt = {
                t, pv, load, compute, grid, batt, weft_battery_soc(&with)};
            o->trace(o->trace_ud, &pt);
        }

        r->compute_wh += compute * h;
        r->import_with_wh += fmax(grid, 0) * h;
        r->export_with_wh += fmax(-grid, 0) * h;
        r->import_without_wh += fmax(grid0, 0) * h;
        r->export_without_wh += fmax(-grid0, 0) * h;
        struct weft_replay_month *mo = month_at(r, p->start_s + (int64_t)t);
        if (mo) {
            mo->days += dt / 86400.0;
            mo->compute_wh += compute * h;
            mo->import_with_wh += fmax(grid, 0) * h;
            mo->export_with_wh += fmax(-grid, 0) * h;
            mo->import_without_wh += fmax(grid0, 0) * h;
            mo->export_without_wh += fmax(-grid0, 0) * h;
        }
        /* Perfect foresight within the same limits, day by day: it may run
         * whenever PV exceeds the load by min_w (at up to max_w), but not
         * use more in a day than the home without compute exported that
         * day, or the battery would start the night emptier. */
        int64_t day = (p->start_s + (int64_t)t) / 86400;
        if (day != cur_day) {
            r->export_window_wh += fmin(day_export, day_window);
            cur_day = day;
            day_export = day_window = 0;
        }
        day_export += fmax(-grid0, 0) * h;
        if (pv - load >= min_w)
            day_window += fmin(pv - load, max_w) * h;

        /* The node polls its meters and decides the next interval. */
        double next;
        if (o->policy == WEFT_REPLAY_ALWAYS) {
            next = max_w;
        } else if (o->policy == WEFT_REPLAY_NAIVE) {
            next = naive_next(&naive_on, grid, compute, min_w, max_w);
        } else {
            uint64_t now = (uint64_t)(t * 1000) + 1;
            struct weft_energy_reading rd = {
                .pv = {pv, now},
                .load = {load + compute, now},
                .grid = {grid, now},
                .battery = {batt, now},
                .soc = {weft_battery_soc(&with), now},
                .compute_w = compute,
            };
            struct weft_policy_out out;
            int64_t local = p->start_s + (int64_t)t;
            if (use_plan) {
                weft_forecast_observe(&fc, local, pv, load);
                if (t >= next_plan) {
                    make_plan(p, o, &fc, with.energy_wh, local, plan_every, &cr, &plan);
                    next_plan = t + plan_every;
                }
            }
            weft_policy_step_plan(&pol, s, &rd, use_plan ? &plan : NULL, now,
                                  weft_profile_minute(p, t), &out);
            next = fmin(out.budget_w, max_w);
        }
        if (compute <= 0 && next > 0) {
            r->switches++;
            if (mo)
                mo->switches++;
        }
        compute = next;
    }
    r->export_window_wh += fmin(day_export, day_window);
    r->days = total / 86400.0;
    r->grid_import_for_compute_wh = fmax(0, r->import_with_wh - r->import_without_wh);
    r->compute_from_surplus_share =
        r->compute_wh > 0 ? 1.0 - r->grid_import_for_compute_wh / r->compute_wh : 0;
    /* Surplus compute used: energy the home no longer exported. (Equal to
     * compute minus the import it caused, less any change in the
     * battery's final charge.) */
    double used = fmax(0, r->export_without_wh - r->export_with_wh);
    r->export_window_share = r->export_window_wh > 0 ? used / r->export_window_wh : 0;
    return 0;
}

int weft_replay(const struct weft_profile *p, const struct weft_replay_opts *o,
                struct weft_replay_result *r)
{
    int rc = run(p, o, r);
    if (rc < 0)
        return rc;
    /* The closed-form bound comes from the same home run always on. */
    struct weft_replay_result always = *r;
    if (o->policy != WEFT_REPLAY_ALWAYS) {
        struct weft_replay_opts a = *o;
        a.policy = WEFT_REPLAY_ALWAYS;
        a.trace = NULL;
        if ((rc = run(p, &a, &always)) < 0)
            return rc;
    }
    r->always_free_wh = fmax(0, always.compute_wh - always.grid_import_for_compute_wh);
    for (int i = 0; i < r->n_months; i++) {
        struct weft_replay_month *m = &r->months[i];
        m->grid_import_for_compute_wh = fmax(0, m->import_with_wh - m->import_without_wh);
        m->compute_from_surplus_share =
            m->compute_wh > 0 ? 1.0 - m->grid_import_for_compute_wh / m->compute_wh : 0;
    }
    return 0;
}
