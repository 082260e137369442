/* The scheduler's HTTP routes: the OpenAI-compatible developer API, the
 * job API, the node API and operations (/healthz, /metrics). Each route
 * checks its caller, parses its body with a bounded parser and hands the
 * work to core.c. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/nodemsg.h"
#include "weft/time.h"
#include "weft/version.h"

#define JSON "application/json"

static const int status_codes[SCHED_N_STATUS] = {200, 202, 204, 400, 401, 403, 404, 405, 408,
                                                 409, 413, 429, 431, 500, 503, 504, 505, 0};
static const double latency_le[SCHED_N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   1,     5,    30};
static const char *const route_names[R_COUNT] = {
    "other",       "healthz",     "metrics",        "models",    "chat_completions",
    "completions", "jobs_create", "jobs_get",       "jobs_list", "jobs_cancel",
    "admin_nodes", "node_hello",  "node_heartbeat", "node_work", "node_stream",
};

/* ---- small helpers ------------------------------------------------------ */

static void respond_json(struct weft_http_req *req, int status, cJSON *o)
{
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) {
        weft_http_respond(req, 500, JSON, NULL, "{}", 2);
        return;
    }
    weft_http_respond(req, status, JSON, NULL, txt, strlen(txt));
    free(txt);
}

/* Answers with b's JSON (or 500 when writing it failed) and frees b. */
static void respond_buf(struct weft_http_req *req, int status, struct weft_buf *b)
{
    if (b->data)
        weft_http_respond(req, status, JSON, NULL, b->data, b->len);
    else
        weft_http_respond(req, 500, JSON, NULL, "{}", 2);
    weft_buf_free(b);
}

static void respond_err(struct weft_http_req *req, const struct weft_oai_err *e)
{
    struct weft_buf b;
    weft_buf_init(&b, 4096);
    weft_oai_error_json(e, &b);
    weft_buf_append_byte(&b, '\n');
    weft_http_respond(req, e->status, JSON, NULL, b.data, b.len);
    weft_buf_free(&b);
}

static void fail(struct weft_http_req *req, int status, const char *type, const char *code,
                 const char *message)
{
    struct weft_oai_err e;
    weft_oai_set_err(&e, status, type, code, NULL, "%s", message);
    respond_err(req, &e);
}

static enum sched_route route_of(const char *method, const char *path)
{
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
        del = strcmp(method, "DELETE") == 0;
    if (strcmp(path, "/healthz") == 0)
        return get ? R_HEALTHZ : R_OTHER;
    if (strcmp(path, "/metrics") == 0)
        return get ? R_METRICS : R_OTHER;
    if (strcmp(path, "/v1/models") == 0)
        return get ? R_MODELS : R_OTHER;
    if (strcmp(path, "/v1/chat/completions") == 0)
        return post ? R_CHAT : R_OTHER;
    if (strcmp(path, "/v1/completions") == 0)
        return post ? R_COMPLETIONS : R_OTHER;
    if (strcmp(path, "/v1/jobs") == 0)
        return post ? R_JOBS_CREATE : get ? R_JOBS_LIST : R_OTHER;
    if (strncmp(path, "/v1/jobs/", 9) == 0 && path[9] && !strchr(path + 9, '/'))
        return get ? R_JOBS_GET : del ? R_JOBS_CANCEL : R_OTHER;
    if (strcmp(path, "/v1/admin/nodes") == 0)
        return get ? R_ADMIN_NODES : R_OTHER;
    if (strcmp(path, "/v1/node/hello") == 0)
        return post ? R_NODE_HELLO : R_OTHER;
    if (strcmp(path, "/v1/node/heartbeat") == 0)
        return post ? R_NODE_HEARTBEAT : R_OTHER;
    if (strcmp(path, "/v1/node/work") == 0)
        return get ? R_NODE_WORK : R_OTHER;
    if (strncmp(path, "/v1/node/jobs/", 14) == 0) {
        const char *slash = strchr(path + 14, '/');
        if (slash && slash > path + 14 && strcmp(slash, "/stream") == 0)
            return post ? R_NODE_STREAM : R_OTHER;
    }
    return R_OTHER;
}

static int known_path(const char *path)
{
    static const char *const paths[] = {
        "/healthz", "/metrics",        "/v1/models",     "/v1/chat/completions", "/v1/completions",
        "/v1/jobs", "/v1/admin/nodes", "/v1/node/hello", "/v1/node/heartbeat",   "/v1/node/work",
        NULL};
    for (int i = 0; paths[i]; i++)
        if (strcmp(path, paths[i]) == 0)
            return 1;
    return strncmp(path, "/v1/jobs/", 9) == 0 || strncmp(path, "/v1/node/jobs/", 14) == 0;
}

