/* Loop helpers for unit tests; see loop.h. */
#include "loop.h"

#include <stdlib.h>
#include <string.h>

static void on_tick(uv_timer_t *t)
{
    (void)t; /* only keeps the loop turning */
}

static void tick_closed(uv_handle_t *h)
{
    *(int *)h->data = 1;
}

/* A timer that makes each uv_run(ONCE) return within 5 ms. */
struct ticker {
    uv_timer_t t;
    int closed;
};

static void ticker_start(struct ticker *k, uv_loop_t *loop)
{
    k->closed = 0;
    uv_timer_init(loop, &k->t);
    k->t.data = &k->closed;
    uv_timer_start(&k->t, on_tick, 5, 5);
}

static void ticker_stop(struct ticker *k, uv_loop_t *loop)
{
    uv_close((uv_handle_t *)&k->t, tick_closed);
    while (!k->closed)
        uv_run(loop, UV_RUN_ONCE);
}

void loop_until_(uv_loop_t *loop, int (*cond)(void *), void *arg, int timeout_ms, const char *what,
                 const char *file, int line)
{
    struct ticker k;
    ticker_start(&k, loop);
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + (uint64_t)timeout_ms;
    while (!cond(arg)) {
        if (uv_now(loop) > end) {
            fprintf(stderr, "%s:%d: %s still false after %d ms\n", file, line, what, timeout_ms);
            exit(1);
        }
        uv_run(loop, UV_RUN_ONCE);
    }
    ticker_stop(&k, loop);
}

void loop_for(uv_loop_t *loop, int ms)
{
    struct ticker k;
    ticker_start(&k, loop);
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + (uint64_t)ms;
    while (uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    ticker_stop(&k, loop);
}

static void list_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    fprintf(stderr, "  open: %s%s\n", uv_handle_type_name(uv_handle_get_type(h)),
            uv_is_closing(h) ? " (closing)" : "");
}

void loop_close_(uv_loop_t *loop, const char *file, int line)
{
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + 1000;
    while (uv_loop_alive(loop) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_NOWAIT), uv_sleep(1), uv_update_time(loop);
    int rc = uv_loop_close(loop);
    if (rc != 0) {
        fprintf(stderr, "%s:%d: uv_loop_close: %s; handles left:\n", file, line, uv_strerror(rc));
        uv_walk(loop, list_handle, NULL);
        exit(1);
    }
}

/* ---- raw client ------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    struct raw_client *c = h->data;
    *b = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct raw_client *c = s->data;
    if (n > 0) {
        if (weft_buf_append(&c->in, b->base, (size_t)n) != 0)
            TEST_FAIL_("raw client: more than %zu bytes from the server", c->in.max);
    } else if (n < 0) {
        c->eof = 1;
        uv_read_stop(s);
    }
}

static void on_connect(uv_connect_t *r, int status)
{
    struct raw_client *c = r->data;
    if (status < 0) {
        c->status = status;
        c->eof = 1;
        return;
    }
    c->connected = 1;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void raw_connect(struct raw_client *c, uv_loop_t *loop, int port)
{
    memset(c, 0, sizeof *c);
    weft_buf_init(&c->in, 64u << 20);
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", port, &sa);
    int rc = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&sa, on_connect);
    if (rc)
        TEST_FAIL_("uv_tcp_connect: %s", uv_strerror(rc));
}

struct wr {
    uv_write_t w;
    char data[];
};

static void on_written(uv_write_t *w, int status)
{
    (void)status; /* a server that closed early is what some cases test */
    free(w);
}

void raw_send(struct raw_client *c, const void *data, size_t len)
{
    struct wr *w = malloc(sizeof *w + len);
    if (!w)
        TEST_FAIL_("out of memory");
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
        free(w);
}

void raw_send_str(struct raw_client *c, const char *s)
{
    raw_send(c, s, strlen(s));
}

static void on_closed(uv_handle_t *h)
{
    struct raw_client *c = h->data;
    c->closed = 1;
    weft_buf_free(&c->in);
}

void raw_close(struct raw_client *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

int raw_responses(const struct raw_client *c)
{
    /* A status line: "HTTP/1.x NNN " (a response follows its predecessor's
     * body directly, so not necessarily at a line start). */
    int n = 0;
    for (const char *p = c->in.data; p && (p = strstr(p, "HTTP/1.")) != NULL; p += 7)
        if (strlen(p) >= 13 && p[8] == ' ' && p[9] >= '1' && p[9] <= '5' && p[12] == ' ')
            n++;
    return n;
}

int raw_is_connected(void *c)
{
    return ((struct raw_client *)c)->connected;
}

int raw_saw_eof(void *c)
{
    return ((struct raw_client *)c)->eof;
}

int raw_is_closed(void *c)
{
    return ((struct raw_client *)c)->closed;
}
