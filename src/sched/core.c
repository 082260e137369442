/* Nodes, jobs, placement and failover: the scheduler's state machine.
 *
 * A job waits in the queue (interactive first, then deferrable by
 * deadline) until a live node that holds its model, has room and is
 * allowed to take it is parked on GET /v1/node/work; the job goes out as
 * that poll's answer. The node streams tokens back on one chunked upload
 * per job. Tokens are numbered; the scheduler keeps the ones the client
 * has, so when a node dies (its upload or poll connection breaks, or its
 * heartbeat lease runs out) or yields, the job goes back to the queue and
 * the next node is sent the prompt plus those tokens and the same seed.
 * A token numbered below what the job has is a duplicate and dropped; one
 * numbered above is a protocol error. That is how the client's stream
 * stays free of gaps and repeats across any number of moves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#include "weft/error.h"
#include "weft/log.h"
#include "weft/nodemsg.h"
#include "weft/time.h"

#define STREAM_LINE_MAX     (64 * 1024)
#define INTERACTIVE_WAIT_MS 60000
#define TEXT_MAX            (4u << 20)

struct sched_stream {
    struct sched *s;
    struct sched_job *job; /* NULL once the job has left this node */
    struct sched_node *node;
    struct weft_http_req *req;
    struct weft_buf line;
    int ended; /* an end event arrived */
    int busy;  /* inside this stream's body callback */
};

/* ---- lists ------------------------------------------------------------- */

#define JOB_OF(it)  weft_list_entry(it, struct sched_job, link)
#define NODE_OF(it) weft_list_entry(it, struct sched_node, link)

/* Interactive before deferrable; deferrable by deadline (none = last);
 * then by arrival, so a job that lost its node keeps its place. */
static int before(const struct sched_job *a, const struct sched_job *b)
{
    if (a->req.priority != b->req.priority)
        return a->req.priority == WEFT_OAI_INTERACTIVE;
    if (a->req.priority == WEFT_OAI_DEFERRABLE) {
        int64_t da = a->req.deadline_ms ? a->req.deadline_ms : INT64_MAX;
        int64_t db = b->req.deadline_ms ? b->req.deadline_ms : INT64_MAX;
        if (da != db)
            return da < db;
    }
    return a->queued_ms < b->queued_ms;
}

static void queue_insert(struct sched *s, struct sched_job *j)
{
    j->state = SJ_QUEUED;
    j->queued_here_ms = weft_mono_ms();
    s->n_queued++;
    struct weft_list *at;
    weft_list_foreach(at, &s->queue)
    {
        if (before(j, JOB_OF(at)))
            break;
    }
    weft_list_insert_before(at, &j->link);
}

static void job_unlink(struct sched *s, struct sched_job *j)
{
    weft_list_remove(&j->link);
    if (j->state == SJ_QUEUED)
        s->n_queued--;
    else
        s->n_running--;
}

/* ---- jobs -------------------------------------------------------------- */

struct sched_job *sched_job_new(const char *id_prefix)
{
    struct sched_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    weft_list_init(&j->link);
    char hex[25];
    if (weft_random_hex(hex, 12) != 0) {
        free(j);
        return NULL;
    }
    snprintf(j->id, sizeof j->id, "%s%s", id_prefix, hex);
    weft_buf_init(&j->text, TEXT_MAX);
    /* Up to 20 alternatives with each of up to 8192 tokens. */
    weft_buf_init(&j->lp, 24u << 20);
    j->created_s = weft_wall_ms() / 1000;
    return j;
}

void sched_check_free(struct sched_check *c)
{
    if (!c)
        return;
    free(c->tokens[0]);
    free(c->tokens[1]);
    free(c->text);
    free(c);
}

void sched_job_free(struct sched_job *j)
{
    weft_oai_req_free(&j->req);
    free(j->tokens);
    free(j->lens);
    free(j->lp_lens);
    sched_check_free(j->check);
    weft_buf_free(&j->text);
    weft_buf_free(&j->lp);
    free(j);
}

int sched_job_grow(struct sched_job *j, int cap)
{
    if (cap <= j->cap_tokens)
        return 0;
    int32_t *t = realloc(j->tokens, (size_t)cap * sizeof *t);
    if (t)
        j->tokens = t;
    uint32_t *l = t ? realloc(j->lens, (size_t)cap * sizeof *l) : NULL;
    if (l)
        j->lens = l;
    uint32_t *ll = l ? realloc(j->lp_lens, (size_t)cap * sizeof *ll) : NULL;
    if (!t || !l || !ll)
        return WEFT_ENOMEM;
    j->lp_lens = ll;
    j->cap_tokens = cap;
    return 0;
}

size_t sched_job_text_at(const struct sched_job *j, int n)
{
    size_t off = 0;
    for (int i = 0; i < n && i < j->n_tokens; i++)
        off += j->lens[i];
    return off;
}