static const char *bearer(const struct weft_http_req *req)
{
    const char *a = weft_http_header(req, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return a;
}

/* A query parameter's value into out (undecoded; ours are plain). */
static int query_param(const char *query, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl >= cap)
                return WEFT_E2BIG;
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return WEFT_ENOENT;
}

/* ---- keys and limits ---------------------------------------------------- */

static struct sched_keystate *keystate(struct sched *s, const char *id)
{
    for (struct sched_keystate *k = s->keys; k; k = k->next)
        if (strcmp(k->id, id) == 0)
            return k;
    struct sched_keystate *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    snprintf(k->id, sizeof k->id, "%s", id);
    k->bucket = -1;
    k->next = s->keys;
    s->keys = k;
    return k;
}

void sched_key_release(struct sched *s, const char *key_id)
{
    for (struct sched_keystate *k = s->keys; k; k = k->next)
        if (strcmp(k->id, key_id) == 0 && k->in_flight > 0)
            k->in_flight--;
}

/* Checks the developer's key and its limits. Returns 0 with info filled,
 * or answers the request and returns -1. `count` takes a concurrency slot
 * (released when the request or job ends). */
static int auth_key(struct sched *s, struct weft_http_req *req, struct weft_key_info *info,
                    int count)
{
    const char *tok = bearer(req);
    if (!tok) {
        fail(req, 401, "invalid_request_error", "missing_api_key",
             "You didn't provide an API key. Send it as 'Authorization: Bearer KEY'.");
        return -1;
    }
    if (sched_auth_key(s, tok, info) != 0) {
        fail(req, 401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.");
        return -1;
    }
    struct sched_keystate *k = keystate(s, info->id);
    if (!k) {
        fail(req, 503, "server_error", NULL, "out of memory");
        return -1;
    }
    if (info->rate_per_min > 0) {
        /* Token bucket: a minute's worth of burst, refilled continuously. */
        uint64_t now = weft_mono_ms();
        if (k->bucket < 0) {
            k->bucket = info->rate_per_min;
            k->refill_ms = now;
        }
        k->bucket += (double)weft_elapsed_ms(k->refill_ms, now) * info->rate_per_min / 60000.0;
        if (k->bucket > info->rate_per_min)
            k->bucket = info->rate_per_min;
        k->refill_ms = now;
        if (k->bucket < 1) {
            fail(req, 429, "requests", "rate_limit_exceeded",
                 "Rate limit reached for this key; slow down.");
            return -1;
        }
        k->bucket -= 1;
    }
    if (count) {
        if (info->max_concurrent > 0 && k->in_flight >= info->max_concurrent) {
            fail(req, 429, "requests", "concurrency_limit_exceeded",
                 "Too many requests in flight for this key.");
            return -1;
        }
        k->in_flight++;
    }
    return 0;
}

static int auth_node(struct sched *s, struct weft_http_req *req, struct sched_node **out)
{
    char name[64];
    const char *tok = bearer(req);
    if (!tok || sched_auth_node(s, tok, name, sizeof name) != 0) {
        fail(req, 401, "invalid_request_error", "invalid_node_token",
             "Unknown or revoked node token.");
        return -1;
    }
    *out = sched_node_get(s, name);
    if (!*out) {
        fail(req, 503, "server_error", NULL, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- the client side of a job ------------------------------------------- */

static cJSON *chunk_base(const struct sched_job *j)
{
    cJSON *o = cJSON_CreateObject();
    int chat = j->req.kind == WEFT_OAI_CHAT;
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "object", chat ? "chat.completion.chunk" : "text_completion");
    cJSON_AddNumberToObject(o, "created", (double)j->created_s);
    cJSON_AddStringToObject(o, "model", j->req.model);
    cJSON_AddStringToObject(o, "system_fingerprint", "weft");
    return o;
}

static void sse_send(struct sched_job *j, cJSON *o)
{
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt)
        return;
    struct weft_buf b;
    weft_buf_init(&b, strlen(txt) + 16);
    weft_buf_appendf(&b, "data: %s\n\n", txt);
    free(txt);
    weft_http_stream_write(j->client, b.data, b.len);
    weft_buf_free(&b);
}

static cJSON *choice(const struct sched_job *j, const char *text, const char *finish, int role)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    if (j->req.kind == WEFT_OAI_CHAT) {
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        if (role)
            cJSON_AddStringToObject(d, "role", "assistant");
        if (text)
            cJSON_AddStringToObject(d, "content", text);
    } else {
        cJSON_AddStringToObject(c, "text", text ? text : "");
        cJSON_AddNullToObject(c, "logprobs");
    }
    if (finish)
        cJSON_AddStringToObject(c, "finish_reason", finish);
    else
        cJSON_AddNullToObject(c, "finish_reason");
    return c;
}

void sched_client_tokens(struct sched *s, struct sched_job *j, const char *text, size_t len)
{
    (void)s;
    if (!j->client || !j->req.stream)
        return;
    char *piece = strndup(text, len);
    if (!piece)
        return;
    cJSON *o = chunk_base(j);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON_AddItemToArray(choices, choice(j, piece, NULL, !j->sent_role));
    j->sent_role = 1;
    free(piece);
    sse_send(j, o);
}

static cJSON *usage(const struct sched_job *j)
{
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", j->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", j->n_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", j->prompt_tokens + j->n_tokens);
    return u;
}

char *sched_completion_json(const struct sched_job *j, const char *finish)
{
    cJSON *o = cJSON_CreateObject();
    int chat = j->req.kind == WEFT_OAI_CHAT;
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "object", chat ? "chat.completion" : "text_completion");
    cJSON_AddNumberToObject(o, "created", (double)j->created_s);
    cJSON_AddStringToObject(o, "model", j->req.model);
    cJSON_AddStringToObject(o, "system_fingerprint", "weft");
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    const char *text = j->text.data ? j->text.data : "";
    if (chat) {
        cJSON *m = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddStringToObject(m, "content", text);
    } else {
        cJSON_AddStringToObject(c, "text", text);
        cJSON_AddNullToObject(c, "logprobs");
    }
    cJSON_AddStringToObject(c, "finish_reason", finish);
    cJSON_AddItemToArray(choices, c);
    cJSON_AddItemToObject(o, "usage", usage(j));
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}

