/* An HTTP(S) client on a libuv loop: libcurl's multi interface driven by
 * the loop, the pattern of curl's docs/examples/multi-uv.c. curl says which
 * sockets to watch and when it wants a timeout; uv_poll handles and one
 * uv_timer tell it when something happened. Many calls run at once on one
 * client and share its connections.
 *
 * A call is one request: a whole body, or a body streamed from a callback
 * (chunked) that may pause until more is there. Its completion callback
 * runs once, on the loop, with the status and the response body (bounded),
 * or with a Weft error code and curl's sentence for it. CURLcode never
 * leaves this module.
 *
 * Ownership: the client owns every call; a call is freed right after its
 * on_done returns, or by weft_http_call_cancel (then on_done does not run).
 * The strings in the options are copied; ud is borrowed until on_done or
 * the cancel. Thread-safety: everything runs on the loop thread that made
 * the client, the callbacks included.
 */
#ifndef WEFT_HTTP_CLIENT_H
#define WEFT_HTTP_CLIENT_H

#include <stddef.h>
#include <uv.h>

struct weft_http_client;
struct weft_http_call;

struct weft_http_result {
    int rc;            /* 0 when a response arrived, else a WEFT_E* code */
    const char *error; /* rc != 0: curl's sentence ("Couldn't connect to server") */
    long status;       /* the HTTP status, 0 without a response */
    const char *body;  /* the response body, NUL-terminated; valid during on_done */
    size_t len;
};

/* Return values of on_upload besides a byte count. */
#define WEFT_HTTP_UPLOAD_PAUSE (-1L) /* nothing yet: wait for weft_http_call_resume */

struct weft_http_call_opts {
    const char *url;
    const char *bearer;  /* "Authorization: Bearer <bearer>", or NULL */
    const char *session; /* "X-Weft-Session: <session>" (a node's process), or NULL */
    const char *ca_file; /* PEM to verify the server with; NULL or "": the system's */
    /* A POST of body[0..body_len) (copied)... */
    const void *body;
    size_t body_len;
    /* ...or a chunked POST whose body on_upload writes into buf[0..cap):
     * a count of bytes, 0 at the end, or WEFT_HTTP_UPLOAD_PAUSE. Neither: a
     * GET. */
    long (*on_upload)(void *ud, char *buf, size_t cap);
    long timeout_s;          /* the whole call; 0: none */
    long connect_timeout_ms; /* 0: 5000 */
    size_t max_response;     /* response bytes kept; more fails the call (0: 4 MiB) */
    void (*on_done)(void *ud, const struct weft_http_result *res);
    void *ud;
};

/* A client on loop, or WEFT_ENOMEM. */
int weft_http_client_init(struct weft_http_client **out, uv_loop_t *loop);

/* Starts a call; *out (may be NULL) lets the caller resume or cancel it.
 * 0, or WEFT_ENOMEM / WEFT_EINVAL / WEFT_ECLOSED (the client is closing),
 * and then on_done never runs. */
int weft_http_call_start(struct weft_http_client *c, const struct weft_http_call_opts *o,
                         struct weft_http_call **out);

/* A paused upload asks on_upload again. */
void weft_http_call_resume(struct weft_http_call *call);

/* Ends a call now; on_done does not run. Not from inside its own on_done. */
void weft_http_call_cancel(struct weft_http_call *call);

/* Calls in flight. */
int weft_http_client_calls(const struct weft_http_client *c);

/* Cancels every call (no on_done runs), closes the client's handles and
 * calls cb(arg) when they are closed; then the client is freed. */
void weft_http_client_close(struct weft_http_client *c, void (*cb)(void *arg), void *arg);

/* A URL as libcurl's URL API parses it (the parser that will connect, so
 * tricks such as http://127.0.0.1@evil.example read as what they are). */
struct weft_url {
    char scheme[16];
    char host[256]; /* an IPv6 literal keeps its brackets */
    int has_user;   /* user info before the host */
    int port;       /* the URL's own port, or 0 when it names none */
};
/* 0, or WEFT_EINVAL with the reason in err (not a URL, no host). */
int weft_url_parse(const char *url, struct weft_url *u, char *err, size_t errcap);
/* Whether u's host is this machine: 127.0.0.0/8, [::1] or localhost. */
int weft_url_is_loopback(const struct weft_url *u);
/* Whether an address literal (a listen address: "127.0.0.1", "::1") is a
 * loopback one; a name is not. */
int weft_ip_is_loopback(const char *addr);

#endif /* WEFT_HTTP_CLIENT_H */
