/* The node's energy loop: every poll_ms a Modbus read on libuv's thread
 * pool (bounded by the read timeout, so it never holds a pool thread
 * long), then, back on the loop, the reading, the policy step and the
 * GPU's limit; the owner hears of each step (interval_end, stepped) and
 * does the rest: the ledger, a yield, a poll for work.
 *
 * A device that stops answering keeps its last good values with their old
 * timestamps: the policy sees them go stale and drops the budget to 0
 * after stale_timeout_s, with the reason on the status page. Reconnects
 * back off exponentially with jitter (1 s up to 60 s). */
#include "energy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "weft/clearsky.h"
#include "weft/error.h"
#include "weft/file.h"
#include "weft/log.h"
#include "weft/time.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

/* Thread pool: connect when needed, discover once (SunSpec), read, write
 * our draw. Leaves a sample in Weft's signs in e->last_vals. */
static void read_work(uv_work_t *w)
{
    struct node_energy *n = w->data;
    const struct weftd_energy_cfg *c = n->cfg;
    n->last_rc = 0;
    n->last_err[0] = '\0';
    if (!n->mb) {
        n->last_rc = weft_modbus_open_url(c->modbus, c->unit, c->timeout_ms, &n->mb, n->last_err,
                                          sizeof n->last_err);
        if (n->last_rc)
            return;
        n->mb_discovered = 0;
    }
    struct weft_energy_sample *out = &n->last_vals;
    if (strcmp(c->layout, "sunspec") == 0) {
        if (!n->mb_discovered) {
            n->last_rc = weft_sunspec_discover(n->mb, &n->map, n->last_err, sizeof n->last_err);
            if (n->last_rc)
                goto drop;
            n->mb_discovered = 1;
        }
        struct weft_sunspec_values v;
        n->last_rc = weft_sunspec_read(n->mb, &n->map, &v, n->last_err, sizeof n->last_err);
        if (n->last_rc)
            goto drop;
        double pv = isfinite(v.ac_w) ? v.ac_w : v.dc_w;
        double grid = v.meter_w * c->grid_sign;
        double batt = v.batt_w * c->battery_sign;
        out->v[WEFT_Q_PV] = pv;
        out->v[WEFT_Q_GRID] = grid;
        out->v[WEFT_Q_BATTERY] = batt;
        out->v[WEFT_Q_SOC] = v.soc_pct;
        /* The house is what PV and the grid bring in, less what the
         * battery takes. */
        out->v[WEFT_Q_LOAD] = pv + grid - (isfinite(batt) ? batt : 0);
    } else {
        n->last_rc = weft_regmap_read(n->mb, &n->regmap, out, n->last_err, sizeof n->last_err);
        if (n->last_rc)
            goto drop;
        if (!isfinite(out->v[WEFT_Q_LOAD]))
            out->v[WEFT_Q_LOAD] = out->v[WEFT_Q_PV] + out->v[WEFT_Q_GRID] -
                                  (isfinite(out->v[WEFT_Q_BATTERY]) ? out->v[WEFT_Q_BATTERY] : 0);
    }
    if (c->compute_register >= 0) {
        double cw = n->write_w < 0 ? 0 : n->write_w > 65535 ? 65535 : n->write_w;
        n->last_rc = weft_modbus_write(n->mb, (uint32_t)c->compute_register, (uint16_t)lrint(cw),
                                       n->last_err, sizeof n->last_err);
        if (n->last_rc)
            goto drop;
    }
    return;
drop:
    /* A fresh connection next time: a device that timed out may have lost
     * track of the transaction ids, and discovery may have changed. */
    weft_modbus_close(n->mb);
    n->mb = NULL;
}

static void set_q(struct weft_quantity *q, double v, uint64_t now)
{
    if (isfinite(v)) {
        q->w = v;
        q->at_ms = now;
    }
}

/* The clear-sky layer where the site and array are configured (a second
 * of libnova at start). The offset is the local clock's now: across a
 * daylight-saving change the table is an hour out until the next start. */