int sched_job_journal(struct sched *s, struct sched_job *j)
{
    if (!j->durable || j->n_tokens <= j->journaled)
        return 0;
    int rc = weft_store_journal_append(
        s->store, j->id, j->journaled, j->tokens + j->journaled, j->lens + j->journaled,
        j->n_tokens - j->journaled, j->text.data ? j->text.data + j->journaled_text : "",
        j->text.len - j->journaled_text,
        j->req.logprobs ? (j->lp.data ? j->lp.data + j->journaled_lp : "") : NULL,
        j->lp.len - j->journaled_lp);
    if (rc == 0) {
        j->journaled = j->n_tokens;
        j->journaled_text = j->text.len;
        j->journaled_lp = j->lp.len;
    }
    return rc;
}

struct sched_job *sched_job_find(struct sched *s, const char *id)
{
    struct weft_list *lists[2] = {&s->running, &s->queue}, *it;
    for (int i = 0; i < 2; i++) {
        weft_list_foreach(it, lists[i])
        {
            if (strcmp(JOB_OF(it)->id, id) == 0)
                return JOB_OF(it);
        }
    }
    return NULL;
}

uint64_t sched_seed_new(void)
{
    char hex[17];
    weft_random_hex(hex, 8);
    return strtoull(hex, NULL, 16) & 0x7fffffffffffffffull;
}

void sched_job_submit(struct sched *s, struct sched_job *job)
{
    /* Every job gets a seed now, so a resumed run draws the same numbers
     * as the first one would have. */
    if (!job->req.has_seed) {
        job->req.seed = sched_seed_new();
        job->req.has_seed = 1;
    }
    job->queued_ms = weft_mono_ms();
    queue_insert(s, job);
    sched_dispatch(s);
}

/* Ends the upload of the node that held job, unless the upload is the one
 * being read right now (its callback finishes it). */
static void detach_stream(struct sched_job *j, int status)
{
    struct sched_stream *st = j->stream;
    if (!st)
        return;
    st->job = NULL;
    j->stream = NULL;
    if (!st->busy && !st->ended && st->req) {
        /* The upload is still open (a silent node, a cancelled job): answer
         * it, which ends it, and drop the stream with it. */
        struct weft_http_req *req = st->req;
        req->data = NULL;
        req->on_abort = NULL;
        weft_buf_free(&st->line);
        free(st);
        weft_http_respond(req, status, "application/json", NULL,
                          "{\"error\":\"job reassigned or cancelled\"}\n", 40);
    }
}

static void detach_node(struct sched *s, struct sched_job *j, int status)
{
    detach_stream(j, status);
    if (j->node) {
        j->node->running--;
        j->node = NULL;
    }
    (void)s;
}

/* Keeps an outcome for sched_outcomes_write(). */
static void outcome_keep(struct sched *s, const char *id, enum weft_job_state st,
                         const char *result, const char *error)
{
    struct sched_outcome *o = calloc(1, sizeof *o);
    if (!o || (result && !(o->result = strdup(result))) || (error && !(o->error = strdup(error)))) {
        if (o) {
            free(o->result);
            free(o);
        }
        weft_log_error(s->log, "job %s: its outcome is lost (out of memory); it will run again",
                       id);
        return;
    }
    snprintf(o->id, sizeof o->id, "%s", id);
    o->state = st;
    weft_list_push_back(&s->unrecorded, &o->link);
}

/* What each key had done here, for the dashboard: a row per key, the
 * last one shared once the table is full. */
static void usage_add(struct sched *s, const struct sched_job *j)
{
    struct sched_ui *u = &s->ui;
    int i = 0;
    while (i < u->n_usage && strcmp(u->usage[i].key_id, j->key_id) != 0)
        i++;
    if (i == u->n_usage && u->n_usage == SCHED_UI_KEYS) {
        i = SCHED_UI_KEYS - 1; /* "other" */
    } else if (i == u->n_usage) {
        const char *id = u->n_usage == SCHED_UI_KEYS - 1 ? "other" : j->key_id;
        snprintf(u->usage[i].key_id, sizeof u->usage[i].key_id, "%s", id);
        u->n_usage++;
    }
    u->usage[i].jobs++;
    u->usage[i].tokens += (uint64_t)j->n_tokens;
}

static void store_outcome(struct sched *s, struct sched_job *j, enum weft_job_state st,
                          const char *result, const char *error)
{
    s->m.finished[st]++;
    usage_add(s, j);
    if (!j->durable)
        return;
    int rc = weft_store_job_finish(s->store, j->id, st, result, error);
    if (rc < 0) {
        weft_log_error(s->log, "job %s: cannot record its outcome yet: %s", j->id,
                       weft_strerror(rc));
        outcome_keep(s, j->id, st, result, error);
    }
}

int sched_outcomes_write(struct sched *s)
{
    struct weft_list *it;
    int n = 0;
    weft_list_foreach(it, &s->unrecorded)
    {
        struct sched_outcome *o = weft_list_entry(it, struct sched_outcome, link);
        int rc = weft_store_job_finish(s->store, o->id, o->state, o->result, o->error);
        if (rc < 0)
            return rc;
        n++;
    }
    return n;
}

