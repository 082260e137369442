/* The local status endpoint; see status.h. It shows what a homeowner
 * asks: what the house does, what the policy decided and why, what the node
 * serves, whether the scheduler is reachable, and the ledger; and it serves
 * the homeowner's page (page.h) and its one control. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "status.h"

#include "internal.h"
#include "page.h"
#include "weft/error.h"
#include "weft/file.h"
#include "weft/http.h"
#include "weft/http_client.h"
#include "weft/log.h"
#include "weft/time.h"
#include "weft/version.h"

/* Every answer: the page's headers, and never cached (it is live state). */
#define PAGE_HEADERS WEFT_PAGE_HEADERS "Cache-Control: no-store\r\n"

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
    cJSON *qh =
        cJSON_AddArrayToObject(ov, "quiet_hours"); /* in force: the config's or the page's */
    for (int i = 0; i < en->ps.n_quiet; i++) {
        char win[32];
        snprintf(win, sizeof win, "%02d:%02d-%02d:%02d", en->ps.quiet[i].start_min / 60 % 100,
                 en->ps.quiet[i].start_min % 60, en->ps.quiet[i].end_min / 60 % 100,
                 en->ps.quiet[i].end_min % 60);
        cJSON_AddItemToArray(qh, cJSON_CreateString(win));
    }
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

/* GET /history: the last day a minute a point, for the chart. */
static char *history_json(const struct weftd *d)
{
    const struct node_energy *e = &d->energy;
    cJSON *o = cJSON_CreateObject();
    static const char *const keys[] = {"pv_w", "load_w", "soc", "compute_w", "budget_w"};
    cJSON *t = cJSON_AddArrayToObject(o, "t"), *arr[5];
    for (int k = 0; k < 5; k++)
        arr[k] = cJSON_AddArrayToObject(o, keys[k]);
    for (int i = 0; i < e->n_recent; i++) {
        const struct node_recent *s = node_energy_recent(e, i);
        cJSON_AddItemToArray(t, cJSON_CreateNumber((double)s->t_s));
        float v[5] = {s->pv_w, s->load_w, s->soc, s->compute_w, s->budget_w};
        for (int k = 0; k < 5; k++)
            cJSON_AddItemToArray(arr[k], isfinite(v[k]) ? cJSON_CreateNumber(round(v[k] * 10) / 10)
                                                        : cJSON_CreateNull());
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}

static void answer_json(struct weft_http_req *req, int status, char *txt)
{
    if (!txt)
        weft_http_respond(req, 500, "application/json", PAGE_HEADERS, "{}", 2);
    else
        weft_http_respond(req, status, "application/json", PAGE_HEADERS, txt, strlen(txt));
    free(txt);
}

static void refuse(struct weft_http_req *req, int status, const char *why)
{
    char body[200];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", why);
    weft_http_respond(req, status, "application/json", PAGE_HEADERS, body, (size_t)n);
}

/* The Host a browser sent names this machine (127.0.0.0/8, [::1] or
 * localhost, any port): a page of another site that rebinds its own name
 * to 127.0.0.1 gets nothing. */
static int host_is_local(const char *host)
{
    /* Parsed as libcurl parses a URL's authority; a Host that is more than
     * host[:port] is refused. */
    char url[320], why[160];
    struct weft_url u;
    if (!host || strpbrk(host, "/?#@\\") || strlen(host) > 256)
        return 0;
    snprintf(url, sizeof url, "http://%s/", host);
    return weft_url_parse(url, &u, why, sizeof why) == 0 && !u.has_user && weft_url_is_loopback(&u);
}

/* Equal length and bytes, in time that does not depend on where they differ. */
static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0 && la > 0;
}

/* POST /control: {"paused": bool}, {"max_w": W | null} and/or
 * {"quiet_hours": [{"start": "HH:MM", "end": "HH:MM"}, ...]}. Only from
 * weftd's own page (an Origin, when sent, must be this Host's), as JSON
 * (a cross-site form cannot send it without a preflight, which is never
 * answered), with the control secret. */
