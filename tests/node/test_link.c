/* weftd's scheduler link in-process, against a fake scheduler on the same
 * loop (Weft's HTTP server with handlers here that read and write the node
 * API through proto): hello, heartbeats filled by the owner, a poll's
 * assignment, an upload that pauses until the runner has written more, a
 * cancel in a heartbeat's answer, a scheduler that forgets the node (409:
 * hello again), and a dead first URL (the next one is tried). Each case
 * ends with the link and the server closed and uv_loop_close()
 * succeeding. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "link.h"
#include "loop.h"
#include "weft/http.h"
#include "weft/log.h"

#define TOKEN "wn-test.secret"

/* ---- the fake scheduler ---- */

struct fake {
    struct weft_http_server *http;
    int hellos, heartbeats, polls, uploads_done;
    int forget_next_heartbeat; /* answer the next heartbeat with 409 */
    struct weft_hello hello;
    struct weft_heartbeat hb;   /* the last one */
    char cancel[64];            /* sent in the next heartbeat's answer */
    struct weft_buf assignment; /* the next poll's answer; empty: 204 */
    struct weft_buf stream;     /* everything uploaded */
    char stream_job[64];
    int bad_auth;
};

struct env {
    uv_loop_t loop;
    struct weft_log log;
    struct fake f;
    int server_closed, link_closed;
    struct node_link link;
    struct weftd_sched_cfg cfg;
    /* What the link told its owner. */
    int live, polls_done, uploads_done, upload_ok;
    char assignment[4096];
    char cancelled[64];
};

static int stream_body(struct weft_http_req *req, const char *p, size_t n)
{
    struct fake *f = req->data;
    return weft_buf_append(&f->stream, p, n) == 0 ? 0 : WEFT_E2BIG;
}

static int on_headers(struct weft_http_req *req, void *ud)
{
    struct env *e = ud;
    const char *auth = weft_http_header(req, "Authorization");
    if (!auth || strcmp(auth, "Bearer " TOKEN) != 0)
        e->f.bad_auth++;
    if (strncmp(req->path, "/v1/node/jobs/", 14) == 0) {
        snprintf(e->f.stream_job, sizeof e->f.stream_job, "%.*s", (int)strcspn(req->path + 14, "/"),
                 req->path + 14);
        req->data = &e->f;
        req->on_body = stream_body;
    }
    return 0;
}

static void reply(struct weft_http_req *req, int status, struct weft_buf *b)
{
    weft_http_respond(req, status, "application/json", NULL, b->data, b->len);
    weft_buf_free(b);
}

static void on_request(struct weft_http_req *req, void *ud)
{
    struct env *e = ud;
    struct fake *f = &e->f;
    struct weft_buf b;
    weft_buf_init(&b, 1 << 16);
    char err[160];
    if (strcmp(req->path, "/v1/node/hello") == 0) {
        ASSERT_OK(weft_hello_parse(req->body.data, req->body.len, &f->hello, err, sizeof err));
        f->hellos++;
        struct weft_hello_reply r = {.heartbeat_ms = 50, .lease_ms = 150};
        snprintf(r.node, sizeof r.node, "home");
        ASSERT_OK(weft_hello_reply_write(&r, &b));
        reply(req, 200, &b);
    } else if (strcmp(req->path, "/v1/node/heartbeat") == 0) {
        ASSERT_OK(weft_heartbeat_parse(req->body.data, req->body.len, &f->hb, err, sizeof err));
        f->heartbeats++;
        if (f->forget_next_heartbeat) {
            f->forget_next_heartbeat = 0;
            weft_buf_append_str(&b, "{\"error\":{\"code\":\"hello_first\"}}");
            reply(req, 409, &b);
            return;
        }
        struct weft_heartbeat_reply r = {.lease_ms = 150};
        if (f->cancel[0]) {
            snprintf(r.cancel[0], sizeof r.cancel[0], "%s", f->cancel);
            r.n_cancel = 1;
            f->cancel[0] = '\0';
        }
        ASSERT_OK(weft_heartbeat_reply_write(&r, &b));
        reply(req, 200, &b);
    } else if (strcmp(req->path, "/v1/node/work") == 0) {
        f->polls++;
        if (f->assignment.len) {
            weft_buf_append(&b, f->assignment.data, f->assignment.len);
            weft_buf_reset(&f->assignment);
            reply(req, 200, &b);
        } else {
            reply(req, 204, &b);
        }
    } else if (strncmp(req->path, "/v1/node/jobs/", 14) == 0) {
        f->uploads_done++;
        weft_buf_append_str(&b, "{\"ok\":true}\n");
        reply(req, 200, &b);
    } else {
        reply(req, 404, &b);
    }
}

/* ---- the link's owner ---- */

