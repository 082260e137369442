/* The local status endpoint; see status.h. It shows what a homeowner
 * asks: what the house does, what the policy decided and why, what the node
 * serves, whether the scheduler is reachable, and the ledger. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "status.h"

#include "internal.h"
#include "weft/http.h"
#include "weft/time.h"
#include "weft/version.h"

static void add_q(cJSON *o, const char *k, const struct weft_quantity *q, uint64_t now)
{
    cJSON *x = cJSON_AddObjectToObject(o, k);
    if (q->at_ms && isfinite(q->w)) {
        cJSON_AddNumberToObject(x, "value", q->w);
        cJSON_AddNumberToObject(x, "age_ms", (double)weft_elapsed_ms(q->at_ms, now));
    } else {
        cJSON_AddNullToObject(x, "value");
        cJSON_AddNullToObject(x, "age_ms");
    }
}

/* Local seconds as "YYYY-MM-DDTHH:MM", the site's wall clock. */
static void add_local(cJSON *o, const char *key, int64_t local_s)
{
    time_t t = (time_t)local_s;
    struct tm tm;
    char buf[32];
    if (local_s < 0 || gmtime_r(&t, &tm) == NULL) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M", &tm);
    cJSON_AddStringToObject(o, key, buf);
}

/* "forecast" and "plan": what the battery plan knows and decided, and why
 * in one sentence. */
static void add_plan(cJSON *o, const struct weftd *d)
{
    const struct node_energy *en = &d->energy;
    const struct weftd_forecast_cfg *fc = &d->cfg.energy.forecast;
    cJSON *f = cJSON_AddObjectToObject(o, "forecast");
    cJSON_AddStringToObject(f, "provider", fc->provider);
    cJSON_AddNumberToObject(f, "history_days", weft_forecast_days(&en->history));
    if (en->clearsky)
        cJSON_AddNumberToObject(f, "clear_sky_ratio", en->clear_ratio);
    else
        cJSON_AddNullToObject(f, "clear_sky_ratio");
    const struct node_dayahead *da = &d->dayahead;
    if (!da->enabled) {
        cJSON_AddNullToObject(f, "dayahead");
    } else {
        cJSON *x = cJSON_AddObjectToObject(f, "dayahead");
        cJSON_AddStringToObject(x, "url", da->url);
        cJSON_AddBoolToObject(x, "have", da->have);
        if (da->have) {
            cJSON_AddStringToObject(x, "source", da->source);
            int64_t age = weft_wall_ms() - da->fetched_ms;
            cJSON_AddNumberToObject(x, "age_s", age > 0 ? (double)(age / 1000) : 0);
            add_local(x, "from", da->forecast.start_s);
            add_local(x, "until", da->forecast.start_s + (int64_t)da->forecast.n * WEFT_DA_SLOT_S);
        }
        if (da->error[0])
            cJSON_AddStringToObject(x, "error", da->error);
        else
            cJSON_AddNullToObject(x, "error");
    }
    if (!en->planning) {
        cJSON_AddNullToObject(o, "plan");
        return;
    }
    const struct weft_plan *pl = &en->plan;
    cJSON *p = cJSON_AddObjectToObject(o, "plan");
    cJSON_AddBoolToObject(p, "valid", pl->valid);
    add_local(p, "made_at", en->plan_ms ? en->plan_local_s : -1);
    char why[200];
    if (!pl->valid) {
        snprintf(why, sizeof why,
                 "no plan yet: the forecast needs a day of this home's history (%d so far) and "
                 "the battery's state of charge",
                 weft_forecast_days(&en->history));
    } else {
        cJSON_AddNumberToObject(p, "headroom_wh", pl->headroom_wh);
        cJSON_AddNumberToObject(p, "battery_low_wh", pl->low_wh);
        add_local(p, "battery_low_at", pl->low_at_s);
        add_local(p, "battery_full_at", pl->full_at_s);
        cJSON_AddNumberToObject(p, "export_wh", pl->export_wh);
        cJSON_AddNumberToObject(p, "budget_s", en->budget_s);
        time_t t = (time_t)(pl->full_at_s >= 0 ? pl->full_at_s : pl->low_at_s);
        struct tm tm;
        char at[8] = "?";
        if (gmtime_r(&t, &tm))
            strftime(at, sizeof at, "%H:%M", &tm);
        if (pl->headroom_wh > 0)
            snprintf(why, sizeof why,
                     "the forecast refills the battery by %s: %.0f Wh of it may run compute now",
                     at, pl->headroom_wh);
        else if (pl->full_at_s >= 0)
            snprintf(why, sizeof why,
                     "the battery is full again at %s, but the house needs what it holds until "
                     "then",
                     at);
        else
            snprintf(why, sizeof why,
                     "the forecast does not refill the battery within the horizon: it stays for "
                     "the house");
    }
    cJSON_AddStringToObject(p, "why", why);
}