static void client_detach(struct sched *s, struct sched_job *j)
{
    j->client->on_abort = NULL;
    j->client->data = NULL;
    j->client = NULL;
    sched_key_release(s, j->key_id);
}

void sched_client_finish(struct sched *s, struct sched_job *j, const char *finish)
{
    struct weft_http_req *req = j->client;
    if (!req)
        return;
    if (j->req.stream) {
        cJSON *o = chunk_base(j);
        cJSON *choices = cJSON_AddArrayToObject(o, "choices");
        cJSON_AddItemToArray(choices, choice(j, j->sent_role ? NULL : "", finish, !j->sent_role));
        sse_send(j, o);
        if (j->req.include_usage) {
            o = chunk_base(j);
            cJSON_AddArrayToObject(o, "choices");
            cJSON_AddItemToObject(o, "usage", usage(j));
            sse_send(j, o);
        }
        weft_http_stream_write(req, "data: [DONE]\n\n", 14);
        client_detach(s, j);
        weft_http_stream_end(req);
        return;
    }
    char *txt = sched_completion_json(j, finish);
    client_detach(s, j);
    if (txt)
        weft_http_respond(req, 200, JSON, NULL, txt, strlen(txt));
    else
        weft_http_respond(req, 500, JSON, NULL, "{}", 2);
    free(txt);
}

void sched_client_fail(struct sched *s, struct sched_job *j, int status, const char *code,
                       const char *message)
{
    struct weft_http_req *req = j->client;
    if (!req)
        return;
    struct weft_oai_err e;
    weft_oai_set_err(&e, status, status >= 500 ? "server_error" : "invalid_request_error", code,
                     NULL, "%s", message);
    client_detach(s, j);
    if (req->streaming) {
        /* Headers went out with the first byte: the error travels as an
         * event, the way OpenAI's streams report one. */
        struct weft_buf b;
        weft_buf_init(&b, 4096);
        weft_buf_append_str(&b, "data: ");
        weft_oai_error_json(&e, &b);
        weft_buf_append_str(&b, "\n\ndata: [DONE]\n\n");
        weft_http_stream_write(req, b.data, b.len);
        weft_buf_free(&b);
        weft_http_stream_end(req);
        return;
    }
    respond_err(req, &e);
}

static void client_aborted(struct weft_http_req *req)
{
    struct sched_job *j = req->data;
    if (!j)
        return;
    struct sched *s = j->sched;
    j->client = NULL;
    sched_key_release(s, j->key_id);
    sched_job_cancel(s, j, "client went away");
}

/* ---- developer routes ------------------------------------------------------ */

static void h_models(struct sched *s, struct weft_http_req *req)
{
    struct weft_key_info k;
    if (auth_key(s, req, &k, 0))
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    for (struct sched_node *n = s->nodes; n; n = n->next) {
        if (!n->live)
            continue;
        for (int i = 0; i < n->n_models; i++) {
            int dup = 0;
            cJSON *it;
            cJSON_ArrayForEach(it, data)
            {
                dup |= strcmp(cJSON_GetObjectItem(it, "id")->valuestring, n->models[i].name) == 0;
            }
            if (dup)
                continue;
            cJSON *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "id", n->models[i].name);
            cJSON_AddStringToObject(m, "object", "model");
            cJSON_AddNumberToObject(m, "created", 0);
            cJSON_AddStringToObject(m, "owned_by", "weft");
            cJSON_AddItemToArray(data, m);
        }
    }
    respond_json(req, 200, o);
}

