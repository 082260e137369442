/* The client side of a job; see client.h. */
#include "client.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "core.h"
#include "reply.h"
#include "weft/chat.h"
#include "weft/error.h"
#include "weft/nodemsg.h"
#include "weft/utf8.h"

/* A request for n > 1 choices: a job per choice (each placed, batched on
 * a node's slots and failed over alone), one client for all of them. The
 * answer has the first job's id; choice i is job i's. */
struct sched_group {
    struct weft_http_req *client; /* NULL once it went away */
    char id[SCHED_ID_MAX];
    char key_id[24];
    int64_t created_s;
    int n, open, failed, holds_slot;
    struct sched_job *live[WEFT_OAI_MAX_N]; /* NULL once finished */
    struct cJSON *choices[WEFT_OAI_MAX_N];  /* the finished choices (not streamed) */
    int prompt_tokens, completion_tokens, runs;
    char served[SCHED_MAX_TRIED][64];
    int n_served;
};

static struct weft_http_req *client_of(const struct sched_job *j)
{
    return j->group ? j->group->client : j->client;
}

/* What every completion object and chunk starts with. */
static cJSON *object_base(const struct sched_job *j, const char *chat_object)
{
    cJSON *o = cJSON_CreateObject();
    int chat = j->req.kind == WEFT_OAI_CHAT;
    cJSON_AddStringToObject(o, "id", j->group ? j->group->id : j->id);
    cJSON_AddStringToObject(o, "object", chat ? chat_object : "text_completion");
    cJSON_AddNumberToObject(o, "created", (double)(j->group ? j->group->created_s : j->created_s));
    cJSON_AddStringToObject(o, "model", j->req.model);
    cJSON_AddStringToObject(o, "system_fingerprint", "weft");
    return o;
}

static cJSON *chunk_base(const struct sched_job *j)
{
    return object_base(j, "chat.completion.chunk");
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
    weft_http_stream_write(client_of(j), b.data, b.len);
    weft_buf_free(&b);
}

/* ---- log-probabilities, in OpenAI's shapes ---- */

/* {"token","logprob","bytes"}: the token's bytes as text (what is not
 * UTF-8 on its own replaced by U+FFFD) and as they are. */
static cJSON *lp_token(const struct weft_token_lp *t)
{
    char s[WEFT_UTF8_SCRUB_CAP(WEFT_NODEMSG_PIECE_MAX) + 1];
    size_t n = weft_utf8_scrub(t->bytes, t->n_bytes, s);
    s[n] = '\0';
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "token", s);
    cJSON_AddNumberToObject(o, "logprob", t->logprob);
    cJSON *b = cJSON_AddArrayToObject(o, "bytes");
    for (int k = 0; k < t->n_bytes; k++)
        cJSON_AddItemToArray(b, cJSON_CreateNumber((unsigned char)t->bytes[k]));
    return o;
}

/* Tokens [from, to) of j: chat's {"content":[...],"refusal":null}, or
 * completions' {"tokens","token_logprobs","top_logprobs","text_offset"}
 * (offsets in bytes of the completion's text); NULL when the request did
 * not ask for them. A token kept without them has a null logprob. */