static char *status_json(const struct weftd *d)
{
    uint64_t now = weft_mono_ms();
    const struct node_energy *en = &d->energy;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "version", weft_version());
    cJSON *e = cJSON_AddObjectToObject(o, "energy");
    cJSON_AddStringToObject(e, "device", d->cfg.energy.modbus);
    if (en->error[0])
        cJSON_AddStringToObject(e, "error", en->error);
    else
        cJSON_AddNullToObject(e, "error");
    add_q(e, "pv_w", &en->reading.pv, now);
    add_q(e, "load_w", &en->reading.load, now);
    add_q(e, "grid_w", &en->reading.grid, now);
    add_q(e, "battery_w", &en->reading.battery, now);
    add_q(e, "soc_pct", &en->reading.soc, now);
    cJSON_AddNumberToObject(e, "compute_w", en->compute_w);
    cJSON *g = cJSON_AddObjectToObject(o, "gpu");
    cJSON_AddBoolToObject(g, "nvml", node_nvml_ok(en->nvml));
    cJSON_AddStringToObject(g, "note", en->nvml_note);
    if (en->gpu_w >= 0)
        cJSON_AddNumberToObject(g, "power_w", en->gpu_w);
    else
        cJSON_AddNullToObject(g, "power_w");
    cJSON_AddBoolToObject(g, "power_limit", d->cfg.compute.gpu_power_limit);
    double lim = node_nvml_limit_w(en->nvml);
    if (lim >= 0)
        cJSON_AddNumberToObject(g, "limit_w", lim);
    else
        cJSON_AddNullToObject(g, "limit_w");
    cJSON *p = cJSON_AddObjectToObject(o, "policy");
    cJSON_AddStringToObject(p, "state", weft_policy_state_name(en->pout.state));
    cJSON_AddNumberToObject(p, "budget_w", en->pout.budget_w);
    cJSON_AddNumberToObject(p, "surplus_w", isfinite(en->pout.surplus_w) ? en->pout.surplus_w : 0);
    cJSON_AddStringToObject(p, "reason", en->pout.reason);
    cJSON_AddBoolToObject(p, "takes_deferrable", node_energy_deferrable_ok(en));
    cJSON_AddBoolToObject(p, "takes_interactive", node_energy_interactive_ok(en));
    add_plan(o, d);
    /* The homeowner's overrides (MQTT) and what evcc asked. */
    cJSON *ov = cJSON_AddObjectToObject(o, "override");
    cJSON_AddBoolToObject(ov, "paused", en->paused);
    if (en->max_w >= 0)
        cJSON_AddNumberToObject(ov, "max_w", en->max_w);
    else
        cJSON_AddNullToObject(ov, "max_w");
    cJSON_AddBoolToObject(ov, "evcc_yield", en->yield);
    cJSON *mq = cJSON_AddObjectToObject(o, "mqtt");
    cJSON_AddBoolToObject(mq, "enabled", d->cfg.mqtt.url[0] != '\0');
    cJSON_AddBoolToObject(mq, "connected", node_mqtt_connected(&d->mqtt));
    if (d->mqtt.base[0])
        cJSON_AddStringToObject(mq, "topics", d->mqtt.base);
    else
        cJSON_AddNullToObject(mq, "topics");
    cJSON *s = cJSON_AddObjectToObject(o, "scheduler");
    cJSON_AddStringToObject(s, "url", node_link_url(&d->link));
    cJSON_AddStringToObject(s, "state", node_link_state_name(&d->link));
    if (d->link.error[0])
        cJSON_AddStringToObject(s, "error", d->link.error);
    else
        cJSON_AddNullToObject(s, "error");
    /* "jobs": every slot's job, oldest first; "job": the oldest (or null),
     * as before batching. */
    cJSON *sl = cJSON_AddObjectToObject(o, "slots");
    cJSON_AddNumberToObject(sl, "max", d->slots);
    cJSON_AddNumberToObject(sl, "busy", d->n_jobs);
    cJSON_AddStringToObject(sl, "why", d->slots_why);
    cJSON *js = cJSON_AddArrayToObject(o, "jobs");
    for (int i = 0; i < d->n_jobs; i++) {
        const struct node_job *jb = d->jobs[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", jb->id);
        cJSON_AddStringToObject(j, "model", jb->model >= 0 ? d->models[jb->model].name : "?");
        cJSON_AddNumberToObject(j, "resumed_from", jb->n_resume);
        cJSON_AddNumberToObject(j, "tokens", atomic_load(&jb->tokens));
        cJSON_AddNumberToObject(j, "running_ms", (double)weft_elapsed_ms(jb->started_ms, now));
        cJSON_AddBoolToObject(j, "yielding", atomic_load(&jb->yield));
        cJSON_AddItemToArray(js, j);
    }
    if (d->n_jobs > 0)
        cJSON_AddItemReferenceToObject(o, "job", cJSON_GetArrayItem(js, 0));
    else
        cJSON_AddNullToObject(o, "job");
    cJSON *ms = cJSON_AddArrayToObject(o, "models");
    for (int i = 0; i < d->n_models; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", d->models[i].name);
        cJSON_AddStringToObject(m, "template", weft_chat_template_name(d->models[i].tpl));
        cJSON_AddItemToArray(ms, m);
    }
    cJSON_AddNumberToObject(o, "jobs_done", (double)d->jobs_done);
    cJSON_AddNumberToObject(o, "jobs_lost", (double)d->failures);
    node_ledger_json(&d->ledger, o);
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    return txt;
}

