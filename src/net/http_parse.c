/* The bounded HTTP/1.1 request parser: libhttp-parser underneath, Weft's
 * limits and request struct on top. No I/O here; see include/weft/http.h. */
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/http.h"
#include "weft/time.h"

_Static_assert(sizeof(http_parser) <= 64, "weft_http_parse.parser too small");

/* K_DONE: the headers are complete; trailers after a chunked body are
 * counted against the header bound and otherwise ignored. */
enum { K_NONE, K_URL, K_FIELD, K_VALUE, K_DONE };

/* Marks a header whose value callback never came (an empty value). */
#define NO_VALUE ((size_t)-1)

static struct weft_http_parse *ps_of(http_parser *p)
{
    return p->data;
}

/* Records the status to answer with; returns what stops http_parser. */
static int fail(struct weft_http_parse *ps, int status, const char *why)
{
    if (!ps->error_status) {
        ps->error_status = status;
        ps->why = why;
    }
    return -1; /* http_parser: stop */
}

void weft_http_limits_default(struct weft_http_limits *lim)
{
    lim->max_header_bytes = 16 * 1024;
    lim->max_body_bytes = 1024 * 1024;
    lim->max_stream_bytes = 64u * 1024 * 1024;
    lim->header_timeout_ms = 10000;
    lim->body_timeout_ms = 60000;
    lim->idle_timeout_ms = 75000;
    lim->max_write_queue = 8u * 1024 * 1024;
    lim->max_total_write_queue = 64u * 1024 * 1024;
    lim->max_connections = 4096;
}

void weft_http_req_free(struct weft_http_req *req)
{
    if (!req)
        return;
    weft_buf_free(&req->raw);
    weft_buf_free(&req->body);
    free(req);
}

static int on_message_begin(http_parser *p)
{
    struct weft_http_parse *ps = ps_of(p);
    struct weft_http_req *req = calloc(1, sizeof *req);
    if (!req)
        return fail(ps, 503, "out of memory");
    /* Room for the strings, their NULs and the copy of the path. */
    weft_buf_init(&req->raw, 2 * ps->lim.max_header_bytes + 2 * WEFT_HTTP_MAX_HEADERS + 16);
    weft_buf_init(&req->body, ps->lim.max_body_bytes);
    req->start_ms = weft_mono_ms();
    req->query = "";
    ps->req = req;
    ps->req_owned = 1;
    ps->kind = K_NONE;
    ps->header_bytes = 0;
    ps->body_bytes = 0;
    return 0;
}

static int add_text(http_parser *p, int kind, const char *at, size_t len)
{
    struct weft_http_parse *ps = ps_of(p);
    if (ps->gone)
        return -1; /* http_parser: stop */
    struct weft_http_req *req = ps->req;
    ps->header_bytes += len;
    if (ps->header_bytes > ps->lim.max_header_bytes)
        return fail(ps, 431, "request headers too large");
    if (ps->kind == K_DONE)
        return 0;
    if (kind != ps->kind) {
        if (ps->kind != K_NONE && weft_buf_append_byte(&req->raw, '\0') != 0)
            return fail(ps, 431, "request headers too large");
        if (kind == K_FIELD) {
            if (req->n_headers == WEFT_HTTP_MAX_HEADERS)
                return fail(ps, 431, "too many request headers");
            req->hdr_off[req->n_headers][0] = req->raw.len;
            req->hdr_off[req->n_headers][1] = NO_VALUE;
            req->n_headers++;
        } else if (kind == K_VALUE) {
            req->hdr_off[req->n_headers - 1][1] = req->raw.len;
        } else if (kind == K_URL && ps->kind != K_NONE) {
            return fail(ps, 400, "malformed request line");
        }
        ps->kind = kind;
    }
    if (weft_buf_append(&req->raw, at, len) != 0)
        return fail(ps, 431, "request headers too large");
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    return add_text(p, K_URL, at, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    return add_text(p, K_FIELD, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    if (ps_of(p)->kind == K_URL || ps_of(p)->kind == K_NONE)
        return fail(ps_of(p), 400, "header value without a name");
    return add_text(p, K_VALUE, at, len);
}

/* RFC 9110 token characters. libhttp-parser as Debian builds it lets a
 * space into a header name, which lets two parsers disagree about a
 * request; names are checked here instead. */
static int is_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            !strchr("!#$%&'*+-.^_`|~", c))
            return 0;
    }
    return 1;
}

