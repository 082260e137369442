/* The scheduler link; see link.h. Every message goes out through proto's
 * writers and every answer is read with proto's parsers (nodemsg.h); the
 * transport is src/net's HTTPS client. */
#include "link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "weft/error.h"
#include "weft/http_client.h"
#include "weft/log.h"
#include "weft/time.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

enum call_kind { CALL_HELLO, CALL_HEARTBEAT, CALL_POLL, CALL_UPLOAD };

/* One of the link's calls in flight. */
struct link_call {
    struct weft_list link; /* in node_link.calls */
    struct node_link *l;
    enum call_kind kind;
    struct weft_http_call *call;
    struct node_job *job; /* CALL_UPLOAD */
};

static void link_down(struct node_link *l, const char *why);
static void send_hello(struct node_link *l);
static void on_done(void *ud, const struct weft_http_result *res);

/* ---- calls -------------------------------------------------------------- */

static long upload_read(void *ud, char *buf, size_t cap)
{
    struct link_call *c = ud;
    int end = 0;
    size_t n = node_job_pull(c->job, buf, cap, &end);
    if (n)
        return (long)n;
    return end ? 0 : WEFT_HTTP_UPLOAD_PAUSE; /* 0: the end event is out */
}

/* Starts a call to path on the current scheduler: a POST of body[0..len)
 * when body is set, the job's upload for CALL_UPLOAD, else a GET. */
static int start(struct node_link *l, enum call_kind kind, const char *path, long timeout_s,
                 const struct weft_buf *body, struct node_job *job)
{
    struct link_call *c = calloc(1, sizeof *c);
    if (!c)
        return WEFT_ENOMEM;
    c->l = l;
    c->kind = kind;
    c->job = job;
    char url[600];
    snprintf(url, sizeof url, "%s%s", node_link_url(l), path);
    struct weft_http_call_opts o = {
        .url = url,
        .bearer = l->cfg->token,
        .session = l->session,
        .ca_file = l->cfg->ca_file,
        .body = body ? body->data : NULL,
        .body_len = body ? body->len : 0,
        .on_upload = kind == CALL_UPLOAD ? upload_read : NULL,
        .timeout_s = timeout_s,
        .on_done = on_done,
        .ud = c,
    };
    int rc = weft_http_call_start(l->http, &o, &c->call);
    if (rc) {
        free(c);
        return rc;
    }
    weft_list_push_back(&l->calls, &c->link);
    if (job)
        job->upload = c->call;
    return 0;
}

/* POSTs the message written into b (rc: how writing it went). */
static void post(struct node_link *l, enum call_kind kind, const char *path, int rc,
                 struct weft_buf *b)
{
    if (rc == 0)
        rc = start(l, kind, path, 10, b, NULL);
    weft_buf_free(b);
    if (rc) {
        char why[160];
        snprintf(why, sizeof why, "cannot send %s: %s", path, weft_strerror(rc));
        link_down(l, why);
    }
}

/* ---- state -------------------------------------------------------------- */

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

static void link_down(struct node_link *l, const char *why)
{
    if (l->state != NODE_LINK_DOWN || strcmp(l->error, why) != 0)
        weft_log_warn(l->log, "scheduler %s: %s", node_link_url(l), why);
    snprintf(l->error, sizeof l->error, "%s", why);
    l->state = NODE_LINK_DOWN;
    uv_timer_stop(&l->hb_timer);
    if (l->stopping)
        return;
    l->url_idx = (l->url_idx + 1) % l->cfg->n_urls;
    l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (l->backoff_ms > BACKOFF_MAX_MS)
        l->backoff_ms = BACKOFF_MAX_MS;
    uv_timer_start(&l->retry_timer, on_retry, jitter(l->backoff_ms), 0);
}

static void send_hello(struct node_link *l)
{
    if (l->stopping)
        return;
    struct weft_buf b;
    weft_buf_init(&b, 1u << 20);
    l->state = NODE_LINK_HELLO;
    post(l, CALL_HELLO, "/v1/node/hello", weft_hello_write(&l->hello, &b), &b);
}

