/* The operator's dashboard: GET /ui and its files (anyone: they hold no
 * data), GET /v1/admin/region (an admin key: the region now) and GET
 * /v1/admin/events (an admin key: the same as server-sent events, once a
 * second). The last hour's failovers, yields and tokens come from a ring
 * of per-minute counts the tick keeps (sched_ui_tick). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "core.h"
#include "reply.h"
#include "ui.h"
#include "weft/time.h"

static void asset(struct weft_http_req *req, const char *path)
{
    for (int i = 0; i < sched_ui_assets_n; i++)
        if (strcmp(sched_ui_assets[i].path, path) == 0) {
            weft_http_respond(req, 200, sched_ui_assets[i].type, WEFT_PAGE_HEADERS,
                              (const char *)sched_ui_assets[i].data, sched_ui_assets[i].len);
            return;
        }
    sched_reply_fail(req, 404, NULL, "not_found", "No such file of the dashboard.");
}

void sched_h_ui(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    (void)s;
    (void)call;
    asset(req, "/ui");
}

void sched_h_ui_asset(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    (void)s;
    char path[80];
    snprintf(path, sizeof path, "/ui/%.60s", call->id);
    asset(req, path);
}

/* Browsers ask for one with every page: none, said without a 404. */
void sched_h_favicon(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    (void)s;
    (void)call;
    weft_http_respond(req, 204, "image/x-icon", WEFT_PAGE_HEADERS, "", 0);
}

/* The last hour: the current minute's counts plus the 59 before it. */
static void last_hour(const struct sched *s, cJSON *o)
{
    const struct sched_ui *u = &s->ui;
    uint64_t f = 0, y = 0, t = 0;
    for (int i = 0; i < SCHED_UI_MINUTES; i++) {
        f += u->minutes[i].failovers;
        y += u->minutes[i].yields;
        t += u->minutes[i].tokens;
    }
    const struct sched_metrics *m = &s->m;
    f += m->failovers_closed + m->failovers_silent - u->at_minute.failovers;
    y += m->yields - u->at_minute.yields;
    t += m->tokens - u->at_minute.tokens;
    cJSON *h = cJSON_AddObjectToObject(o, "last_hour");
    cJSON_AddNumberToObject(h, "failovers", (double)f);
    cJSON_AddNumberToObject(h, "yields", (double)y);
    cJSON_AddNumberToObject(h, "tokens", (double)t);
}

struct model_count {
    char model[128];
    int queued_interactive, queued_deferrable, running;
};

static struct model_count *count_of(struct model_count *mc, int *n, int cap, const char *model)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(mc[i].model, model) == 0)
            return &mc[i];
    if (*n == cap)
        return NULL; /* more models than a dashboard shows: not counted */
    struct model_count *c = &mc[(*n)++];
    memset(c, 0, sizeof *c);
    snprintf(c->model, sizeof c->model, "%s", model);
    return c;
}

