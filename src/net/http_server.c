/* HTTP/1.1 server connections on libuv, with optional TLS; see
 * include/weft/http.h for the request life and the bounds. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/error.h"
#include "weft/http.h"
#include "weft/list.h"
#include "weft/log.h"
#include "weft/tls.h"

#define READ_CHUNK (64 * 1024)
/* Plaintext that arrived while a request is being answered waits here;
 * past STASH_PAUSE the connection stops reading (back-pressure), and
 * STASH_MAX leaves room for what one more read can decrypt. */
#define STASH_PAUSE (128 * 1024)
#define STASH_MAX   (512 * 1024)
/* Replies waiting on one connection past which it takes no next request
 * until they drain (a pipelining peer that does not read). */
#define WRITE_PAUSE (256 * 1024)

enum phase { PH_IDLE, PH_HEADERS, PH_BODY, PH_HANDLER };

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct weft_http_server *srv;
    struct weft_list link; /* in srv->conns until it closes */
    struct weft_tls *tls;
    struct weft_http_parse ps;
    struct weft_http_req *req; /* handed to the handler, not yet ended */
    struct weft_buf stash;
    enum phase phase;
    size_t write_queued;
    int open_handles;
    int closing;
    int close_after; /* close once the queued writes are out */
    int linger;      /* then read and drop the rest for a moment (see finish_close) */
    int shut;
    int broken; /* a write failed: close from the loop, never inside a send */
    uv_shutdown_t shutdown;
    int pumping;
    int reading;
    char peer[64];
};

struct weft_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct weft_tls_ctx *tls;
    struct weft_http_limits lim;
    struct weft_http_handler h;
    const struct weft_log *log;
    struct weft_list conns; /* struct conn, open ones */
    int n_conns;            /* open and closing */
    size_t write_total;     /* replies queued on every connection */
    size_t write_peak;      /* the most since memory was last given back */
    int write_paused;       /* some connection waits for write_total to fall */
    int port;
    int closing;
    int listener_open;
    void (*close_cb)(void *);
    void *close_arg;
    /* Shared by every connection: read callbacks run one at a time on the
     * loop thread and consume the bytes before returning. */
    char rbuf[READ_CHUNK];
    char pbuf[READ_CHUNK];
};

struct wreq {
    uv_write_t w;
    struct conn *c;
    size_t len;
    char data[];
};

/* libuv's codes are -errno on Unix, which is Weft's convention too; only
 * its own end-of-file code needs a name of ours. */
static int from_uv(int rc)
{
    return rc == UV_EOF ? WEFT_ECLOSED : rc;
}

static void conn_close(struct conn *c);
static void pump(struct conn *c);
static void update_reading_on(struct conn *c);
static void on_timer(uv_timer_t *t);