static void cb_live(void *ud)
{
    ((struct env *)ud)->live++;
}

static void cb_heartbeat(void *ud, struct weft_heartbeat *hb)
{
    (void)ud;
    hb->budget_w = 42;
    hb->deferrable = 1;
    hb->pv_w = 3000;
    hb->load_w = hb->grid_w = hb->battery_w = hb->soc = hb->compute_w = NAN;
    snprintf(hb->policy_state, sizeof hb->policy_state, "on");
}

static void cb_assignment(void *ud, const char *body, size_t len)
{
    struct env *e = ud;
    snprintf(e->assignment, sizeof e->assignment, "%.*s", (int)len, body);
}

static void cb_poll_done(void *ud)
{
    ((struct env *)ud)->polls_done++;
}

static void cb_cancel(void *ud, const char *id)
{
    struct env *e = ud;
    snprintf(e->cancelled, sizeof e->cancelled, "%s", id);
}

static void cb_upload_done(void *ud, struct node_job *job, int ok, long status, const char *why)
{
    (void)job;
    (void)why;
    (void)status;
    struct env *e = ud;
    e->uploads_done++;
    e->upload_ok = ok;
}

static void start(struct env *e, int dead_first)
{
    memset(e, 0, sizeof *e);
    ASSERT_OK(uv_loop_init(&e->loop));
    weft_log_init(&e->log, "weftd", 2);
    e->log.level = getenv("TEST_LOG") ? WEFT_LOG_DEBUG : -1;
    weft_buf_init(&e->f.assignment, 1 << 16);
    weft_buf_init(&e->f.stream, 1 << 20);
    struct weft_http_limits lim;
    weft_http_limits_default(&lim);
    struct weft_http_handler h = {.on_headers = on_headers, .on_request = on_request, .ud = e};
    ASSERT_OK(
        weft_http_server_start(&e->f.http, &e->loop, "127.0.0.1", 0, NULL, &lim, &h, &e->log));
    int port = weft_http_server_port(e->f.http);
    int n = 0;
    if (dead_first) /* port 1: nothing listens there */
        snprintf(e->cfg.urls[n++].url, sizeof e->cfg.urls[0].url, "http://127.0.0.1:1");
    snprintf(e->cfg.urls[n++].url, sizeof e->cfg.urls[0].url, "http://127.0.0.1:%d", port);
    e->cfg.n_urls = n;
    snprintf(e->cfg.token, sizeof e->cfg.token, TOKEN);
    e->cfg.poll_wait_s = 1;
    struct weft_hello hello = {.n_models = 1, .max_concurrency = 1};
    snprintf(hello.models[0].name, sizeof hello.models[0].name, "stories260K");
    snprintf(hello.hardware, sizeof hello.hardware, "CPU, 2 threads");
    struct node_link_cb cb = {
        cb_live, cb_heartbeat, cb_assignment, cb_poll_done, cb_cancel, cb_upload_done, e};
    char err[256];
    ASSERT_OK(node_link_init(&e->link, &e->loop, &e->cfg, &e->log, &hello, &cb, err, sizeof err));
    node_link_start(&e->link);
}

static void server_closed(void *arg)
{
    ((struct env *)arg)->server_closed = 1;
}

static void link_closed(void *arg)
{
    ((struct env *)arg)->link_closed = 1;
}

static int all_closed(void *arg)
{
    struct env *e = arg;
    return e->server_closed && e->link_closed;
}

static void stop(struct env *e)
{
    node_link_stop(&e->link);
    node_link_close(&e->link, link_closed, e);
    weft_http_server_close(e->f.http, server_closed, e);
    loop_until(&e->loop, all_closed, e, 3000);
    weft_buf_free(&e->f.assignment);
    weft_buf_free(&e->f.stream);
    LOOP_CLOSE(&e->loop);
    ASSERT_EQ_INT(e->f.bad_auth, 0);
}

/* ---- conditions ---- */

static int is_live(void *arg)
{
    struct env *e = arg;
    return e->live > 0 && e->link.state == NODE_LINK_LIVE;
}

static int two_heartbeats(void *arg)
{
    return ((struct env *)arg)->f.heartbeats >= 2;
}

static int polled(void *arg)
{
    return ((struct env *)arg)->polls_done > 0;
}

static int uploaded(void *arg)
{
    return ((struct env *)arg)->uploads_done > 0;
}

static int cancelled(void *arg)
{
    return ((struct env *)arg)->cancelled[0] != 0;
}

static int hello_again(void *arg)
{
    struct env *e = arg;
    return e->f.hellos >= 2 && e->link.state == NODE_LINK_LIVE;
}

static void push_token(struct node_job *job, int i)
{
    struct weft_event ev;
    char text[16];
    int len = snprintf(text, sizeof text, " w%d", i);
    weft_event_token(&ev, i, i, text, (size_t)len);
    node_job_push(job, &ev);
}