/* Turns the offsets into pointers; raw never grows after this. */
static int finish_strings(struct weft_http_parse *ps)
{
    struct weft_http_req *req = ps->req;
    if (ps->kind == K_NONE)
        return fail(ps, 400, "empty request target");
    if (weft_buf_append_byte(&req->raw, '\0') != 0)
        return fail(ps, 431, "request headers too large");
    size_t target_len = strlen(req->raw.data);
    const char *q = memchr(req->raw.data, '?', target_len);
    size_t path_len = q ? (size_t)(q - req->raw.data) : target_len;
    size_t query_off = q ? (size_t)(q - req->raw.data) + 1 : 0;
    size_t path_off = req->raw.len;
    /* Reserve first: the copy's source lives in the same buffer. */
    if (weft_buf_reserve(&req->raw, path_len + 1) != 0)
        return fail(ps, 431, "request headers too large");
    weft_buf_append(&req->raw, req->raw.data, path_len);
    weft_buf_append_byte(&req->raw, '\0');
    ps->kind = K_DONE;
    const char *base = req->raw.data;
    req->target = base;
    req->path = base + path_off;
    req->query = q ? base + query_off : "";
    for (int i = 0; i < req->n_headers; i++) {
        req->headers[i].name = base + req->hdr_off[i][0];
        req->headers[i].value = req->hdr_off[i][1] == NO_VALUE ? "" : base + req->hdr_off[i][1];
        if (!is_token(req->headers[i].name))
            return fail(ps, 400, "invalid header name");
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct weft_http_parse *ps = ps_of(p);
    struct weft_http_req *req = ps->req;
    if (finish_strings(ps) != 0)
        return -1; /* http_parser: stop */
    if (p->http_major != 1)
        return fail(ps, 505, "only HTTP/1.x is served");
    req->method = http_method_str((enum http_method)p->method);
    req->http_minor = p->http_minor;
    req->keep_alive = http_should_keep_alive(p);
    /* From here the callee owns the request. */
    ps->req_owned = 0;
    int st = ps->cb->on_headers ? ps->cb->on_headers(ps->ud, req) : 0;
    if (st >= 400)
        return fail(ps, st, "rejected");
    uint64_t cl = p->content_length;
    if (cl != ULLONG_MAX) {
        /* on_headers may have raised the request's own bound (an upload). */
        size_t cap = req->on_body ? ps->lim.max_stream_bytes : req->body.max;
        if (cl > cap)
            return fail(ps, 413, "request body too large");
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct weft_http_parse *ps = ps_of(p);
    if (ps->gone)
        return -1; /* http_parser: stop */
    struct weft_http_req *req = ps->req;
    ps->body_bytes += len;
    if (req->on_body) {
        if (ps->body_bytes > ps->lim.max_stream_bytes)
            return fail(ps, 413, "request body too large");
        if (ps->cb->on_body(ps->ud, req, at, len) < 0)
            return fail(ps, 400, "request body rejected");
        return 0;
    }
    if (weft_buf_append(&req->body, at, len) != 0)
        return fail(ps, 413, "request body too large");
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct weft_http_parse *ps = ps_of(p);
    if (ps->gone)
        return -1; /* http_parser: stop */
    ps->complete = 1;
    /* Stop here: the next pipelined request waits until this one has been
     * answered, so responses go out in order. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void weft_http_parse_init(struct weft_http_parse *ps, const struct weft_http_limits *lim,
                          const struct weft_http_parse_cb *cb, void *ud)
{
    memset(ps, 0, sizeof *ps);
    http_parser *p = (http_parser *)ps->parser;
    http_parser_init(p, HTTP_REQUEST);
    p->data = ps;
    ps->lim = *lim;
    ps->cb = cb;
    ps->ud = ud;
}

size_t weft_http_parse_feed(struct weft_http_parse *ps, const char *data, size_t len)
{
    if (ps->error_status || ps->complete || len == 0)
        return 0;
    http_parser *p = (http_parser *)ps->parser;
    size_t n = http_parser_execute(p, &settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(p);
    if (e == HPE_PAUSED) {
        if (ps->complete && ps->cb->on_complete)
            ps->cb->on_complete(ps->ud, ps->req);
        return n;
    }
    if (e != HPE_OK && !ps->gone)
        fail(ps, 400, http_errno_description(e));
    return n;
}

void weft_http_parse_next(struct weft_http_parse *ps)
{
    ps->complete = 0;
    ps->req = NULL;
    ps->req_owned = 0;
    http_parser_pause((http_parser *)ps->parser, 0);
}

void weft_http_parse_abandon(struct weft_http_parse *ps)
{
    ps->gone = 1;
    if (!ps->req_owned)
        ps->req = NULL;
}

int weft_http_parse_in_request(const struct weft_http_parse *ps)
{
    return ps->req != NULL && !ps->complete;
}

void weft_http_parse_free(struct weft_http_parse *ps)
{
    if (ps->req_owned)
        weft_http_req_free(ps->req);
    ps->req = NULL;
    ps->req_owned = 0;
}

const char *weft_http_header(const struct weft_http_req *req, const char *name)
{
    for (int i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *weft_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