static void control(struct weftd *d, struct weft_http_req *req)
{
    const char *host = weft_http_header(req, "Host"), *origin = weft_http_header(req, "Origin"),
               *type = weft_http_header(req, "Content-Type"),
               *secret = weft_http_header(req, "X-Weft-Secret");
    char own[320];
    snprintf(own, sizeof own, "http://%s", host ? host : "");
    if (origin && strcmp(origin, own) != 0) {
        weft_log_warn(d->log, "status: a control request from %.100s refused (cross-origin)",
                      origin);
        refuse(req, 403, "cross-origin requests are refused");
        return;
    }
    if (!type || strncmp(type, "application/json", 16) != 0) {
        refuse(req, 415, "the body must be application/json");
        return;
    }
    if (!secret || !same_secret(secret, d->control_secret)) {
        refuse(req, 401, "the control secret is missing or wrong (weftctl node page)");
        return;
    }
    cJSON *j = cJSON_ParseWithLength(req->body.data ? req->body.data : "", req->body.len);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "paused"),
                *m = cJSON_GetObjectItemCaseSensitive(j, "max_w"),
                *q = cJSON_GetObjectItemCaseSensitive(j, "quiet_hours");
    double max = d->cfg.policy.max_compute_w;
    struct weft_window w[WEFT_POLICY_MAX_WINDOWS];
    int n_quiet = -1;
    int ok = cJSON_IsObject(j) && (p || m || q) && (!p || cJSON_IsBool(p)) &&
             (!m || cJSON_IsNull(m) ||
              (cJSON_IsNumber(m) && m->valuedouble >= 0 && m->valuedouble <= max)) &&
             (!q || weftd_quiet_parse(q, w, &n_quiet) == 0);
    if (!ok) {
        cJSON_Delete(j);
        refuse(req, 400,
               "expected {\"paused\": true|false}, {\"max_w\": W or null} and/or "
               "{\"quiet_hours\": [{\"start\": \"HH:MM\", \"end\": \"HH:MM\"}]}");
        return;
    }
    weftd_control(d, p ? cJSON_IsTrue(p) : -1,
                  !m                ? -1
                  : cJSON_IsNull(m) ? -2
                                    : m->valuedouble,
                  w, q ? n_quiet : -1);
    cJSON_Delete(j);
    answer_json(req, 200, status_json(d));
}

static void on_request(struct weft_http_req *req, void *ud)
{
    struct weftd *d = ud;
    if (!host_is_local(weft_http_header(req, "Host"))) {
        refuse(req, 403, "this endpoint answers to 127.0.0.1, [::1] or localhost only");
        return;
    }
    int get = strcmp(req->method, "GET") == 0;
    if (get && strcmp(req->path, "/status") == 0) {
        answer_json(req, 200, status_json(d));
        return;
    }
    if (get && strcmp(req->path, "/history") == 0) {
        answer_json(req, 200, history_json(d));
        return;
    }
    if (strcmp(req->method, "POST") == 0 && strcmp(req->path, "/control") == 0) {
        control(d, req);
        return;
    }
    if (get && strcmp(req->path, "/favicon.ico") == 0) { /* none: say so without a 404 */
        weft_http_respond(req, 204, "image/x-icon", PAGE_HEADERS, "", 0);
        return;
    }
    for (int i = 0; get && i < node_assets_n; i++)
        if (strcmp(req->path, node_assets[i].path) == 0) {
            weft_http_respond(req, 200, node_assets[i].type, PAGE_HEADERS,
                              (const char *)node_assets[i].data, node_assets[i].len);
            return;
        }
    refuse(req, 404, "GET /, /status or /history; POST /control");
}

/* state_dir/control.secret: made once (32 random bytes as hex, 0600),
 * then read at every start. `weftctl node page` prints the page's link
 * with it. */
static int load_secret(struct weftd *d, char *err, size_t errcap)
{
    char path[400];
    snprintf(path, sizeof path, "%s/control.secret", d->cfg.state_dir);
    char *txt = NULL;
    size_t len = 0;
    int rc = weft_file_read(path, 128, &txt, &len);
    if (rc == 0 && len >= 32) {
        snprintf(d->control_secret, sizeof d->control_secret, "%.*s", (int)strcspn(txt, "\r\n"),
                 txt);
        free(txt);
        return 0;
    }
    free(txt);
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(err, errcap, "no randomness for the control secret: %s", strerror(errno));
        return WEFT_EIO;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(d->control_secret + 2 * i, 3, "%02x", raw[i]);
    rc = weft_file_replace(path, d->control_secret, strlen(d->control_secret));
    if (rc)
        snprintf(err, errcap, "%s: cannot write: %s", path, weft_strerror(rc));
    return rc;
}

int node_status_start(struct weftd *d, char *err, size_t errcap)
{
    if (d->cfg.status.listen[0] == '\0')
        return 0; /* turned off */
    int src = load_secret(d, err, errcap);
    if (src)
        return src;
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