static cJSON *logprobs_json(const struct sched_job *j, int from, int to)
{
    if (!j->req.logprobs)
        return NULL;
    int chat = j->req.kind == WEFT_OAI_CHAT;
    cJSON *o = cJSON_CreateObject();
    cJSON *content = chat ? cJSON_AddArrayToObject(o, "content") : NULL;
    cJSON *toks = chat ? NULL : cJSON_AddArrayToObject(o, "tokens");
    cJSON *lps = chat ? NULL : cJSON_AddArrayToObject(o, "token_logprobs");
    cJSON *tops = chat ? NULL : cJSON_AddArrayToObject(o, "top_logprobs");
    cJSON *offs = chat ? NULL : cJSON_AddArrayToObject(o, "text_offset");
    size_t lp_off = 0, text_off = 0;
    for (int i = 0; i < to && i < j->n_tokens; i++) {
        size_t n = j->lp_lens[i];
        struct weft_event ev;
        int ok = n > 1 && weft_event_lp_parse(j->lp.data + lp_off, n - 1, &ev) == 0;
        lp_off += n;
        size_t at = text_off;
        text_off += j->lens[i];
        if (i < from)
            continue;
        if (!ok)
            memset(&ev, 0, sizeof ev);
        cJSON *t = lp_token(&ev.lp);
        if (!ok)
            cJSON_ReplaceItemInObject(t, "logprob", cJSON_CreateNull());
        if (chat) {
            cJSON *alt = cJSON_AddArrayToObject(t, "top_logprobs");
            for (int k = 0; k < ev.n_top; k++)
                cJSON_AddItemToArray(alt, lp_token(&ev.top[k]));
            cJSON_AddItemToArray(content, t);
            continue;
        }
        cJSON_AddItemToArray(toks, cJSON_DetachItemFromObject(t, "token"));
        cJSON_AddItemToArray(lps, cJSON_DetachItemFromObject(t, "logprob"));
        cJSON_Delete(t);
        cJSON *alt = cJSON_CreateObject();
        for (int k = 0; k < ev.n_top; k++) {
            cJSON *a = lp_token(&ev.top[k]);
            const char *name = cJSON_GetObjectItem(a, "token")->valuestring;
            /* Two ids may spell the same text: the likelier one stays. */
            if (!cJSON_GetObjectItemCaseSensitive(alt, name))
                cJSON_AddNumberToObject(alt, name, ev.top[k].logprob);
            cJSON_Delete(a);
        }
        cJSON_AddItemToArray(tops, alt);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)at));
    }
    if (chat)
        cJSON_AddNullToObject(o, "refusal");
    return o;
}

static void add_logprobs(cJSON *c, const struct sched_job *j, int from, int to)
{
    cJSON *lp = logprobs_json(j, from, to);
    if (lp)
        cJSON_AddItemToObject(c, "logprobs", lp);
    else
        cJSON_AddNullToObject(c, "logprobs");
}

static cJSON *choice(const struct sched_job *j, const char *text, const char *finish, int role)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", j->group_index);
    if (j->req.kind == WEFT_OAI_CHAT) {
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        if (role)
            cJSON_AddStringToObject(d, "role", "assistant");
        if (text)
            cJSON_AddStringToObject(d, "content", text);
    } else {
        cJSON_AddStringToObject(c, "text", text ? text : "");
    }
    /* A chunk carries the tokens that arrived since the last one. */
    add_logprobs(c, j, j->lp_sent, j->n_tokens);
    if (finish)
        cJSON_AddStringToObject(c, "finish_reason", finish);
    else
        cJSON_AddNullToObject(c, "finish_reason");
    return c;
}

/* Weft's own extension (OpenAI clients pass unknown fields through): how
 * many times the request was handed to a node and which nodes served it,
 * so a client can tell that its answer was resumed elsewhere. */
static void add_weft(cJSON *o, const struct sched_job *j)
{
    cJSON *w = cJSON_AddObjectToObject(o, "weft");
    cJSON_AddNumberToObject(w, "attempts", j->runs > 0 ? j->runs : 1);
    cJSON_AddBoolToObject(w, "resumed", j->runs > 1);
    cJSON *nodes = cJSON_AddArrayToObject(w, "nodes");
    for (int i = 0; i < j->n_served; i++)
        cJSON_AddItemToArray(nodes, cJSON_CreateString(j->served[i]));
}

static cJSON *usage(const struct sched_job *j)
{
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", j->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", j->n_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", j->prompt_tokens + j->n_tokens);
    return u;
}

/* With tools on offer: the reply read the template's way into OpenAI's
 * message, {"role","content","tool_calls":[{"id","type","function":
 * {"name","arguments":"<JSON text>"}}]}, and "tool_calls" as its finish.
 * NULL when it called nothing (it is then plain content). With `index`,
 * each call has it (a stream's delta). */