static void on_request(struct weft_http_req *req, void *ud)
{
    struct weftd *d = ud;
    if (strcmp(req->path, "/status") != 0 || strcmp(req->method, "GET") != 0) {
        weft_http_respond(req, 404, "application/json", NULL, "{\"error\":\"GET /status\"}\n", 23);
        return;
    }
    char *txt = status_json(d);
    if (!txt) {
        weft_http_respond(req, 500, "application/json", NULL, "{}", 2);
        return;
    }
    weft_http_respond(req, 200, "application/json", NULL, txt, strlen(txt));
    free(txt);
}

int node_status_start(struct weftd *d, char *err, size_t errcap)
{
    if (d->cfg.status.listen[0] == '\0')
        return 0; /* turned off */
    struct weft_http_limits lim;
    weft_http_limits_default(&lim);
    lim.max_connections = 32;
    lim.max_body_bytes = 1024;
    struct weft_http_handler h = {.on_request = on_request, .ud = d};
    int rc = weft_http_server_start(&d->status, d->loop, d->cfg.status.listen, d->cfg.status.port,
                                    NULL, &lim, &h, d->log);
    if (rc)
        snprintf(err, errcap, "status endpoint %s:%d: cannot listen", d->cfg.status.listen,
                 d->cfg.status.port);
    return rc;
}

void node_status_stop(struct weftd *d, void (*cb)(void *), void *arg)
{
    if (!d->status) {
        cb(arg);
        return;
    }
    weft_http_server_close(d->status, cb, arg);
    d->status = NULL;
}
