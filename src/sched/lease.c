/* Leases, the journal and claims: the scheduler's side of a store that
 * outlives it and that other schedulers may share. See lease.h. */
#include "lease.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "core.h"
#include "reply.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/time.h"

#define JOB_OF(it)   weft_list_entry(it, struct sched_job, link)
#define NODE_OF(it)  weft_list_entry(it, struct sched_node, link)
#define CLAIM_MAX    64 /* jobs claimed in one cycle, so that a cycle stays short */
#define CYCLE_MIN_MS 20 /* signals arriving faster than this wait for the tick */
#define MODELS_MAX   2048
/* A stream nobody resumed within this is ended (its lease lapsed or was
 * given back this long ago). */
#define STREAM_ABANDON_MS 30000
/* Finished streams stay readable (a late resume) this long. */
#define STREAM_KEEP_MS (10 * 60 * 1000)
#define PURGE_EVERY_MS 60000

/* The journaled log-probabilities back into j: one object and '\n' per
 * token. A token journaled without them (by a scheduler from before they
 * were kept) has an empty entry. */
static int lp_restore(struct sched_job *j, const struct weft_job_row *r)
{
    memset(j->lp_lens, 0, (size_t)r->n_tokens * sizeof *j->lp_lens);
    if (!r->lp || weft_buf_append(&j->lp, r->lp, r->lp_len) != 0)
        return r->lp ? WEFT_ENOMEM : 0;
    const char *p = r->lp, *end = r->lp + r->lp_len;
    for (int i = 0; i < r->n_tokens && p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        j->lp_lens[i] = (uint32_t)(nl + 1 - p);
        p = nl + 1;
    }
    j->journaled_lp = r->lp_len;
    return 0;
}

int sched_job_from_row(struct sched *s, const struct weft_job_row *r, struct sched_job **out,
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
    /* The stored seed, so that whichever scheduler resumes the job draws
     * the numbers the first run drew. */
    if (r->has_seed) {
        j->req.seed = r->seed;
        j->req.has_seed = 1;
    }
    j->created_s = r->created_ms / 1000;
    snprintf(j->key_id, sizeof j->key_id, "%s", r->key_id);
    j->stream_job = r->stream;
    if (r->n_tokens > 0) {
        if (sched_job_grow(j, r->n_tokens) != 0 ||
            weft_buf_append(&j->text, r->text ? r->text : "", r->text_len) != 0) {
            sched_job_free(j);
            return WEFT_ENOMEM;
        }
        memcpy(j->tokens, r->tokens, (size_t)r->n_tokens * sizeof *j->tokens);
        memcpy(j->lens, r->lens, (size_t)r->n_tokens * sizeof *j->lens);
        j->n_tokens = r->n_tokens;
        j->journaled = r->n_tokens;
        j->journaled_text = r->text_len;
        if (lp_restore(j, r) != 0) {
            sched_job_free(j);
            return WEFT_ENOMEM;
        }
    }
    *out = j;
    return 0;
}

/* ---- the journal ---- */

/* The outcomes waiting and every job's new tokens, in one transaction: one
 * commit a cycle, however many jobs run and streams ended. On failure
 * nothing counts as written. */
