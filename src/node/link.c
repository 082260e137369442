/* The scheduler link: libcurl's multi interface driven by the libuv loop
 * (the pattern of curl's docs/examples/multi-uv.c): curl tells us which
 * sockets to watch and when to time out; uv_poll and a uv_timer tell curl
 * when something happened.
 *
 * The node dials out only. hello, then a heartbeat every heartbeat_ms, a
 * long poll for work whenever the node could run something, and for a job
 * one chunked upload of its tokens, fed from the runner's queue: the read
 * callback pauses the upload when the queue is empty and the runner's
 * wake-up resumes it. Any transport failure takes the link down; it comes
 * back through the next scheduler URL after a jittered exponential
 * backoff (0.5 s up to 30 s). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "internal.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/nodemsg.h"
#include "weft/time.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

enum xfer_kind { X_HELLO, X_HEARTBEAT, X_POLL, X_UPLOAD };

struct xfer {
    struct xfer *prev, *next; /* d->xfers */
    CURL *e;
    struct weftd *d;
    enum xfer_kind kind;
    struct weft_buf resp;
    struct curl_slist *hdrs;
    struct weft_buf req;  /* the body of a POST */
    struct node_job *job; /* X_UPLOAD */
};

struct sock {
    struct sock *prev, *next; /* d->socks */
    uv_poll_t poll;
    curl_socket_t fd;
    struct weftd *d;
};

static void check_done(struct weftd *d);
static void link_down(struct weftd *d, const char *why);
static void send_hello(struct weftd *d);

/* ---- curl on libuv ------------------------------------------------------------ */

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock *c = h->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(c->d->multi, c->fd, flags, &running);
    check_done(c->d);
}

static void free_sock(uv_handle_t *h)
{
    free(h->data);
}

static void sock_unlink(struct weftd *d, struct sock *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        d->socks = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void xfer_unlink(struct weftd *d, struct xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        d->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct weftd *d = userp;
    struct sock *c = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (c) {
            sock_unlink(d, c);
            uv_poll_stop(&c->poll);
            uv_close((uv_handle_t *)&c->poll, free_sock);
            if (d->multi)
                curl_multi_assign(d->multi, s, NULL);
        }
        return 0;
    }
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return -1;
        c->fd = s;
        c->d = d;
        if (uv_poll_init_socket(d->loop, &c->poll, s) != 0) {
            free(c);
            return -1;
        }
        c->poll.data = c;
        curl_multi_assign(d->multi, s, c);
        c->next = d->socks;
        if (d->socks)
            ((struct sock *)d->socks)->prev = c;
        d->socks = c;
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&c->poll, ev, on_poll);
    return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
    struct weftd *d = t->data;
    int running;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(d);
}