static void maybe_finish_server_close(struct weft_http_server *srv)
{
    if (srv->closing && !srv->listener_open && srv->n_conns == 0) {
        void (*cb)(void *) = srv->close_cb;
        void *arg = srv->close_arg;
        free(srv);
        if (cb)
            cb(arg);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    struct weft_http_server *srv = c->srv;
    weft_buf_free(&c->stash);
    weft_tls_free(c->tls);
    free(c);
    srv->n_conns--;
    maybe_finish_server_close(srv);
}

static void timer_set(struct conn *c, enum phase ph)
{
    c->phase = ph;
    uint64_t ms = 0;
    switch (ph) {
    case PH_IDLE:
        ms = c->srv->lim.idle_timeout_ms;
        break;
    case PH_HEADERS:
        ms = c->srv->lim.header_timeout_ms;
        break;
    case PH_BODY:
        ms = c->srv->lim.body_timeout_ms;
        break;
    case PH_HANDLER:
        break;
    }
    if (c->closing || c->broken)
        return;
    if (ms) {
        uv_timer_start(&c->timer, on_timer, ms, 0);
    } else {
        uv_timer_stop(&c->timer);
    }
}

static void on_linger_timer(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_shutdown(uv_shutdown_t *r, int status)
{
    (void)r;
    (void)status;
}

/* After an error answered mid-request, a client may still be sending its
 * body; closing at once would reset the connection and lose the answer we
 * just wrote. So: send FIN, keep reading (and dropping) for a second, then
 * close, the way web servers "linger". */
static void finish_close(struct conn *c)
{
    if (c->closing)
        return;
    if (!c->linger || c->broken) {
        conn_close(c);
        return;
    }
    if (c->shut)
        return;
    c->shut = 1;
    c->phase = PH_HANDLER;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_linger_timer, 1000, 0);
    update_reading_on(c);
}

static void on_resume_timer(uv_timer_t *t)
{
    struct conn *c = t->data;
    timer_set(c, PH_IDLE);
    pump(c);
}

static void on_broken_timer(uv_timer_t *t)
{
    conn_close(t->data);
}

/* A send failed. Closing here would free a request its handler is still
 * answering (or call its on_abort from inside its own call), so the close
 * waits for the loop's next turn; until then every send is refused. */
static void mark_broken(struct conn *c)
{
    if (c->broken || c->closing)
        return;
    c->broken = 1;
    uv_timer_start(&c->timer, on_broken_timer, 0, 0);
}

static void pump(struct conn *c);

/* Whether c may take its next request: its own replies and everyone's
 * together are under their bounds. */
static int may_take_more(const struct conn *c)
{
    const struct weft_http_server *srv = c->srv;
    return c->write_queued < WRITE_PAUSE &&
           (c->write_queued == 0 || srv->write_total < srv->lim.max_total_write_queue);
}

/* Replies drained: connections that waited for room take requests again. */
static void writes_drained(struct weft_http_server *srv, struct conn *c)
{
    if (!c->closing && !c->close_after && may_take_more(c))
        pump(c);
    if (srv->write_paused && srv->write_total < srv->lim.max_total_write_queue / 2) {
        srv->write_paused = 0;
        struct weft_list *it, *tmp;
        weft_list_foreach_safe(it, tmp, &srv->conns)
        {
            struct conn *o = weft_list_entry(it, struct conn, link);
            if (o != c && !o->closing && !o->close_after && o->stash.len > 0)
                pump(o);
        }
    }
}

/* Once the queues are nearly empty after a burst, freed memory goes back
 * to the system (glibc keeps it otherwise). */
static void give_back(struct weft_http_server *srv)
{
    if (srv->write_peak > 16u * 1024 * 1024 && srv->write_total < 1024 * 1024) {
        srv->write_peak = 0;
        malloc_trim(0);
    }
}

static void on_written(uv_write_t *w, int status)
{
    struct wreq *wr = (struct wreq *)w;
    struct conn *c = wr->c;
    struct weft_http_server *srv = c->srv;
    c->write_queued -= wr->len;
    srv->write_total -= wr->len;
    free(wr);
    give_back(srv); /* also as a closed connection's writes are dropped */
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->close_after && c->write_queued == 0) {
        finish_close(c);
        return;
    }
    writes_drained(srv, c);
}

static int raw_write(struct conn *c, const void *data, size_t len)
{
    if (c->closing || c->broken)
        return WEFT_ECLOSED;
    if (len == 0)
        return 0;
    if (c->write_queued + len > c->srv->lim.max_write_queue) {
        /* A reader this slow would make us hold its whole stream. */
        weft_log_info(c->srv->log, "http: %s reads too slowly, closing", c->peer);
        mark_broken(c);
        return WEFT_ECLOSED;
    }
    struct wreq *wr = malloc(sizeof *wr + len);
    if (!wr) {
        mark_broken(c);
        return WEFT_ENOMEM;
    }
    wr->c = c;
    wr->len = len;
    memcpy(wr->data, data, len);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)len);
    int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc < 0) {
        free(wr);
        mark_broken(c);
        return from_uv(rc);
    }
    c->write_queued += len;
    c->srv->write_total += len;
    if (c->srv->write_total > c->srv->write_peak)
        c->srv->write_peak = c->srv->write_total;
    return 0;
}

