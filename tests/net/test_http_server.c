/* The HTTP/1.1 server in-process: a libuv loop, the server on port 0 and
 * raw TCP clients that send exact bytes. Requests and keep-alive,
 * pipelining, streamed responses, a parked request whose client hangs up,
 * and every bound (header bytes, body bytes, header time, idle time, body
 * silence, connections). Each case ends with the server closed and
 * uv_loop_close() succeeding. */
#include <string.h>

#include "harness.h"
#include "loop.h"
#include "weft/http.h"
#include "weft/log.h"

struct srv {
    uv_loop_t loop;
    struct weft_log log;
    struct weft_http_server *http;
    int closed;
    int done;       /* responses counted by on_done */
    int aborted;    /* on_abort calls */
    int body_bytes; /* taken by on_body */
    struct weft_http_req *parked;
};

static void on_abort(struct weft_http_req *req)
{
    struct srv *s = req->data;
    s->aborted++;
    if (s->parked == req)
        s->parked = NULL;
}

static int on_body(struct weft_http_req *req, const char *p, size_t n)
{
    (void)p;
    struct srv *s = req->data;
    s->body_bytes += (int)n;
    return 0;
}

static int on_headers(struct weft_http_req *req, void *ud)
{
    struct srv *s = ud;
    if (strcmp(req->path, "/upload") == 0) {
        req->data = s;
        req->on_body = on_body;
        req->on_abort = on_abort;
    }
    return 0;
}

static void on_request(struct weft_http_req *req, void *ud)
{
    struct srv *s = ud;
    if (strcmp(req->path, "/hello") == 0) {
        weft_http_respond(req, 200, "text/plain", NULL, "hi", 2);
    } else if (strcmp(req->path, "/echo") == 0) {
        weft_http_respond(req, 200, "text/plain", NULL, req->body.data, req->body.len);
    } else if (strcmp(req->path, "/park") == 0) {
        req->data = s;
        req->on_abort = on_abort;
        s->parked = req;
    } else if (strcmp(req->path, "/stream") == 0) {
        weft_http_stream_begin(req, 200, "text/plain", NULL);
        weft_http_stream_write(req, "abc", 3);
        weft_http_stream_write(req, "defgh", 5);
        weft_http_stream_end(req);
    } else if (strcmp(req->path, "/upload") == 0) {
        char n[32];
        int len = snprintf(n, sizeof n, "%d", s->body_bytes);
        weft_http_respond(req, 200, "text/plain", NULL, n, (size_t)len);
    } else {
        weft_http_respond(req, 404, "text/plain", NULL, "no", 2);
    }
}

static void on_done(const struct weft_http_req *req, int status, void *ud)
{
    (void)req;
    (void)status;
    struct srv *s = ud;
    s->done++;
}

static void start(struct srv *s, void (*tune)(struct weft_http_limits *))
{
    memset(s, 0, sizeof *s);
    ASSERT_OK(uv_loop_init(&s->loop));
    weft_log_init(&s->log, "test", 2);
    s->log.level = -1; /* quiet */
    struct weft_http_limits lim;
    weft_http_limits_default(&lim);
    if (tune)
        tune(&lim);
    struct weft_http_handler h = {
        .on_headers = on_headers, .on_request = on_request, .on_done = on_done, .ud = s};
    ASSERT_OK(weft_http_server_start(&s->http, &s->loop, "127.0.0.1", 0, NULL, &lim, &h, &s->log));
    ASSERT(weft_http_server_port(s->http) > 0);
}

static void on_closed(void *arg)
{
    ((struct srv *)arg)->closed = 1;
}

static int srv_closed(void *arg)
{
    return ((struct srv *)arg)->closed;
}

static void stop(struct srv *s, struct raw_client *clients, int n)
{
    for (int i = 0; i < n; i++)
        raw_close(&clients[i]);
    weft_http_server_close(s->http, on_closed, s);
    loop_until(&s->loop, srv_closed, s, 2000);
    LOOP_CLOSE(&s->loop);
}

/* ---- conditions ---- */

struct want {
    struct raw_client *c;
    int n;
};

static int has_responses(void *arg)
{
    struct want *w = arg;

    return raw_responses(w->c) >= w->n && w->c->in.data &&
           strstr(w->c->in.data, "\r\n\r\n") != NULL;
}

static int has_text(void *arg)
{
    struct raw_client *c = arg;
    return c->in.data && strstr(c->in.data, "0\r\n\r\n") != NULL;
}

static int is_aborted(void *arg)
{
    return ((struct srv *)arg)->aborted > 0;
}

static int is_parked(void *arg)
{
    return ((struct srv *)arg)->parked != NULL;
}

static void wait_responses(struct srv *s, struct raw_client *c, int n)
{
    struct want w = {c, n};
    loop_until(&s->loop, has_responses, &w, 3000);
}

/* ---- cases ---- */