static int flush(struct sched *s)
{
    struct weft_list *lists[2] = {&s->running, &s->queue}, *it;
    int n = 0;
    for (int l = 0; l < 2; l++)
        weft_list_foreach(it, lists[l])
        {
            const struct sched_job *j = JOB_OF(it);
            n += j->durable && j->n_tokens > j->journaled;
        }
    if (n == 0 && weft_list_empty(&s->unrecorded))
        return 0;
    struct undo {
        struct sched_job *j;
        int journaled;
        size_t text;
    } *undo = malloc((size_t)(n + 1) * sizeof *undo);
    if (!undo)
        return WEFT_ENOMEM;
    int k = 0, rc = weft_store_tx_begin(s->store);
    int written = rc == 0 ? sched_outcomes_write(s) : 0;
    if (written < 0)
        rc = written;
    for (int l = 0; rc == 0 && l < 2; l++)
        weft_list_foreach(it, lists[l])
        {
            struct sched_job *j = JOB_OF(it);
            if (!j->durable || j->n_tokens <= j->journaled || k == n)
                continue;
            undo[k++] = (struct undo){j, j->journaled, j->journaled_text};
            if ((rc = sched_job_journal(s, j)) != 0)
                break;
        }
    int end = weft_store_tx_end(s->store, rc == 0);
    if (rc == 0)
        rc = end;
    if (rc == 0)
        sched_outcomes_forget(s, written);
    else
        for (int i = 0; i < k; i++) {
            undo[i].j->journaled = undo[i].journaled;
            undo[i].j->journaled_text = undo[i].text;
        }
    free(undo);
    return rc;
}

/* ---- renewal ---- */

static void mark_held(const char *id, void *ud)
{
    struct sched_job *j = sched_job_find(ud, id);
    if (j)
        j->held = 1;
}

/* Renews this scheduler's leases and forgets the durable jobs the store no
 * longer gives it. */
static int renew(struct sched *s)
{
    struct weft_list *lists[2] = {&s->running, &s->queue}, *it, *tmp;
    for (int l = 0; l < 2; l++)
        weft_list_foreach(it, lists[l]) JOB_OF(it)->held = 0;
    int rc = weft_store_lease_renew(s->store, mark_held, s);
    if (rc < 0)
        return rc;
    for (int l = 0; l < 2; l++)
        weft_list_foreach_safe(it, tmp, lists[l])
        {
            struct sched_job *j = JOB_OF(it);
            if (j->durable && !j->held)
                sched_job_drop(s, j, "finished, cancelled or taken over elsewhere");
        }
    return 0;
}

/* ---- giving back and claiming (shared store) ---- */

/* Queued durable jobs no node here can take soon go back to the store: a
 * job whose model no live node here holds, or that has waited a whole
 * lease in this queue. */
static int release_waiting(struct sched *s, uint64_t now)
{
    struct weft_list *it, *tmp;
    int released = 0;
    weft_list_foreach_safe(it, tmp, &s->queue)
    {
        struct sched_job *j = JOB_OF(it);
        if (!j->durable || j->client)
            continue; /* a stream's client is here: so is its job */
        if (sched_model_available(s, j->req.model) &&
            weft_elapsed_ms(j->queued_here_ms, now) < (uint64_t)s->cfg.store_lease_ms)
            continue;
        if (sched_job_journal(s, j) != 0 || weft_store_lease_release(s->store, j->id) != 0)
            return WEFT_ESTORE;
        weft_log_info(s->log, "job %s: given back to the store for another scheduler", j->id);
        sched_job_drop(s, j, "given back");
        released++;
    }
    if (released)
        weft_store_notify(s->store);
    return 0;
}

struct claim_ctx {
    struct sched *s;
    int got;
    int job_wanted;        /* claiming one job by id, for a resume */
    struct sched_job *job; /* the last job taken */
};

/* A live node here that runs job id for a scheduler that died. */
static struct sched_node *orphan_runner(struct sched *s, const char *id)
{
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        struct sched_node *n = NODE_OF(it);
        for (int i = 0; n->live && i < n->n_orphans; i++)
            if (strcmp(n->orphans[i], id) == 0)
                return n;
    }
    return NULL;
}

