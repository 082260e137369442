/* The HTTP client (libcurl multi on libuv) in-process, against Weft's own
 * HTTP server on the same loop: whole bodies, a chunked upload that pauses
 * until there is more, the response bound, a refused connection, a
 * timeout, cancelling, and closing with calls in flight. Each case ends
 * with uv_loop_close() succeeding. */
#include <string.h>

#include "harness.h"
#include "loop.h"
#include "weft/http.h"
#include "weft/http_client.h"
#include "weft/log.h"

struct env {
    uv_loop_t loop;
    struct weft_log log;
    struct weft_http_server *http;
    struct weft_http_client *client;
    char base[64];
    int server_closed, client_closed;
    int aborted;    /* requests whose connection went away unanswered */
    int upload_len; /* bytes /upload took */
};

struct result {
    int done; /* on_done calls */
    int rc;
    long status;
    char body[4096];
    char error[256];
};

/* ---- the server ---- */

static void on_abort(struct weft_http_req *req)
{
    ((struct env *)req->data)->aborted++;
}

static int on_body(struct weft_http_req *req, const char *p, size_t n)
{
    (void)p;
    ((struct env *)req->data)->upload_len += (int)n;
    return 0;
}

static int on_headers(struct weft_http_req *req, void *ud)
{
    req->data = ud;
    req->on_abort = on_abort;
    if (strcmp(req->path, "/upload") == 0)
        req->on_body = on_body;
    return 0;
}

static void on_request(struct weft_http_req *req, void *ud)
{
    struct env *e = ud;
    if (strcmp(req->path, "/park") == 0)
        return; /* never answered: the client's cancel or timeout ends it */
    if (strcmp(req->path, "/big") == 0) {
        static const char big[2000] = {0};
        weft_http_respond(req, 200, "text/plain", NULL, big, sizeof big);
        return;
    }
    if (strcmp(req->path, "/upload") == 0) {
        char n[32];
        int len = snprintf(n, sizeof n, "%d", e->upload_len);
        weft_http_respond(req, 201, "text/plain", NULL, n, (size_t)len);
        return;
    }
    char body[256];
    int len = snprintf(
        body, sizeof body, "%s %s auth=%s body=%.*s", req->method, req->target,
        weft_http_header(req, "Authorization") ? weft_http_header(req, "Authorization") : "-",
        (int)req->body.len, req->body.data ? req->body.data : "");
    weft_http_respond(req, 200, "text/plain", NULL, body, (size_t)len);
}

static void start(struct env *e)
{
    memset(e, 0, sizeof *e);
    ASSERT_OK(uv_loop_init(&e->loop));
    weft_log_init(&e->log, "test", 2);
    e->log.level = -1;
    struct weft_http_limits lim;
    weft_http_limits_default(&lim);
    struct weft_http_handler h = {.on_headers = on_headers, .on_request = on_request, .ud = e};
    ASSERT_OK(weft_http_server_start(&e->http, &e->loop, "127.0.0.1", 0, NULL, &lim, &h, &e->log));
    snprintf(e->base, sizeof e->base, "http://127.0.0.1:%d", weft_http_server_port(e->http));
    ASSERT_OK(weft_http_client_init(&e->client, &e->loop));
}

static void server_closed(void *arg)
{
    ((struct env *)arg)->server_closed = 1;
}

static void client_closed(void *arg)
{
    ((struct env *)arg)->client_closed = 1;
}

static int all_closed(void *arg)
{
    struct env *e = arg;
    return e->server_closed && e->client_closed;
}

static void stop(struct env *e)
{
    weft_http_client_close(e->client, client_closed, e);
    weft_http_server_close(e->http, server_closed, e);
    loop_until(&e->loop, all_closed, e, 3000);
    LOOP_CLOSE(&e->loop);
}

/* ---- calls ---- */

static void on_done(void *ud, const struct weft_http_result *res)
{
    struct result *r = ud;
    r->done++;
    r->rc = res->rc;
    r->status = res->status;
    snprintf(r->body, sizeof r->body, "%.*s", (int)res->len, res->body);
    snprintf(r->error, sizeof r->error, "%s", res->error ? res->error : "");
}

static int is_done(void *arg)
{
    return ((struct result *)arg)->done > 0;
}

static void call(struct env *e, const char *path, struct weft_http_call_opts *o, struct result *r)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", e->base, path);
    o->url = url;
    o->on_done = on_done;
    o->ud = r;
    memset(r, 0, sizeof *r);
    ASSERT_OK(weft_http_call_start(e->client, o, NULL));
}

TEST(get_and_post)
{
    struct env e;
    start(&e);
    struct result a, b;
    struct weft_http_call_opts o = {.bearer = "wn-1.secret"};
    call(&e, "/get?x=1", &o, &a);
    struct weft_http_call_opts p = {.body = "{\"k\":1}", .body_len = 7};
    call(&e, "/post", &p, &b);
    ASSERT_EQ_INT(weft_http_client_calls(e.client), 2);
    loop_until(&e.loop, is_done, &a, 3000);
    loop_until(&e.loop, is_done, &b, 3000);
    ASSERT_OK(a.rc);
    ASSERT_EQ_INT(a.status, 200);
    ASSERT_EQ_STR(a.body, "GET /get?x=1 auth=Bearer wn-1.secret body=");
    ASSERT_EQ_STR(b.body, "POST /post auth=- body={\"k\":1}");
    ASSERT_EQ_INT(weft_http_client_calls(e.client), 0);
    ASSERT_EQ_INT(a.done + b.done, 2); /* once each */
    stop(&e);
}