static void h_generate(struct sched *s, struct weft_http_req *req, enum weft_oai_kind kind)
{
    struct weft_key_info k;
    struct weft_oai_err e;
    struct sched_job *j = sched_job_new(kind == WEFT_OAI_CHAT ? "chatcmpl-" : "cmpl-");
    if (!j) {
        fail(req, 503, "server_error", NULL, "out of memory");
        return;
    }
    j->sched = s;
    if (weft_oai_parse(&j->req, kind, req->body.data ? req->body.data : "", req->body.len, &e)) {
        sched_job_free(j);
        respond_err(req, &e);
        return;
    }
    if (auth_key(s, req, &k, 1)) {
        sched_job_free(j);
        return;
    }
    snprintf(j->key_id, sizeof j->key_id, "%s", k.id);
    if (!sched_model_available(s, j->req.model) || s->n_queued >= s->cfg.limits.max_queued) {
        int none = !sched_model_available(s, j->req.model);
        weft_oai_set_err(&e, none ? 404 : 503, none ? "invalid_request_error" : "server_error",
                         none ? "model_not_found" : "queue_full", "model",
                         none ? "The model '%s' is not held by any live node."
                              : "The scheduler's queue is full; retry later (model '%s').",
                         j->req.model);
        sched_key_release(s, k.id);
        sched_job_free(j);
        respond_err(req, &e);
        return;
    }
    j->req.priority = WEFT_OAI_INTERACTIVE;
    j->client = req;
    req->data = j;
    req->on_abort = client_aborted;
    if (j->req.stream)
        weft_http_stream_begin(req, 200, "text/event-stream",
                               "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    sched_job_submit(s, j);
}

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

/* A stored job back into memory: at submission and after a restart. */
static int job_from_row(struct sched *s, const struct weft_job_row *r, struct sched_job **out,
                        struct weft_oai_err *e)
{
    struct sched_job *j = sched_job_new("");
    if (!j)
        return WEFT_ENOMEM;
    j->sched = s;
    snprintf(j->id, sizeof j->id, "%s", r->id);
    if (weft_oai_parse(&j->req, (enum weft_oai_kind)r->kind, r->request, strlen(r->request), e)) {
        sched_job_free(j);
        return WEFT_EINVAL;
    }
    j->durable = 1;
    j->req.priority = (enum weft_oai_priority)r->priority;
    j->req.deadline_ms = r->deadline_ms;
    j->created_s = r->created_ms / 1000;
    snprintf(j->key_id, sizeof j->key_id, "%s", r->key_id);
    *out = j;
    return 0;
}

static void h_jobs_create(struct sched *s, struct weft_http_req *req)
{
    struct weft_key_info k;
    struct weft_oai_err e;
    struct weft_oai_req parsed;
    int64_t now = weft_wall_ms();
    const char *body = req->body.data ? req->body.data : "";
    if (weft_oai_parse_job(&parsed, body, req->body.len, now, &e)) {
        respond_err(req, &e);
        return;
    }
    if (auth_key(s, req, &k, 0)) {
        weft_oai_req_free(&parsed);
        return;
    }
    if (s->n_queued >= s->cfg.limits.max_queued) {
        weft_oai_req_free(&parsed);
        fail(req, 503, "server_error", "queue_full", "The job queue is full; retry later.");
        return;
    }
    /* The request part is stored as sent, so a restart parses the same
     * thing again. */
    cJSON *root = cJSON_ParseWithLength(body, req->body.len);
    char *request = root ? cJSON_PrintUnformatted(cJSON_GetObjectItem(root, "request")) : NULL;
    cJSON_Delete(root);
    struct weft_job_row row;
    memset(&row, 0, sizeof row);
    char hex[25];
    weft_random_hex(hex, 12);
    snprintf(row.id, sizeof row.id, "job-%s", hex);
    snprintf(row.key_id, sizeof row.key_id, "%s", k.id);
    const char *idem = weft_http_header(req, "Idempotency-Key");
    if (idem && strlen(idem) >= sizeof row.idem) {
        weft_oai_req_free(&parsed);
        free(request);
        fail(req, 400, "invalid_request_error", NULL, "Idempotency-Key is longer than 127 bytes");
        return;
    }
    snprintf(row.idem, sizeof row.idem, "%s", idem ? idem : "");
    row.created_ms = now;
    row.deadline_ms = parsed.deadline_ms;
    row.priority = parsed.priority;
    row.kind = parsed.kind;
    row.request = request;
    weft_oai_req_free(&parsed);
    int existing = 0;
    int rc = request ? weft_store_job_insert(s->store, &row, &existing) : WEFT_ENOMEM;
    if (rc) {
        weft_job_row_free(&row);
        fail(req, 503, "server_error", NULL, "The job store is unavailable; nothing was queued.");
        return;
    }
    if (!existing) {
        struct sched_job *j;
        if (job_from_row(s, &row, &j, &e) == 0)
            sched_job_submit(s, j);
    }
    respond_json(req, existing ? 200 : 202, job_object(s, &row));
    weft_job_row_free(&row);
}

static void h_jobs_get(struct sched *s, struct weft_http_req *req, int cancel)
{
    struct weft_key_info k;
    if (auth_key(s, req, &k, 0))
        return;
    const char *id = req->path + 9;
    struct weft_job_row row;
    if (weft_store_job_get(s->store, id, k.admin ? NULL : k.id, &row) != 0) {
        fail(req, 404, "invalid_request_error", "job_not_found", "No such job.");
        return;
    }
    if (cancel) {
        if (weft_job_state_final(row.state)) {
            weft_job_row_free(&row);
            fail(req, 409, "invalid_request_error", "job_finished",
                 "The job has already finished.");
            return;
        }
        struct sched_job *j = sched_job_find(s, id);
        if (j)
            sched_job_cancel(s, j, "cancelled by its owner");
        else
            weft_store_job_finish(s->store, id, WEFT_JOB_CANCELLED, NULL, "cancelled");
        weft_job_row_free(&row);
        weft_store_job_get(s->store, id, NULL, &row);
    }
    respond_json(req, 200, job_object(s, &row));
    weft_job_row_free(&row);
}

struct list_ctx {
    struct sched *s;
    cJSON *data;
    char last[40];
};

static void list_one(const struct weft_job_row *r, void *ud)
{
    struct list_ctx *c = ud;
    cJSON_AddItemToArray(c->data, job_object(c->s, r));
    snprintf(c->last, sizeof c->last, "%s", r->id);
}

static void h_jobs_list(struct sched *s, struct weft_http_req *req)
{
    struct weft_key_info k;
    if (auth_key(s, req, &k, 0))
        return;
    char lim[16], after[40];
    int limit = 20;
    if (query_param(req->query, "limit", lim, sizeof lim) == 0) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (*end || v < 1 || v > 100) {
            fail(req, 400, "invalid_request_error", NULL, "limit must be 1..100");
            return;
        }
        limit = (int)v;
    }
    int has_after = query_param(req->query, "after", after, sizeof after) == 0;
    struct list_ctx c = {.s = s};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    c.data = cJSON_AddArrayToObject(o, "data");
    /* One more than asked tells whether there is another page. */
    int n = weft_store_job_list(s->store, k.admin ? NULL : k.id, has_after ? after : NULL,
                                limit + 1, list_one, &c);
    int more = n > limit;
    if (more) {
        cJSON_DeleteItemFromArray(c.data, limit);
        cJSON *lastj = cJSON_GetArrayItem(c.data, limit - 1);
        snprintf(c.last, sizeof c.last, "%s", cJSON_GetObjectItem(lastj, "id")->valuestring);
    }
    cJSON_AddBoolToObject(o, "has_more", more);
    if (n > 0)
        cJSON_AddStringToObject(o, "last_id", c.last);
    else
        cJSON_AddNullToObject(o, "last_id");
    respond_json(req, 200, o);
}