void sched_outcomes_forget(struct sched *s, int n)
{
    struct weft_list *it, *tmp;
    weft_list_foreach_safe(it, tmp, &s->unrecorded)
    {
        if (n-- <= 0)
            break;
        struct sched_outcome *o = weft_list_entry(it, struct sched_outcome, link);
        weft_list_remove(&o->link);
        free(o->result);
        free(o->error);
        free(o);
    }
}

/* The job failed for good: tell its client or record it, then free it. */
static void job_fail(struct sched *s, struct sched_job *j, int status, const char *code,
                     const char *message)
{
    weft_log_warn(s->log, "job %s failed: %s", j->id, message);
    detach_node(s, j, 409);
    job_unlink(s, j);
    s->events->failed(s, j, status, code, message);
    store_outcome(
        s, j, code && strcmp(code, "deadline_exceeded") == 0 ? WEFT_JOB_EXPIRED : WEFT_JOB_FAILED,
        NULL, message);
    sched_job_free(j);
}

static void job_done(struct sched *s, struct sched_job *j, const char *finish)
{
    detach_node(s, j, 409);
    job_unlink(s, j);
    char *res = s->events->done(s, j, finish);
    store_outcome(s, j, WEFT_JOB_SUCCEEDED, res, NULL);
    free(res);
    if (s->on_finished)
        s->on_finished(s, j);
    sched_job_free(j);
}

/* The job's node is gone or gave it back: back to the queue, or failed
 * after max_attempts failures on distinct nodes. */
static void job_lost(struct sched *s, struct sched_job *j, int failure, const char *why)
{
    struct sched_node *n = j->node;
    /* A failure counts once per node: three failures landing on a, b, a
     * are two nodes. reassignments still bounds the total. */
    if (n && failure && j->n_tried < SCHED_MAX_TRIED) {
        int seen = 0;
        for (int i = 0; i < j->n_tried; i++)
            seen |= strcmp(j->tried[i], n->name) == 0;
        if (!seen) {
            snprintf(j->tried[j->n_tried++], sizeof j->tried[0], "%s", n->name);
            j->attempts++;
        }
    } else if (failure) {
        j->attempts++; /* no node, or SCHED_MAX_TRIED distinct ones already */
    }
    detach_node(s, j, 409);
    j->reassignments++;
    j->lost_ms = weft_mono_ms();
    if (j->attempts >= s->cfg.max_attempts || j->reassignments > 8 * s->cfg.max_attempts) {
        char msg[256];
        snprintf(msg, sizeof msg, "the request failed on %d node%s (last: %s)", j->attempts,
                 j->attempts == 1 ? "" : "s", why);
        job_fail(s, j, 503, "node_failure", msg);
        return;
    }
    weft_log_notice(s->log, "job %s: resuming from token %d (%s)", j->id, j->n_tokens, why);
    job_unlink(s, j);
    queue_insert(s, j);
    if (j->durable && !j->stream_job)
        weft_store_job_mark(s->store, j->id, WEFT_JOB_QUEUED);
}

void sched_job_drop(struct sched *s, struct sched_job *j, const char *why)
{
    weft_log_notice(s->log, "job %s: no longer this scheduler's: %s", j->id, why);
    detach_node(s, j, 409);
    job_unlink(s, j);
    if (j->client) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "this stream moved to another scheduler; resume it with GET "
                 "/v1/jobs/%s/stream?after=N",
                 j->id);
        s->events->failed(s, j, 503, "stream_moved", msg);
    }
    sched_job_free(j);
}

/* j (queued, or in no list) runs on n from now: its upload is awaited. */
static void run_on(struct sched *s, struct sched_job *j, struct sched_node *n)
{
    if (!weft_list_empty(&j->link))
        job_unlink(s, j);
    weft_list_push_front(&s->running, &j->link);
    s->n_running++;
    j->state = SJ_RUNNING;
    j->node = n;
    j->assigned_ms = weft_mono_ms();
    n->running++;
    j->runs++;
    int seen = 0;
    for (int i = 0; i < j->n_served; i++)
        seen |= strcmp(j->served[i], n->name) == 0;
    if (!seen && j->n_served < SCHED_MAX_TRIED)
        snprintf(j->served[j->n_served++], sizeof j->served[0], "%s", n->name);
    /* A stream is running from its start: no write (and no commit to
     * wait for) each time it lands on a node. */
    if (j->durable && !j->stream_job)
        weft_store_job_mark(s->store, j->id, WEFT_JOB_RUNNING);
}

void sched_job_adopt(struct sched *s, struct sched_job *j, struct sched_node *n)
{
    run_on(s, j, n); /* queued here too: the node that runs it wins */
    weft_log_notice(s->log, "job %s: adopted from node %s, which runs it (journal at token %d)",
                    j->id, n->name, j->n_tokens);
}

