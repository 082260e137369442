/* The Batch API, in OpenAI's shapes: files (POST /v1/files as
 * multipart/form-data, GET one, a page or its content, DELETE) and batches
 * (POST /v1/batches, GET one or a page, POST .../cancel).
 *
 * A batch is its input file's lines made jobs of the job API: deferrable,
 * so that they run on surplus, with the batch's expiry as their deadline,
 * written with the batch in one transaction before the answer. A restart,
 * or another scheduler of the region, picks them up as any jobs.
 *
 * A batch's status is read from its jobs. Once none is open, the first
 * call that reads the batch finalizes it: it writes the output file (the
 * lines that succeeded) and the error file (those that failed, expired or
 * were cancelled) and marks the batch final, in one transaction; the
 * finishing time is the last job's, so whichever scheduler finalizes
 * writes the same thing. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "core.h"
#include "reply.h"
#include "weft/error.h"
#include "weft/form.h"
#include "weft/log.h"
#include "weft/time.h"

/* ---- files ---- */

static cJSON *file_object(const struct weft_file_row *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", f->id);
    cJSON_AddStringToObject(o, "object", "file");
    cJSON_AddNumberToObject(o, "bytes", (double)f->bytes);
    cJSON_AddNumberToObject(o, "created_at", (double)(f->created_ms / 1000));
    cJSON_AddNullToObject(o, "expires_at");
    cJSON_AddStringToObject(o, "filename", f->filename);
    cJSON_AddStringToObject(o, "purpose", f->purpose);
    cJSON_AddStringToObject(o, "status", "processed");
    cJSON_AddNullToObject(o, "status_details");
    return o;
}

static const char *owner_filter(const struct sched_call *call)
{
    return call->key.admin ? NULL : call->key.id;
}

void sched_h_files_create(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    struct weft_form form;
    char err[160];
    const char *ct = weft_http_header(req, "Content-Type");
    if (weft_form_parse(&form, ct, req->body.data ? req->body.data : "", req->body.len, err,
                        sizeof err) != 0) {
        sched_reply_fail(req, 400, NULL, NULL, err);
        return;
    }
    const struct weft_form_part *purpose = weft_form_get(&form, "purpose");
    const struct weft_form_part *file = weft_form_get(&form, "file");
    if (!purpose || strcmp(purpose->data, "batch") != 0) {
        weft_form_free(&form);
        struct weft_oai_err e;
        weft_oai_set_err(&e, 400, "invalid_request_error", NULL, "purpose",
                         "purpose must be \"batch\": the only files Weft keeps are batch input");
        sched_reply_err(req, &e);
        return;
    }
    if (!file || !file->filename[0] || file->len == 0) {
        weft_form_free(&form);
        struct weft_oai_err e;
        weft_oai_set_err(&e, 400, "invalid_request_error", NULL, "file",
                         "file must be a non-empty file part with a filename");
        sched_reply_err(req, &e);
        return;
    }
    struct weft_file_row f;
    memset(&f, 0, sizeof f);
    char hex[25];
    weft_random_hex(hex, 12);
    snprintf(f.id, sizeof f.id, "file-%s", hex);
    snprintf(f.key_id, sizeof f.key_id, "%s", call->key.id);
    snprintf(f.purpose, sizeof f.purpose, "batch");
    snprintf(f.filename, sizeof f.filename, "%s", file->filename);
    f.bytes = (int64_t)file->len;
    f.created_ms = weft_wall_ms();
    int rc = weft_store_file_put(s->store, &f, file->data, file->len);
    weft_form_free(&form);
    if (rc) {
        sched_reply_fail(req, 503, NULL, "store_unavailable",
                         "The store is unavailable; the file was not kept.");
        return;
    }
    sched_reply_json(req, 200, file_object(&f));
}

/* A file the store did not give: 404 when there is none, else 503. */
static void file_fail(struct weft_http_req *req, int rc)
{
    if (rc == WEFT_ENOENT)
        sched_reply_fail(req, 404, NULL, "file_not_found", "No such file.");
    else
        sched_reply_fail(req, 503, NULL, "store_unavailable", "The store is unavailable.");
}