static void h_admin_nodes(struct sched *s, struct weft_http_req *req)
{
    struct weft_key_info k;
    if (auth_key(s, req, &k, 0))
        return;
    if (!k.admin) {
        fail(req, 403, "invalid_request_error", "admin_only", "This key is not an admin key.");
        return;
    }
    uint64_t now = weft_mono_ms();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    for (struct sched_node *n = s->nodes; n; n = n->next) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", n->name);
        cJSON_AddStringToObject(x, "state", n->live ? "live" : "gone");
        cJSON_AddNumberToObject(x, "last_seen_ms_ago",
                                (double)weft_elapsed_ms(n->last_seen_ms, now));
        cJSON_AddStringToObject(x, "hardware", n->hardware);
        cJSON *models = cJSON_AddArrayToObject(x, "models");
        for (int i = 0; i < n->n_models; i++)
            cJSON_AddItemToArray(models, cJSON_CreateString(n->models[i].name));
        cJSON_AddNumberToObject(x, "running", n->running);
        cJSON_AddNumberToObject(x, "max_concurrency", n->max_concurrency);
        cJSON_AddNumberToObject(x, "budget_w", n->budget_w);
        cJSON_AddStringToObject(x, "policy_state", n->policy_state);
        cJSON_AddBoolToObject(x, "deferrable", n->deferrable_ok);
        cJSON_AddBoolToObject(x, "interactive", n->interactive_ok);
        cJSON_AddNumberToObject(x, "pv_w", n->pv_w);
        cJSON_AddNumberToObject(x, "grid_w", n->grid_w);
        cJSON_AddNumberToObject(x, "battery_w", n->battery_w);
        cJSON_AddNumberToObject(x, "soc", n->soc);
        cJSON_AddNumberToObject(x, "tokens", (double)n->tokens);
        cJSON_AddItemToArray(data, x);
    }
    respond_json(req, 200, o);
}