static cJSON *call_message(const struct sched_job *j, const char **finish, int index)
{
    if (!j->req.tools || j->req.tool_choice == WEFT_OAI_TOOLS_NONE)
        return NULL;
    cJSON *calls;
    char *content;
    if (weft_chat_parse_calls((enum weft_chat_template)j->tpl, j->text.data ? j->text.data : "",
                              &calls, &content) != 0)
        return NULL;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "assistant");
    if (content)
        cJSON_AddStringToObject(m, "content", content);
    else
        cJSON_AddNullToObject(m, "content");
    free(content);
    cJSON *tc = cJSON_AddArrayToObject(m, "tool_calls");
    const cJSON *c;
    int i = 0;
    cJSON_ArrayForEach(c, calls)
    {
        if (i > 0 && !j->req.parallel_tool_calls)
            break; /* one call at most */
        cJSON *o = cJSON_CreateObject();
        char id[64];
        snprintf(id, sizeof id, "call_%s_%d", strchr(j->id, '-') ? strchr(j->id, '-') + 1 : j->id,
                 i);
        if (index)
            cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "type", "function");
        cJSON *f = cJSON_AddObjectToObject(o, "function");
        cJSON_AddStringToObject(f, "name", cJSON_GetObjectItem(c, "name")->valuestring);
        char *args = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "arguments"));
        cJSON_AddStringToObject(f, "arguments", args ? args : "{}");
        free(args);
        cJSON_AddItemToArray(tc, o);
        i++;
    }
    cJSON_Delete(calls);
    *finish = "tool_calls";
    return m;
}

/* A streamed reply with tools on offer is held back (a call is only known
 * once it is whole), then sent as one delta before the finish chunk. */
static int holds_back(const struct sched_job *j)
{
    return j->req.tools && j->req.tool_choice != WEFT_OAI_TOOLS_NONE;
}

static void send_held(struct sched_job *j, const char **finish)
{
    cJSON *msg = call_message(j, finish, 1);
    if (!msg) {
        msg = cJSON_CreateObject();
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", j->text.data ? j->text.data : "");
    }
    cJSON *o = chunk_base(j);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", j->group_index);
    cJSON_AddItemToObject(c, "delta", msg);
    add_logprobs(c, j, j->lp_sent, j->n_tokens);
    cJSON_AddNullToObject(c, "finish_reason");
    cJSON_AddItemToArray(choices, c);
    j->lp_sent = j->n_tokens;
    j->sent_role = 1;
    sse_send(j, o);
}

/* A stream's last chunk for choice j (after the held-back reply, when
 * there is one): its finish and the log-probabilities not yet sent. */
static cJSON *finish_chunk(struct sched_job *j, const char *finish)
{
    if (holds_back(j))
        send_held(j, &finish);
    cJSON *o = chunk_base(j);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON_AddItemToArray(choices, choice(j, j->sent_role ? NULL : "", finish, !j->sent_role));
    j->lp_sent = j->n_tokens;
    return o;
}

/* A whole choice: its message (or text), log-probabilities and finish. */
static cJSON *final_choice(const struct sched_job *j, const char *finish)
{
    int chat = j->req.kind == WEFT_OAI_CHAT;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", j->group_index);
    const char *text = j->text.data ? j->text.data : "";
    cJSON *calls = chat ? call_message(j, &finish, 0) : NULL;
    if (calls) {
        cJSON_AddItemToObject(c, "message", calls);
    } else if (chat) {
        cJSON *m = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddStringToObject(m, "content", text);
    } else {
        cJSON_AddStringToObject(c, "text", text);
    }
    add_logprobs(c, j, 0, j->n_tokens);
    cJSON_AddStringToObject(c, "finish_reason", finish);
    return c;
}