static void take_one(const struct weft_job_row *r, void *ud)
{
    struct claim_ctx *c = ud;
    struct sched *s = c->s;
    struct sched_job *j;
    struct weft_oai_err e;
    if (sched_job_find(s, r->id))
        return; /* already here (a restart's own claim overlapping) */
    if (r->stream && !c->job_wanted) {
        /* A stream whose client never came back: nobody will read it. */
        weft_log_info(s->log, "job %s: its client did not resume it; ending it", r->id);
        weft_store_job_finish(s->store, r->id, WEFT_JOB_CANCELLED, NULL,
                              "the client went away and did not resume the stream");
        return;
    }
    if (sched_job_from_row(s, r, &j, &e) != 0) {
        weft_log_error(s->log, "job %s: stored request no longer parses (%s): failing it", r->id,
                       e.message);
        weft_store_job_finish(s->store, r->id, WEFT_JOB_FAILED, NULL, e.message);
        return;
    }
    if (r->n_tokens > 0)
        weft_log_notice(s->log, "job %s: claimed with %d journaled tokens", r->id, r->n_tokens);
    weft_store_job_mark(s->store, r->id, WEFT_JOB_QUEUED);
    c->got++;
    c->job = j;
    if (c->job_wanted)
        return;
    struct sched_node *runner = orphan_runner(s, r->id);
    if (runner)
        sched_job_adopt(s, j, runner); /* its upload follows; no new run */
    else
        sched_job_submit(s, j);
}

/* Free slots for deferrable work on this scheduler's live nodes, and the
 * models they hold (",a,b,"). */
static int free_slots(struct sched *s, char *models, size_t cap)
{
    int free_n = 0;
    size_t len = 1;
    snprintf(models, cap, ",");
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        const struct sched_node *n = NODE_OF(it);
        int room = sched_node_slots(n) - n->running;
        if (!n->live || !n->deferrable_ok || n->budget_w <= 0 || room <= 0)
            continue;
        free_n += room;
        for (int i = 0; i < n->n_models; i++) {
            char one[WEFT_OAI_MODEL_MAX + 2];
            snprintf(one, sizeof one, ",%s,", n->models[i].name);
            if (strstr(models, one))
                continue;
            size_t add = strlen(n->models[i].name) + 1;
            if (len + add >= cap)
                break;
            snprintf(models + len, cap - len, "%s,", n->models[i].name);
            len += add;
        }
    }
    return free_n - s->n_queued;
}

static int claim(struct sched *s)
{
    struct claim_ctx c = {.s = s};
    /* Jobs past their deadline, whoever can run them: claimed to be
     * expired (the tick does that), so none floats unowned forever. */
    struct weft_claim late = {.max = CLAIM_MAX,
                              .models = ",",
                              .expired_before = weft_wall_ms(),
                              .abandoned_ms = STREAM_ABANDON_MS};
    int rc = weft_store_job_claim(s->store, &late, take_one, &c);
    if (rc < 0)
        return rc;
    char models[MODELS_MAX];
    int room = free_slots(s, models, sizeof models);
    if (room <= 0 || strlen(models) < 2)
        return 0;
    struct weft_claim want = {.max = room < CLAIM_MAX ? room : CLAIM_MAX, .models = models};
    rc = weft_store_job_claim(s->store, &want, take_one, &c);
    return rc < 0 ? rc : 0;
}

/* Claims job id for someone waiting on it here (a resumed stream, a node
 * re-attaching): *job is it, in no list yet, or NULL when another
 * scheduler still holds it or it is finished. 0, or < 0 from the store. */
static int claim_id(struct sched *s, const char *id, struct sched_job **job)
{
    struct claim_ctx c = {.s = s, .job_wanted = 1};
    struct weft_claim want = {.max = 1, .id = id};
    int rc = weft_store_job_claim(s->store, &want, take_one, &c);
    *job = rc < 0 ? NULL : c.job;
    return rc < 0 ? rc : 0;
}

/* ---- resumed streams ---- */

struct sched_resume {
    struct weft_list link; /* in sched.resumes */
    struct sched *s;
    struct weft_http_req *req;
    char id[SCHED_ID_MAX];
    int after;
    uint64_t until_ms;
};