/* An upload fed in pieces, pausing whenever nothing is there yet. */
struct feeder {
    const char *pieces[4];
    int next;  /* the piece on_upload hands out next */
    int ready; /* pieces that are "there" */
    int pauses;
};

static long feed(void *ud, char *buf, size_t cap)
{
    struct feeder *f = ud;
    if (f->next == 3)
        return 0; /* the end */
    if (f->next >= f->ready) {
        f->pauses++;
        return WEFT_HTTP_UPLOAD_PAUSE;
    }
    size_t n = strlen(f->pieces[f->next]);
    ASSERT(n <= cap);
    memcpy(buf, f->pieces[f->next++], n);
    return (long)n;
}

struct upload {
    struct feeder f;
    struct result r;
};

static void upload_done(void *ud, const struct weft_http_result *res)
{
    on_done(&((struct upload *)ud)->r, res);
}

static int has_pieces(void *arg)
{
    struct env *e = arg;
    return e->upload_len == 4;
}

TEST(chunked_upload_pauses_and_resumes)
{
    struct env e;
    start(&e);
    struct upload u = {.f = {.pieces = {"abcd", "efg", "hi"}, .ready = 1}};
    char url[128];
    snprintf(url, sizeof url, "%s/upload", e.base);
    struct weft_http_call_opts o = {
        .url = url, .on_upload = feed, .on_done = upload_done, .ud = &u};
    struct weft_http_call *c;
    ASSERT_OK(weft_http_call_start(e.client, &o, &c));
    loop_until(&e.loop, has_pieces, &e, 3000);
    ASSERT(u.f.pauses >= 1);
    ASSERT_EQ_INT(u.r.done, 0);
    u.f.ready = 3;
    weft_http_call_resume(c);
    loop_until(&e.loop, is_done, &u.r, 3000);
    ASSERT_OK(u.r.rc);
    ASSERT_EQ_INT(u.r.status, 201);
    ASSERT_EQ_STR(u.r.body, "9");
    stop(&e);
}

TEST(response_past_the_bound_fails)
{
    struct env e;
    start(&e);
    struct result r;
    struct weft_http_call_opts o = {.max_response = 1000};
    call(&e, "/big", &o, &r);
    loop_until(&e.loop, is_done, &r, 3000);
    ASSERT_ERR(r.rc, WEFT_E2BIG);
    ASSERT(r.error[0]);
    struct weft_http_call_opts ok = {.max_response = 2000};
    call(&e, "/big", &ok, &r);
    loop_until(&e.loop, is_done, &r, 3000);
    ASSERT_OK(r.rc);
    stop(&e);
}

TEST(refused_connection_and_timeout)
{
    struct env e;
    start(&e);
    /* A port nobody listens on: the server's, once it has closed. */
    struct result r;
    struct weft_http_call_opts o = {0};
    char url[128];
    snprintf(url, sizeof url, "%s/x", e.base);
    weft_http_server_close(e.http, server_closed, &e);
    o.url = url;
    o.on_done = on_done;
    o.ud = &r;
    memset(&r, 0, sizeof r);
    ASSERT_OK(weft_http_call_start(e.client, &o, NULL));
    loop_until(&e.loop, is_done, &r, 5000);
    ASSERT_ERR(r.rc, WEFT_ECONNREFUSED);
    ASSERT_CONTAINS(r.error, "onnect");
    weft_http_client_close(e.client, client_closed, &e);
    loop_until(&e.loop, all_closed, &e, 3000);
    LOOP_CLOSE(&e.loop);
}

TEST(timeout_ends_a_call)
{
    struct env e;
    start(&e);
    struct result r;
    struct weft_http_call_opts o = {.timeout_s = 1};
    call(&e, "/park", &o, &r);
    loop_until(&e.loop, is_done, &r, 4000);
    ASSERT_ERR(r.rc, WEFT_ETIMEDOUT);
    stop(&e);
}

static int one_aborted(void *arg)
{
    return ((struct env *)arg)->aborted >= 1;
}

static int two_aborted(void *arg)
{
    return ((struct env *)arg)->aborted >= 2;
}

TEST(cancel_and_close_end_calls_without_callbacks)
{
    struct env e;
    start(&e);
    struct result a, b;
    struct weft_http_call_opts o = {0};
    char url[128];
    snprintf(url, sizeof url, "%s/park", e.base);
    o.url = url;
    o.on_done = on_done;
    o.ud = &a;
    memset(&a, 0, sizeof a);
    struct weft_http_call *c;
    ASSERT_OK(weft_http_call_start(e.client, &o, &c));
    loop_for(&e.loop, 100);
    weft_http_call_cancel(c);
    loop_until(&e.loop, one_aborted, &e, 3000); /* the server saw the hang-up */
    ASSERT_EQ_INT(a.done, 0);
    /* A call still parked when the client closes: no callback either. */
    o.ud = &b;
    memset(&b, 0, sizeof b);
    ASSERT_OK(weft_http_call_start(e.client, &o, NULL));
    loop_for(&e.loop, 100);
    weft_http_client_close(e.client, client_closed, &e);
    ASSERT_ERR(weft_http_call_start(e.client, &o, NULL), WEFT_ECLOSED);
    loop_until(&e.loop, two_aborted, &e, 3000);
    ASSERT_EQ_INT(b.done, 0);
    weft_http_server_close(e.http, server_closed, &e);
    loop_until(&e.loop, all_closed, &e, 3000);
    LOOP_CLOSE(&e.loop);
}