/* The whole (non-streamed) completion object, as JSON text the caller frees. */
static char *completion_json(const struct sched_job *j, const char *finish)
{
    cJSON *o = object_base(j, "chat.completion");
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON_AddItemToArray(choices, final_choice(j, finish));
    cJSON_AddItemToObject(o, "usage", usage(j));
    add_weft(o, j);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}

/* The client is done with: it no longer hears of the job, and its slot
 * goes back to its key. */
static void client_detach(struct sched *s, struct sched_job *j)
{
    if (j->client) {
        j->client->on_abort = NULL;
        j->client->data = NULL;
        j->client = NULL;
    }
    if (j->holds_slot) {
        j->holds_slot = 0;
        sched_auth_slot_release(s, j->key_id);
    }
}

/* One chunk of text; token_index is the last token it holds, which a
 * client that lost the stream resumes after. */
static void send_text(struct sched_job *j, const char *text, size_t len)
{
    char *piece = strndup(text, len);
    if (!piece)
        return;
    cJSON *o = chunk_base(j);
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON_AddItemToArray(choices, choice(j, piece, NULL, !j->sent_role));
    j->lp_sent = j->n_tokens;
    if (j->n_tokens > 0)
        cJSON_AddNumberToObject(o, "token_index", j->n_tokens - 1);
    j->sent_role = 1;
    free(piece);
    sse_send(j, o);
}

static void on_tokens(struct sched *s, struct sched_job *j, const char *text, size_t len)
{
    (void)s;
    if (!client_of(j) || !j->req.stream || holds_back(j))
        return;
    if (j->n_tokens <= j->skip_until)
        return; /* a resumed client has this token already */
    send_text(j, text, len);
}

/* ---- n > 1: a group of jobs for one client ---- */

static void group_free(struct sched *s, struct sched_group *g)
{
    if (g->client) {
        g->client->on_abort = NULL;
        g->client->data = NULL;
    }
    if (g->holds_slot)
        sched_auth_slot_release(s, g->key_id);
    for (int i = 0; i < g->n; i++)
        cJSON_Delete(g->choices[i]);
    free(g);
}

/* Ends every choice still running, without a word to anyone. */
static void group_cancel(struct sched *s, struct sched_group *g, const char *why)
{
    for (int i = 0; i < g->n; i++) {
        struct sched_job *c = g->live[i];
        if (!c)
            continue;
        g->live[i] = NULL;
        g->open--;
        c->group = NULL;
        sched_job_cancel(s, c, why);
    }
}

static void group_aborted(struct weft_http_req *req)
{
    struct sched_group *g = req->data;
    if (!g)
        return;
    struct sched *s = g->live[0] ? g->live[0]->sched : NULL;
    for (int i = 0; !s && i < g->n; i++)
        s = g->live[i] ? g->live[i]->sched : NULL;
    g->client = NULL;
    if (s) {
        group_cancel(s, g, "client went away");
        group_free(s, g);
    }
}

/* Choice j of its group is done: what it adds to the answer, and the
 * answer once the last is in. */