static int flush_tls(struct conn *c)
{
    while (c->tls && weft_tls_pending(c->tls) > 0) {
        char out[16 * 1024];
        size_t n = weft_tls_take(c->tls, out, sizeof out);
        if (n == 0)
            break;
        int rc = raw_write(c, out, n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int conn_send(struct conn *c, const void *data, size_t len)
{
    if (c->closing || c->broken)
        return WEFT_ECLOSED;
    if (!c->tls)
        return raw_write(c, data, len);
    int rc = weft_tls_write(c->tls, data, len);
    if (rc < 0) {
        mark_broken(c);
        return rc;
    }
    return flush_tls(c);
}

static void close_soon(struct conn *c)
{
    c->close_after = 1;
    if (c->tls) {
        weft_tls_shutdown(c->tls);
        flush_tls(c);
    }
    if (!c->closing && c->write_queued == 0)
        finish_close(c);
}

/* An answer from the server itself (bad request, timeout) that no handler
 * saw; the connection closes after it. */
static void send_error(struct conn *c, int status, const char *why)
{
    char body[256], head[256];
    int bn = snprintf(body, sizeof body,
                      "{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\","
                      "\"code\":null}}\n",
                      why);
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n",
                      status, weft_http_reason(status), bn);
    weft_log_info(c->srv->log, "http: %s: %d %s", c->peer, status, why);
    c->linger = weft_http_parse_in_request(&c->ps) || c->stash.len > 0 || c->req != NULL;
    if (conn_send(c, head, (size_t)hn) == 0)
        conn_send(c, body, (size_t)bn);
    if (c->srv->h.on_done && c->req == NULL) {
        /* Counted for metrics as a request with no route. */
        struct weft_http_req fake;
        memset(&fake, 0, sizeof fake);
        fake.method = "";
        fake.target = fake.path = fake.query = "";
        memcpy(fake.peer, c->peer, sizeof fake.peer);
        c->srv->h.on_done(&fake, status, c->srv->h.ud);
    }
    close_soon(c);
}

static void on_timer(uv_timer_t *t)
{
    struct conn *c = t->data;
    switch (c->phase) {
    case PH_IDLE:
        conn_close(c);
        break;
    case PH_HEADERS:
        send_error(c, 408, "request headers took too long");
        break;
    case PH_BODY:
        /* The handler owns this request: closing tells it through on_abort. */
        weft_log_info(c->srv->log, "http: %s: request body stalled, closing", c->peer);
        conn_close(c);
        break;
    case PH_HANDLER:
        break;
    }
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->req) {
        struct weft_http_req *req = c->req;
        c->req = NULL;
        req->ended = 1; /* answering from on_abort is refused */
        if (req->on_abort)
            req->on_abort(req);
        weft_http_req_free(req);
    }
    weft_http_parse_free(&c->ps);
    weft_list_remove(&c->link);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* ---- the parser's callbacks ------------------------------------------- */

static int p_on_headers(void *ud, struct weft_http_req *req)
{
    struct conn *c = ud;
    c->req = req;
    req->conn = c;
    memcpy(req->peer, c->peer, sizeof req->peer);
    timer_set(c, PH_BODY);
    int st = c->srv->h.on_headers ? c->srv->h.on_headers(req, c->srv->h.ud) : 0;
    if (st >= 400 || c->closing || c->req != req)
        return st >= 400 ? st : 400;
    const char *expect = weft_http_header(req, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        conn_send(c, cont, sizeof cont - 1);
    }
    return 0;
}

static int p_on_body(void *ud, struct weft_http_req *req, const char *p, size_t n)
{
    struct conn *c = ud;
    if (c->req != req)
        return WEFT_ECLOSED; /* answered already: the rest of its body is not wanted */
    timer_set(c, PH_BODY);
    return req->on_body(req, p, n);
}

static void p_on_complete(void *ud, struct weft_http_req *req)
{
    struct conn *c = ud;
    timer_set(c, PH_HANDLER);
    c->srv->h.on_request(req, c->srv->h.ud);
}

static const struct weft_http_parse_cb parse_cb = {
    .on_headers = p_on_headers,
    .on_body = p_on_body,
    .on_complete = p_on_complete,
};

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    struct conn *c = h->data;
    *b = uv_buf_init(c->srv->rbuf, sizeof c->srv->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* Reading resumes (to drain) even when the stash is full. */
static void update_reading_on(struct conn *c)
{
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
        c->reading = 1;
}

static void update_reading(struct conn *c)
{
    if (c->closing)
        return;
    if (c->stash.len >= STASH_PAUSE && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    } else if (c->stash.len < STASH_PAUSE && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
            c->reading = 1;
    }
}

/* Parses what is stashed, as far as the current request allows. Reentrant
 * calls (a handler answering synchronously) only let the outer loop go on. */
static void pump(struct conn *c)
{
    if (c->pumping)
        return;
    c->pumping = 1;
    while (!c->closing && !c->close_after && !c->broken) {
        if (c->ps.error_status) {
            if (!c->ps.gone)
                send_error(c, c->ps.error_status, c->ps.why ? c->ps.why : "bad request");
            break;
        }
        if (c->ps.complete || c->stash.len == 0)
            break;
        if (c->phase == PH_IDLE && !may_take_more(c)) {
            /* Back-pressure: the next request waits for our replies to
             * drain; the stash fills and reading stops. */
            if (c->write_queued > 0 && c->srv->write_total >= c->srv->lim.max_total_write_queue)
                c->srv->write_paused = 1;
            break;
        }
        if (c->phase == PH_IDLE)
            timer_set(c, PH_HEADERS);
        size_t n = weft_http_parse_feed(&c->ps, c->stash.data, c->stash.len);
        weft_buf_consume(&c->stash, n);
        if (n == 0 && !c->ps.error_status && !c->ps.complete)
            break;
    }
    c->pumping = 0;
    update_reading(c);
}

static void take_plain(struct conn *c, const char *p, size_t n)
{
    if (weft_buf_append(&c->stash, p, n) != 0) {
        send_error(c, 413, "too much pipelined input");
        return;
    }
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        /* EOF or a reset: a request still being answered is aborted, which
         * is how a node's death or a client's hang-up becomes visible. */
        conn_close(c);
        return;
    }
    if (c->closing || c->close_after || c->broken)
        return;
    if (!c->tls) {
        take_plain(c, b->base, (size_t)nread);
    } else {
        if (weft_tls_feed(c->tls, b->base, (size_t)nread) != 0) {
            conn_close(c);
            return;
        }
        for (;;) {
            int n = weft_tls_read(c->tls, c->srv->pbuf, sizeof c->srv->pbuf);
            if (n > 0) {
                take_plain(c, c->srv->pbuf, (size_t)n);
                if (c->closing || c->close_after)
                    return;
                continue;
            }
            if (n == WEFT_ETLS) {
                weft_log_info(c->srv->log, "http: %s: TLS: %s", c->peer,
                              weft_tls_last_error(c->tls));
                flush_tls(c); /* the alert, if any */
                close_soon(c);
                return;
            }
            if (n == WEFT_ECLOSED) {
                close_soon(c);
                return;
            }
            break;
        }
        if (flush_tls(c) < 0)
            return;
    }
    pump(c);
}

static void on_connection(uv_stream_t *ls, int status)
{
    struct weft_http_server *srv = ls->data;
    if (status < 0 || srv->closing)
        return;
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    weft_list_init(&c->link);
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open_handles = 2;
    srv->n_conns++;
    weft_list_push_front(&srv->conns, &c->link);
    weft_buf_init(&c->stash, STASH_MAX);
    weft_http_parse_init(&c->ps, &srv->lim, &parse_cb, c);
    snprintf(c->peer, sizeof c->peer, "?");
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0) {
        char ip[48] = "?";
        int port = 0;
        if (sa.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&sa;
            uv_ip4_name(in, ip, sizeof ip);
            port = ntohs(in->sin_port);
            snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
        } else if (sa.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
            uv_ip6_name(in6, ip, sizeof ip);
            port = ntohs(in6->sin6_port);
            snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip, port);
        }
    }
    if (srv->n_conns > srv->lim.max_connections) {
        weft_log_warn(srv->log, "http: %d connections open, refusing %s", srv->n_conns - 1,
                      c->peer);
        conn_close(c);
        return;
    }
    if (srv->tls && weft_tls_new(&c->tls, srv->tls) != 0) {
        conn_close(c);
        return;
    }
    /* Token streams are many small writes; Nagle would hold them back. */
    uv_tcp_nodelay(&c->tcp, 1);
    timer_set(c, PH_HEADERS);
    update_reading(c);
}