/* ---- node routes ---------------------------------------------------------- */

static void h_node_hello(struct sched *s, struct weft_http_req *req, struct sched_node *n)
{
    struct weft_hello h;
    char why[160];
    if (weft_hello_parse(req->body.data ? req->body.data : "", req->body.len, &h, why,
                         sizeof why) != 0) {
        fail(req, 400, "invalid_request_error", NULL, why);
        return;
    }
    sched_node_hello(s, n);
    for (int i = 0; i < h.n_models; i++) {
        snprintf(n->models[i].name, sizeof n->models[i].name, "%s", h.models[i].name);
        n->models[i].tpl = h.models[i].tpl;
    }
    n->n_models = h.n_models;
    n->max_concurrency = h.max_concurrency;
    snprintf(n->hardware, sizeof n->hardware, "%s", h.hardware);
    n->budget_w = 0;
    n->deferrable_ok = n->interactive_ok = 0;
    weft_log_notice(s->log, "node %s is live (%d model%s, %d slot%s)", n->name, n->n_models,
                    n->n_models == 1 ? "" : "s", n->max_concurrency,
                    n->max_concurrency == 1 ? "" : "s");
    struct weft_hello_reply r = {.heartbeat_ms = s->cfg.heartbeat_ms,
                                 .lease_ms = (int64_t)s->lease_ms};
    snprintf(r.node, sizeof r.node, "%s", n->name);
    struct weft_buf b;
    weft_buf_init(&b, 4096);
    weft_hello_reply_write(&r, &b);
    respond_buf(req, 200, &b);
}

static void h_node_heartbeat(struct sched *s, struct weft_http_req *req, struct sched_node *n)
{
    if (!n->live) {
        fail(req, 409, "invalid_request_error", "hello_first",
             "This node is not registered (or was declared gone): send hello first.");
        return;
    }
    struct weft_heartbeat hb;
    char why[160];
    if (weft_heartbeat_parse(req->body.data ? req->body.data : "", req->body.len, &hb, why,
                             sizeof why) != 0) {
        fail(req, 400, "invalid_request_error", NULL, why);
        return;
    }
    s->m.heartbeats++;
    n->budget_w = hb.budget_w;
    n->pv_w = hb.pv_w;
    n->load_w = hb.load_w;
    n->grid_w = hb.grid_w;
    n->battery_w = hb.battery_w;
    n->soc = hb.soc;
    n->deferrable_ok = hb.deferrable;
    n->interactive_ok = hb.interactive;
    snprintf(n->policy_state, sizeof n->policy_state, "%s", hb.policy_state);
    /* Jobs the node still runs that are no longer its own (moved while it
     * was unreachable) go back in "cancel", so it stops them. */
    struct weft_heartbeat_reply r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < hb.n_jobs; i++) {
        struct sched_job *j = sched_job_find(s, hb.jobs[i].id);
        if (!j || j->node != n)
            snprintf(r.cancel[r.n_cancel++], sizeof r.cancel[0], "%s", hb.jobs[i].id);
    }
    r.lease_ms = (int64_t)s->lease_ms;
    struct weft_buf b;
    weft_buf_init(&b, 64u << 10);
    weft_heartbeat_reply_write(&r, &b);
    respond_buf(req, 200, &b);
    sched_dispatch(s);
}

static void h_node_work(struct sched *s, struct weft_http_req *req, struct sched_node *n)
{
    if (!n->live) {
        fail(req, 409, "invalid_request_error", "hello_first",
             "This node is not registered (or was declared gone): send hello first.");
        return;
    }
    char w[16];
    int wait_s = 25;
    if (query_param(req->query, "wait", w, sizeof w) == 0) {
        char *end;
        long v = strtol(w, &end, 10);
        if (*end || v < 0 || v > s->cfg.limits.max_work_wait_s) {
            fail(req, 400, "invalid_request_error", NULL, "wait must be 0..max_work_wait_s");
            return;
        }
        wait_s = (int)v;
    }
    sched_node_park_poll(s, n, req, wait_s);
}

/* ---- dispatch ------------------------------------------------------------- */

