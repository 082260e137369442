/* The OpenAI-compatible developer API: GET /v1/models, POST
 * /v1/chat/completions and /v1/completions. A completion is an interactive
 * job whose client is the request (client.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "client.h"
#include "core.h"
#include "reply.h"
#include "weft/chat.h"
#include "weft/error.h"
#include "weft/time.h"

void sched_h_models(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    (void)call;
    cJSON *data;
    cJSON *o = sched_list_object(&data);
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        const struct sched_node *n = weft_list_entry(it, struct sched_node, link);
        if (!n->live)
            continue;
        for (int i = 0; i < n->n_models; i++) {
            int dup = 0;
            cJSON *m;
            cJSON_ArrayForEach(m, data)
            {
                dup |= strcmp(cJSON_GetObjectItem(m, "id")->valuestring, n->models[i].name) == 0;
            }
            if (dup)
                continue;
            m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "id", n->models[i].name);
            cJSON_AddStringToObject(m, "object", "model");
            cJSON_AddNumberToObject(m, "created", 0);
            cJSON_AddStringToObject(m, "owned_by", "weft");
            cJSON_AddItemToArray(data, m);
        }
    }
    sched_reply_json(req, 200, o);
}

/* With a shared store a streamed request is kept there, journaled like a
 * job, so that its client can resume it on any scheduler of the region
 * (GET /v1/jobs/{id}/stream?after=N) when this one dies. */
static int keep_stream(struct sched *s, struct sched_job *j, const struct weft_http_req *req)
{
    struct weft_job_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.id, sizeof row.id, "%s", j->id);
    snprintf(row.key_id, sizeof row.key_id, "%s", j->key_id);
    snprintf(row.model, sizeof row.model, "%s", j->req.model);
    row.created_ms = weft_wall_ms();
    row.priority = WEFT_OAI_INTERACTIVE;
    row.kind = j->req.kind;
    row.stream = 1;
    if (!j->req.has_seed) {
        j->req.seed = sched_seed_new();
        j->req.has_seed = 1;
    }
    row.has_seed = 1;
    row.seed = j->req.seed;
    row.request = strndup(req->body.data ? req->body.data : "", req->body.len);
    int existing = 0;
    int rc = row.request ? weft_store_job_insert(s->store, &row, &existing) : WEFT_ENOMEM;
    weft_job_row_free(&row);
    if (rc == 0) {
        j->durable = 1;
        j->stream_job = 1;
    }
    return rc;
}

/* A forced tool call: the format the node will follow (the template's
 * call, written the way of the template of a node holding the model) must
 * fit in max_tokens. */
static int tools_format_check(struct sched *s, const struct sched_job *j, struct weft_oai_err *e)
{
    if (!j->req.tools || j->req.tool_choice < WEFT_OAI_TOOLS_REQUIRED)
        return 0;
    char *rf = NULL;
    int rc = weft_chat_call_format(
        (enum weft_chat_template)sched_model_template(s, j->req.model), j->req.tools,
        j->req.tool_choice == WEFT_OAI_TOOLS_NAMED ? j->req.tool_name : NULL, &rf);
    if (rc == 0)
        rc = weft_oai_check_format(rf, j->req.max_tokens, e);
    else
        weft_oai_set_err(e, 400, "invalid_request_error", NULL, "tools",
                         "the tools cannot be written as a call");
    free(rf);
    return rc;
}

/* n > 1: a job per choice, parsed from the same body, choice i drawing
 * with seed + i (a request without a seed gets one), so that choice 0 is
 * what the request with n = 1 gives. They are placed, batched and failed
 * over one by one; the group answers when the last is done. Such a
 * request is not kept for a resume on another scheduler. j (choice 0)
 * holds the key's slot; on failure everything is answered and freed. */