int weft_listen_split(const char *spec, char *host, size_t hostcap, int *port, char *err,
                      size_t errcap)
{
    *port = -1;
    const char *h = spec, *colon = NULL;
    size_t hl;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close) {
            snprintf(err, errcap, "%s: an IPv6 address opened with [ is not closed with ]", spec);
            return WEFT_EINVAL;
        }
        h = spec + 1;
        hl = (size_t)(close - h);
        if (close[1] == ':')
            colon = close + 1;
        else if (close[1]) {
            snprintf(err, errcap, "%s: after ] comes :PORT or nothing", spec);
            return WEFT_EINVAL;
        }
    } else {
        const char *first = strchr(spec, ':');
        /* One colon: HOST:PORT; more: a bare IPv6 address, no port. */
        colon = first && !strchr(first + 1, ':') ? first : NULL;
        hl = colon ? (size_t)(colon - spec) : strlen(spec);
    }
    if (hl == 0 || hl >= hostcap) {
        snprintf(err, errcap, "%s: %s", spec, hl ? "the address is too long" : "no address");
        return WEFT_EINVAL;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end || p < 0 || p > 65535) {
            snprintf(err, errcap, "%s: the port must be 0..65535", spec);
            return WEFT_EINVAL;
        }
        *port = (int)p;
    }
    return 0;
}

