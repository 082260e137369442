/* The day-ahead forecast's fetch and cache (dayahead.h). */
#include "dayahead.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "weft/error.h"
#include "weft/file.h"
#include "weft/http_client.h"
#include "weft/log.h"
#include "weft/time.h"

#define RETRY_MS (300 * 1000) /* after a failure, before refresh_s is up */

static double w_per_wm2(const struct weftd_forecast_cfg *c)
{
    return c->kwp * c->performance_ratio; /* kWp x PR = W per W/m2 */
}

/* Takes a response: parsed into the forecast in hand only when whole. */
static int take(struct node_dayahead *da, const char *text, size_t len, char *err, size_t errcap)
{
    static const struct weft_dayahead none;
    struct weft_dayahead *d = malloc(sizeof *d);
    if (d == NULL) {
        snprintf(err, errcap, "out of memory");
        return WEFT_ENOMEM;
    }
    *d = none;
    int rc = weft_dayahead_parse(text, len, da->fmt, w_per_wm2(da->cfg), d, err, errcap);
    if (rc == 0) {
        da->forecast = *d;
        da->have = 1;
    }
    free(d);
    return rc;
}

static void schedule(struct node_dayahead *da);

static void on_fetched(void *ud, const struct weft_http_result *res)
{
    struct node_dayahead *da = ud;
    da->call = NULL;
    char err[200] = "";
    int rc = res->rc;
    if (rc != 0)
        snprintf(err, sizeof err, "%s", res->error ? res->error : weft_strerror(rc));
    else if (res->status != 200)
        snprintf(err, sizeof err, "HTTP %ld", res->status), rc = WEFT_EHTTP;
    else if ((rc = take(da, res->body, res->len, err, sizeof err)) == 0) {
        da->fetched_ms = weft_wall_ms();
        snprintf(da->source, sizeof da->source, "service");
        if (da->error[0])
            weft_log_notice(da->log, "forecast: %s answers again", da->cfg->provider);
        da->error[0] = '\0';
        int w = weft_file_replace(da->cache_path, res->body, res->len);
        if (w < 0)
            weft_log_warn(da->log, "forecast: cannot keep %s: %s", da->cache_path,
                          weft_strerror(w));
        da->updated(da->ud, &da->forecast);
    }
    if (rc != 0) {
        if (strcmp(da->error, err) != 0)
            weft_log_warn(da->log, "forecast: %s: %s%s", da->cfg->provider, err,
                          da->have ? " (keeping the forecast in hand)" : "");
        snprintf(da->error, sizeof da->error, "%s", err);
    }
    schedule(da);
}

static void on_timer(uv_timer_t *t)
{
    struct node_dayahead *da = t->data;
    if (da->call || da->closing)
        return;
    da->attempt_ms = weft_wall_ms();
    struct weft_http_call_opts o = {
        .url = da->url,
        .ca_file = da->cfg->ca_file,
        .timeout_s = 30,
        .max_response = WEFT_DA_MAX_TEXT,
        .on_done = on_fetched,
        .ud = da,
    };
    int rc = weft_http_call_start(da->http, &o, &da->call);
    if (rc != 0) {
        snprintf(da->error, sizeof da->error, "cannot start the request: %s", weft_strerror(rc));
        schedule(da);
    }
}

/* The next fetch: refresh_s after a good one, RETRY_MS after a failure. */
static void schedule(struct node_dayahead *da)
{
    if (da->closing)
        return;
    uint64_t next = (uint64_t)da->cfg->refresh_s * 1000;
    if (da->error[0] && next > RETRY_MS)
        next = RETRY_MS;
    uv_timer_start(&da->timer, on_timer, next, 0);
}

int node_dayahead_init(struct node_dayahead *da, uv_loop_t *loop, const struct weftd_config *cfg,
                       const struct weft_log *log,
                       void (*updated)(void *ud, const struct weft_dayahead *d), void *ud)
{
    memset(da, 0, sizeof *da);
    da->loop = loop;
    da->cfg = &cfg->energy.forecast;
    da->log = log;
    da->updated = updated;
    da->ud = ud;
    uv_timer_init(loop, &da->timer);
    da->timer.data = da;
    const struct weftd_forecast_cfg *c = da->cfg;
    if (strcmp(c->provider, "open-meteo") == 0) {
        da->fmt = WEFT_DA_OPEN_METEO;
        snprintf(da->url, sizeof da->url,
                 "%s/v1/forecast?latitude=%.4f&longitude=%.4f&minutely_15=global_tilted_"
                 "irradiance&tilt=%.0f&azimuth=%.0f&timezone=auto&forecast_days=3",
                 c->url[0] ? c->url : "https://api.open-meteo.com", c->latitude, c->longitude,
                 c->tilt, c->azimuth);
    } else if (strcmp(c->provider, "forecast-solar") == 0) {
        da->fmt = WEFT_DA_FORECAST_SOLAR;
        snprintf(da->url, sizeof da->url, "%s/estimate/%.4f/%.4f/%.0f/%.0f/%.3f",
                 c->url[0] ? c->url : "https://api.forecast.solar", c->latitude, c->longitude,
                 c->tilt, c->azimuth, c->kwp);
    } else {
        return 0; /* off or history: nothing to fetch */
    }
    da->enabled = 1;
    int rc = weft_http_client_init(&da->http, loop);
    if (rc != 0)
        return rc;
    snprintf(da->cache_path, sizeof da->cache_path, "%s/dayahead.json", cfg->state_dir);
    char *text = NULL, err[200];
    size_t len = 0;
    rc = weft_file_read(da->cache_path, WEFT_DA_MAX_TEXT, &text, &len);
    if (rc == 0 && take(da, text, len, err, sizeof err) == 0) {
        struct stat st;
        da->fetched_ms = stat(da->cache_path, &st) == 0 ? (int64_t)st.st_mtime * 1000 : 0;
        snprintf(da->source, sizeof da->source, "cache");
    } else if (rc == 0) {
        weft_log_warn(log, "forecast: %s: %s; fetching a new one", da->cache_path, err);
    }
    free(text);
    return 0;
}

void node_dayahead_start(struct node_dayahead *da)
{
    if (!da->enabled)
        return;
    if (da->have)
        da->updated(da->ud, &da->forecast);
    uv_timer_start(&da->timer, on_timer, 0, 0);
}

static void timer_closed(uv_handle_t *h)
{
    struct node_dayahead *da = h->data;
    if (da->http) {
        weft_http_client_close(da->http, da->close_cb, da->close_arg);
        return;
    }
    if (da->close_cb)
        da->close_cb(da->close_arg);
}

void node_dayahead_close(struct node_dayahead *da, void (*cb)(void *), void *arg)
{
    da->closing = 1;
    da->close_cb = cb;
    da->close_arg = arg;
    da->call = NULL; /* the client's close cancels it */
    uv_close((uv_handle_t *)&da->timer, timer_closed);
}
