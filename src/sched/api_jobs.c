/* The job API: durable jobs (POST /v1/jobs, GET one or a page, DELETE),
 * written to the store before they are acknowledged and put back in the
 * queue from it after a restart. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "client.h"
#include "core.h"
#include "lease.h"
#include "reply.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/time.h"

static cJSON *job_object(struct sched *s, const struct weft_job_row *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddStringToObject(o, "object", "job");
    cJSON_AddStringToObject(o, "status", weft_job_state_name(r->state));
    cJSON_AddStringToObject(
        o, "endpoint", r->kind == WEFT_OAI_COMPLETION ? "/v1/completions" : "/v1/chat/completions");
    cJSON_AddStringToObject(o, "priority",
                            r->priority == WEFT_OAI_INTERACTIVE ? "interactive" : "deferrable");
    cJSON_AddNumberToObject(o, "created_at", (double)(r->created_ms / 1000));
    if (r->deadline_ms)
        cJSON_AddNumberToObject(o, "deadline", (double)(r->deadline_ms / 1000));
    else
        cJSON_AddNullToObject(o, "deadline");
    if (r->finished_ms)
        cJSON_AddNumberToObject(o, "finished_at", (double)(r->finished_ms / 1000));
    else
        cJSON_AddNullToObject(o, "finished_at");
    struct sched_job *live = s ? sched_job_find(s, r->id) : NULL;
    if (live)
        cJSON_AddNumberToObject(o, "tokens_done", live->n_tokens);
    cJSON *res = r->result ? cJSON_Parse(r->result) : NULL;
    if (res)
        cJSON_AddItemToObject(o, "result", res);
    else
        cJSON_AddNullToObject(o, "result");
    if (r->error) {
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "message", r->error);
    } else {
        cJSON_AddNullToObject(o, "error");
    }
    if (r->idem[0])
        cJSON_AddStringToObject(o, "idempotency_key", r->idem);
    return o;
}

int sched_jobs_admit(struct sched *s, struct weft_http_req *req, const struct weft_key_info *k,
                     int n)
{
    if (s->n_queued + n > s->cfg.limits.max_queued) {
        sched_reply_fail(req, 503, NULL, "queue_full", "The job queue is full; retry later.");
        return WEFT_ELIMIT;
    }
    /* A shared store counts the key's jobs region-wide: held by any
     * scheduler, or by none while they wait to be claimed. */
    int mine = weft_store_shared(s->store) ? weft_store_job_count_open(s->store, k->id)
                                           : sched_jobs_of_key(s, k->id);
    if (mine < 0) {
        sched_reply_fail(req, 503, NULL, "store_unavailable",
                         "The job store is unavailable; nothing was queued.");
        return WEFT_ESTORE;
    }
    if (mine + n > s->cfg.limits.max_jobs_per_key) {
        char msg[240];
        snprintf(msg, sizeof msg,
                 "This key has %d jobs queued or running and asks for %d more, past its limit "
                 "(limits.max_jobs_per_key, %d); submit more as they finish.",
                 mine, n, s->cfg.limits.max_jobs_per_key);
        sched_reply_fail(req, 429, "requests", "too_many_jobs", msg);
        return WEFT_ELIMIT;
    }
    return 0;
}

void sched_job_row_new(struct sched *s, struct weft_job_row *row, const struct weft_key_info *k,
                       const struct weft_oai_req *parsed, char *request, int64_t now_ms,
                       int64_t deadline_ms)
{
    memset(row, 0, sizeof *row);
    char hex[25];
    weft_random_hex(hex, 12);
    snprintf(row->id, sizeof row->id, "job-%s", hex);
    snprintf(row->key_id, sizeof row->key_id, "%s", k->id);
    row->created_ms = now_ms;
    /* No job waits forever: one given no deadline gets job_max_wait_s. */
    row->deadline_ms =
        deadline_ms ? deadline_ms : now_ms + (int64_t)s->cfg.limits.job_max_wait_s * 1000;
    row->priority = parsed->priority;
    row->kind = parsed->kind;
    row->request = request;
    snprintf(row->model, sizeof row->model, "%s", parsed->model);
    /* The seed is fixed now and stored: a run resumed by any scheduler,
     * after any restart, samples what the first run would have. */
    row->has_seed = 1;
    row->seed = parsed->has_seed ? parsed->seed : sched_seed_new();
}

void sched_job_enqueue(struct sched *s, const struct weft_job_row *row)
{
    struct sched_job *j;
    struct weft_oai_err e;
    if (sched_job_from_row(s, row, &j, &e) == 0) {
        sched_job_submit(s, j);
        sched_lease_offer(s, j);
    }
}

