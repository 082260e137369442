/* HTTP/1.1 server on libuv, with optional TLS, parsed by libhttp-parser.
 *
 * Two layers:
 *   - weft_http_parse_*: the bounded request parser (no I/O, no libuv), so
 *     a fuzz target can drive it with arbitrary bytes;
 *   - weft_http_server_*: connections, TLS, timeouts, responses.
 *
 * Request life: the server allocates a struct weft_http_req when a request
 * starts. handler.on_headers sees it once the headers are complete; it may
 * reject it (return a status >= 400), raise req->body.max for a body larger
 * than max_body_bytes (an upload), or set req->on_body to take the body
 * as it arrives instead of having it buffered, and req->on_abort to learn
 * that the connection went away. handler.on_request sees it when the whole
 * request is in. The handler answers then or later (a long poll, a stream)
 * with weft_http_respond() or weft_http_stream_*(). The request stays valid
 * until the response has ended or on_abort has returned; after that the
 * server frees it and the handler must drop every pointer to it.
 *
 * Bounds: header bytes, buffered and streamed body bytes, time to the end of
 * the headers, silence inside a body, keep-alive idle time, bytes queued to
 * a slow reader, open connections. Past one: 431/413/408 with
 * "Connection: close", or a plain close, and the server goes on.
 *
 * Thread-safety: everything here runs on the loop thread that started the
 * server. The parser layer is reentrant.
 */
#ifndef WEFT_HTTP_H
#define WEFT_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "weft/buf.h"

struct weft_tls_ctx;
struct weft_log;

#define WEFT_HTTP_MAX_HEADERS 64

struct weft_http_limits {
    size_t max_header_bytes;    /* request line + headers; default 16 KiB */
    size_t max_body_bytes;      /* a buffered body; default 1 MiB */
    size_t max_stream_bytes;    /* a body taken by on_body; default 64 MiB */
    uint32_t header_timeout_ms; /* first byte to end of headers; default 10 s */
    uint32_t body_timeout_ms;   /* longest silence inside a body; default 60 s */
    uint32_t idle_timeout_ms;   /* keep-alive wait for the next request; default 75 s */
    size_t max_write_queue;     /* bytes queued to a slow reader; default 8 MiB */
    /* Replies queued on all connections together. Past it (or past 256 KiB
     * on one connection) the server stops taking pipelined requests from
     * connections that have replies waiting, so peers that send without
     * reading cannot grow its memory; default 64 MiB. */
    size_t max_total_write_queue;
    int max_connections; /* default 4096 */
};

/* Fills lim with the defaults above. */
void weft_http_limits_default(struct weft_http_limits *lim);

struct weft_http_header {
    const char *name; /* as sent; compare with strcasecmp */
    const char *value;
};

struct weft_http_req {
    const char *method; /* "GET", "POST"...: static, never freed */
    const char *target; /* request target as sent */
    const char *path;   /* target up to '?' */
    const char *query;  /* after '?', or "" */
    struct weft_http_header headers[WEFT_HTTP_MAX_HEADERS];
    int n_headers;
    int http_minor;       /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
    int keep_alive;       /* the client wants to keep the connection */
    struct weft_buf body; /* the body, unless on_body takes it */
    uint64_t start_ms;    /* monotonic time the request began */
    char peer[64];        /* "127.0.0.1:53422" */

    /* Set by the handler in on_headers (all optional). */
    void *data;
    /* Takes body bytes as they arrive instead of buffering them; a negative
     * return ends the request with 400 and closes the connection. */
    int (*on_body)(struct weft_http_req *req, const char *p, size_t n);
    /* The connection closed (or failed) before the response ended. */
    void (*on_abort)(struct weft_http_req *req);

    /* Parser layer, private. */
    struct weft_buf raw; /* target and header strings */
    size_t hdr_off[WEFT_HTTP_MAX_HEADERS][2];
    /* Server layer, private. */
    void *conn;
    int status;
    int streaming;
    int ended;
    size_t bytes_out;
};

/* ---- Parser layer ---------------------------------------------------- */

struct weft_http_parse_cb {
    /* Headers complete. Returns 0, or an HTTP status >= 400 to reject.
     * From here on the request belongs to the callee, who frees it with
     * weft_http_req_free() (the parser keeps only a borrowed pointer). */
    int (*on_headers)(void *ud, struct weft_http_req *req);
    /* Body bytes for a request whose on_body is set. */
    int (*on_body)(void *ud, struct weft_http_req *req, const char *p, size_t n);
    /* The request is complete; the parser pauses until weft_http_parse_next(). */
    void (*on_complete)(void *ud, struct weft_http_req *req);
};