int sched_lease_replay(struct sched *s, struct weft_http_req *req, const struct weft_job_row *row,
                       int after)
{
    struct weft_job_row jr = *row;
    jr.tokens = NULL;
    jr.lens = NULL;
    jr.text = NULL;
    jr.n_tokens = 0;
    jr.text_len = 0;
    cJSON *res = row->result ? cJSON_Parse(row->result) : NULL;
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "choices"), 0);
    cJSON *msg = cJSON_GetObjectItem(c0, "message");
    const char *text =
        cJSON_GetStringValue(cJSON_GetObjectItem(msg ? msg : c0, msg ? "content" : "text"));
    const char *finish = cJSON_GetStringValue(cJSON_GetObjectItem(c0, "finish_reason"));
    struct sched_job *j = NULL;
    struct weft_oai_err e;
    int rc = WEFT_ENOENT;
    /* The journal says where each token's text begins; without it (a jobs
     * API job's goes with its outcome) only a read from the start works. */
    if (text && finish && weft_store_journal_get(s->store, row->id, &jr) == 0 &&
        (after == 0 || after <= jr.n_tokens) && sched_job_from_row(s, &jr, &j, &e) == 0) {
        weft_buf_reset(&j->text);
        weft_buf_append_str(&j->text, text);
        sched_client_replay(s, j, req, after, finish);
        sched_job_free(j);
        rc = 0;
    }
    free(jr.tokens);
    free(jr.lens);
    free(jr.text);
    cJSON_Delete(res);
    return rc;
}

/* The parked request, no longer parked (the caller answers it). */
static struct weft_http_req *take_req(struct sched_resume *r)
{
    struct weft_http_req *req = r->req;
    if (req) {
        req->data = NULL;
        req->on_abort = NULL;
    }
    r->req = NULL;
    return req;
}

static void resume_free(struct sched_resume *r)
{
    weft_list_remove(&r->link);
    take_req(r);
    free(r);
}

static void resume_aborted(struct weft_http_req *req)
{
    struct sched_resume *r = req->data;
    if (!r)
        return;
    r->req = NULL;
    resume_free(r);
}

/* 1: resumed (or replayed, or answered); 0: still held elsewhere; < 0: the
 * store could not say. */
static int try_resume(struct sched *s, struct sched_resume *r)
{
    struct sched_job *job;
    int rc = claim_id(s, r->id, &job);
    if (rc < 0)
        return rc;
    if (job) {
        struct weft_http_req *req = take_req(r);
        weft_log_notice(s->log, "job %s: stream resumed from token %d", job->id, r->after);
        sched_client_resume(s, job, req, r->after);
        sched_job_submit(s, job);
        return 1;
    }
    struct weft_job_row row;
    if (weft_store_job_get(s->store, r->id, NULL, &row) != 0)
        return WEFT_ESTORE;
    int final = weft_job_state_final(row.state);
    if (final) {
        struct weft_http_req *req = take_req(r);
        if (sched_lease_replay(s, req, &row, r->after) != 0)
            sched_reply_fail(req, 409, NULL, "job_finished",
                             "The job has finished; its result is at GET /v1/jobs/{id}.");
    }
    weft_job_row_free(&row);
    return final;
}

void sched_lease_resume(struct sched *s, struct weft_http_req *req, const char *id, int after)
{
    struct sched_resume *r = calloc(1, sizeof *r);
    if (!r) {
        sched_reply_fail(req, 503, NULL, NULL, "out of memory");
        return;
    }
    r->s = s;
    r->req = req;
    snprintf(r->id, sizeof r->id, "%s", id);
    r->after = after;
    /* Its scheduler died (its lease lapses within store_lease_ms) or its
     * client's connection broke (the lease is given back at once); longer
     * than both, and the stream is still someone's. */
    r->until_ms = weft_mono_ms() + 3 * (uint64_t)s->cfg.store_lease_ms + 1000;
    weft_list_push_back(&s->resumes, &r->link);
    int rc = try_resume(s, r);
    if (rc > 0) {
        resume_free(r);
        return;
    }
    req->data = r;
    req->on_abort = resume_aborted;
}

