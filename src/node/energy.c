/* The node's energy loop: every poll_ms a Modbus read on libuv's thread
 * pool (bounded by the read timeout, so it never holds a pool thread
 * long), then, back on the loop, the reading, the policy step, the job's
 * yield when the budget is gone, and the energy ledger.
 *
 * A device that stops answering keeps its last good values with their old
 * timestamps: the policy sees them go stale and drops the budget to 0
 * after stale_timeout_s, with the reason on the status page. Reconnects
 * back off exponentially with jitter (1 s up to 60 s). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "internal.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/time.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

/* Thread pool: connect when needed, discover once (SunSpec), read, write
 * our draw. Leaves a sample in Weft's signs in d->last_vals. */
static void read_work(uv_work_t *w)
{
    struct weftd *d = w->data;
    const struct weftd_energy_cfg *e = &d->cfg.energy;
    d->last_rc = 0;
    d->last_err[0] = '\0';
    if (!d->mb) {
        d->last_rc = weft_modbus_open_url(e->modbus, e->unit, e->timeout_ms, &d->mb, d->last_err,
                                          sizeof d->last_err);
        if (d->last_rc)
            return;
        d->mb_discovered = 0;
    }
    struct weft_energy_sample *out = &d->last_vals;
    if (strcmp(e->layout, "sunspec") == 0) {
        if (!d->mb_discovered) {
            d->last_rc = weft_sunspec_discover(d->mb, &d->map, d->last_err, sizeof d->last_err);
            if (d->last_rc)
                goto drop;
            d->mb_discovered = 1;
        }
        struct weft_sunspec_values v;
        d->last_rc = weft_sunspec_read(d->mb, &d->map, &v, d->last_err, sizeof d->last_err);
        if (d->last_rc)
            goto drop;
        double pv = isfinite(v.ac_w) ? v.ac_w : v.dc_w;
        double grid = v.meter_w * e->grid_sign;
        double batt = v.batt_w * e->battery_sign;
        out->v[WEFT_Q_PV] = pv;
        out->v[WEFT_Q_GRID] = grid;
        out->v[WEFT_Q_BATTERY] = batt;
        out->v[WEFT_Q_SOC] = v.soc_pct;
        /* The house is what PV and the grid bring in, less what the
         * battery takes. */
        out->v[WEFT_Q_LOAD] = pv + grid - (isfinite(batt) ? batt : 0);
    } else {
        d->last_rc = weft_regmap_read(d->mb, &d->regmap, out, d->last_err, sizeof d->last_err);
        if (d->last_rc)
            goto drop;
        if (!isfinite(out->v[WEFT_Q_LOAD]))
            out->v[WEFT_Q_LOAD] = out->v[WEFT_Q_PV] + out->v[WEFT_Q_GRID] -
                                  (isfinite(out->v[WEFT_Q_BATTERY]) ? out->v[WEFT_Q_BATTERY] : 0);
    }
    if (e->compute_register >= 0) {
        double cw = d->compute_w < 0 ? 0 : d->compute_w > 65535 ? 65535 : d->compute_w;
        d->last_rc = weft_modbus_write(d->mb, (uint32_t)e->compute_register, (uint16_t)lrint(cw),
                                       d->last_err, sizeof d->last_err);
        if (d->last_rc)
            goto drop;
    }
    return;
drop:
    /* A fresh connection next time: a device that timed out may have lost
     * track of the transaction ids, and discovery may have changed. */
    weft_modbus_close(d->mb);
    d->mb = NULL;
}

static void set_q(struct weft_quantity *q, double v, uint64_t now)
{
    if (isfinite(v)) {
        q->w = v;
        q->at_ms = now;
    }
}

static int minute_of_day(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    return tm.tm_hour * 60 + tm.tm_min;
}

double node_energy_draw(struct weftd *d)
{
    /* Measured when the driver tells us. */
    d->gpu_w = node_nvml_power_w(d->nvml);
    if (d->gpu_w >= 0)
        return d->gpu_w;
    if (!d->job)
        return d->cfg.compute.idle_w;
    double budget = (double)atomic_load(&d->budget_mw) / 1000.0;
    double duty = budget >= d->cfg.compute.busy_w ? 1.0 : budget / d->cfg.compute.busy_w;
    if (duty < 0.1)
        duty = 0.1;
    return d->cfg.compute.idle_w + duty * (d->cfg.compute.busy_w - d->cfg.compute.idle_w);
}

static void policy_step(struct weftd *d)
{
    uint64_t now = weft_mono_ms();
    d->reading.compute_w = d->compute_w;
    struct weft_policy_out out;
    weft_policy_step(&d->policy, &d->ps, &d->reading, now, minute_of_day(), &out);
    if (out.cause_changed || out.state != d->pout.state)
        weft_log_notice(d->log, "policy: %s, budget %.0f W: %s", weft_policy_state_name(out.state),
                        out.budget_w, out.reason);
    d->pout = out;
    atomic_store(&d->budget_mw, (long)(out.budget_w * 1000));

    d->last_poll_ms = now;
    node_ledger_job_step(d); /* at the draw of the interval that ends now */
    d->compute_w = node_energy_draw(d);
    /* Between off and full: the GPU's own power limit follows the budget
     * where the homeowner allowed it (else the runner's duty cycle). */
    if (d->cfg.compute.gpu_power_limit && node_nvml_ok(d->nvml))
        node_nvml_limit(d->nvml, out.budget_w);

    /* No budget left mid-job: give it back at the next token, unless the
     * homeowner lets interactive work run regardless. */
    if (d->job && out.budget_w <= 0 && strcmp(d->cfg.compute.interactive, "always") != 0 &&
        !atomic_load(&d->job->yield)) {
        weft_log_notice(d->log, "job %s: yielding: %s", d->job->id, out.reason);
        atomic_store(&d->job->yield, 1);
    }
    node_link_kick(d);
}