void sched_h_jobs_create(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    const struct weft_key_info *k = &call->key;
    struct weft_oai_err e;
    struct weft_oai_req parsed;
    int64_t now = weft_wall_ms();
    const char *body = req->body.data ? req->body.data : "";
    if (weft_oai_parse_job(&parsed, body, req->body.len, now, &e)) {
        sched_reply_err(req, &e);
        return;
    }
    const char *idem = weft_http_header(req, "Idempotency-Key");
    if (idem && strlen(idem) >= sizeof((struct weft_job_row *)0)->idem) {
        weft_oai_req_free(&parsed);
        sched_reply_fail(req, 400, NULL, NULL, "Idempotency-Key is longer than 127 bytes");
        return;
    }
    if (sched_jobs_admit(s, req, k, 1) != 0) {
        weft_oai_req_free(&parsed);
        return;
    }
    /* The request part is stored as sent, so a restart parses the same
     * thing again. */
    cJSON *root = cJSON_ParseWithLength(body, req->body.len);
    char *request = root ? cJSON_PrintUnformatted(cJSON_GetObjectItem(root, "request")) : NULL;
    cJSON_Delete(root);
    struct weft_job_row row;
    sched_job_row_new(s, &row, k, &parsed, request, now, parsed.deadline_ms);
    snprintf(row.idem, sizeof row.idem, "%s", idem ? idem : "");
    weft_oai_req_free(&parsed);
    int existing = 0;
    int rc = request ? weft_store_job_insert(s->store, &row, &existing) : WEFT_ENOMEM;
    if (rc) {
        weft_job_row_free(&row);
        sched_reply_fail(req, 503, NULL, NULL, "The job store is unavailable; nothing was queued.");
        return;
    }
    if (!existing)
        sched_job_enqueue(s, &row);
    sched_reply_json(req, existing ? 200 : 202, job_object(s, &row));
    weft_job_row_free(&row);
}

void sched_job_cancel_id(struct sched *s, const char *id)
{
    struct sched_job *j = sched_job_find(s, id);
    if (j) {
        sched_job_cancel(s, j, "cancelled by its owner");
    } else if (weft_store_job_finish(s->store, id, WEFT_JOB_CANCELLED, NULL, "cancelled") > 0) {
        /* Another scheduler may run it: its next renewal finds it
         * cancelled; the signal makes that now. */
        weft_store_notify(s->store);
    }
}

static void jobs_get(struct sched *s, struct weft_http_req *req, struct sched_call *call,
                     int cancel)
{
    const struct weft_key_info *k = &call->key;
    const char *id = call->id;
    struct weft_job_row row;
    if (weft_store_job_get(s->store, id, k->admin ? NULL : k->id, &row) != 0) {
        sched_reply_fail(req, 404, NULL, "job_not_found", "No such job.");
        return;
    }
    if (cancel) {
        if (weft_job_state_final(row.state)) {
            weft_job_row_free(&row);
            sched_reply_fail(req, 409, NULL, "job_finished", "The job has already finished.");
            return;
        }
        sched_job_cancel_id(s, id);
        weft_job_row_free(&row);
        weft_store_job_get(s->store, id, NULL, &row);
    }
    sched_reply_json(req, 200, job_object(s, &row));
    weft_job_row_free(&row);
}

void sched_h_jobs_get(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    jobs_get(s, req, call, 0);
}

void sched_h_jobs_cancel(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    jobs_get(s, req, call, 1);
}

struct list_ctx {
    struct sched *s;
    cJSON *data;
};

static void list_one(const struct weft_job_row *r, void *ud)
{
    struct list_ctx *c = ud;
    cJSON_AddItemToArray(c->data, job_object(c->s, r));
}

void sched_h_jobs_list(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    const struct weft_key_info *k = &call->key;
    char after[40];
    int limit;
    if (sched_page_query(req, &limit, after, sizeof after) != 0)
        return;
    struct list_ctx c = {.s = s};
    cJSON *o = sched_list_object(&c.data);
    int n = weft_store_job_list(s->store, k->admin ? NULL : k->id, after[0] ? after : NULL,
                                limit + 1, list_one, &c);
    sched_list_finish(o, c.data, n, limit);
    sched_reply_json(req, 200, o);
}

/* GET /v1/jobs/{id}/stream?after=N: the job's tokens from token N on, as
 * the events of a streamed completion, on any scheduler of the region. */
void sched_h_jobs_stream(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    const struct weft_key_info *k = &call->key;
    char a[16];
    int after = 0;
    if (sched_query_param(req->query, "after", a, sizeof a) == 0) {
        char *end;
        long v = strtol(a, &end, 10);
        if (*end || end == a || v < 0 || v > WEFT_OAI_MAX_TOKENS) {
            sched_reply_fail(req, 400, NULL, NULL, "after must be a token count, 0 or more");
            return;
        }
        after = (int)v;
    }
    struct sched_job *j = sched_job_find(s, call->id);
    if (j && j->durable && (k->admin || strcmp(j->key_id, k->id) == 0)) {
        sched_client_resume(s, j, req, after);
        return;
    }
    struct weft_job_row row;
    if (weft_store_job_get(s->store, call->id, k->admin ? NULL : k->id, &row) != 0) {
        sched_reply_fail(req, 404, NULL, "job_not_found", "No such job.");
        return;
    }
    int final = weft_job_state_final(row.state);
    if (final && sched_lease_replay(s, req, &row, after) != 0) {
        sched_reply_fail(req, 409, NULL, "job_finished",
                         row.state == WEFT_JOB_SUCCEEDED
                             ? "The job has finished; its result is at GET /v1/jobs/{id}."
                             : "The job ended without a result.");
    }
    weft_job_row_free(&row);
    if (final)
        return;
    if (!weft_store_shared(s->store)) {
        /* One scheduler holds every unfinished job in memory: this one is
         * between states (a restart is taking it back). */
        sched_reply_fail(req, 503, NULL, "stream_busy", "The job is not ready; retry shortly.");
        return;
    }
    sched_lease_resume(s, req, call->id, after);
}
