/* The HTTP(S) client on libuv; see include/weft/http_client.h. */
#include "weft/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/buf.h"
#include "weft/error.h"
#include "weft/list.h"

#define DEFAULT_MAX_RESPONSE (4u << 20)

struct weft_http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct weft_list calls; /* struct weft_http_call */
    struct weft_list socks; /* struct sock */
    int n_calls;
    int closing;
    void (*close_cb)(void *);
    void *close_arg;
};

struct weft_http_call {
    struct weft_list link; /* in client.calls */
    struct weft_http_client *c;
    CURL *e;
    struct curl_slist *hdrs;
    struct weft_buf resp;
    char *body;
    long (*on_upload)(void *ud, char *buf, size_t cap);
    void (*on_done)(void *ud, const struct weft_http_result *res);
    void *ud;
    int paused;
};

/* A socket curl asked us to watch. */
struct sock {
    struct weft_list link; /* in client.socks */
    uv_poll_t poll;
    curl_socket_t fd;
    struct weft_http_client *c;
};

static void check_done(struct weft_http_client *c);

/* CURLcode stops here: the rest of Weft sees its own codes. */
static int from_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_OK:
        return 0;
    case CURLE_COULDNT_CONNECT:
        return WEFT_ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return WEFT_EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return WEFT_ETIMEDOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
        return WEFT_ETLS;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return WEFT_ECONNRESET;
    case CURLE_WRITE_ERROR:
        return WEFT_E2BIG; /* the response passed max_response */
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
        return WEFT_ECANCELED;
    case CURLE_OUT_OF_MEMORY:
        return WEFT_ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return WEFT_EINVAL;
    default:
        return WEFT_EIO;
    }
}

/* ---- curl on libuv ------------------------------------------------------ */

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock *k = h->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    struct weft_http_client *c = k->c;
    int running;
    curl_multi_socket_action(c->multi, k->fd, flags, &running);
    check_done(c);
}

static void free_sock(uv_handle_t *h)
{
    free(h->data);
}

static void sock_close(struct sock *k)
{
    weft_list_remove(&k->link);
    uv_poll_stop(&k->poll);
    uv_close((uv_handle_t *)&k->poll, free_sock);
}

/* curl's CURLMOPT_SOCKETFUNCTION: its return is curl's convention. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    struct weft_http_client *c = userp;
    struct sock *k = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            sock_close(k);
            if (!c->closing)
                curl_multi_assign(c->multi, fd, NULL);
        }
        return 0;
    }
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return -1; /* curl: failure */
        k->fd = fd;
        k->c = c;
        if (uv_poll_init_socket(c->loop, &k->poll, fd) != 0) {
            free(k);
            return -1; /* curl: failure */
        }
        k->poll.data = k;
        curl_multi_assign(c->multi, fd, k);
        weft_list_push_front(&c->socks, &k->link);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&k->poll, ev, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    struct weft_http_client *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

/* curl's CURLMOPT_TIMERFUNCTION. */
static int on_timer_set(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct weft_http_client *c = userp;
    if (timeout_ms < 0 || c->closing)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- calls -------------------------------------------------------------- */

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    struct weft_http_call *call = ud;
    return weft_buf_append(&call->resp, p, sz * n) == 0 ? sz * n : 0;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct weft_http_call *call = ud;
    long n = call->on_upload(call->ud, buf, size * nitems);
    if (n == WEFT_HTTP_UPLOAD_PAUSE) {
        call->paused = 1;
        return CURL_READFUNC_PAUSE;
    }
    return n < 0 ? CURL_READFUNC_ABORT : (size_t)n;
}

static void call_free(struct weft_http_call *call)
{
    curl_slist_free_all(call->hdrs);
    curl_easy_cleanup(call->e);
    weft_buf_free(&call->resp);
    free(call->body);
    free(call);
}

/* Out of the multi and the list, without a word to its owner. */
static void call_drop(struct weft_http_call *call)
{
    struct weft_http_client *c = call->c;
    curl_multi_remove_handle(c->multi, call->e);
    weft_list_remove(&call->link);
    c->n_calls--;
    call_free(call);
}

static int add_header(struct weft_http_call *call, const char *h)
{
    struct curl_slist *l = curl_slist_append(call->hdrs, h);
    if (!l)
        return WEFT_ENOMEM;
    call->hdrs = l;
    return 0;
}

static int setup(struct weft_http_call *call, const struct weft_http_call_opts *o)
{
    CURL *e = call->e;
    int rc = add_header(call, "Content-Type: application/json");
    if (rc == 0 && o->bearer) {
        struct weft_buf auth;
        weft_buf_init(&auth, 8192);
        rc = weft_buf_appendf(&auth, "Authorization: Bearer %s", o->bearer);
        if (rc == 0)
            rc = add_header(call, auth.data);
        weft_buf_free(&auth);
    }
    if (rc == 0 && o->session && o->session[0]) {
        char h[128];
        snprintf(h, sizeof h, "X-Weft-Session: %.80s", o->session);
        rc = add_header(call, h);
    }
    if (rc == 0 && o->on_upload) {
        /* Chunked, and no "Expect: 100-continue" wait before the first piece. */
        rc = add_header(call, "Transfer-Encoding: chunked");
        if (rc == 0)
            rc = add_header(call, "Expect:");
    }
    if (rc)
        return rc;
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(e, CURLOPT_PRIVATE, call);
    /* Signals are the process's business: timeouts come from the loop. */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (o->timeout_s > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT, o->timeout_s);
    if (o->ca_file && o->ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
    if (o->on_upload) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, call);
    } else if (o->body) {
        call->body = malloc(o->body_len + 1);
        if (!call->body)
            return WEFT_ENOMEM;
        memcpy(call->body, o->body, o->body_len);
        call->body[o->body_len] = '\0';
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)o->body_len);
    }
    return 0;
}