static void group_done(struct sched *s, struct sched_job *j, const char *finish)
{
    struct sched_group *g = j->group;
    g->live[j->group_index] = NULL;
    g->open--;
    j->group = NULL;
    if (j->prompt_tokens > g->prompt_tokens)
        g->prompt_tokens = j->prompt_tokens;
    g->completion_tokens += j->n_tokens;
    g->runs += j->runs > 0 ? j->runs : 1;
    for (int i = 0; i < j->n_served && g->n_served < SCHED_MAX_TRIED; i++) {
        int seen = 0;
        for (int k = 0; k < g->n_served; k++)
            seen |= strcmp(g->served[k], j->served[i]) == 0;
        if (!seen)
            snprintf(g->served[g->n_served++], sizeof g->served[0], "%s", j->served[i]);
    }
    struct weft_http_req *req = g->client;
    j->group = g; /* chunks name the group's id */
    if (req && j->req.stream) {
        sse_send(j, finish_chunk(j, finish));
    } else {
        g->choices[j->group_index] = final_choice(j, finish);
    }
    if (g->open > 0 || !req) {
        j->group = NULL;
        if (g->open == 0)
            group_free(s, g);
        return;
    }
    /* The last choice: the answer, or the stream's end. */
    cJSON *o = object_base(j, j->req.stream ? "chat.completion.chunk" : "chat.completion");
    j->group = NULL;
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", g->prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", g->completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", g->prompt_tokens + g->completion_tokens);
    cJSON *w = cJSON_CreateObject();
    cJSON_AddNumberToObject(w, "attempts", g->runs);
    cJSON_AddBoolToObject(w, "resumed", g->runs > g->n);
    cJSON *nodes = cJSON_AddArrayToObject(w, "nodes");
    for (int i = 0; i < g->n_served; i++)
        cJSON_AddItemToArray(nodes, cJSON_CreateString(g->served[i]));
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    /* The request is answered: nothing of the group may touch it after. */
    req->on_abort = NULL;
    req->data = NULL;
    g->client = NULL;
    if (!j->req.stream) {
        for (int i = 0; i < g->n; i++) {
            cJSON_AddItemToArray(choices, g->choices[i]);
            g->choices[i] = NULL;
        }
        cJSON_AddItemToObject(o, "usage", u);
        cJSON_AddItemToObject(o, "weft", w);
        sched_reply_json(req, 200, o);
    } else {
        /* Usage (when asked) and the group's weft object in one last chunk
         * with no choices, as OpenAI sends its usage chunk. */
        if (j->req.include_usage)
            cJSON_AddItemToObject(o, "usage", u);
        else
            cJSON_Delete(u);
        cJSON_AddItemToObject(o, "weft", w);
        char *txt = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        struct weft_buf b;
        weft_buf_init(&b, (txt ? strlen(txt) : 0) + 32);
        weft_buf_appendf(&b, "data: %s\n\ndata: [DONE]\n\n", txt ? txt : "{}");
        free(txt);
        weft_http_stream_write(req, b.data, b.len);
        weft_buf_free(&b);
        weft_http_stream_end(req);
    }
    group_free(s, g);
}

static void group_failed(struct sched *s, struct sched_job *j, int status, const char *code,
                         const char *message);

static char *on_done(struct sched *s, struct sched_job *j, const char *finish)
{
    if (j->group) {
        group_done(s, j, finish);
        return NULL;
    }
    struct weft_http_req *req = j->client;
    if (!req) {
        client_detach(s, j);
        return completion_json(j, finish);
    }
    /* A stored stream keeps its whole text too, for a resume after the end. */
    char *stored = j->durable ? completion_json(j, finish) : NULL;
    if (j->req.stream) {
        cJSON *o = finish_chunk(j, finish);
        add_weft(o, j);
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
        return stored;
    }
    char *txt = completion_json(j, finish);
    client_detach(s, j);
    if (txt)
        weft_http_respond(req, 200, SCHED_JSON, NULL, txt, strlen(txt));
    else
        weft_http_respond(req, 500, SCHED_JSON, NULL, "{}", 2);
    free(txt);
    return stored;
}

/* The error to req, in the stream when it has begun. */
static void reply_error(struct weft_http_req *req, int status, const char *code,
                        const char *message);

static void on_failed(struct sched *s, struct sched_job *j, int status, const char *code,
                      const char *message)
{
    if (j->group) {
        group_failed(s, j, status, code, message);
        return;
    }
    struct weft_http_req *req = j->client;
    client_detach(s, j);
    if (req)
        reply_error(req, status, code, message);
}