static void send_heartbeat(struct node_link *l)
{
    struct weft_heartbeat hb;
    memset(&hb, 0, sizeof hb);
    l->cb.heartbeat(l->cb.ud, &hb);
    struct weft_buf b;
    weft_buf_init(&b, 1u << 20);
    post(l, CALL_HEARTBEAT, "/v1/node/heartbeat", weft_heartbeat_write(&hb, &b), &b);
}

static void on_hb_timer(uv_timer_t *t)
{
    struct node_link *l = t->data;
    if (l->state == NODE_LINK_LIVE && !l->stopping)
        send_heartbeat(l);
}

const char *node_link_url(const struct node_link *l)
{
    return l->cfg->urls[l->url_idx].url;
}

const char *node_link_state_name(const struct node_link *l)
{
    switch (l->state) {
    case NODE_LINK_DOWN:
        return "down";
    case NODE_LINK_HELLO:
        return "connecting";
    case NODE_LINK_LIVE:
        return "live";
    }
    return "?";
}

/* ---- answers ------------------------------------------------------------ */

static void hello_done(struct node_link *l, const struct weft_http_result *res, const char *why)
{
    struct weft_hello_reply hr;
    char bad[160], msg[200];
    if (res->rc != 0 || res->status != 200) {
        link_down(l, why);
    } else if (weft_hello_reply_parse(res->body, res->len, &hr, bad, sizeof bad) != 0) {
        snprintf(msg, sizeof msg, "hello answered with %s", bad);
        link_down(l, msg);
    } else {
        l->heartbeat_ms = hr.heartbeat_ms;
        l->state = NODE_LINK_LIVE;
        l->backoff_ms = 0;
        l->error[0] = '\0';
        l->since_ms = weft_mono_ms();
        weft_log_notice(l->log, "scheduler %s: connected, heartbeat every %d ms", node_link_url(l),
                        l->heartbeat_ms);
        uv_timer_start(&l->hb_timer, on_hb_timer, 0, (uint64_t)l->heartbeat_ms);
        l->cb.live(l->cb.ud);
    }
}

static void heartbeat_done(struct node_link *l, const struct weft_http_result *res, const char *why)
{
    if (res->rc == 0 && res->status == 200) {
        struct weft_heartbeat_reply hr;
        char bad[160];
        if (weft_heartbeat_reply_parse(res->body, res->len, &hr, bad, sizeof bad) != 0)
            weft_log_warn(l->log, "scheduler: heartbeat answered with %s", bad);
        for (int i = 0; i < hr.n_cancel; i++)
            l->cb.cancel(l->cb.ud, hr.cancel[i]);
    } else if (res->rc == 0 && res->status == 409) {
        /* The scheduler forgot us (a restart, a lease that ran out). */
        l->state = NODE_LINK_DOWN;
        send_hello(l);
    } else if (l->state == NODE_LINK_LIVE) {
        link_down(l, why);
    }
}

static void poll_done(struct node_link *l, const struct weft_http_result *res, const char *why)
{
    l->poll_in_flight = 0;
    if (res->rc == 0 && res->status == 200 && res->len > 0) {
        l->cb.assignment(l->cb.ud, res->body, res->len);
        l->cb.poll_done(l->cb.ud); /* a bad or surplus assignment must not stop the polling */
    } else if (res->rc == 0 && res->status == 204) {
        l->cb.poll_done(l->cb.ud);
    } else if (res->rc == 0 && res->status == 409) {
        l->state = NODE_LINK_DOWN;
        send_hello(l);
    } else if (l->state == NODE_LINK_LIVE) {
        link_down(l, why);
    }
}