static void read_done(uv_work_t *w, int status)
{
    struct weftd *d = w->data;
    d->energy_busy = 0;
    uint64_t now = weft_mono_ms();
    if (status == 0 && d->last_rc == 0) {
        const struct weft_energy_sample *v = &d->last_vals;
        set_q(&d->reading.pv, v->v[WEFT_Q_PV], now);
        set_q(&d->reading.grid, v->v[WEFT_Q_GRID], now);
        set_q(&d->reading.battery, v->v[WEFT_Q_BATTERY], now);
        set_q(&d->reading.soc, v->v[WEFT_Q_SOC], now);
        set_q(&d->reading.load, v->v[WEFT_Q_LOAD], now);
        if (d->energy_err[0])
            weft_log_notice(d->log, "energy: %s answers again", d->cfg.energy.modbus);
        d->energy_err[0] = '\0';
        d->mb_backoff_ms = 0;
    } else if (!d->stopping) {
        if (strcmp(d->energy_err, d->last_err) != 0)
            weft_log_warn(d->log, "energy: %s", d->last_err);
        snprintf(d->energy_err, sizeof d->energy_err, "%s", d->last_err);
        if (!d->mb) {
            /* Jittered exponential backoff before the next connect. */
            d->mb_backoff_ms = d->mb_backoff_ms ? d->mb_backoff_ms * 2 : BACKOFF_MIN_MS;
            if (d->mb_backoff_ms > BACKOFF_MAX_MS)
                d->mb_backoff_ms = BACKOFF_MAX_MS;
            unsigned char r = 0;
            if (getrandom(&r, 1, 0) != 1)
                r = 128;
            uint64_t jitter = d->mb_backoff_ms * r / 512;
            d->mb_retry_ms = now + d->mb_backoff_ms / 2 + jitter;
        }
    }
    if (d->stopping) {
        node_energy_stop(d);
        return;
    }
    policy_step(d);
}

static void on_energy_timer(uv_timer_t *t)
{
    struct weftd *d = t->data;
    if (d->energy_busy || d->stopping)
        return;
    if (!d->mb && weft_mono_ms() < d->mb_retry_ms) {
        policy_step(d); /* no read yet: the readings age, the policy sees it */
        return;
    }
    d->energy_busy = 1;
    d->energy_work.data = d;
    if (uv_queue_work(d->loop, &d->energy_work, read_work, read_done) != 0)
        d->energy_busy = 0;
}

void node_energy_start(struct weftd *d)
{
    d->gpu_w = -1;
    if (node_nvml_open(d->nvml, d->nvml_note, sizeof d->nvml_note) == 0)
        weft_log_notice(d->log, "%s", d->nvml_note);
    else
        weft_log_info(d->log, "%s", d->nvml_note);
    atomic_store(&d->gpu_limited, d->cfg.compute.gpu_power_limit && node_nvml_ok(d->nvml));
    if (strcmp(d->cfg.energy.layout, "victron") == 0) {
        weft_regmap_victron(&d->regmap);
    } else if (strcmp(d->cfg.energy.layout, "custom") == 0) {
        char why[200];
        weft_regmap_from_cfg(&d->cfg.energy.map, &d->regmap, why, sizeof why); /* checked */
    }
    weft_policy_init(&d->policy);
    d->reading.pv.w = d->reading.load.w = d->reading.grid.w = NAN;
    d->reading.battery.w = d->reading.soc.w = NAN;
    d->compute_w = d->cfg.compute.idle_w;
    uv_timer_init(d->loop, &d->energy_timer);
    d->energy_timer.data = d;
    uv_timer_start(&d->energy_timer, on_energy_timer, 0, (uint64_t)d->cfg.energy.poll_ms);
}

void node_energy_stop(struct weftd *d)
{
    uv_timer_stop(&d->energy_timer);
    if (d->energy_busy)
        return; /* read_done comes back here */
    if (d->mb) {
        weft_modbus_close(d->mb);
        d->mb = NULL;
    }
    atomic_store(&d->gpu_limited, 0);
    node_nvml_close(d->nvml);
}

int node_deferrable_ok(const struct weftd *d)
{
    return d->pout.state == WEFT_POLICY_ON && d->pout.budget_w >= d->ps.min_run_w &&
           d->pout.budget_w > 0;
}

int node_interactive_ok(const struct weftd *d)
{
    const char *ia = d->cfg.compute.interactive;
    if (strcmp(ia, "always") == 0)
        return 1;
    if (strcmp(ia, "never") == 0)
        return 0;
    return node_deferrable_ok(d);
}