/* One choice failed for good: the request fails, the others stop. */
static void group_failed(struct sched *s, struct sched_job *j, int status, const char *code,
                         const char *message)
{
    struct sched_group *g = j->group;
    g->live[j->group_index] = NULL;
    g->open--;
    j->group = NULL;
    struct weft_http_req *req = g->client;
    if (req) {
        req->on_abort = NULL;
        req->data = NULL;
        g->client = NULL;
        reply_error(req, status, code, message);
    }
    group_cancel(s, g, "another choice of its request failed");
    group_free(s, g);
}

static void reply_error(struct weft_http_req *req, int status, const char *code,
                        const char *message)
{
    struct weft_oai_err e;
    weft_oai_set_err(&e, status, status >= 500 ? "server_error" : "invalid_request_error", code,
                     NULL, "%s", message);
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
    sched_reply_err(req, &e);
}

const struct sched_job_events sched_client_events = {
    .tokens = on_tokens,
    .done = on_done,
    .failed = on_failed,
};

static void client_aborted(struct weft_http_req *req)
{
    struct sched_job *j = req->data;
    if (!j)
        return;
    struct sched *s = j->sched;
    client_detach(s, j);
    if (j->stream_job)
        sched_job_abandon(s, j);
    else if (!j->durable)
        sched_job_cancel(s, j, "client went away");
    /* A jobs API job someone watched runs on without its watcher. */
}

void sched_client_begin(struct sched *s, struct sched_job *j, struct weft_http_req *req)
{
    (void)s;
    j->client = req;
    req->data = j;
    req->on_abort = client_aborted;
    if (j->req.stream)
        weft_http_stream_begin(req, 200, "text/event-stream",
                               "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
}

int sched_client_begin_group(struct sched *s, struct sched_job **jobs, int n,
                             struct weft_http_req *req, int holds_slot)
{
    (void)s;
    struct sched_group *g = calloc(1, sizeof *g);
    if (!g || n < 1 || n > WEFT_OAI_MAX_N) {
        free(g);
        return WEFT_ENOMEM;
    }
    g->client = req;
    g->n = g->open = n;
    g->holds_slot = holds_slot;
    snprintf(g->id, sizeof g->id, "%s", jobs[0]->id);
    snprintf(g->key_id, sizeof g->key_id, "%s", jobs[0]->key_id);
    g->created_s = jobs[0]->created_s;
    for (int i = 0; i < n; i++) {
        g->live[i] = jobs[i];
        jobs[i]->group = g;
        jobs[i]->group_index = i;
    }
    req->data = g;
    req->on_abort = group_aborted;
    if (jobs[0]->req.stream)
        weft_http_stream_begin(req, 200, "text/event-stream",
                               "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    return 0;
}

void sched_client_resume(struct sched *s, struct sched_job *j, struct weft_http_req *req, int after)
{
    if (j->client) {
        /* The newest reader wins: the old one is told and let go. */
        struct weft_http_req *old = j->client;
        client_detach(s, j);
        if (old->streaming) {
            static const char moved[] =
                "data: {\"error\":{\"message\":\"this stream was resumed by another "
                "connection\",\"type\":\"server_error\",\"code\":\"stream_resumed\"}}\n\n";
            weft_http_stream_write(old, moved, sizeof moved - 1);
            weft_http_stream_end(old);
        } else {
            sched_reply_fail(old, 409, NULL, "stream_resumed", "resumed by another connection");
        }
    }
    j->req.stream = 1; /* a resume is always a stream of events */
    sched_client_begin(s, j, req);
    j->sent_role = after > 0;
    j->skip_until = 0;
    j->lp_sent = after;
    if (after > j->n_tokens) {
        j->skip_until = after; /* tokens the journal had not caught up with */
        return;
    }
    size_t off = sched_job_text_at(j, after);
    if (off < j->text.len || after == 0)
        send_text(j, j->text.data ? j->text.data + off : "", j->text.len - off);
}

void sched_client_replay(struct sched *s, struct sched_job *j, struct weft_http_req *req, int after,
                         const char *finish)
{
    sched_client_resume(s, j, req, after);
    char *stored = on_done(s, j, finish);
    free(stored);
}