int sched_api_on_headers(struct weft_http_req *req, void *ud)
{
    struct sched *s = ud;
    if (route_of(req->method, req->path) != R_NODE_STREAM)
        return 0;
    struct sched_node *n;
    if (auth_node(s, req, &n))
        return 401;
    n->last_seen_ms = weft_mono_ms();
    char id[40];
    const char *p = req->path + 14;
    size_t len = (size_t)(strchr(p, '/') - p);
    if (len >= sizeof id) {
        fail(req, 404, "invalid_request_error", "job_not_found", "No such job on this node.");
        return 404;
    }
    memcpy(id, p, len);
    id[len] = '\0';
    struct sched_job *j = sched_job_find(s, id);
    int st = j ? sched_stream_open(s, n, j, req) : 404;
    if (st) {
        fail(req, st, "invalid_request_error", st == 404 ? "job_not_found" : "stream_exists",
             st == 404 ? "No such job on this node." : "This job already has a token stream.");
        return st;
    }
    return 0;
}

static void h_metrics(struct sched *s, struct weft_http_req *req);

void sched_api_on_request(struct weft_http_req *req, void *ud)
{
    struct sched *s = ud;
    enum sched_route r = route_of(req->method, req->path);
    struct sched_node *n = NULL;
    switch (r) {
    case R_HEALTHZ: {
        char body[160];
        int live = 0;
        for (struct sched_node *x = s->nodes; x; x = x->next)
            live += x->live;
        int len = snprintf(body, sizeof body,
                           "{\"status\":\"ok\",\"nodes_live\":%d,\"queued\":%d,\"running\":%d}\n",
                           live, s->n_queued, s->n_running);
        weft_http_respond(req, 200, JSON, NULL, body, (size_t)len);
        return;
    }
    case R_METRICS:
        h_metrics(s, req);
        return;
    case R_MODELS:
        h_models(s, req);
        return;
    case R_CHAT:
        h_generate(s, req, WEFT_OAI_CHAT);
        return;
    case R_COMPLETIONS:
        h_generate(s, req, WEFT_OAI_COMPLETION);
        return;
    case R_JOBS_CREATE:
        h_jobs_create(s, req);
        return;
    case R_JOBS_GET:
        h_jobs_get(s, req, 0);
        return;
    case R_JOBS_CANCEL:
        h_jobs_get(s, req, 1);
        return;
    case R_JOBS_LIST:
        h_jobs_list(s, req);
        return;
    case R_ADMIN_NODES:
        h_admin_nodes(s, req);
        return;
    case R_NODE_STREAM:
        sched_stream_complete(s, req);
        return;
    case R_NODE_HELLO:
    case R_NODE_HEARTBEAT:
    case R_NODE_WORK:
        if (auth_node(s, req, &n))
            return;
        n->last_seen_ms = weft_mono_ms();
        if (r == R_NODE_HELLO)
            h_node_hello(s, req, n);
        else if (r == R_NODE_HEARTBEAT)
            h_node_heartbeat(s, req, n);
        else
            h_node_work(s, req, n);
        return;
    case R_OTHER:
    case R_COUNT:
        break;
    }
    if (known_path(req->path))
        fail(req, 405, "invalid_request_error", "method_not_allowed",
             "Method not allowed for this path.");
    else
        fail(req, 404, "invalid_request_error", "unknown_url", "Unknown request URL.");
}

/* ---- access log and metrics ----------------------------------------------- */

void sched_api_on_done(const struct weft_http_req *req, int status, void *ud)
{
    struct sched *s = ud;
    enum sched_route r = req->method[0] ? route_of(req->method, req->path) : R_OTHER;
    int si = SCHED_N_STATUS - 1;
    for (int i = 0; i < SCHED_N_STATUS - 1; i++)
        if (status_codes[i] == status)
            si = i;
    s->m.requests[r][si]++;
    double secs = (double)weft_elapsed_ms(req->start_ms, weft_mono_ms()) / 1000.0;
    for (int i = 0; i < SCHED_N_BUCKETS; i++)
        if (secs <= latency_le[i])
            s->m.latency_bucket[r][i]++;
    s->m.latency_sum[r] += secs;
    s->m.latency_count[r]++;
    /* Heartbeats and polls are the background hum of a region: only at
     * debug level, so the access log shows what people did. */
    int level = (r == R_NODE_HEARTBEAT || r == R_NODE_WORK) && status < 400 ? WEFT_LOG_DEBUG
                                                                            : WEFT_LOG_INFO;
    weft_log(s->log, level, "access %s \"%s %s\" %d %zu %.1fms", req->peer, req->method,
             req->target ? req->target : "", status, req->bytes_out, secs * 1000);
}