int weft_http_call_start(struct weft_http_client *c, const struct weft_http_call_opts *o,
                         struct weft_http_call **out)
{
    if (c->closing)
        return WEFT_ECLOSED;
    if (!o->url || !o->on_done)
        return WEFT_EINVAL;
    struct weft_http_call *call = calloc(1, sizeof *call);
    if (!call)
        return WEFT_ENOMEM;
    call->c = c;
    call->on_upload = o->on_upload;
    call->on_done = o->on_done;
    call->ud = o->ud;
    weft_list_init(&call->link);
    weft_buf_init(&call->resp, o->max_response ? o->max_response : DEFAULT_MAX_RESPONSE);
    call->e = curl_easy_init();
    int rc = call->e ? setup(call, o) : WEFT_ENOMEM;
    if (rc == 0 && curl_multi_add_handle(c->multi, call->e) != CURLM_OK)
        rc = WEFT_ENOMEM;
    if (rc) {
        call_free(call);
        return rc;
    }
    weft_list_push_front(&c->calls, &call->link);
    c->n_calls++;
    if (out)
        *out = call;
    return 0;
}

void weft_http_call_resume(struct weft_http_call *call)
{
    if (!call->paused)
        return;
    call->paused = 0;
    struct weft_http_client *c = call->c;
    curl_easy_pause(call->e, CURLPAUSE_CONT);
    check_done(c);
}

void weft_http_call_cancel(struct weft_http_call *call)
{
    call_drop(call);
}

int weft_http_client_calls(const struct weft_http_client *c)
{
    return c->n_calls;
}

/* Hands every finished call to its owner, then frees it. */
static void check_done(struct weft_http_client *c)
{
    CURLMsg *msg;
    int left;
    while (!c->closing && (msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct weft_http_call *call;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
        CURLcode cc = msg->data.result;
        struct weft_http_result res = {.rc = from_curl(cc)};
        if (cc == CURLE_OK)
            curl_easy_getinfo(call->e, CURLINFO_RESPONSE_CODE, &res.status);
        else
            res.error = curl_easy_strerror(cc);
        res.body = call->resp.data ? call->resp.data : "";
        res.len = call->resp.len;
        curl_multi_remove_handle(c->multi, call->e);
        weft_list_remove(&call->link);
        c->n_calls--;
        call->on_done(call->ud, &res);
        call_free(call);
    }
}

/* ---- life --------------------------------------------------------------- */

int weft_http_client_init(struct weft_http_client **out, uv_loop_t *loop)
{
    struct weft_http_client *c = calloc(1, sizeof *c);
    if (!c)
        return WEFT_ENOMEM;
    c->loop = loop;
    weft_list_init(&c->calls);
    weft_list_init(&c->socks);
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return WEFT_ENOMEM;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    *out = c;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct weft_http_client *c = h->data;
    void (*cb)(void *) = c->close_cb;
    void *arg = c->close_arg;
    free(c);
    if (cb)
        cb(arg);
}

void weft_http_client_close(struct weft_http_client *c, void (*cb)(void *arg), void *arg)
{
    c->closing = 1;
    c->close_cb = cb;
    c->close_arg = arg;
    uv_timer_stop(&c->timer);
    struct weft_list *it, *tmp;
    weft_list_foreach_safe(it, tmp, &c->calls)
    {
        call_drop(weft_list_entry(it, struct weft_http_call, link));
    }
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    /* What curl did not take back itself. A sock frees itself in its own
     * close callback and needs nothing of the client then, so the client
     * waits only for its timer. */
    weft_list_foreach_safe(it, tmp, &c->socks)
    {
        sock_close(weft_list_entry(it, struct sock, link));
    }
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

/* ---- URLs ------------------------------------------------------------------ */

int weft_url_parse(const char *url, struct weft_url *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    CURLU *u = curl_url();
    if (!u)
        return WEFT_ENOMEM;
    char *scheme = NULL, *host = NULL, *user = NULL, *port = NULL;
    int rc = WEFT_EINVAL;
    /* Schemes this libcurl was not built for (mqtt://) still parse; the
     * callers check the scheme. */
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK)
        snprintf(err, errcap, "not a URL: %s", curl_url_strerror(uc));
    else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        snprintf(err, errcap, "no scheme or host");
    else if (strlen(scheme) >= sizeof out->scheme || strlen(host) >= sizeof out->host)
        snprintf(err, errcap, "scheme or host too long");
    else
        rc = 0;
    if (rc == 0) {
        snprintf(out->scheme, sizeof out->scheme, "%s", scheme);
        snprintf(out->host, sizeof out->host, "%s", host);
        out->has_user = curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK;
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
            out->port = (int)strtol(port, NULL, 10); /* libcurl checked: 1..65535 */
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

int weft_ip_is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int weft_url_is_loopback(const struct weft_url *u)
{
    const char *h = u->host;
    char v6[64];
    size_t n = strlen(h);
    if (strcmp(h, "localhost") == 0)
        return 1;
    if (n > 2 && n - 2 < sizeof v6 && h[0] == '[' && h[n - 1] == ']') {
        memcpy(v6, h + 1, n - 2);
        v6[n - 2] = '\0';
        return weft_ip_is_loopback(v6);
    }
    return weft_ip_is_loopback(h); /* a name that merely begins with "127." is not */
}