static void make_clearsky(struct node_energy *e, const struct weftd_forecast_cfg *c)
{
    if (c->kwp <= 0 || (c->latitude == 0 && c->longitude == 0))
        return;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    struct weft_site site = {c->latitude, c->longitude, c->tilt,
                             c->azimuth,  c->kwp,       (int)tm.tm_gmtoff};
    e->clearsky = malloc(sizeof *e->clearsky);
    if (e->clearsky && weft_clearsky_init(e->clearsky, &site) != 0) {
        free(e->clearsky);
        e->clearsky = NULL;
    }
    if (e->clearsky)
        weft_log_info(e->log,
                      "forecast: a clear-sky model of the array (%.1f kWp, tilt %.0f, "
                      "azimuth %.0f)",
                      c->kwp, c->tilt, c->azimuth);
}

int64_t node_local_s(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    return (int64_t)t + tm.tm_gmtoff;
}

static int minute_of_day(void)
{
    return (int)(node_local_s() % 86400 / 60);
}

#define PLAN_EVERY_S 300
#define SAVE_EVERY_S 3600

/* The history survives restarts in state_dir/forecast.bin, written every
 * SAVE_EVERY_S and at stop (a crash loses an hour of learning at most). */
static void save_history(struct node_energy *e)
{
    unsigned char *buf = malloc(WEFT_FC_STATE_BYTES);
    if (buf == NULL)
        return;
    weft_forecast_save(&e->history, buf);
    int rc = weft_file_replace(e->history_path, buf, WEFT_FC_STATE_BYTES);
    if (rc < 0)
        weft_log_warn(e->log, "forecast: cannot keep %s: %s", e->history_path, weft_strerror(rc));
    free(buf);
    e->saved_ms = weft_mono_ms();
}

static void load_history(struct node_energy *e)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = weft_file_read(e->history_path, WEFT_FC_STATE_BYTES, &buf, &len);
    if (rc == 0)
        rc = weft_forecast_load(&e->history, (const unsigned char *)buf, len);
    if (rc == 0)
        weft_log_info(e->log, "forecast: %d days of this home's history from %s",
                      weft_forecast_days(&e->history), e->history_path);
    else if (rc != WEFT_ENOENT)
        weft_log_warn(e->log, "forecast: %s: %s; learning anew", e->history_path,
                      weft_strerror(rc));
    free(buf);
}

/* Every PLAN_EVERY_S: the battery over the horizon on the forecast, from
 * the SoC now. */
static void make_plan(struct node_energy *e, uint64_t now)
{
    if (e->plan_ms && weft_elapsed_ms(e->plan_ms, now) < PLAN_EVERY_S * 1000)
        return;
    if (weft_elapsed_ms(e->saved_ms, now) >= SAVE_EVERY_S * 1000)
        save_history(e);
    struct weft_plan_battery b;
    weft_plan_battery_of(&e->ps, &b);
    struct weft_forecast_layers layers = {&e->history, NULL, NULL, e->clearsky, 0};
    if (e->clearsky)
        layers.clearsky_ratio = weft_forecast_clear_ratio(&e->history, e->clearsky, node_local_s());
    e->clear_ratio = layers.clearsky_ratio;
    if (e->dayahead)
        layers.pv = weft_dayahead_fn, layers.pv_ctx = e->dayahead;
    e->plan_local_s = node_local_s();
    if (isfinite(e->reading.soc.w) && e->reading.soc.at_ms)
        weft_plan_headroom(weft_forecast_fn_layers, &layers, &b,
                           e->reading.soc.w / 100.0 * b.capacity_wh, e->plan_local_s,
                           e->ps.plan_horizon_s, e->ps.plan_margin_pct / 100.0 * b.capacity_wh,
                           &e->plan);
    else
        memset(&e->plan, 0, sizeof e->plan); /* no SoC: no plan (and the policy fails safe) */
    e->budget_s = weft_plan_budget_s(weft_forecast_fn_layers, &layers, &b,
                                     e->reading.soc.w / 100.0 * b.capacity_wh, e->plan_local_s,
                                     e->ps.plan_horizon_s, &e->plan, e->ps.max_compute_w);
    e->plan_in = (struct weft_plan_input){.valid = e->plan.valid,
                                          .draw_wh = e->plan.headroom_wh * sqrt(b.efficiency),
                                          .for_s = PLAN_EVERY_S};
    e->plan_ms = now;
}

/* The draw compute makes now, W: NVML's reading where there is one, else
 * the configured estimate scaled by the duty cycle while a job runs. */