struct weft_http_parse {
    /* private */
    _Alignas(void *) unsigned char parser[64]; /* http_parser, opaque to users */
    struct weft_http_limits lim;
    const struct weft_http_parse_cb *cb;
    void *ud;
    struct weft_http_req *req;
    int req_owned; /* the parser still owns req (headers not complete) */
    int kind;      /* last string kind appended to req->raw */
    size_t header_bytes;
    size_t body_bytes;
    int error_status; /* 0, or the status to answer with before closing */
    int complete;     /* a request ended; paused */
    int gone;         /* answered before it ended: ignore the rest of it */
    const char *why;  /* a short reason for the error */
};

void weft_http_parse_init(struct weft_http_parse *ps, const struct weft_http_limits *lim,
                          const struct weft_http_parse_cb *cb, void *ud);

/* Parses up to len bytes; returns how many were used. Stops early after a
 * complete request (ps->complete) or an error (ps->error_status set, with
 * ps->why); both stay set until weft_http_parse_next() (complete) or for
 * good (error). */
size_t weft_http_parse_feed(struct weft_http_parse *ps, const char *data, size_t len);

/* Ready for the next request on the same connection. */
void weft_http_parse_next(struct weft_http_parse *ps);

/* The current request was answered before it ended: the parser stops at
 * its next callback instead of touching the (freed) request. */
void weft_http_parse_abandon(struct weft_http_parse *ps);

/* Whether a request has begun and not yet ended. */
int weft_http_parse_in_request(const struct weft_http_parse *ps);

/* Frees a request the parser still owns. */
void weft_http_parse_free(struct weft_http_parse *ps);

void weft_http_req_free(struct weft_http_req *req);

/* The first header with this name (case-insensitive), or NULL. */
const char *weft_http_header(const struct weft_http_req *req, const char *name);

/* The reason phrase for a status ("Not Found"); "Unknown" when unlisted. */
const char *weft_http_reason(int status);

/* ---- Server layer ---------------------------------------------------- */

struct weft_http_handler {
    int (*on_headers)(struct weft_http_req *req, void *ud);  /* optional */
    void (*on_request)(struct weft_http_req *req, void *ud); /* required */
    /* After every response: for access logs and metrics. Optional. */
    void (*on_done)(const struct weft_http_req *req, int status, void *ud);
    void *ud;
};

struct weft_http_server;

/* A listen address as people write it: "HOST", "HOST:PORT", "[V6]",
 * "[V6]:PORT", or a bare IPv6 address ("::1"). host gets the address
 * (brackets dropped), *port the port or -1 when none was given. 0, or
 * WEFT_EINVAL with the reason in err (an unclosed bracket, a port that is
 * not 0..65535, an empty host). */
int weft_listen_split(const char *spec, char *host, size_t hostcap, int *port, char *err,
                      size_t errcap);

/* Listens on host:port (port 0 picks one; see weft_http_server_port).
 * tls NULL means plain HTTP; the caller decides when that is allowed. The
 * server borrows tls, log and handler until it has closed. */
int weft_http_server_start(struct weft_http_server **out, uv_loop_t *loop, const char *host,
                           int port, struct weft_tls_ctx *tls, const struct weft_http_limits *lim,
                           const struct weft_http_handler *handler, const struct weft_log *log);

int weft_http_server_port(const struct weft_http_server *srv);

/* Open connections now. */
int weft_http_server_connections(const struct weft_http_server *srv);

/* Stops listening and closes every connection (outstanding requests get
 * on_abort). cb(arg) runs once everything is closed; then srv is freed. */
void weft_http_server_close(struct weft_http_server *srv, void (*cb)(void *arg), void *arg);

/* A whole response. extra_headers is "Name: value\r\n..." or NULL.
 * Returns 0, or WEFT_ECLOSED when the request was already answered. */
int weft_http_respond(struct weft_http_req *req, int status, const char *content_type,
                      const char *extra_headers, const void *body, size_t len);

/* A response sent in pieces (chunked on HTTP/1.1; close-delimited on 1.0).
 * Nothing may be written after stream_end; the request is freed by it. */
int weft_http_stream_begin(struct weft_http_req *req, int status, const char *content_type,
                           const char *extra_headers);
int weft_http_stream_write(struct weft_http_req *req, const void *data, size_t len);
int weft_http_stream_end(struct weft_http_req *req);

#endif /* WEFT_HTTP_H */