TEST(listen_addresses_as_people_write_them)
{
    char host[64], err[160];
    int port;
    ASSERT_OK(weft_listen_split("127.0.0.1", host, sizeof host, &port, err, sizeof err));
    ASSERT_EQ_STR(host, "127.0.0.1");
    ASSERT_EQ_INT(port, -1);
    ASSERT_OK(weft_listen_split("127.0.0.1:8443", host, sizeof host, &port, err, sizeof err));
    ASSERT_EQ_STR(host, "127.0.0.1");
    ASSERT_EQ_INT(port, 8443);
    ASSERT_OK(weft_listen_split("[::1]:9", host, sizeof host, &port, err, sizeof err));
    ASSERT_EQ_STR(host, "::1");
    ASSERT_EQ_INT(port, 9);
    ASSERT_OK(weft_listen_split("[::]", host, sizeof host, &port, err, sizeof err));
    ASSERT_EQ_STR(host, "::");
    ASSERT_EQ_INT(port, -1);
    ASSERT_OK(weft_listen_split("fe80::1", host, sizeof host, &port, err, sizeof err));
    ASSERT_EQ_STR(host, "fe80::1");
    ASSERT_EQ_INT(port, -1);
    const char *bad[] = {"[::1", "[::1]x", "127.0.0.1:", "127.0.0.1:70000", ":80", "h:-1", "h:8x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ_INT(weft_listen_split(bad[i], host, sizeof host, &port, err, sizeof err),
                      WEFT_EINVAL);
}