static void resumes_retry(struct sched *s, uint64_t now)
{
    struct weft_list *it, *tmp;
    weft_list_foreach_safe(it, tmp, &s->resumes)
    {
        struct sched_resume *r = weft_list_entry(it, struct sched_resume, link);
        int rc = try_resume(s, r);
        if (rc > 0) {
            resume_free(r);
        } else if (now >= r->until_ms) {
            struct weft_http_req *req = r->req;
            resume_free(r);
            sched_reply_fail(req, 503, NULL, "stream_busy",
                             rc < 0 ? "The store cannot be reached; retry shortly."
                                    : "Another scheduler still streams this job; retry shortly.");
        }
    }
}

/* ---- the cycle ---- */

static void store_state(struct sched *s, int rc)
{
    if (rc < 0 && !s->store_down)
        weft_log_error(s->log,
                       "the %s store cannot be reached: leases, journal and claims wait "
                       "(new jobs get 503)",
                       weft_store_kind(s->store));
    else if (rc == 0 && s->store_down)
        weft_log_notice(s->log, "the %s store is back", weft_store_kind(s->store));
    s->store_down = rc < 0;
}

static void watch_notify(struct sched *s);

#define SLOW_CYCLE_MS 200

static void cycle(struct sched *s, uint64_t now)
{
    s->lease_next_ms = now + (uint64_t)s->cfg.store_lease_ms / 5;
    uint64_t t0 = weft_mono_ms();
    int rc = flush(s);
    if (rc == 0 && weft_store_shared(s->store)) {
        weft_store_notify_drain(s->store);
        rc = renew(s);
        if (rc == 0)
            rc = release_waiting(s, now);
        if (rc == 0)
            rc = claim(s);
        if (rc == 0)
            resumes_retry(s, now);
        watch_notify(s);
    }
    if (rc == 0 && now >= s->purge_next_ms) {
        s->purge_next_ms = now + PURGE_EVERY_MS;
        weft_store_purge_streams(s->store, weft_wall_ms() - STREAM_KEEP_MS);
    }
    store_state(s, rc);
    uint64_t took = weft_elapsed_ms(t0, weft_mono_ms());
    if (took > SLOW_CYCLE_MS)
        weft_log_warn(s->log, "the lease cycle took %llu ms (the store is slow)",
                      (unsigned long long)took);
}

void sched_lease_tick(struct sched *s, uint64_t now)
{
    if (!s->stopping && now >= s->lease_next_ms)
        cycle(s, now);
}

/* ---- signals from other schedulers ---- */

/* A copy of the store's socket and its poll: the copy is ours, so libpq
 * closing its own on a reconnect cannot pull a descriptor out from under
 * libuv; the generation says when the copy has gone stale. */
struct sched_watch {
    uv_poll_t poll; /* first: the close callback gets the watch from it */
    int fd;
    unsigned generation;
};

static void on_watch_closed(uv_handle_t *h)
{
    struct sched_watch *w = (struct sched_watch *)h;
    close(w->fd);
    free(w);
}