void sched_h_files_get(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    struct weft_file_row f;
    int rc = weft_store_file_get(s->store, call->id, owner_filter(call), &f, 0);
    if (rc) {
        file_fail(req, rc);
        return;
    }
    sched_reply_json(req, 200, file_object(&f));
}

void sched_h_files_content(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    struct weft_file_row f;
    int rc = weft_store_file_get(s->store, call->id, owner_filter(call), &f, 1);
    if (rc) {
        file_fail(req, rc);
        return;
    }
    weft_http_respond(req, 200, "application/octet-stream", NULL, f.data, (size_t)f.bytes);
    weft_file_row_free(&f);
}

void sched_h_files_delete(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    int rc = weft_store_file_delete(s->store, call->id, owner_filter(call));
    if (rc) {
        file_fail(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", call->id);
    cJSON_AddStringToObject(o, "object", "file");
    cJSON_AddBoolToObject(o, "deleted", 1);
    sched_reply_json(req, 200, o);
}

static void file_listed(const struct weft_file_row *f, void *ud)
{
    cJSON_AddItemToArray(ud, file_object(f));
}

void sched_h_files_list(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    char after[40], purpose[16];
    int limit;
    if (sched_page_query(req, &limit, after, sizeof after) != 0)
        return;
    int has_purpose = sched_query_param(req->query, "purpose", purpose, sizeof purpose) == 0;
    cJSON *data;
    cJSON *o = sched_list_object(&data);
    int n = weft_store_file_list(s->store, owner_filter(call), has_purpose ? purpose : NULL,
                                 after[0] ? after : NULL, limit + 1, file_listed, data);
    if (n < 0) {
        cJSON_Delete(o);
        sched_reply_fail(req, 503, NULL, "store_unavailable", "The store is unavailable.");
        return;
    }
    sched_list_finish(o, data, n, limit);
    sched_reply_json(req, 200, o);
}

/* ---- batches ---- */

static const char *endpoint_of(int kind)
{
    return kind == WEFT_OAI_COMPLETION ? "/v1/completions" : "/v1/chat/completions";
}

/* What OpenAI calls the batch's state now. */
static const char *batch_status(const struct weft_batch_row *b)
{
    if (b->status[0])
        return b->status;
    if (b->cancel_ms)
        return "cancelling";
    return b->open == 0 ? "finalizing" : "in_progress";
}

static void add_time(cJSON *o, const char *name, int64_t ms)
{
    if (ms)
        cJSON_AddNumberToObject(o, name, (double)(ms / 1000));
    else
        cJSON_AddNullToObject(o, name);
}

static void add_id(cJSON *o, const char *name, const char *id)
{
    if (id[0])
        cJSON_AddStringToObject(o, name, id);
    else
        cJSON_AddNullToObject(o, name);
}

static cJSON *batch_object(const struct weft_batch_row *b)
{
    cJSON *o = cJSON_CreateObject();
    const char *st = batch_status(b);
    cJSON_AddStringToObject(o, "id", b->id);
    cJSON_AddStringToObject(o, "object", "batch");
    cJSON_AddStringToObject(o, "endpoint", endpoint_of(b->kind));
    cJSON_AddNullToObject(o, "errors");
    cJSON_AddStringToObject(o, "input_file_id", b->input_file_id);
    /* The window as asked, in the largest unit it is a whole number of. */
    int64_t w = (b->expires_ms - b->created_ms) / 1000;
    char win[32];
    snprintf(win, sizeof win,
             w % 3600 == 0 ? "%lldh"
             : w % 60 == 0 ? "%lldm"
                           : "%llds",
             (long long)(w % 3600 == 0 ? w / 3600
                         : w % 60 == 0 ? w / 60
                                       : w));
    cJSON_AddStringToObject(o, "completion_window", win);
    cJSON_AddStringToObject(o, "status", st);
    add_id(o, "output_file_id", b->output_file_id);
    add_id(o, "error_file_id", b->error_file_id);
    add_time(o, "created_at", b->created_ms);
    add_time(o, "in_progress_at", b->created_ms);
    add_time(o, "expires_at", b->expires_ms);
    add_time(o, "finalizing_at", b->done_ms);
    add_time(o, "completed_at", strcmp(st, "completed") == 0 ? b->done_ms : 0);
    cJSON_AddNullToObject(o, "failed_at");
    add_time(o, "expired_at", strcmp(st, "expired") == 0 ? b->done_ms : 0);
    add_time(o, "cancelling_at", b->cancel_ms);
    add_time(o, "cancelled_at", strcmp(st, "cancelled") == 0 ? b->done_ms : 0);
    cJSON *rc = cJSON_AddObjectToObject(o, "request_counts");
    cJSON_AddNumberToObject(rc, "total", b->total);
    cJSON_AddNumberToObject(rc, "completed", b->succeeded);
    cJSON_AddNumberToObject(rc, "failed", b->failed);
    cJSON *md = b->metadata ? cJSON_Parse(b->metadata) : NULL;
    if (md)
        cJSON_AddItemToObject(o, "metadata", md);
    else
        cJSON_AddNullToObject(o, "metadata");
    return o;
}

/* The output and error files' lines, built from the batch's jobs. */
struct final_ctx {
    struct weft_buf out, err;
    int expired, failed_write;
};

static void final_line(int line, const char *custom_id, const struct weft_job_row *job, void *ud)
{
    (void)line;
    struct final_ctx *f = ud;
    cJSON *o = cJSON_CreateObject();
    char rid[48];
    snprintf(rid, sizeof rid, "batch_req_%s", job->id + (strncmp(job->id, "job-", 4) ? 0 : 4));
    cJSON_AddStringToObject(o, "id", rid);
    cJSON_AddStringToObject(o, "custom_id", custom_id);
    cJSON *body = job->state == WEFT_JOB_SUCCEEDED && job->result ? cJSON_Parse(job->result) : NULL;
    if (body) {
        cJSON *resp = cJSON_AddObjectToObject(o, "response");
        cJSON_AddNumberToObject(resp, "status_code", 200);
        cJSON_AddStringToObject(resp, "request_id", job->id);
        cJSON_AddItemToObject(resp, "body", body);
        cJSON_AddNullToObject(o, "error");
    } else {
        cJSON_AddNullToObject(o, "response");
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        const char *code = job->state == WEFT_JOB_EXPIRED     ? "batch_expired"
                           : job->state == WEFT_JOB_CANCELLED ? "batch_cancelled"
                                                              : "request_failed";
        cJSON_AddStringToObject(e, "code", code);
        cJSON_AddStringToObject(e, "message", job->error ? job->error : code);
        f->expired += job->state == WEFT_JOB_EXPIRED;
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    struct weft_buf *b = body ? &f->out : &f->err;
    if (!txt || weft_buf_append(b, txt, strlen(txt)) != 0 || weft_buf_append_byte(b, '\n') != 0)
        f->failed_write = 1;
    free(txt);
}

static void file_for(struct weft_file_row *f, const struct weft_batch_row *b, const char *what,
                     const struct weft_buf *content)
{
    memset(f, 0, sizeof *f);
    /* From the batch's id: a second finalizer names the same files. */
    snprintf(f->id, sizeof f->id, "file-%s-%s", b->id + 6, what);
    snprintf(f->key_id, sizeof f->key_id, "%s", b->key_id);
    snprintf(f->purpose, sizeof f->purpose, "batch_output");
    snprintf(f->filename, sizeof f->filename, "%s_%s.jsonl", b->id, what);
    f->bytes = (int64_t)content->len;
    f->created_ms = b->done_ms;
}

/* Finalizes b when none of its jobs is open; b is read again after. */
static int batch_settle(struct sched *s, struct weft_batch_row *b)
{
    if (b->status[0] || b->open > 0)
        return 0;
    struct final_ctx f;
    memset(&f, 0, sizeof f);
    /* Bounded by the lines' results, which the store holds already. */
    weft_buf_init(&f.out, (size_t)1 << 31);
    weft_buf_init(&f.err, (size_t)1 << 31);
    int n = weft_store_batch_lines(s->store, b->id, final_line, &f);
    int rc = n < 0 ? n : f.failed_write ? WEFT_ENOMEM : 0;
    if (rc == 0) {
        snprintf(b->status, sizeof b->status, "%s",
                 b->cancel_ms ? "cancelled"
                 : f.expired  ? "expired"
                              : "completed");
        b->done_ms = b->last_finished_ms ? b->last_finished_ms : weft_wall_ms();
        if (b->cancel_ms && b->cancel_ms > b->done_ms)
            b->done_ms = b->cancel_ms;
        struct weft_file_row out, err;
        file_for(&out, b, "output", &f.out);
        file_for(&err, b, "errors", &f.err);
        snprintf(b->output_file_id, sizeof b->output_file_id, "%s", f.out.len ? out.id : "");
        snprintf(b->error_file_id, sizeof b->error_file_id, "%s", f.err.len ? err.id : "");
        rc = weft_store_batch_finalize(s->store, b, f.out.len ? &out : NULL, f.out.data, f.out.len,
                                       f.err.len ? &err : NULL, f.err.data, f.err.len);
        if (rc == 1)
            weft_log_info(s->log, "batch %s %s: %d succeeded, %d failed", b->id, b->status,
                          b->succeeded, b->failed);
        rc = rc < 0 ? rc : 0;
    }
    weft_buf_free(&f.out);
    weft_buf_free(&f.err);
    if (rc == 0) {
        char id[40], key[24];
        snprintf(id, sizeof id, "%s", b->id);
        snprintf(key, sizeof key, "%s", b->key_id);
        weft_batch_row_free(b);
        rc = weft_store_batch_get(s->store, id, key, b);
    }
    if (rc)
        weft_batch_row_free(b); /* empty, whichever step failed */
    return rc;
}

/* One input line, parsed, made a job row. */
struct batch_build {
    struct sched *s;
    const struct weft_key_info *key;
    int kind;
    int64_t now, expires;
    struct weft_job_row *rows;
    char (*custom)[WEFT_OAI_CUSTOM_ID_MAX];
    int n, cap;
};

static void build_free(struct batch_build *bb)
{
    for (int i = 0; i < bb->n; i++)
        weft_job_row_free(&bb->rows[i]);
    free(bb->rows);
    free(bb->custom);
}

/* Parses the file's lines into bb; 0, or an error with e naming the
 * line. */
static int build_lines(struct batch_build *bb, const char *data, size_t len, int max_lines,
                       struct weft_oai_err *e)
{
    const char *p = data, *end = data + len;
    int lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t ln = (size_t)(stop - p);
        lineno++;
        if (ln && p[ln - 1] == '\r')
            ln--;
        const char *line = p;
        p = nl ? nl + 1 : end;
        size_t blank = 0;
        while (blank < ln && (line[blank] == ' ' || line[blank] == '\t'))
            blank++;
        if (blank == ln)
            continue; /* blank lines, such as a last newline's, are skipped */
        if (bb->n >= max_lines) {
            weft_oai_set_err(e, 400, "invalid_request_error", "too_many_requests", "input_file_id",
                             "The file has more than %d requests (limits.max_batch_lines).",
                             max_lines);
            return WEFT_ELIMIT;
        }
        if (bb->n == bb->cap) {
            int cap = bb->cap ? bb->cap * 2 : 64;
            struct weft_job_row *r = realloc(bb->rows, (size_t)cap * sizeof *r);
            if (r)
                bb->rows = r;
            char(*c)[WEFT_OAI_CUSTOM_ID_MAX] =
                r ? realloc(bb->custom, (size_t)cap * sizeof *c) : NULL;
            if (!r || !c) {
                weft_oai_set_err(e, 500, "server_error", NULL, NULL, "out of memory");
                return WEFT_ENOMEM;
            }
            bb->custom = c;
            bb->cap = cap;
        }
        struct weft_oai_req parsed;
        char *body;
        struct weft_oai_err le;
        if (weft_oai_parse_batch_line(&parsed, (enum weft_oai_kind)bb->kind, line, ln,
                                      bb->custom[bb->n], &body, &le) != 0) {
            weft_oai_set_err(e, le.status, "invalid_request_error", "invalid_batch_line",
                             le.param[0] ? le.param : "input_file_id", "Line %d: %s", lineno,
                             le.message);
            return WEFT_EINVAL;
        }
        for (int i = 0; i < bb->n; i++) {
            if (strcmp(bb->custom[i], bb->custom[bb->n]) == 0) {
                weft_oai_req_free(&parsed);
                free(body);
                weft_oai_set_err(e, 400, "invalid_request_error", "duplicate_custom_id",
                                 "custom_id", "Line %d: custom_id '%.100s' is used twice.", lineno,
                                 bb->custom[i]);
                return WEFT_EINVAL;
            }
        }
        parsed.priority = WEFT_OAI_DEFERRABLE;
        sched_job_row_new(bb->s, &bb->rows[bb->n], bb->key, &parsed, body, bb->now, bb->expires);
        weft_oai_req_free(&parsed);
        bb->n++;
    }
    if (bb->n == 0) {
        weft_oai_set_err(e, 400, "invalid_request_error", "empty_file", "input_file_id",
                         "The input file has no requests.");
        return WEFT_EINVAL;
    }
    return 0;
}

void sched_h_batches_create(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    const struct weft_key_info *k = &call->key;
    struct weft_oai_batch ob;
    struct weft_oai_err e;
    if (weft_oai_parse_batch(&ob, req->body.data ? req->body.data : "", req->body.len, &e)) {
        sched_reply_err(req, &e);
        return;
    }
    struct weft_file_row f;
    int rc = weft_store_file_get(s->store, ob.input_file_id, k->id, &f, 1);
    if (rc || strcmp(f.purpose, "batch") != 0) {
        if (rc == 0)
            weft_file_row_free(&f);
        weft_oai_batch_free(&ob);
        weft_oai_set_err(&e, rc && rc != WEFT_ENOENT ? 503 : 400, "invalid_request_error",
                         rc && rc != WEFT_ENOENT ? "store_unavailable" : "file_not_found",
                         "input_file_id", "%s",
                         rc && rc != WEFT_ENOENT ? "The store is unavailable."
                                                 : "No batch input file of this key has that id.");
        sched_reply_err(req, &e);
        return;
    }
    struct weft_batch_row b;
    memset(&b, 0, sizeof b);
    char hex[25];
    weft_random_hex(hex, 12);
    snprintf(b.id, sizeof b.id, "batch_%s", hex);
    snprintf(b.key_id, sizeof b.key_id, "%s", k->id);
    snprintf(b.input_file_id, sizeof b.input_file_id, "%s", ob.input_file_id);
    b.kind = ob.kind;
    b.created_ms = weft_wall_ms();
    b.expires_ms = b.created_ms + ob.window_ms;
    b.metadata = ob.metadata;
    ob.metadata = NULL;
    weft_oai_batch_free(&ob);
    struct batch_build bb = {
        .s = s, .key = k, .kind = b.kind, .now = b.created_ms, .expires = b.expires_ms};
    rc = build_lines(&bb, f.data, (size_t)f.bytes, s->cfg.limits.max_batch_lines, &e);
    weft_file_row_free(&f);
    if (rc) {
        build_free(&bb);
        weft_batch_row_free(&b);
        sched_reply_err(req, &e);
        return;
    }
    if (sched_jobs_admit(s, req, k, bb.n) != 0) {
        build_free(&bb);
        weft_batch_row_free(&b);
        return;
    }
    b.total = bb.n;
    b.open = bb.n;
    const char **ids = malloc((size_t)bb.n * sizeof *ids);
    for (int i = 0; ids && i < bb.n; i++)
        ids[i] = bb.custom[i];
    rc = ids ? weft_store_batch_create(s->store, &b, bb.rows, ids, bb.n) : WEFT_ENOMEM;
    free(ids);
    if (rc) {
        build_free(&bb);
        weft_batch_row_free(&b);
        sched_reply_fail(req, 503, NULL, "store_unavailable",
                         "The store is unavailable; nothing was queued.");
        return;
    }
    for (int i = 0; i < bb.n; i++)
        sched_job_enqueue(s, &bb.rows[i]);
    weft_log_info(s->log, "batch %s: %d requests for %s, window %llds", b.id, bb.n,
                  endpoint_of(b.kind), (long long)((b.expires_ms - b.created_ms) / 1000));
    build_free(&bb);
    sched_reply_json(req, 200, batch_object(&b));
    weft_batch_row_free(&b);
}

/* Reads batch call->id (the caller's own, unless an admin), settled. */
static int batch_load(struct sched *s, struct weft_http_req *req, struct sched_call *call,
                      struct weft_batch_row *b)
{
    int rc = weft_store_batch_get(s->store, call->id, owner_filter(call), b);
    if (rc == 0)
        rc = batch_settle(s, b);
    if (rc == WEFT_ENOENT)
        sched_reply_fail(req, 404, NULL, "batch_not_found", "No such batch.");
    else if (rc)
        sched_reply_fail(req, 503, NULL, "store_unavailable", "The store is unavailable.");
    return rc;
}

void sched_h_batches_get(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    struct weft_batch_row b;
    if (batch_load(s, req, call, &b) != 0)
        return;
    sched_reply_json(req, 200, batch_object(&b));
    weft_batch_row_free(&b);
}

struct open_ids {
    char (*ids)[40];
    int n, cap;
};

static void open_line(int line, const char *custom_id, const struct weft_job_row *job, void *ud)
{
    (void)line;
    (void)custom_id;
    struct open_ids *o = ud;
    if (weft_job_state_final(job->state) || o->n == o->cap)
        return;
    snprintf(o->ids[o->n++], sizeof o->ids[0], "%s", job->id);
}

void sched_h_batches_cancel(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    struct weft_batch_row b;
    if (batch_load(s, req, call, &b) != 0)
        return;
    if (b.status[0]) {
        weft_batch_row_free(&b);
        sched_reply_fail(req, 409, NULL, "batch_finished", "The batch has already finished.");
        return;
    }
    struct open_ids o = {.cap = b.open};
    o.ids = o.cap ? calloc((size_t)o.cap, sizeof *o.ids) : NULL;
    int rc = weft_store_batch_cancel(s->store, b.id, weft_wall_ms());
    /* The lines are read first and cancelled after: no write while the
     * store's read of them is open. */
    if (rc >= 0 && o.ids)
        rc = weft_store_batch_lines(s->store, b.id, open_line, &o);
    for (int i = 0; rc >= 0 && i < o.n; i++)
        sched_job_cancel_id(s, o.ids[i]);
    free(o.ids);
    weft_batch_row_free(&b);
    if (rc < 0) {
        sched_reply_fail(req, 503, NULL, "store_unavailable", "The store is unavailable.");
        return;
    }
    weft_log_info(s->log, "batch %s: cancel asked, %d requests cancelled", call->id, o.n);
    if (batch_load(s, req, call, &b) != 0)
        return;
    sched_reply_json(req, 200, batch_object(&b));
    weft_batch_row_free(&b);
}

struct batch_page {
    char (*ids)[40];
    int n;
};

static void batch_listed(const struct weft_batch_row *b, void *ud)
{
    struct batch_page *p = ud;
    snprintf(p->ids[p->n++], sizeof p->ids[0], "%s", b->id);
}

void sched_h_batches_list(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    char after[40];
    int limit;
    if (sched_page_query(req, &limit, after, sizeof after) != 0)
        return;
    char ids[101][40];
    struct batch_page p = {.ids = ids};
    /* The page's ids first, then each batch read (and settled) alone. */
    int n = weft_store_batch_list(s->store, owner_filter(call), after[0] ? after : NULL, limit + 1,
                                  batch_listed, &p);
    cJSON *data;
    cJSON *o = sched_list_object(&data);
    for (int i = 0; n >= 0 && i < p.n; i++) {
        struct weft_batch_row b;
        int rc = weft_store_batch_get(s->store, ids[i], NULL, &b);
        if (rc == 0 && (rc = batch_settle(s, &b)) == 0) {
            cJSON_AddItemToArray(data, batch_object(&b));
            weft_batch_row_free(&b);
        }
        if (rc)
            n = rc;
    }
    if (n < 0) {
        cJSON_Delete(o);
        sched_reply_fail(req, 503, NULL, "store_unavailable", "The store is unavailable.");
        return;
    }
    sched_list_finish(o, data, n, limit);
    sched_reply_json(req, 200, o);
}