static void choices(struct sched *s, struct weft_http_req *req, const struct weft_key_info *k,
                    struct sched_job *j)
{
    int n = j->req.n;
    struct sched_job *jobs[WEFT_OAI_MAX_N] = {j};
    uint64_t seed = j->req.has_seed ? j->req.seed : sched_seed_new();
    int rc = s->n_queued + n > s->cfg.limits.max_queued ? WEFT_ELIMIT : 0;
    for (int i = 1; rc == 0 && i < n; i++) {
        struct weft_oai_err e;
        jobs[i] = sched_job_new(j->req.kind == WEFT_OAI_CHAT ? "chatcmpl-" : "cmpl-");
        if (!jobs[i] ||
            weft_oai_parse(&jobs[i]->req, j->req.kind, req->body.data, req->body.len, &e) != 0) {
            rc = WEFT_ENOMEM;
            break;
        }
        jobs[i]->sched = s;
        jobs[i]->req.priority = WEFT_OAI_INTERACTIVE;
        snprintf(jobs[i]->key_id, sizeof jobs[i]->key_id, "%s", k->id);
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        jobs[i]->req.seed = seed + (uint64_t)i;
        jobs[i]->req.has_seed = 1;
    }
    if (rc == 0)
        rc = sched_client_begin_group(s, jobs, n, req, 1);
    if (rc) {
        for (int i = 0; i < n; i++)
            if (jobs[i])
                sched_job_free(jobs[i]);
        sched_auth_slot_release(s, k->id);
        if (rc == WEFT_ELIMIT)
            sched_reply_fail(req, 503, NULL, "queue_full", "The scheduler's queue is full.");
        else
            sched_reply_fail(req, 503, NULL, NULL, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++)
        sched_job_submit(s, jobs[i]);
}

static void generate(struct sched *s, struct weft_http_req *req, const struct weft_key_info *k,
                     enum weft_oai_kind kind)
{
    struct weft_oai_err e;
    struct sched_job *j = sched_job_new(kind == WEFT_OAI_CHAT ? "chatcmpl-" : "cmpl-");
    if (!j) {
        sched_reply_fail(req, 503, NULL, NULL, "out of memory");
        return;
    }
    j->sched = s;
    if (weft_oai_parse(&j->req, kind, req->body.data ? req->body.data : "", req->body.len, &e)) {
        sched_job_free(j);
        sched_reply_err(req, &e);
        return;
    }
    if (sched_auth_slot_take(s, req, k) != 0) {
        sched_job_free(j);
        return;
    }
    snprintf(j->key_id, sizeof j->key_id, "%s", k->id);
    int none = !sched_model_available(s, j->req.model);
    if (none || s->n_queued >= s->cfg.limits.max_queued) {
        weft_oai_set_err(&e, none ? 404 : 503, none ? "invalid_request_error" : "server_error",
                         none ? "model_not_found" : "queue_full", "model",
                         none ? "The model '%s' is not held by any live node."
                              : "The scheduler's queue is full; retry later (model '%s').",
                         j->req.model);
        sched_auth_slot_release(s, k->id);
        sched_job_free(j);
        sched_reply_err(req, &e);
        return;
    }
    j->req.priority = WEFT_OAI_INTERACTIVE;
    if (sched_req_uses_tools(&j->req) && !sched_model_tools(s, j->req.model)) {
        sched_auth_slot_release(s, k->id);
        weft_oai_set_err(&e, 400, "invalid_request_error", "tools_not_supported", "tools",
                         "The model '%s' is served with a chat template that has no tool support "
                         "in Weft (qwen2.5 has).",
                         j->req.model);
        sched_job_free(j);
        sched_reply_err(req, &e);
        return;
    }
    if (tools_format_check(s, j, &e) != 0) {
        sched_auth_slot_release(s, k->id);
        sched_job_free(j);
        sched_reply_err(req, &e);
        return;
    }
    if (j->req.n > 1) {
        choices(s, req, k, j);
        return;
    }
    if (j->req.stream && weft_store_shared(s->store) && keep_stream(s, j, req) != 0) {
        sched_auth_slot_release(s, k->id);
        sched_job_free(j);
        sched_reply_fail(req, 503, NULL, "store_unavailable",
                         "The scheduler cannot reach its store; retry shortly.");
        return;
    }
    j->holds_slot = 1;
    sched_client_begin(s, j, req);
    sched_job_submit(s, j);
}

void sched_h_chat(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    generate(s, req, &call->key, WEFT_OAI_CHAT);
}

void sched_h_completions(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    generate(s, req, &call->key, WEFT_OAI_COMPLETION);
}