static double draw(struct node_energy *e)
{
    double w = node_nvml_power_w(e->nvml);
    e->gpu_w = isfinite(w) ? w : -1;
    if (e->gpu_w >= 0)
        return e->gpu_w;
    if (!e->running)
        return e->compute->idle_w;
    double budget = e->pout.budget_w;
    double duty = budget >= e->compute->busy_w ? 1.0 : budget / e->compute->busy_w;
    if (duty < 0.1)
        duty = 0.1;
    return e->compute->idle_w + duty * (e->compute->busy_w - e->compute->idle_w);
}

/* The homeowner's pause and cap, and a higher-ranked load, over what the
 * policy decided; its own state runs on underneath, so lifting one picks
 * up where the sun is. */
static void apply_overrides(const struct node_energy *e, struct weft_policy_out *out)
{
    const char *why = e->paused ? "paused by the homeowner" : e->yield ? e->yield_why : NULL;
    if (why) {
        out->budget_w = 0;
        out->state = WEFT_POLICY_OFF;
        snprintf(out->reason, sizeof out->reason, "%s", why);
    } else if (e->max_w >= 0 && out->budget_w > e->max_w) {
        out->budget_w = e->max_w >= e->ps.min_run_w ? e->max_w : 0;
        size_t n = strlen(out->reason);
        snprintf(out->reason + n, sizeof out->reason - n, " (capped at %.0f W)", e->max_w);
    }
}

/* The minute's means into the ring, for the chart. */
static void recent_add(struct node_energy *e, uint64_t now)
{
    const struct weft_energy_reading *r = &e->reading;
    double v[5] = {r->pv.at_ms ? r->pv.w : NAN, r->load.at_ms ? r->load.w : NAN,
                   r->soc.at_ms ? r->soc.w : NAN, e->compute_w, e->pout.budget_w};
    for (int k = 0; k < 5; k++)
        if (isfinite(v[k])) {
            e->recent_sum[k] += v[k];
            e->recent_cnt[k]++;
        }
    if (!e->recent_ms)
        e->recent_ms = now;
    if (weft_elapsed_ms(e->recent_ms, now) < 60000)
        return;
    int at = (e->recent_head + e->n_recent) % NODE_RECENT;
    if (e->n_recent == NODE_RECENT)
        e->recent_head = (e->recent_head + 1) % NODE_RECENT;
    else
        e->n_recent++;
    struct node_recent *s = &e->recent[at];
    s->t_s = weft_wall_ms() / 1000;
    float *out[5] = {&s->pv_w, &s->load_w, &s->soc, &s->compute_w, &s->budget_w};
    for (int k = 0; k < 5; k++) {
        *out[k] = e->recent_cnt[k] ? (float)(e->recent_sum[k] / e->recent_cnt[k]) : NAN;
        e->recent_sum[k] = 0;
        e->recent_cnt[k] = 0;
    }
    e->recent_ms = now;
}

const struct node_recent *node_energy_recent(const struct node_energy *e, int i)
{
    return &e->recent[(e->recent_head + i) % NODE_RECENT];
}

static void policy_step(struct node_energy *e)
{
    uint64_t now = weft_mono_ms();
    e->reading.compute_w = e->compute_w;
    struct weft_policy_out out;
    if (e->planning)
        make_plan(e, now);
    weft_policy_step_plan(&e->policy, &e->ps, &e->reading, e->planning ? &e->plan_in : NULL, now,
                          minute_of_day(), &out);
    apply_overrides(e, &out);
    if (out.cause_changed || out.state != e->pout.state)
        weft_log_notice(e->log, "policy: %s, budget %.0f W: %s", weft_policy_state_name(out.state),
                        out.budget_w, out.reason);
    e->pout = out;
    e->last_poll_ms = now;
    e->cb.interval_end(e->cb.ud); /* at the draw of the interval that ends now */
    e->compute_w = draw(e);
    /* Between off and full: the GPU's own power limit follows the budget
     * where the homeowner allowed it (else the runner's duty cycle). */
    if (e->gpu_limited)
        node_nvml_limit(e->nvml, out.budget_w);
    recent_add(e, now);
    e->cb.stepped(e->cb.ud);
}