static int on_timer_set(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct weftd *d = userp;
    if (timeout_ms < 0 || d->stopping_link)
        uv_timer_stop(&d->curl_timer);
    else
        uv_timer_start(&d->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    return weft_buf_append(&x->resp, p, sz * n) == 0 ? sz * n : 0;
}

static struct xfer *xfer_new(struct weftd *d, enum xfer_kind kind, const char *path, long timeout_s)
{
    struct xfer *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->d = d;
    x->kind = kind;
    x->e = curl_easy_init();
    weft_buf_init(&x->resp, 4u << 20);
    weft_buf_init(&x->req, 1u << 20);
    char url[600], auth[200];
    snprintf(url, sizeof url, "%s%s", d->cfg.scheduler.urls[d->url_idx].url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", d->cfg.scheduler.token);
    x->hdrs = curl_slist_append(NULL, auth);
    x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
    curl_easy_setopt(x->e, CURLOPT_URL, url);
    curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(x->e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(x->e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (timeout_s > 0)
        curl_easy_setopt(x->e, CURLOPT_TIMEOUT, timeout_s);
    if (d->cfg.scheduler.ca_file[0])
        curl_easy_setopt(x->e, CURLOPT_CAINFO, d->cfg.scheduler.ca_file);
    return x;
}

static void xfer_free(struct xfer *x)
{
    curl_slist_free_all(x->hdrs);
    curl_easy_cleanup(x->e);
    weft_buf_free(&x->resp);
    weft_buf_free(&x->req);
    free(x);
}

static void xfer_start(struct weftd *d, struct xfer *x)
{
    if (curl_multi_add_handle(d->multi, x->e) != CURLM_OK) {
        xfer_free(x);
        link_down(d, "cannot start a transfer");
        return;
    }
    x->next = d->xfers;
    if (d->xfers)
        ((struct xfer *)d->xfers)->prev = x;
    d->xfers = x;
    d->n_xfers++;
}

/* Posts the message written into x->req (rc: how writing it went). */
static void xfer_post_msg(struct weftd *d, struct xfer *x, int rc)
{
    if (rc) {
        xfer_free(x);
        link_down(d, "cannot write a message to the scheduler");
        return;
    }
    curl_easy_setopt(x->e, CURLOPT_POSTFIELDS, x->req.data);
    curl_easy_setopt(x->e, CURLOPT_POSTFIELDSIZE, (long)x->req.len);
    xfer_start(d, x);
}

/* ---- state -------------------------------------------------------------------- */

static uint64_t jitter(uint64_t base)
{
    unsigned char r = 128;
    if (getrandom(&r, 1, 0) != 1)
        r = 128;
    return base / 2 + base * r / 512;
}

static void on_retry(uv_timer_t *t)
{
    send_hello(t->data);
}

static void link_down(struct weftd *d, const char *why)
{
    if (d->link != LINK_DOWN || strcmp(d->link_err, why) != 0)
        weft_log_warn(d->log, "scheduler %s: %s", d->cfg.scheduler.urls[d->url_idx].url, why);
    snprintf(d->link_err, sizeof d->link_err, "%s", why);
    d->link = LINK_DOWN;
    uv_timer_stop(&d->hb_timer);
    if (d->stopping)
        return;
    d->url_idx = (d->url_idx + 1) % d->cfg.scheduler.n_urls;
    d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (d->backoff_ms > BACKOFF_MAX_MS)
        d->backoff_ms = BACKOFF_MAX_MS;
    uv_timer_start(&d->retry_timer, on_retry, jitter(d->backoff_ms), 0);
}

const char *node_link_state_name(const struct weftd *d)
{
    switch (d->link) {
    case LINK_DOWN:
        return "down";
    case LINK_HELLO:
        return "connecting";
    case LINK_LIVE:
        return "live";
    }
    return "?";
}

static void send_hello(struct weftd *d)
{
    if (d->stopping)
        return;
    struct xfer *x = xfer_new(d, X_HELLO, "/v1/node/hello", 10);
    if (!x)
        return;
    struct weft_hello h;
    memset(&h, 0, sizeof h);
    for (int i = 0; i < d->n_models; i++) {
        snprintf(h.models[i].name, sizeof h.models[i].name, "%s", d->models[i].name);
        h.models[i].tpl = d->models[i].tpl;
    }
    h.n_models = d->n_models;
    h.max_concurrency = 1;
    snprintf(h.hardware, sizeof h.hardware, "none (no models)");
    if (d->n_models > 0) {
        const struct weft_model_info *mi = weft_model_info(d->models[0].model);
        snprintf(h.hardware, sizeof h.hardware, "%s, %d threads",
                 mi->backend == WEFT_BACKEND_CUDA ? "CUDA" : "CPU", mi->n_threads);
    }
    d->link = LINK_HELLO;
    xfer_post_msg(d, x, weft_hello_write(&h, &x->req));
}

static void send_heartbeat(struct weftd *d)
{
    struct xfer *x = xfer_new(d, X_HEARTBEAT, "/v1/node/heartbeat", 10);
    if (!x)
        return;
    struct weft_heartbeat hb;
    memset(&hb, 0, sizeof hb);
    hb.budget_w = d->pout.budget_w;
    snprintf(hb.policy_state, sizeof hb.policy_state, "%s", weft_policy_state_name(d->pout.state));
    snprintf(hb.reason, sizeof hb.reason, "%s", d->pout.reason);
    hb.deferrable = node_deferrable_ok(d);
    hb.interactive = node_interactive_ok(d);
    const struct weft_energy_reading *r = &d->reading;
    hb.pv_w = r->pv.at_ms ? r->pv.w : NAN;
    hb.load_w = r->load.at_ms ? r->load.w : NAN;
    hb.grid_w = r->grid.at_ms ? r->grid.w : NAN;
    hb.battery_w = r->battery.at_ms ? r->battery.w : NAN;
    hb.soc = r->soc.at_ms ? r->soc.w : NAN;
    hb.compute_w = d->compute_w;
    if (d->job) {
        snprintf(hb.jobs[0].id, sizeof hb.jobs[0].id, "%s", d->job->id);
        hb.jobs[0].tokens = atomic_load(&d->job->tokens);
        hb.n_jobs = 1;
    }
    xfer_post_msg(d, x, weft_heartbeat_write(&hb, &x->req));
}

static void on_hb_timer(uv_timer_t *t)
{
    struct weftd *d = t->data;
    if (d->link == LINK_LIVE && !d->stopping)
        send_heartbeat(d);
}

/* ---- jobs ------------------------------------------------------------------------ */

static size_t upload_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    struct weftd *d = x->d;
    struct node_job *job = x->job;
    size_t cap = size * nitems;
    pthread_mutex_lock(&d->mu);
    size_t n = job->out.len < cap ? job->out.len : cap;
    if (n) {
        memcpy(buf, job->out.data, n);
        weft_buf_consume(&job->out, n);
    }
    int fin = job->finished && job->out.len == 0;
    pthread_mutex_unlock(&d->mu);
    if (n)
        return n;
    if (fin)
        return 0; /* the end event is out: finish the chunked body */
    job->paused = 1;
    return CURL_READFUNC_PAUSE;
}

static void release_job_if_done(struct weftd *d);

void node_link_upload_wake(struct weftd *d)
{
    struct node_job *job = d->job;
    if (job && job->paused && job->xfer) {
        job->paused = 0;
        curl_easy_pause(((struct xfer *)job->xfer)->e, CURLPAUSE_CONT);
        check_done(d);
    }
    /* An upload that ended early waits for the runner to stop. */
    if (d->job && d->job->uploaded)
        release_job_if_done(d);
}

static void release_job_if_done(struct weftd *d)
{
    struct node_job *job = d->job;
    if (!job || !job->uploaded)
        return;
    pthread_mutex_lock(&d->mu);
    int fin = job->finished;
    pthread_mutex_unlock(&d->mu);
    if (!fin)
        return;              /* the runner is still stopping; its wake-up brings us back */
    node_ledger_job_step(d); /* the last interval */
    d->job = NULL;
    node_ledger_add(d, job->wh, job->surplus_wh, atomic_load(&job->tokens), 1);
    node_job_free(job);
    node_link_kick(d);
}

/* The scheduler's assignment as a job. A body that names a job but is
 * otherwise wrong still gives one, carrying `refused`, so the scheduler
 * hears at once that this node will not run it; a body without a usable id
 * gives none (*out NULL). */
static int parse_job(struct weftd *d, const char *body, size_t len, struct node_job **out,
                     char *why, size_t cap)
{
    struct weft_assignment a;
    int rc = weft_assignment_parse(body, len, &a, why, cap);
    struct node_job *j = a.job[0] ? calloc(1, sizeof *j) : NULL;
    *out = j;
    if (!j) {
        weft_assignment_free(&a);
        return rc ? rc : WEFT_ENOMEM;
    }
    snprintf(j->id, sizeof j->id, "%s", a.job);
    j->model = -1;
    weft_buf_init(&j->out, 16u << 20);
    j->started_ms = weft_mono_ms();
    if (rc) {
        snprintf(j->refused, sizeof j->refused, "bad assignment: %s", why);
        weft_assignment_free(&a);
        return rc;
    }
    for (int i = 0; i < d->n_models; i++)
        if (strcmp(d->models[i].name, a.model) == 0)
            j->model = i;
    j->prompt = a.prompt;
    j->resume = a.resume;
    j->n_resume = a.n_resume;
    j->max_tokens = a.max_tokens;
    j->temperature = (float)a.temperature;
    j->top_p = (float)a.top_p;
    j->seed = a.seed;
    _Static_assert(WEFT_NODEMSG_MAX_STOP <= WEFT_MAX_STOP, "stop strings");
    _Static_assert(WEFT_NODEMSG_STOP_LEN < WEFT_STOP_MAX_LEN, "stop string length");
    for (int i = 0; i < a.n_stop; i++)
        snprintf(j->stop[i], sizeof j->stop[i], "%s", a.stop[i]);
    j->n_stop = a.n_stop;
    return 0;
}

static void start_job(struct weftd *d, struct node_job *job)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/node/jobs/%s/stream", job->id);
    struct xfer *x = xfer_new(d, X_UPLOAD, path, 0);
    if (!x) {
        node_job_free(job);
        return;
    }
    x->job = job;
    job->xfer = x;
    d->job = job;
    x->hdrs = curl_slist_append(x->hdrs, "Transfer-Encoding: chunked");
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->e, CURLOPT_POST, 1L);
    curl_easy_setopt(x->e, CURLOPT_READFUNCTION, upload_read);
    curl_easy_setopt(x->e, CURLOPT_READDATA, x);
    if (job->refused[0]) {
        node_job_end(d, job, WEFT_END_ERROR, -1, job->refused, NULL);
    } else if (job->model < 0) {
        node_job_end(d, job, WEFT_END_ERROR, -1, "model not held here", NULL);
    } else if (!node_deferrable_ok(d) && !node_interactive_ok(d)) {
        /* The budget went away while the assignment was on its way. */
        node_job_end(d, job, WEFT_END_YIELD, -1, NULL, NULL);
    } else {
        weft_log_info(d->log, "job %s: %s, from token %d, up to %d", job->id,
                      d->models[job->model].name, job->n_resume, job->max_tokens);
        node_ledger_job_start(d);
        node_runner_give(d, job);
    }
    xfer_start(d, x);
}

static void send_poll(struct weftd *d)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/node/work?wait=%d", d->cfg.scheduler.poll_wait_s);
    struct xfer *x = xfer_new(d, X_POLL, path, d->cfg.scheduler.poll_wait_s + 15);
    if (!x)
        return;
    d->poll_in_flight = 1;
    xfer_start(d, x);
}