static cJSON *region_json(struct sched *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "nodes_live", sched_nodes_live(s));
    cJSON_AddNumberToObject(o, "queued", s->n_queued);
    cJSON_AddNumberToObject(o, "running", s->n_running);
    cJSON_AddItemToObject(o, "nodes", sched_nodes_json(s));
    enum { MAX_MODELS = 64 };
    struct model_count mc[MAX_MODELS];
    int n = 0;
    struct weft_list *it;
    weft_list_foreach(it, &s->queue)
    {
        const struct sched_job *j = weft_list_entry(it, struct sched_job, link);
        struct model_count *c = count_of(mc, &n, MAX_MODELS, j->req.model);
        if (c && j->req.priority == WEFT_OAI_INTERACTIVE)
            c->queued_interactive++;
        else if (c)
            c->queued_deferrable++;
    }
    weft_list_foreach(it, &s->running)
    {
        const struct sched_job *j = weft_list_entry(it, struct sched_job, link);
        struct model_count *c = count_of(mc, &n, MAX_MODELS, j->req.model);
        if (c)
            c->running++;
    }
    cJSON *bm = cJSON_AddArrayToObject(o, "by_model");
    for (int i = 0; i < n; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "model", mc[i].model);
        cJSON_AddNumberToObject(x, "queued_interactive", mc[i].queued_interactive);
        cJSON_AddNumberToObject(x, "queued_deferrable", mc[i].queued_deferrable);
        cJSON_AddNumberToObject(x, "running", mc[i].running);
        cJSON_AddItemToArray(bm, x);
    }
    last_hour(s, o);
    double wh = 0, surplus = 0;
    weft_list_foreach(it, &s->nodes)
    {
        const struct sched_node *nd = weft_list_entry(it, struct sched_node, link);
        wh += nd->wh;
        surplus += nd->surplus_wh;
    }
    cJSON *en = cJSON_AddObjectToObject(o, "energy");
    cJSON_AddNumberToObject(en, "wh", wh);
    cJSON_AddNumberToObject(en, "surplus_wh", surplus);
    if (wh > 0)
        cJSON_AddNumberToObject(en, "surplus_share", surplus / wh);
    else
        cJSON_AddNullToObject(en, "surplus_share");
    cJSON *us = cJSON_AddArrayToObject(o, "usage");
    for (int i = 0; i < s->ui.n_usage; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "key", s->ui.usage[i].key_id);
        cJSON_AddNumberToObject(x, "jobs", (double)s->ui.usage[i].jobs);
        cJSON_AddNumberToObject(x, "tokens", (double)s->ui.usage[i].tokens);
        cJSON_AddItemToArray(us, x);
    }
    const struct sched_metrics *m = &s->m;
    cJSON *t = cJSON_AddObjectToObject(o, "totals");
    cJSON_AddNumberToObject(t, "tokens", (double)m->tokens);
    cJSON_AddNumberToObject(t, "failovers", (double)(m->failovers_closed + m->failovers_silent));
    cJSON_AddNumberToObject(t, "yields", (double)m->yields);
    cJSON_AddNumberToObject(t, "succeeded", (double)m->finished[WEFT_JOB_SUCCEEDED]);
    cJSON_AddNumberToObject(t, "failed", (double)m->finished[WEFT_JOB_FAILED]);
    return o;
}

void sched_h_admin_region(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    (void)call;
    sched_reply_json(req, 200, region_json(s));
}

static void events_aborted(struct weft_http_req *req)
{
    struct sched *s = req->data;
    struct sched_ui *u = &s->ui;
    for (int i = 0; i < u->n_subs; i++)
        if (u->subs[i] == req) {
            u->subs[i] = u->subs[--u->n_subs];
            break;
        }
}

void sched_h_admin_events(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    (void)call;
    struct sched_ui *u = &s->ui;
    if (u->n_subs == SCHED_UI_SUBS) {
        sched_reply_fail(req, 503, NULL, "too_many_dashboards",
                         "This scheduler already streams to as many dashboards as it allows.");
        return;
    }
    if (weft_http_stream_begin(req, 200, "text/event-stream",
                               "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n") != 0)
        return;
    req->data = s;
    req->on_abort = events_aborted;
    u->subs[u->n_subs++] = req;
    u->push_ms = 0; /* the next tick sends the first event */
}

void sched_ui_tick(struct sched *s, uint64_t now)
{
    struct sched_ui *u = &s->ui;
    const struct sched_metrics *m = &s->m;
    if (!u->minute_ms) {
        u->minute_ms = now;
        u->at_minute = (struct sched_ui_minute){m->failovers_closed + m->failovers_silent,
                                                m->yields, m->tokens};
    } else if (weft_elapsed_ms(u->minute_ms, now) >= 60000) {
        struct sched_ui_minute cur = {m->failovers_closed + m->failovers_silent, m->yields,
                                      m->tokens};
        struct sched_ui_minute *slot = &u->minutes[u->minute_i];
        *slot = (struct sched_ui_minute){cur.failovers - u->at_minute.failovers,
                                         cur.yields - u->at_minute.yields,
                                         cur.tokens - u->at_minute.tokens};
        u->minute_i = (u->minute_i + 1) % SCHED_UI_MINUTES;
        u->at_minute = cur;
        u->minute_ms = now;
    }
    if (u->n_subs == 0 || (u->push_ms && weft_elapsed_ms(u->push_ms, now) < 1000))
        return;
    u->push_ms = now;
    cJSON *o = region_json(s);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt)
        return;
    struct weft_buf b;
    weft_buf_init(&b, 8u << 20);
    if (weft_buf_appendf(&b, "data: %s\n\n", txt) == 0)
        for (int i = u->n_subs - 1; i >= 0; i--)
            weft_http_stream_write(u->subs[i], b.data, b.len); /* a slow one buffers, bounded */
    weft_buf_free(&b);
    free(txt);
}