static void read_done(uv_work_t *w, int status)
{
    struct node_energy *e = w->data;
    e->busy = 0;
    uint64_t now = weft_mono_ms();
    if (status == 0 && e->last_rc == 0) {
        const struct weft_energy_sample *v = &e->last_vals;
        set_q(&e->reading.pv, v->v[WEFT_Q_PV], now);
        set_q(&e->reading.grid, v->v[WEFT_Q_GRID], now);
        set_q(&e->reading.battery, v->v[WEFT_Q_BATTERY], now);
        set_q(&e->reading.soc, v->v[WEFT_Q_SOC], now);
        set_q(&e->reading.load, v->v[WEFT_Q_LOAD], now);
        /* The history learns PV and the house without compute. */
        if (e->planning && isfinite(v->v[WEFT_Q_PV]) && isfinite(v->v[WEFT_Q_LOAD]))
            weft_forecast_observe(&e->history, node_local_s(), v->v[WEFT_Q_PV],
                                  fmax(v->v[WEFT_Q_LOAD] - e->compute_w, 0));
        if (e->error[0])
            weft_log_notice(e->log, "energy: %s answers again", e->cfg->modbus);
        e->error[0] = '\0';
        e->mb_backoff_ms = 0;
    } else if (!e->stopping) {
        if (strcmp(e->error, e->last_err) != 0)
            weft_log_warn(e->log, "energy: %s", e->last_err);
        snprintf(e->error, sizeof e->error, "%s", e->last_err);
        if (!e->mb) {
            /* Jittered exponential backoff before the next connect. */
            e->mb_backoff_ms = e->mb_backoff_ms ? e->mb_backoff_ms * 2 : BACKOFF_MIN_MS;
            if (e->mb_backoff_ms > BACKOFF_MAX_MS)
                e->mb_backoff_ms = BACKOFF_MAX_MS;
            unsigned char r = 0;
            if (getrandom(&r, 1, 0) != 1)
                r = 128;
            uint64_t jitter = e->mb_backoff_ms * r / 512;
            e->mb_retry_ms = now + e->mb_backoff_ms / 2 + jitter;
        }
    }
    if (e->stopping) {
        node_energy_stop(e);
        return;
    }
    policy_step(e);
}

static void on_timer(uv_timer_t *t)
{
    struct node_energy *e = t->data;
    if (e->busy || e->stopping)
        return;
    if (!e->mb && weft_mono_ms() < e->mb_retry_ms) {
        policy_step(e); /* no read yet: the readings age, the policy sees it */
        return;
    }
    e->busy = 1;
    e->write_w = e->compute_w; /* the pool thread reads this copy, never compute_w */
    e->work.data = e;
    if (uv_queue_work(e->loop, &e->work, read_work, read_done) != 0)
        e->busy = 0;
}

void node_energy_set_override(struct node_energy *e, int paused, double max_w)
{
    if (paused >= 0 && paused != e->paused) {
        e->paused = paused;
        weft_log_notice(e->log, "%s by the homeowner", paused ? "paused" : "resumed");
    }
    if (max_w >= 0 || max_w == -2) {
        e->max_w = max_w >= 0 ? max_w : -1;
        if (max_w >= 0)
            weft_log_notice(e->log, "compute capped at %.0f W by the homeowner", max_w);
        else
            weft_log_notice(e->log, "the homeowner's cap on compute lifted");
    }
}

void node_energy_set_quiet(struct node_energy *e, const struct weft_window *w, int n)
{
    e->ps.n_quiet = n < 0 ? 0 : n > WEFT_POLICY_MAX_WINDOWS ? WEFT_POLICY_MAX_WINDOWS : n;
    for (int i = 0; i < e->ps.n_quiet; i++)
        e->ps.quiet[i] = w[i];
    weft_log_notice(e->log, "quiet hours set by the homeowner (%d window%s)", e->ps.n_quiet,
                    e->ps.n_quiet == 1 ? "" : "s");
}

void node_energy_set_yield(struct node_energy *e, int yield, const char *why)
{
    e->yield = yield;
    snprintf(e->yield_why, sizeof e->yield_why, "%s", yield ? why : "");
    weft_log_notice(e->log, "%s", yield ? why : "evcc: no car needs the surplus; compute may run");
}