/* ---- cases ---- */

TEST(hello_heartbeats_poll_and_upload)
{
    struct env e;
    start(&e, 0);
    loop_until(&e.loop, is_live, &e, 3000);
    ASSERT_EQ_INT(e.f.hello.n_models, 1);
    ASSERT_EQ_STR(e.f.hello.models[0].name, "stories260K");
    ASSERT_EQ_STR(e.f.hello.hardware, "CPU, 2 threads");
    ASSERT_EQ_STR(node_link_state_name(&e.link), "live");
    /* Heartbeats at the scheduler's interval, with what the owner filled. */
    loop_until(&e.loop, two_heartbeats, &e, 3000);
    ASSERT(e.f.hb.budget_w == 42 && e.f.hb.pv_w == 3000 && e.f.hb.deferrable);
    ASSERT(isnan(e.f.hb.grid_w));
    /* A poll that brings work. */
    struct weft_assignment a = {.max_tokens = 3, .seed = 9, .temperature = 1, .top_p = 1};
    char prompt[] = "Once";
    snprintf(a.job, sizeof a.job, "job-1");
    snprintf(a.model, sizeof a.model, "stories260K");
    a.prompt = prompt;
    ASSERT_OK(weft_assignment_write(&a, &e.f.assignment));
    ASSERT(node_link_can_poll(&e.link));
    node_link_poll(&e.link);
    ASSERT(!node_link_can_poll(&e.link)); /* one poll at a time */
    loop_until(&e.loop, polled, &e, 3000);
    struct weft_assignment got;
    char err[160];
    ASSERT_OK(weft_assignment_parse(e.assignment, strlen(e.assignment), &got, err, sizeof err));
    ASSERT_EQ_STR(got.job, "job-1");
    ASSERT_EQ_UINT(got.seed, 9);
    weft_assignment_free(&got);
    /* Its upload starts before the runner has written anything: it waits
     * (paused), then carries what comes, then ends with the end event. */
    struct node_job *job = node_job_new("job-1");
    ASSERT_OK(node_link_upload(&e.link, job));
    loop_for(&e.loop, 50);
    ASSERT_EQ_INT(e.uploads_done, 0);
    push_token(job, 0);
    push_token(job, 1);
    node_link_upload_wake(&e.link, job);
    loop_for(&e.loop, 50);
    ASSERT_EQ_INT(e.uploads_done, 0);
    push_token(job, 2);
    node_job_end(job, WEFT_END_LENGTH, 1, NULL, NULL);
    node_link_upload_wake(&e.link, job);
    loop_until(&e.loop, uploaded, &e, 3000);
    ASSERT_EQ_INT(e.upload_ok, 1);
    ASSERT_EQ_INT(job->uploaded, 1);
    ASSERT_NULL(job->upload);
    ASSERT_EQ_STR(e.f.stream_job, "job-1");
    /* What arrived is exactly the events, one line each. */
    int lines = 0;
    for (char *p = e.f.stream.data, *nl; p && (nl = strchr(p, '\n')); p = nl + 1, lines++) {
        struct weft_event ev;
        ASSERT_OK(weft_event_parse(p, (size_t)(nl - p), &ev));
        ASSERT_EQ_INT(ev.kind, lines < 3 ? WEFT_EV_TOKEN : WEFT_EV_END);
        if (lines < 3)
            ASSERT_EQ_INT(ev.i, lines);
    }
    ASSERT_EQ_INT(lines, 4);
    node_job_free(job);
    stop(&e);
}

TEST(cancel_in_a_heartbeat_answer_reaches_the_owner)
{
    struct env e;
    start(&e, 0);
    loop_until(&e.loop, is_live, &e, 3000);
    snprintf(e.f.cancel, sizeof e.f.cancel, "cmpl-7");
    loop_until(&e.loop, cancelled, &e, 3000);
    ASSERT_EQ_STR(e.cancelled, "cmpl-7");
    stop(&e);
}

TEST(a_scheduler_that_forgot_the_node_hears_hello_again)
{
    struct env e;
    start(&e, 0);
    loop_until(&e.loop, is_live, &e, 3000);
    e.f.forget_next_heartbeat = 1;
    loop_until(&e.loop, hello_again, &e, 3000);
    ASSERT_EQ_INT(e.live, 2);
    stop(&e);
}

TEST(a_dead_first_url_moves_the_link_to_the_next)
{
    struct env e;
    start(&e, 1);
    loop_until(&e.loop, is_live, &e, 5000);
    ASSERT_EQ_STR(node_link_url(&e.link), e.cfg.urls[1].url);
    ASSERT_EQ_INT(e.f.hellos, 1);
    stop(&e);
}