int weft_http_server_start(struct weft_http_server **out, uv_loop_t *loop, const char *host,
                           int port, struct weft_tls_ctx *tls, const struct weft_http_limits *lim,
                           const struct weft_http_handler *handler, const struct weft_log *log)
{
    struct sockaddr_storage sa;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0)
        return WEFT_EINVAL;
    struct weft_http_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return WEFT_ENOMEM;
    srv->loop = loop;
    srv->tls = tls;
    srv->lim = *lim;
    srv->h = *handler;
    srv->log = log;
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    srv->listener_open = 1;
    weft_list_init(&srv->conns);
    int rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc < 0) {
        srv->closing = 1;
        uv_close((uv_handle_t *)&srv->listener, NULL);
        /* The handle must outlive uv_close; the loop frees nothing of ours,
         * so run it once to let the close finish before freeing. */
        uv_run(loop, UV_RUN_NOWAIT);
        free(srv);
        return from_uv(rc);
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &blen);
    srv->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                            : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    *out = srv;
    return 0;
}

int weft_http_server_port(const struct weft_http_server *srv)
{
    return srv->port;
}

int weft_http_server_connections(const struct weft_http_server *srv)
{
    return srv->n_conns;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct weft_http_server *srv = h->data;
    srv->listener_open = 0;
    maybe_finish_server_close(srv);
}

void weft_http_server_close(struct weft_http_server *srv, void (*cb)(void *arg), void *arg)
{
    srv->closing = 1;
    srv->close_cb = cb;
    srv->close_arg = arg;
    while (!weft_list_empty(&srv->conns))
        conn_close(weft_list_entry(srv->conns.next, struct conn, link));
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
}

/* ---- responses --------------------------------------------------------- */