void sched_job_abandon(struct sched *s, struct sched_job *j)
{
    /* Journaled and given back, it waits for its client to resume it
     * anywhere; the lease cycle of some scheduler ends it if none does. */
    if (sched_job_journal(s, j) == 0 && weft_store_lease_release(s->store, j->id) == 0) {
        weft_store_notify(s->store);
        weft_log_info(s->log, "job %s: its client went away; kept for a resume from token %d",
                      j->id, j->n_tokens);
        detach_node(s, j, 409);
        job_unlink(s, j);
        sched_job_free(j);
        sched_dispatch(s);
        return;
    }
    sched_job_cancel(s, j, "client went away (the store could not keep it)");
}

void sched_job_cancel(struct sched *s, struct sched_job *j, const char *why)
{
    weft_log_info(s->log, "job %s cancelled: %s", j->id, why);
    detach_node(s, j, 409);
    job_unlink(s, j);
    store_outcome(s, j, WEFT_JOB_CANCELLED, NULL, why); /* counted for interactive ones too */
    sched_job_free(j);
    sched_dispatch(s);
}

/* ---- nodes ------------------------------------------------------------- */

struct sched_node *sched_node_find(struct sched *s, const char *name)
{
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        if (strcmp(NODE_OF(it)->name, name) == 0)
            return NODE_OF(it);
    }
    return NULL;
}

struct sched_node *sched_node_get(struct sched *s, const char *name)
{
    struct sched_node *n = sched_node_find(s, name);
    if (n)
        return n;
    n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    snprintf(n->name, sizeof n->name, "%s", name);
    weft_list_push_front(&s->nodes, &n->link);
    s->n_nodes++;
    return n;
}

int sched_jobs_of_key(struct sched *s, const char *key_id)
{
    struct weft_list *lists[2] = {&s->queue, &s->running}, *it;
    int n = 0;
    for (int l = 0; l < 2; l++)
        weft_list_foreach(it, lists[l])
        {
            const struct sched_job *j = JOB_OF(it);
            n += j->durable && strcmp(j->key_id, key_id) == 0;
        }
    return n;
}

static const struct sched_model *node_model(const struct sched_node *n, const char *model);

int sched_model_tools(struct sched *s, const char *model)
{
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        const struct sched_node *n = NODE_OF(it);
        const struct sched_model *m = n->live ? node_model(n, model) : NULL;
        if (m && !weft_chat_template_has_tools(m->tpl))
            return 0;
    }
    return 1;
}

int sched_model_template(struct sched *s, const char *model)
{
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        const struct sched_node *n = NODE_OF(it);
        const struct sched_model *m = n->live ? node_model(n, model) : NULL;
        if (m)
            return (int)m->tpl;
    }
    return WEFT_TPL_RAW;
}

int sched_req_uses_tools(const struct weft_oai_req *r)
{
    int uses = r->tools && r->tool_choice != WEFT_OAI_TOOLS_NONE;
    for (int i = 0; i < r->n_msgs; i++)
        uses |= r->msgs[i].tool_calls != NULL || strcmp(r->msgs[i].role, "tool") == 0;
    return uses;
}

int sched_model_available(struct sched *s, const char *model)
{
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        const struct sched_node *n = NODE_OF(it);
        if (!n->live)
            continue;
        for (int i = 0; i < n->n_models; i++)
            if (strcmp(n->models[i].name, model) == 0)
                return 1;
    }
    return 0;
}

int sched_nodes_live(struct sched *s)
{
    int live = 0;
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        live += NODE_OF(it)->live;
    }
    return live;
}

static void end_poll(struct sched_node *n, int status)
{
    struct weft_http_req *p = n->poll;
    if (!p)
        return;
    n->poll = NULL;
    p->on_abort = NULL;
    free(p->data); /* its struct poll_ref */
    p->data = NULL;
    weft_http_respond(p, status, NULL, NULL, NULL, 0);
}

void sched_node_dead(struct sched *s, struct sched_node *n, int silent, const char *why)
{
    if (!n->live)
        return;
    n->live = 0;
    weft_log_warn(s->log, "node %s is gone: %s", n->name, why);
    end_poll(n, 409);
    struct weft_list *it, *tmp;
    weft_list_foreach_safe(it, tmp, &s->running)
    {
        struct sched_job *j = JOB_OF(it);
        if (j->node == n) {
            if (silent)
                s->m.failovers_silent++;
            else
                s->m.failovers_closed++;
            job_lost(s, j, 1, why);
        }
    }
    sched_dispatch(s);
}

void sched_node_hello(struct sched *s, struct sched_node *n)
{
    /* A node that says hello while we think it runs jobs has restarted:
     * those jobs are not coming back from it. */
    if (n->live && n->running > 0)
        sched_node_dead(s, n, 0, "node restarted");
    end_poll(n, 409);
    n->live = 1;
    n->last_seen_ms = weft_mono_ms();
}