void node_link_kick(struct weftd *d)
{
    /* A node without models has nothing to take: it only reports. */
    if (d->link == LINK_LIVE && !d->poll_in_flight && !d->job && !d->stopping && d->n_models > 0 &&
        (node_deferrable_ok(d) || node_interactive_ok(d)))
        send_poll(d);
}

/* ---- completions ----------------------------------------------------------------- */

static void finished(struct weftd *d, struct xfer *x, CURLcode cc, long status)
{
    char why[200];
    if (cc != CURLE_OK)
        snprintf(why, sizeof why, "%s", curl_easy_strerror(cc));
    else
        snprintf(why, sizeof why, "HTTP %ld", status);
    switch (x->kind) {
    case X_HELLO: {
        struct weft_hello_reply hr;
        char bad[160];
        if (cc == CURLE_OK && status == 200 &&
            weft_hello_reply_parse(x->resp.data ? x->resp.data : "", x->resp.len, &hr, bad,
                                   sizeof bad) != 0) {
            snprintf(why, sizeof why, "hello answered with %s", bad);
            link_down(d, why);
        } else if (cc == CURLE_OK && status == 200) {
            d->heartbeat_ms = hr.heartbeat_ms;
            d->link = LINK_LIVE;
            d->backoff_ms = 0;
            d->link_err[0] = '\0';
            d->link_since_ms = weft_mono_ms();
            weft_log_notice(d->log, "scheduler %s: connected, heartbeat every %d ms",
                            d->cfg.scheduler.urls[d->url_idx].url, d->heartbeat_ms);
            uv_timer_start(&d->hb_timer, on_hb_timer, 0, (uint64_t)d->heartbeat_ms);
            node_link_kick(d);
        } else {
            link_down(d, why);
        }
        break;
    }
    case X_HEARTBEAT:
        if (cc == CURLE_OK && status == 200) {
            struct weft_heartbeat_reply hr;
            char bad[160];
            if (weft_heartbeat_reply_parse(x->resp.data ? x->resp.data : "", x->resp.len, &hr, bad,
                                           sizeof bad) != 0)
                weft_log_warn(d->log, "scheduler: heartbeat answered with %s", bad);
            for (int i = 0; i < hr.n_cancel; i++) {
                if (d->job && strcmp(hr.cancel[i], d->job->id) == 0) {
                    weft_log_notice(d->log, "job %s: the scheduler moved it; stopping", d->job->id);
                    atomic_store(&d->job->cancel, 1);
                }
            }
        } else if (cc == CURLE_OK && status == 409) {
            d->link = LINK_DOWN;
            send_hello(d);
        } else if (d->link == LINK_LIVE) {
            link_down(d, why);
        }
        break;
    case X_POLL:
        d->poll_in_flight = 0;
        if (cc == CURLE_OK && status == 200 && x->resp.data) {
            struct node_job *job;
            char bad[160];
            if (parse_job(d, x->resp.data, x->resp.len, &job, bad, sizeof bad) != 0)
                weft_log_warn(d->log, "scheduler: %s%s: %s",
                              job ? "refusing job " : "an assignment",
                              job ? job->id : " without a usable id", bad);
            if (job && !d->stopping && !d->job)
                start_job(d, job);
            else if (job)
                node_job_free(job);
            node_link_kick(d); /* a bad or surplus assignment must not stop the polling */
        } else if (cc == CURLE_OK && status == 204) {
            node_link_kick(d);
        } else if (cc == CURLE_OK && status == 409) {
            d->link = LINK_DOWN;
            send_hello(d);
        } else if (d->link == LINK_LIVE) {
            link_down(d, why);
        }
        break;
    case X_UPLOAD: {
        struct node_job *job = x->job;
        job->xfer = NULL;
        job->uploaded = 1;
        if (cc != CURLE_OK || status != 200) {
            /* Moved away (409), or the scheduler is unreachable: stop. */
            weft_log_notice(d->log, "job %s: upload ended (%s); stopping it", job->id, why);
            atomic_store(&job->cancel, 1);
            d->failures++;
        } else {
            d->jobs_done++;
        }
        release_job_if_done(d);
        break;
    }
    }
}