static void unwatch(struct sched *s)
{
    struct sched_watch *w = s->notify;
    if (!w)
        return;
    s->notify = NULL;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

static void on_notify(uv_poll_t *p, int status, int events)
{
    struct sched *s = p->data;
    (void)events;
    unsigned gen;
    weft_store_notify_fd(s->store, &gen);
    int n = status < 0 || gen != s->notify->generation ? WEFT_ESTORE
                                                       : weft_store_notify_drain(s->store);
    if (n < 0) {
        /* The connection broke or was replaced: the next cycle watches the
         * new one. */
        unwatch(s);
        return;
    }
    if (n == 0)
        return;
    uint64_t now = weft_mono_ms();
    uint64_t last = s->lease_next_ms - (uint64_t)s->cfg.store_lease_ms / 5;
    if (weft_elapsed_ms(last, now) >= CYCLE_MIN_MS)
        cycle(s, now);
    else
        s->lease_next_ms = now;
}

/* Watches the store's socket, anew after a reconnect. */
static void watch_notify(struct sched *s)
{
    unsigned gen;
    int fd = weft_store_notify_fd(s->store, &gen);
    if (s->notify && s->notify->generation == gen && fd >= 0)
        return;
    unwatch(s);
    if (fd < 0)
        return;
    struct sched_watch *w = calloc(1, sizeof *w);
    if (!w)
        return;
    w->fd = dup(fd);
    w->generation = gen;
    if (w->fd < 0 || uv_poll_init(s->loop, &w->poll, w->fd) != 0) {
        if (w->fd >= 0)
            close(w->fd);
        free(w);
        return;
    }
    w->poll.data = s;
    s->notify = w;
    uv_poll_start(&w->poll, UV_READABLE, on_notify);
}

/* ---- life ---- */

int sched_lease_start(struct sched *s)
{
    char host[64] = "scheduler";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    /* The owner's name outlives a restart of the same scheduler (host and
     * port), so a restarted one takes its own jobs back at once. */
    snprintf(s->owner, sizeof s->owner, "%.36s:%d", host, sched_port(s));
    weft_store_lease_setup(s->store, s->owner, s->cfg.store_lease_ms);
    struct claim_ctx c = {.s = s};
    /* SQLite has one scheduler: everything unfinished is its own. A shared
     * store gives back this owner's jobs and lapsed ones now; the rest come
     * with the cycles, as nodes say hello. */
    struct weft_claim first = {.max = INT_MAX, .take_all = !weft_store_shared(s->store)};
    first.mine = weft_store_shared(s->store);
    int rc = weft_store_job_claim(s->store, &first, take_one, &c);
    if (rc < 0)
        weft_log_error(s->log, "cannot claim jobs from the store: %s", weft_strerror(rc));
    if (weft_store_shared(s->store))
        watch_notify(s);
    s->lease_next_ms = weft_mono_ms() + (uint64_t)s->cfg.store_lease_ms / 5;
    return c.got;
}

int sched_lease_adopt(struct sched *s, struct sched_node *n, const char *id)
{
    struct sched_job *j = sched_job_find(s, id);
    if (j && j->node == n)
        return 1;
    if (j && j->state == SJ_QUEUED && j->durable) {
        sched_job_adopt(s, j, n); /* claimed here, not placed yet: its runner wins */
        return 1;
    }
    if (j)
        return WEFT_ENOENT; /* running on another node here */
    if (!weft_store_shared(s->store))
        return WEFT_ENOENT;
    struct sched_job *job;
    int rc = claim_id(s, id, &job);
    if (rc < 0)
        return rc;
    if (job) {
        sched_job_adopt(s, job, n);
        return 1;
    }
    struct weft_job_row row;
    rc = weft_store_job_get(s->store, id, NULL, &row);
    if (rc == WEFT_ENOENT)
        return WEFT_ENOENT;
    if (rc < 0)
        return rc;
    int final = weft_job_state_final(row.state);
    weft_job_row_free(&row);
    return final ? WEFT_ENOENT : 0;
}

void sched_lease_offer(struct sched *s, struct sched_job *j)
{
    if (!weft_store_shared(s->store) || j->state != SJ_QUEUED ||
        sched_model_available(s, j->req.model))
        return;
    if (weft_store_lease_release(s->store, j->id) != 0)
        return; /* kept here; the cycle tries again */
    weft_log_info(s->log, "job %s: no node here holds %s; given to the other schedulers", j->id,
                  j->req.model);
    sched_job_drop(s, j, "given back");
    weft_store_notify(s->store);
}

void sched_lease_stop(struct sched *s)
{
    struct weft_list *it, *tmp;
    weft_list_foreach_safe(it, tmp, &s->resumes)
    {
        struct sched_resume *r = weft_list_entry(it, struct sched_resume, link);
        struct weft_http_req *req = r->req;
        resume_free(r);
        sched_reply_fail(req, 503, NULL, "stream_busy", "The scheduler is stopping; retry.");
    }
    flush(s);
    if (weft_store_lease_release(s->store, NULL) == 0)
        weft_store_notify(s->store);
    unwatch(s);
}