struct poll_ref {
    struct sched *s;
    struct sched_node *n;
};

static void on_poll_abort(struct weft_http_req *req)
{
    struct poll_ref *ref = req->data;
    if (!ref)
        return;
    struct sched *s = ref->s;
    struct sched_node *n = ref->n;
    free(ref);
    req->data = NULL;
    if (n->poll == req) {
        n->poll = NULL;
        /* The node's connection broke while it waited for work: it is gone
         * (a node that stops polling on purpose says so by not polling). */
        sched_node_dead(s, n, 0, "connection closed");
    }
}

void sched_node_park_poll(struct sched *s, struct sched_node *n, struct weft_http_req *req,
                          int wait_s)
{
    end_poll(n, 204); /* a node has one poll parked at most */
    struct poll_ref *ref = malloc(sizeof *ref);
    if (!ref) {
        weft_http_respond(req, 503, NULL, NULL, NULL, 0);
        return;
    }
    ref->s = s;
    ref->n = n;
    req->data = ref;
    req->on_abort = on_poll_abort;
    n->poll = req;
    n->poll_deadline_ms = weft_mono_ms() + (uint64_t)wait_s * 1000;
    sched_dispatch(s);
}

/* ---- placement ----------------------------------------------------------- */

static const struct sched_model *node_model(const struct sched_node *n, const char *model)
{
    for (int i = 0; i < n->n_models; i++)
        if (strcmp(n->models[i].name, model) == 0)
            return &n->models[i];
    return NULL;
}

static int was_tried(const struct sched_job *j, const struct sched_node *n)
{
    for (int i = 0; i < j->n_tried; i++)
        if (strcmp(j->tried[i], n->name) == 0)
            return 1;
    return 0;
}

int sched_node_slots(const struct sched_node *n)
{
    return n->slots > 0 && n->slots < n->max_concurrency ? n->slots : n->max_concurrency;
}

#define SHORT_BUDGET_S 300

/* The best node parked on a poll for job j, or NULL, filling each up to
 * the slots it offers. Prefers nodes the job has not failed on, then (for
 * deferrable work) nodes whose budget is not about to end, then budget
 * headroom per running job, then fewer running jobs. */
void sched_backend_class(const char *hardware, char *out, size_t cap)
{
    size_t n = strcspn(hardware, ", ");
    snprintf(out, cap, "%.*s", (int)n, hardware);
}

/* A verification runs on another node of the same backend class (tokens
 * are bit-identical only within one), a canary on its node alone. */
static int check_may_run(const struct sched_check *c, const struct sched_node *n)
{
    if (c->kind == SC_CANARY)
        return strcmp(c->nodes[0], n->name) == 0;
    for (int i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i], n->name) == 0)
            return 0;
    char cls[16];
    sched_backend_class(n->hardware, cls, sizeof cls);
    return strcmp(cls, c->backend) == 0;
}

static struct sched_node *pick(struct sched *s, const struct sched_job *j)
{
    struct sched_node *best = NULL;
    double best_score = 0;
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        struct sched_node *n = NODE_OF(it);
        if (!n->live || !n->poll || n->running >= sched_node_slots(n) || n->quarantined)
            continue;
        if (j->check && !check_may_run(j->check, n))
            continue;
        if (!node_model(n, j->req.model))
            continue;
        if (j->req.priority == WEFT_OAI_DEFERRABLE ? !(n->deferrable_ok && n->budget_w > 0)
                                                   : !n->interactive_ok)
            continue;
        double score = n->budget_w / (n->running + 1) - n->running * 1e-3;
        /* Deferrable work goes to a home whose sun or battery lasts: one
         * that expects its budget to end within SHORT_BUDGET_S gets it only
         * when no other can take it. */
        if (j->req.priority == WEFT_OAI_DEFERRABLE && n->budget_s >= 0 &&
            n->budget_s < SHORT_BUDGET_S)
            score -= 1e6;
        if (was_tried(j, n))
            score -= 1e9;
        if (!best || score > best_score) {
            best = n;
            best_score = score;
        }
    }
    return best;
}

/* What node n is sent for job j: the prompt rendered with n's template for
 * the model, every token the client already has, the sampling settings
 * and the seed. */