static void check_done(struct weftd *d)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(d->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct xfer *x;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        CURLcode cc = msg->data.result;
        curl_multi_remove_handle(d->multi, x->e);
        xfer_unlink(d, x);
        d->n_xfers--;
        finished(d, x, cc, status);
        xfer_free(x);
    }
}

/* ---- life ------------------------------------------------------------------------ */

int node_link_init(struct weftd *d, char *err, size_t errcap)
{
    d->multi = curl_multi_init();
    if (!d->multi) {
        snprintf(err, errcap, "curl_multi_init failed");
        return WEFT_ENOMEM;
    }
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    uv_timer_init(d->loop, &d->curl_timer);
    uv_timer_init(d->loop, &d->hb_timer);
    uv_timer_init(d->loop, &d->retry_timer);
    d->curl_timer.data = d->hb_timer.data = d->retry_timer.data = d;
    return 0;
}

void node_link_start(struct weftd *d)
{
    send_hello(d);
}

int node_link_idle(const struct weftd *d)
{
    return d->job == NULL;
}

/* Cancels every transfer, then closes the link's sockets and timers. */
void node_link_stop(struct weftd *d)
{
    d->stopping_link = 1;
    uv_timer_stop(&d->hb_timer);
    uv_timer_stop(&d->retry_timer);
    while (d->xfers) {
        struct xfer *x = d->xfers;
        xfer_unlink(d, x);
        curl_multi_remove_handle(d->multi, x->e);
        if (x->job) {
            x->job->xfer = NULL;
            x->job->uploaded = 1;
        }
        xfer_free(x);
    }
    curl_multi_cleanup(d->multi);
    d->multi = NULL;
    while (d->socks) {
        struct sock *c = d->socks;
        sock_unlink(d, c);
        uv_poll_stop(&c->poll);
        uv_close((uv_handle_t *)&c->poll, free_sock);
    }
    uv_close((uv_handle_t *)&d->curl_timer, node_handle_closed);
    uv_close((uv_handle_t *)&d->hb_timer, node_handle_closed);
    uv_close((uv_handle_t *)&d->retry_timer, node_handle_closed);
}