void node_energy_init(struct node_energy *e, uv_loop_t *loop, const struct weftd_config *cfg,
                      const struct weft_log *log, const struct node_energy_cb *cb)
{
    memset(e, 0, sizeof *e);
    e->loop = loop;
    e->cfg = &cfg->energy;
    e->compute = &cfg->compute;
    e->log = log;
    e->cb = *cb;
    weft_policy_from_config(&cfg->policy, cfg->energy.has_battery, &e->ps);
    e->planning = strcmp(cfg->energy.forecast.provider, "off") != 0 && cfg->energy.has_battery;
    e->ps.plan = e->planning;
    weft_forecast_init(&e->history);
    e->history.load_sigma = e->ps.plan_load_sigma;
    snprintf(e->history_path, sizeof e->history_path, "%s/forecast.bin", cfg->state_dir);
    if (e->planning) {
        load_history(e);
        e->saved_ms = weft_mono_ms();
        make_clearsky(e, &cfg->energy.forecast);
    }
    e->gpu_w = -1;
    e->max_w = -1;
    weft_policy_init(&e->policy);
    e->reading.pv.w = e->reading.load.w = e->reading.grid.w = NAN;
    e->reading.battery.w = e->reading.soc.w = NAN;
    e->compute_w = e->compute->idle_w;
    uv_timer_init(loop, &e->timer);
    e->timer.data = e;
}

void node_energy_start(struct node_energy *e)
{
    if (node_nvml_open(e->nvml, e->nvml_note, sizeof e->nvml_note) == 0)
        weft_log_notice(e->log, "%s", e->nvml_note);
    else
        weft_log_info(e->log, "%s", e->nvml_note);
    e->gpu_limited = e->compute->gpu_power_limit && node_nvml_ok(e->nvml);
    if (strcmp(e->cfg->layout, "victron") == 0) {
        weft_regmap_victron(&e->regmap);
    } else if (strcmp(e->cfg->layout, "custom") == 0) {
        char err[200];
        weft_regmap_from_cfg(&e->cfg->map, &e->regmap, err, sizeof err); /* checked */
    }
    uv_timer_start(&e->timer, on_timer, 0, (uint64_t)e->cfg->poll_ms);
}

void node_energy_stop(struct node_energy *e)
{
    if (e->planning && !e->stopping)
        save_history(e);
    e->stopping = 1;
    uv_timer_stop(&e->timer);
    if (e->busy)
        return; /* read_done comes back here */
    if (e->mb) {
        weft_modbus_close(e->mb);
        e->mb = NULL;
    }
    e->gpu_limited = 0;
    node_nvml_close(e->nvml);
}

int node_energy_busy(const struct node_energy *e)
{
    return e->busy;
}

static void on_closed(uv_handle_t *h)
{
    struct node_energy *e = h->data;
    if (e->close_cb)
        e->close_cb(e->close_arg);
}

void node_energy_close(struct node_energy *e, void (*cb)(void *), void *arg)
{
    free(e->clearsky);
    e->clearsky = NULL;
    e->close_cb = cb;
    e->close_arg = arg;
    uv_close((uv_handle_t *)&e->timer, on_closed);
}

void node_energy_set_running(struct node_energy *e, int running)
{
    e->running = running;
    if (running)
        e->compute_w = draw(e); /* running now, not idle as at the last poll */
}

int node_energy_deferrable_ok(const struct node_energy *e)
{
    return e->pout.state == WEFT_POLICY_ON && e->pout.budget_w >= e->ps.min_run_w &&
           e->pout.budget_w > 0;
}

int node_energy_interactive_ok(const struct node_energy *e)
{
    const char *ia = e->compute->interactive;
    if (e->paused)
        return 0;
    if (strcmp(ia, "always") == 0)
        return 1;
    if (strcmp(ia, "never") == 0)
        return 0;
    return node_energy_deferrable_ok(e);
}

void node_energy_set_dayahead(struct node_energy *e, const struct weft_dayahead *d)
{
    e->dayahead = d;
    e->plan_ms = 0; /* plan again at the next poll */
}

double node_energy_grid_w(const struct node_energy *e)
{
    return e->reading.grid.at_ms ? e->reading.grid.w : 0;
}