static int keep_open(struct conn *c, struct weft_http_req *req)
{
    return req->keep_alive && c->ps.complete && !c->ps.error_status && !c->srv->closing;
}

static int send_head(struct weft_http_req *req, int status, const char *ctype, const char *extra,
                     const char *framing, int keep)
{
    struct conn *c = req->conn;
    char head[2048];
    int n = snprintf(head, sizeof head, "HTTP/1.%d %d %s\r\n%s%s%s%s%sConnection: %s\r\n\r\n",
                     req->http_minor ? 1 : 0, status, weft_http_reason(status),
                     ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                     framing, extra ? extra : "", keep ? "keep-alive" : "close");
    if (n < 0 || (size_t)n >= sizeof head)
        return WEFT_E2BIG;
    req->status = status;
    return conn_send(c, head, (size_t)n);
}

static void finish(struct weft_http_req *req, int keep)
{
    struct conn *c = req->conn;
    req->ended = 1;
    if (c->srv->h.on_done)
        c->srv->h.on_done(req, req->status, c->srv->h.ud);
    if (c->req == req)
        c->req = NULL;
    if (!c->ps.complete) {
        /* Answered before the request ended (a refusal mid-body): the
         * parser must not reach the request again, and the connection
         * cannot be reused. */
        weft_http_parse_abandon(&c->ps);
        keep = 0;
    }
    weft_http_req_free(req);
    if (c->closing)
        return;
    if (!keep || c->broken) {
        close_soon(c);
        return;
    }
    weft_http_parse_next(&c->ps);
    timer_set(c, PH_IDLE);
    /* A pipelined request waits for the loop's next turn: parsing it here
     * would run its handler inside the one answering now. */
    if (c->stash.len > 0 && !c->broken)
        uv_timer_start(&c->timer, on_resume_timer, 0, 0);
}

int weft_http_respond(struct weft_http_req *req, int status, const char *content_type,
                      const char *extra_headers, const void *body, size_t len)
{
    if (req->ended || req->streaming)
        return WEFT_ECLOSED;
    struct conn *c = req->conn;
    int keep = keep_open(c, req);
    char framing[48];
    snprintf(framing, sizeof framing, "Content-Length: %zu\r\n", len);
    int rc = send_head(req, status, content_type, extra_headers, framing, keep);
    if (rc == 0 && len > 0 && strcmp(req->method, "HEAD") != 0)
        rc = conn_send(c, body, len);
    req->bytes_out = len;
    finish(req, keep && rc == 0);
    return rc;
}

int weft_http_stream_begin(struct weft_http_req *req, int status, const char *content_type,
                           const char *extra_headers)
{
    if (req->ended || req->streaming)
        return WEFT_ECLOSED;
    req->streaming = 1;
    int chunked = req->http_minor >= 1;
    struct conn *c = req->conn;
    return send_head(req, status, content_type, extra_headers,
                     chunked ? "Transfer-Encoding: chunked\r\n" : "", chunked && keep_open(c, req));
}

int weft_http_stream_write(struct weft_http_req *req, const void *data, size_t len)
{
    if (req->ended || !req->streaming)
        return WEFT_ECLOSED;
    if (len == 0)
        return 0;
    struct conn *c = req->conn;
    req->bytes_out += len;
    if (req->http_minor == 0)
        return conn_send(c, data, len);
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    int rc = conn_send(c, size, (size_t)n);
    if (rc == 0)
        rc = conn_send(c, data, len);
    if (rc == 0)
        rc = conn_send(c, "\r\n", 2);
    return rc;
}

int weft_http_stream_end(struct weft_http_req *req)
{
    if (req->ended || !req->streaming)
        return WEFT_ECLOSED;
    struct conn *c = req->conn;
    int keep = req->http_minor >= 1 && keep_open(c, req);
    int rc = 0;
    if (req->http_minor >= 1)
        rc = conn_send(c, "0\r\n\r\n", 5);
    finish(req, keep && rc == 0);
    return rc;
}