static void on_done(void *ud, const struct weft_http_result *res)
{
    struct link_call *c = ud;
    struct node_link *l = c->l;
    weft_list_remove(&c->link);
    char why[200];
    if (res->rc != 0)
        snprintf(why, sizeof why, "%s", res->error ? res->error : weft_strerror(res->rc));
    else
        snprintf(why, sizeof why, "HTTP %ld", res->status);
    switch (c->kind) {
    case CALL_HELLO:
        hello_done(l, res, why);
        break;
    case CALL_HEARTBEAT:
        heartbeat_done(l, res, why);
        break;
    case CALL_POLL:
        poll_done(l, res, why);
        break;
    case CALL_UPLOAD:
        c->job->upload = NULL;
        c->job->uploaded = 1;
        /* Anything but 200: moved away (409), or the scheduler is unreachable. */
        l->cb.upload_done(l->cb.ud, c->job, res->rc == 0 && res->status == 200,
                          res->rc == 0 ? res->status : 0, why);
        break;
    }
    free(c);
}

/* ---- the owner's calls -------------------------------------------------- */

int node_link_is_live(const struct node_link *l)
{
    return l->state == NODE_LINK_LIVE && !l->stopping;
}

int node_link_can_poll(const struct node_link *l)
{
    return l->state == NODE_LINK_LIVE && !l->poll_in_flight && !l->stopping;
}

void node_link_poll(struct node_link *l)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/node/work?wait=%d", l->cfg->poll_wait_s);
    if (start(l, CALL_POLL, path, l->cfg->poll_wait_s + 15, NULL, NULL) == 0)
        l->poll_in_flight = 1;
}

int node_link_upload(struct node_link *l, struct node_job *job)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/node/jobs/%s/stream", job->id);
    return start(l, CALL_UPLOAD, path, 0, NULL, job);
}

void node_link_upload_wake(struct node_link *l, struct node_job *job)
{
    (void)l;
    if (job->upload)
        weft_http_call_resume(job->upload);
}

/* ---- life --------------------------------------------------------------- */

int node_link_init(struct node_link *l, uv_loop_t *loop, const struct weftd_sched_cfg *cfg,
                   const struct weft_log *log, const struct weft_hello *hello,
                   const struct node_link_cb *cb, char *err, size_t errcap)
{
    memset(l, 0, sizeof *l);
    l->loop = loop;
    l->cfg = cfg;
    l->log = log;
    l->cb = *cb;
    l->hello = *hello;
    weft_list_init(&l->calls);
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(err, errcap, "the scheduler link: no random bytes for a session id");
        return WEFT_EIO;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(l->session + 2 * i, 3, "%02x", raw[i]);
    int rc = weft_http_client_init(&l->http, loop);
    if (rc) {
        snprintf(err, errcap, "the scheduler link: %s", weft_strerror(rc));
        return rc;
    }
    uv_timer_init(loop, &l->hb_timer);
    uv_timer_init(loop, &l->retry_timer);
    l->hb_timer.data = l->retry_timer.data = l;
    return 0;
}

void node_link_start(struct node_link *l)
{
    send_hello(l);
}

void node_link_stop(struct node_link *l)
{
    l->stopping = 1;
    uv_timer_stop(&l->hb_timer);
    uv_timer_stop(&l->retry_timer);
    struct weft_list *it, *tmp;
    weft_list_foreach_safe(it, tmp, &l->calls)
    {
        struct link_call *c = weft_list_entry(it, struct link_call, link);
        weft_list_remove(&c->link);
        if (c->job) {
            c->job->upload = NULL;
            c->job->uploaded = 1;
        }
        weft_http_call_cancel(c->call);
        free(c);
    }
}

static void on_closed(void *arg)
{
    struct node_link *l = arg;
    if (--l->pending_closes == 0 && l->close_cb)
        l->close_cb(l->close_arg);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_closed(h->data);
}

void node_link_close(struct node_link *l, void (*cb)(void *), void *arg)
{
    l->close_cb = cb;
    l->close_arg = arg;
    l->pending_closes = 3;
    weft_http_client_close(l->http, on_closed, l);
    l->http = NULL;
    uv_close((uv_handle_t *)&l->hb_timer, on_timer_closed);
    uv_close((uv_handle_t *)&l->retry_timer, on_timer_closed);
}