static void h_metrics(struct sched *s, struct weft_http_req *req)
{
    struct weft_buf b;
    weft_buf_init(&b, 1u << 20);
    weft_buf_append_str(&b, "# HELP weft_http_requests_total HTTP requests by route and status.\n"
                            "# TYPE weft_http_requests_total counter\n");
    for (int r = 0; r < R_COUNT; r++)
        for (int i = 0; i < SCHED_N_STATUS; i++)
            if (s->m.requests[r][i])
                weft_buf_appendf(
                    &b, "weft_http_requests_total{route=\"%s\",status=\"%s%d\"} %llu\n",
                    route_names[r], status_codes[i] ? "" : "other",
                    status_codes[i] ? status_codes[i] : 0, (unsigned long long)s->m.requests[r][i]);
    weft_buf_append_str(&b,
                        "# HELP weft_http_request_duration_seconds Time from the first byte of a "
                        "request to the end of its response.\n"
                        "# TYPE weft_http_request_duration_seconds histogram\n");
    for (int r = 0; r < R_COUNT; r++) {
        if (!s->m.latency_count[r])
            continue;
        for (int i = 0; i < SCHED_N_BUCKETS; i++)
            weft_buf_appendf(&b,
                             "weft_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                             "%llu\n",
                             route_names[r], latency_le[i],
                             (unsigned long long)s->m.latency_bucket[r][i]);
        weft_buf_appendf(&b,
                         "weft_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                         "%llu\n"
                         "weft_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                         "weft_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                         route_names[r], (unsigned long long)s->m.latency_count[r], route_names[r],
                         s->m.latency_sum[r], route_names[r],
                         (unsigned long long)s->m.latency_count[r]);
    }
    int live = 0, gone = 0;
    double budget = 0;
    for (struct sched_node *n = s->nodes; n; n = n->next) {
        if (n->live) {
            live++;
            budget += n->budget_w;
        } else {
            gone++;
        }
    }
    weft_buf_appendf(&b,
                     "# HELP weft_nodes Nodes known to the scheduler by state.\n"
                     "# TYPE weft_nodes gauge\n"
                     "weft_nodes{state=\"live\"} %d\nweft_nodes{state=\"gone\"} %d\n"
                     "# HELP weft_jobs Jobs in memory by state.\n"
                     "# TYPE weft_jobs gauge\n"
                     "weft_jobs{state=\"queued\"} %d\nweft_jobs{state=\"running\"} %d\n",
                     live, gone, s->n_queued, s->n_running);
    weft_buf_append_str(&b, "# HELP weft_jobs_finished_total Requests and jobs that ended, by "
                            "outcome.\n# TYPE weft_jobs_finished_total counter\n");
    for (int i = WEFT_JOB_SUCCEEDED; i <= WEFT_JOB_EXPIRED; i++)
        weft_buf_appendf(&b, "weft_jobs_finished_total{state=\"%s\"} %llu\n",
                         weft_job_state_name((enum weft_job_state)i),
                         (unsigned long long)s->m.finished[i]);
    weft_buf_appendf(
        &b,
        "# HELP weft_failovers_total Jobs moved off a node, by cause.\n"
        "# TYPE weft_failovers_total counter\n"
        "weft_failovers_total{cause=\"connection_closed\"} %llu\n"
        "weft_failovers_total{cause=\"heartbeat_lease\"} %llu\n"
        "weft_failovers_total{cause=\"yield\"} %llu\n"
        "weft_failovers_total{cause=\"node_error\"} %llu\n"
        "# HELP weft_tokens_total Tokens delivered (rate() gives tokens/s).\n"
        "# TYPE weft_tokens_total counter\nweft_tokens_total %llu\n"
        "# HELP weft_heartbeats_total Node heartbeats received.\n"
        "# TYPE weft_heartbeats_total counter\nweft_heartbeats_total %llu\n"
        "# HELP weft_budget_watts Power budget offered by live nodes across the region.\n"
        "# TYPE weft_budget_watts gauge\nweft_budget_watts %.1f\n"
        "# HELP weft_build_info Build of this scheduler.\n"
        "# TYPE weft_build_info gauge\nweft_build_info{version=\"%s\"} 1\n",
        (unsigned long long)s->m.failovers_closed, (unsigned long long)s->m.failovers_silent,
        (unsigned long long)s->m.yields, (unsigned long long)s->m.node_errors,
        (unsigned long long)s->m.tokens, (unsigned long long)s->m.heartbeats, budget,
        weft_version());
    weft_http_respond(req, 200, "text/plain; version=0.0.4", NULL, b.data, b.len);
    weft_buf_free(&b);
}

/* Loads the store's unfinished jobs after a restart. */
static void resume_one(const struct weft_job_row *r, void *ud)
{
    struct sched *s = ud;
    struct sched_job *j;
    struct weft_oai_err e;
    if (job_from_row(s, r, &j, &e) != 0) {
        weft_log_error(s->log, "job %s: stored request no longer parses (%s): failing it", r->id,
                       e.message);
        weft_store_job_finish(s->store, r->id, WEFT_JOB_FAILED, NULL, e.message);
        return;
    }
    weft_store_job_mark(s->store, r->id, WEFT_JOB_QUEUED);
    sched_job_submit(s, j);
}

int sched_api_resume(struct sched *s);
int sched_api_resume(struct sched *s)
{
    return weft_store_job_pending(s->store, resume_one, s);
}