TEST(request_and_keep_alive)
{
    struct srv s;
    start(&s, NULL);
    struct raw_client c;
    raw_connect(&c, &s.loop, weft_http_server_port(s.http));
    loop_until(&s.loop, raw_is_connected, &c, 2000);
    raw_send_str(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_responses(&s, &c, 1);
    loop_for(&s.loop, 20);
    ASSERT_CONTAINS(c.in.data, "HTTP/1.1 200 OK\r\n");
    ASSERT_CONTAINS(c.in.data, "Content-Length: 2\r\n");
    ASSERT_CONTAINS(c.in.data, "Connection: keep-alive\r\n");
    ASSERT(strcmp(c.in.data + c.in.len - 2, "hi") == 0);
    /* The same connection takes the next request. */
    raw_send_str(&c, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_responses(&s, &c, 2);
    ASSERT_CONTAINS(c.in.data, "HTTP/1.1 404 Not Found\r\n");
    ASSERT_EQ_INT(weft_http_server_connections(s.http), 1);
    ASSERT(!c.eof);
    ASSERT_EQ_INT(s.done, 2);
    stop(&s, &c, 1);
}

TEST(pipelined_requests_are_answered_in_order)
{
    struct srv s;
    start(&s, NULL);
    struct raw_client c;
    raw_connect(&c, &s.loop, weft_http_server_port(s.http));
    raw_send_str(&c, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nfirst"
                     "POST /echo HTTP/1.1\r\nContent-Length: 6\r\n\r\nsecond"
                     "GET /hello HTTP/1.1\r\n\r\n");
    wait_responses(&s, &c, 3);
    loop_for(&s.loop, 20);
    const char *a = strstr(c.in.data, "\r\n\r\nfirst");
    const char *b = strstr(c.in.data, "\r\n\r\nsecond");
    const char *h = strstr(c.in.data, "\r\n\r\nhi");
    ASSERT(a && b && h && a < b && b < h);
    ASSERT_EQ_INT(s.done, 3);
    stop(&s, &c, 1);
}

TEST(streamed_response_is_chunked)
{
    struct srv s;
    start(&s, NULL);
    struct raw_client c;
    raw_connect(&c, &s.loop, weft_http_server_port(s.http));
    raw_send_str(&c, "GET /stream HTTP/1.1\r\n\r\n");
    loop_until(&s.loop, has_text, &c, 3000);
    ASSERT_CONTAINS(c.in.data, "Transfer-Encoding: chunked\r\n");
    ASSERT_CONTAINS(c.in.data, "\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n");
    stop(&s, &c, 1);
}

TEST(streamed_request_body_reaches_on_body)
{
    struct srv s;
    start(&s, NULL);
    struct raw_client c;
    raw_connect(&c, &s.loop, weft_http_server_port(s.http));
    raw_send_str(&c, "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "4\r\nabcd\r\n");
    loop_for(&s.loop, 50);
    ASSERT_EQ_INT(s.body_bytes, 4);
    raw_send_str(&c, "6\r\nefghij\r\n0\r\n\r\n");
    wait_responses(&s, &c, 1);
    loop_for(&s.loop, 20);
    ASSERT(strcmp(c.in.data + c.in.len - 2, "10") == 0);
    ASSERT_EQ_INT(s.aborted, 0);
    stop(&s, &c, 1);
}

TEST(hangup_aborts_a_parked_request)
{
    struct srv s;
    start(&s, NULL);
    struct raw_client c;
    raw_connect(&c, &s.loop, weft_http_server_port(s.http));
    raw_send_str(&c, "GET /park HTTP/1.1\r\n\r\n");
    loop_until(&s.loop, is_parked, &s, 3000);
    raw_close(&c);
    loop_until(&s.loop, is_aborted, &s, 3000);
    ASSERT_NULL(s.parked);
    ASSERT_EQ_INT(s.done, 0);
    stop(&s, NULL, 0);
}

static void small_headers(struct weft_http_limits *l)
{
    l->max_header_bytes = 1024;
}

TEST(header_bound_gives_431_and_a_close)
{
    struct srv s;
    start(&s, small_headers);
    struct raw_client c;
    raw_connect(&c, &s.loop, weft_http_server_port(s.http));
    char big[2100];
    memset(big, 'a', sizeof big);
    raw_send_str(&c, "GET /hello HTTP/1.1\r\nX-Big: ");
    raw_send(&c, big, sizeof big);
    raw_send_str(&c, "\r\n\r\n");
    loop_until(&s.loop, raw_saw_eof, &c, 3000);
    ASSERT_CONTAINS(c.in.data, "HTTP/1.1 431 ");
    ASSERT_CONTAINS(c.in.data, "Connection: close\r\n");
    stop(&s, &c, 1);
}

static void small_body(struct weft_http_limits *l)
{
    l->max_body_bytes = 100;
}

TEST(body_bound_gives_413)
{
    struct srv s;
    start(&s, small_body);
    struct raw_client c;
    raw_connect(&c, &s.loop, weft_http_server_port(s.http));
    char body[200];
    memset(body, 'b', sizeof body);
    raw_send_str(&c, "POST /echo HTTP/1.1\r\nContent-Length: 200\r\n\r\n");
    raw_send(&c, body, sizeof body);
    loop_until(&s.loop, raw_saw_eof, &c, 3000);
    ASSERT_CONTAINS(c.in.data, "HTTP/1.1 413 ");
    /* The server is still there for the next client. */
    struct raw_client d;
    raw_connect(&d, &s.loop, weft_http_server_port(s.http));
    raw_send_str(&d, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    wait_responses(&s, &d, 1);
    loop_for(&s.loop, 20);
    ASSERT_CONTAINS(d.in.data, "\r\n\r\nabc");
    raw_close(&c);
    stop(&s, &d, 1);
}

static void short_times(struct weft_http_limits *l)
{
    l->header_timeout_ms = 150;
    l->idle_timeout_ms = 150;
    l->body_timeout_ms = 150;
}

TEST(slow_headers_get_408)
{
    struct srv s;
    start(&s, short_times);
    struct raw_client c;
    raw_connect(&c, &s.loop, weft_http_server_port(s.http));
    raw_send_str(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    uv_update_time(&s.loop);
    uint64_t t0 = uv_now(&s.loop);
    loop_until(&s.loop, raw_saw_eof, &c, 3000);
    ASSERT_CONTAINS(c.in.data, "HTTP/1.1 408 ");
    ASSERT_GE_INT(uv_now(&s.loop) - t0, 140); /* not before its time */
    stop(&s, &c, 1);
}

TEST(idle_keep_alive_connection_is_closed)
{
    struct srv s;
    start(&s, short_times);
    struct raw_client c;
    raw_connect(&c, &s.loop, weft_http_server_port(s.http));
    raw_send_str(&c, "GET /hello HTTP/1.1\r\n\r\n");
    wait_responses(&s, &c, 1);
    loop_until(&s.loop, raw_saw_eof, &c, 3000);
    ASSERT_EQ_INT(raw_responses(&c), 1);
    stop(&s, &c, 1);
}

TEST(stalled_streamed_body_is_aborted)
{
    struct srv s;
    start(&s, short_times);
    struct raw_client c;
    raw_connect(&c, &s.loop, weft_http_server_port(s.http));
    raw_send_str(&c, "POST /upload HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly a part");
    loop_until(&s.loop, is_aborted, &s, 3000);
    loop_until(&s.loop, raw_saw_eof, &c, 3000);
    ASSERT_EQ_INT(s.body_bytes, 11);
    ASSERT_EQ_INT(s.done, 0);
    stop(&s, &c, 1);
}

static void two_connections(struct weft_http_limits *l)
{
    l->max_connections = 2;
}

TEST(connections_past_the_bound_are_closed)
{
    struct srv s;
    start(&s, two_connections);
    struct raw_client c[3];
    for (int i = 0; i < 3; i++) {
        raw_connect(&c[i], &s.loop, weft_http_server_port(s.http));
        loop_until(&s.loop, raw_is_connected, &c[i], 2000);
        loop_for(&s.loop, 20); /* accepted in order */
    }
    loop_until(&s.loop, raw_saw_eof, &c[2], 3000);
    ASSERT_EQ_INT(weft_http_server_connections(s.http), 2);
    for (int i = 0; i < 2; i++) {
        raw_send_str(&c[i], "GET /hello HTTP/1.1\r\n\r\n");
        wait_responses(&s, &c[i], 1);
        ASSERT(!c[i].eof);
    }
    ASSERT_EQ_INT(raw_responses(&c[2]), 0);
    stop(&s, c, 3);
}