static char *assignment_json(const struct sched_job *j, const struct sched_model *m)
{
    _Static_assert(WEFT_OAI_MAX_STOP <= WEFT_NODEMSG_MAX_STOP, "stop strings");
    _Static_assert(WEFT_OAI_STOP_MAX_LEN <= WEFT_NODEMSG_STOP_LEN, "stop string length");
    _Static_assert(WEFT_OAI_MAX_TOKENS <= WEFT_NODEMSG_MAX_TOKENS, "max_tokens");
    _Static_assert(WEFT_OAI_MODEL_MAX <= WEFT_NODEMSG_NAME_MAX, "model names");
    struct weft_assignment a;
    memset(&a, 0, sizeof a);
    snprintf(a.job, sizeof a.job, "%s", j->id);
    snprintf(a.model, sizeof a.model, "%s", j->req.model);
    _Static_assert(WEFT_CHAT_MAX_MARKUP <= WEFT_NODEMSG_MAX_MARKUP, "markup spans");
    struct weft_buf p;
    weft_buf_init(&p, 8u << 20);
    struct weft_chat_markup mk = {0};
    int tools = j->req.tools && j->req.tool_choice != WEFT_OAI_TOOLS_NONE;
    int rc = 0;
    if (j->req.kind == WEFT_OAI_CHAT)
        rc = weft_chat_render_tools(j->req.msgs, j->req.n_msgs, m->tpl, tools ? j->req.tools : NULL,
                                    &p, &mk);
    else
        weft_buf_append_str(&p, j->req.prompt ? j->req.prompt : "");
    char empty[1] = "";
    a.prompt = p.data ? p.data : empty;
    a.markup = mk.r;
    a.n_markup = (int)mk.n;
    a.resume = j->tokens;
    a.n_resume = j->n_tokens;
    a.max_tokens = j->req.max_tokens;
    a.temperature = j->req.temperature;
    a.top_p = j->req.top_p;
    a.presence_penalty = j->req.presence_penalty;
    a.frequency_penalty = j->req.frequency_penalty;
    a.seed = j->req.seed;
    for (int i = 0; i < j->req.n_stop; i++)
        snprintf(a.stop[i], sizeof a.stop[i], "%s", j->req.stop[i]);
    a.n_stop = j->req.n_stop;
    a.attempt = j->reassignments;
    a.logprobs = j->req.logprobs;
    a.response_format = j->req.response_format;
    /* A forced call: the grammar writes one, the template's way. */
    char *call_format = NULL;
    if (rc == 0 && tools && j->req.tool_choice >= WEFT_OAI_TOOLS_REQUIRED)
        rc = weft_chat_call_format(
            m->tpl, j->req.tools,
            j->req.tool_choice == WEFT_OAI_TOOLS_NAMED ? j->req.tool_name : NULL, &call_format);
    if (call_format)
        a.response_format = call_format;
    a.top_logprobs = j->req.top_logprobs;
    struct weft_buf out;
    weft_buf_init(&out, 64u << 20);
    if (rc == 0)
        rc = weft_assignment_write(&a, &out);
    free(call_format);
    weft_buf_free(&p);
    weft_chat_markup_free(&mk);
    if (rc) {
        weft_buf_free(&out);
        return NULL;
    }
    return weft_buf_steal(&out, NULL);
}

static void assign(struct sched *s, struct sched_job *j, struct sched_node *n)
{
    const struct sched_model *m = node_model(n, j->req.model);
    char *body = assignment_json(j, m);
    if (!body)
        return;
    j->tpl = (int)m->tpl;
    struct weft_http_req *poll = n->poll;
    free(poll->data);
    poll->data = NULL;
    poll->on_abort = NULL;
    n->poll = NULL;
    run_on(s, j, n);
    weft_log_info(s->log, "job %s -> node %s (from token %d, attempt %d)", j->id, n->name,
                  j->n_tokens, j->reassignments + 1);
    weft_http_respond(poll, 200, "application/json", NULL, body, strlen(body));
    free(body);
}

void sched_dispatch(struct sched *s)
{
    if (s->stopping)
        return;
    struct weft_list *it, *tmp;
    weft_list_foreach_safe(it, tmp, &s->queue)
    {
        struct sched_job *j = JOB_OF(it);
        struct sched_node *n = pick(s, j);
        if (n)
            assign(s, j, n);
    }
}

/* Assignments are leases: a node that took a job and never opened its
 * token stream (or whose work reply was lost on the way), or that trickles
 * tokens below the operator's floor, loses the job to another node. It
 * counts as that node's failure. */
static void lease_check(struct sched *s, uint64_t now)
{
    const struct sched_limits_cfg *lim = &s->cfg.limits;
    struct weft_list *it, *tmp;
    int moved = 0;
    weft_list_foreach_safe(it, tmp, &s->running)
    {
        struct sched_job *j = JOB_OF(it);
        char why[160];
        if (!j->node)
            continue;
        if (!j->stream) {
            if (weft_elapsed_ms(j->assigned_ms, now) <= (uint64_t)lim->stream_open_ms)
                continue;
            snprintf(why, sizeof why, "node %s did not open its token stream within %d ms",
                     j->node->name, lim->stream_open_ms);
        } else if (lim->min_tokens_per_s > 0 &&
                   weft_elapsed_ms(j->window_ms, now) >= (uint64_t)lim->token_window_ms) {
            int got = j->n_tokens - j->window_tokens;
            double rate = got * 1000.0 / (double)weft_elapsed_ms(j->window_ms, now);
            j->window_ms = now;
            j->window_tokens = j->n_tokens;
            if (rate >= lim->min_tokens_per_s)
                continue;
            snprintf(why, sizeof why, "node %s sent %d tokens in %d ms, under %.2f tok/s",
                     j->node->name, got, lim->token_window_ms, lim->min_tokens_per_s);
        } else {
            continue;
        }
        s->m.node_errors++;
        job_lost(s, j, 1, why);
        moved = 1;
    }
    if (moved)
        sched_dispatch(s);
}

void sched_tick(uv_timer_t *t)
{
    struct sched *s = t->data;
    uint64_t now = weft_mono_ms();
    int64_t wall = weft_wall_ms();
    struct weft_list *it, *tmp;
    /* A loop that stalled (a slow disk or database, a busy machine) heard
     * nothing meanwhile: the silence was ours, not the nodes'. Their
     * leases move on by the stall before any is judged. */
    uint64_t gap = s->last_tick_ms ? weft_elapsed_ms(s->last_tick_ms, now) : 0;
    s->last_tick_ms = now;
    if (gap > 2 * SCHED_TICK_MS) {
        weft_list_foreach(it, &s->nodes) NODE_OF(it)->last_seen_ms += gap;
        weft_log_warn(s->log, "the loop stalled for %llu ms; node leases extended by as much",
                      (unsigned long long)gap);
    }
    weft_list_foreach(it, &s->nodes)
    {
        struct sched_node *n = NODE_OF(it);
        if (n->live && weft_elapsed_ms(n->last_seen_ms, now) > s->lease_ms) {
            char why[96];
            snprintf(why, sizeof why, "no heartbeat for %llu ms",
                     (unsigned long long)weft_elapsed_ms(n->last_seen_ms, now));
            sched_node_dead(s, n, 1, why);
        }
        if (n->poll && now >= n->poll_deadline_ms)
            end_poll(n, 204);
    }
    lease_check(s, now);
    weft_list_foreach_safe(it, tmp, &s->queue)
    {
        struct sched_job *j = JOB_OF(it);
        if ((j->durable || j->req.priority == WEFT_OAI_DEFERRABLE) && j->req.deadline_ms &&
            wall > j->req.deadline_ms)
            job_fail(s, j, 504, "deadline_exceeded",
                     "no node had the energy to run this job before its deadline");
        else if (j->req.priority == WEFT_OAI_INTERACTIVE && (j->client || j->group) &&
                 weft_elapsed_ms(j->queued_ms, now) > INTERACTIVE_WAIT_MS)
            job_fail(s, j, 503, "no_capacity",
                     "no node could take the request within 60 s; try again later");
    }
}

/* ---- the token stream from a node ---------------------------------------- */

static int stream_event(struct sched_stream *st, const char *line, size_t len)
{
    struct sched *s = st->s;
    struct sched_job *j = st->job;
    if (!j)
        return 0;
    struct weft_event ev;
    if (weft_event_parse(line, len, &ev) != 0)
        return WEFT_EPARSE;
    if (ev.kind == WEFT_EV_TOKEN) {
        if (ev.i < j->n_tokens)
            return 0; /* already delivered: a resumed node repeating itself */
        if (ev.i > j->n_tokens || j->n_tokens >= j->req.max_tokens)
            return WEFT_EPROTO;
        if (j->n_tokens == j->cap_tokens &&
            sched_job_grow(j, j->cap_tokens ? 2 * j->cap_tokens : 64))
            return WEFT_ENOMEM;
        /* A node that leaves out the log-probabilities asked for fails
         * the job over to one that sends them. */
        if (j->req.logprobs && !ev.has_lp)
            return WEFT_EPROTO;
        size_t lp0 = j->lp.len;
        if (j->req.logprobs &&
            (weft_event_lp_write(&ev, &j->lp) != 0 || weft_buf_append_byte(&j->lp, '\n') != 0))
            return WEFT_E2BIG;
        size_t plen = strlen(ev.text);
        if (weft_buf_append(&j->text, ev.text, plen) != 0)
            return WEFT_E2BIG;
        j->lp_lens[j->n_tokens] = (uint32_t)(j->lp.len - lp0);
        j->lens[j->n_tokens] = (uint32_t)plen;
        j->tokens[j->n_tokens++] = ev.id;
        s->m.tokens++;
        s->m.verify_tokens += j->check != NULL;
        st->node->tokens++;
        if (plen)
            s->events->tokens(s, j, ev.text, plen);
        return 0;
    }
    if (ev.prompt_tokens >= 0)
        j->prompt_tokens = ev.prompt_tokens;
    st->ended = 1;
    char why[256];
    switch (ev.end) {
    case WEFT_END_STOP:
    case WEFT_END_LENGTH:
        /* Text the node held back to the end (a stop string's prefix that
         * turned out not to be one) goes out last. */
        if (ev.text[0] && weft_buf_append_str(&j->text, ev.text) == 0)
            s->events->tokens(s, j, ev.text, strlen(ev.text));
        job_done(s, j, ev.end == WEFT_END_STOP ? "stop" : "length");
        break;
    case WEFT_END_YIELD:
        s->m.yields++;
        job_lost(s, j, 0, "node yielded (lost its power budget)");
        break;
    case WEFT_END_ERROR:
        snprintf(why, sizeof why, "node %s: %s", st->node->name, ev.message);
        s->m.node_errors++;
        job_lost(s, j, 1, why);
        break;
    }
    sched_dispatch(s);
    return 0;
}

static int stream_body(struct weft_http_req *req, const char *p, size_t n)
{
    struct sched_stream *st = req->data;
    if (!st->job || st->ended)
        return 0;
    st->busy = 1;
    int rc = 0;
    while (n > 0 && rc == 0 && st->job && !st->ended) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (weft_buf_append(&st->line, p, take) != 0) {
            rc = WEFT_E2BIG;
            break;
        }
        p += take;
        n -= take;
        if (!nl)
            break;
        p++;
        n--;
        if (st->line.len > 0)
            rc = stream_event(st, st->line.data, st->line.len);
        weft_buf_reset(&st->line);
    }
    if (rc < 0 && st->job) {
        /* Still busy: the upload is this callback's to end, with 400 from
         * the server, not detach_stream's (which would answer and free st
         * under our feet). The abort that follows the close frees st. */
        struct sched *s = st->s;
        char why[128];
        snprintf(why, sizeof why, "node %s sent a bad token stream: %s", st->node->name,
                 weft_strerror(rc));
        s->m.node_errors++;
        job_lost(s, st->job, 1, why);
        st->busy = 0;
        sched_dispatch(s);
        return WEFT_EPROTO; /* the server answers 400 and closes the upload */
    }
    st->busy = 0;
    return 0;
}

static void stream_free(struct sched_stream *st)
{
    if (st->job && st->job->stream == st)
        st->job->stream = NULL;
    weft_buf_free(&st->line);
    free(st);
}

static void stream_abort(struct weft_http_req *req)
{
    struct sched_stream *st = req->data;
    req->data = NULL;
    st->req = NULL;
    struct sched *s = st->s;
    struct sched_node *n = st->node;
    int lost = st->job && !st->ended;
    stream_free(st);
    if (lost)
        sched_node_dead(s, n, 0, "token stream connection closed");
}

int sched_stream_open(struct sched *s, struct sched_node *n, struct sched_job *job,
                      struct weft_http_req *req)
{
    if (job->node != n)
        return 404; /* a node sees only its own jobs */
    if (job->stream)
        return 409;
    struct sched_stream *st = calloc(1, sizeof *st);
    if (!st)
        return 503;
    st->s = s;
    st->job = job;
    st->node = n;
    st->req = req;
    weft_buf_init(&st->line, STREAM_LINE_MAX);
    job->stream = st;
    job->window_ms = weft_mono_ms();
    job->window_tokens = job->n_tokens;
    req->data = st;
    req->on_body = stream_body;
    req->on_abort = stream_abort;
    return 0;
}

void sched_stream_complete(struct sched *s, struct weft_http_req *req)
{
    struct sched_stream *st = req->data;
    req->data = NULL;
    req->on_abort = NULL;
    st->req = NULL;
    struct sched_job *j = st->job;
    int ended = st->ended;
    stream_free(st);
    if (j && !ended) {
        char why[128];
        snprintf(why, sizeof why, "node %s ended its token stream without an end event",
                 j->node ? j->node->name : "?");
        s->m.node_errors++;
        job_lost(s, j, 1, why);
        sched_dispatch(s);
        weft_http_respond(req, 400, "application/json", NULL,
                          "{\"error\":\"stream ended without an end event\"}\n", 46);
        return;
    }
    weft_http_respond(req, 200, "application/json", NULL, "{\"ok\":true}\n", 12);
}

/* ---- life ------------------------------------------------------------------ */

void sched_core_init(struct sched *s, const struct sched_job_events *events)
{
    s->events = events;
    weft_list_init(&s->nodes);
    weft_list_init(&s->queue);
    weft_list_init(&s->running);
    weft_list_init(&s->unrecorded);
}

void sched_core_free(struct sched *s)
{
    struct weft_list *lists[2] = {&s->queue, &s->running}, *it, *tmp;
    for (int i = 0; i < 2; i++) {
        weft_list_foreach_safe(it, tmp, lists[i])
        {
            weft_list_remove(it);
            sched_job_free(JOB_OF(it));
        }
    }
    weft_list_foreach_safe(it, tmp, &s->nodes)
    {
        weft_list_remove(it);
        free(NODE_OF(it));
    }
    weft_list_foreach_safe(it, tmp, &s->unrecorded)
    {
        struct sched_outcome *o = weft_list_entry(it, struct sched_outcome, link);
        weft_list_remove(it);
        weft_log_error(s->log, "job %s: stopping with its outcome unrecorded; it will run again",
                       o->id);
        free(o->result);
        free(o->error);
        free(o);
    }
}
