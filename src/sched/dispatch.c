/* Routing; see dispatch.h and the table in routes.h. */
#include "dispatch.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "core.h"
#include "reply.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/time.h"

struct route {
    const char *name, *method, *pattern;
    enum sched_auth_kind auth;
    sched_headers_handler *on_headers;
    sched_handler *on_request;
    int flags;
};

static const struct route routes[SCHED_N_ROUTES] = {[SCHED_R_other] = {.name = "other"},
#define SCHED_ROUTE_ROW_(name, method, pattern, auth, on_headers, on_request, flags)               \
    [SCHED_R_##name] = {#name, method, pattern, auth, on_headers, on_request, flags},
                                                    SCHED_ROUTES(SCHED_ROUTE_ROW_)
#undef SCHED_ROUTE_ROW_
};

/* path against a pattern whose "{id}" stands for one non-empty segment. */
static int match(const char *pattern, const char *path, char *id, size_t cap)
{
    const char *p = pattern, *q = path;
    while (*p && *q) {
        if (strncmp(p, "{id}", 4) == 0) {
            size_t n = strcspn(q, "/");
            if (n == 0)
                return 0;
            if (n < cap) {
                memcpy(id, q, n);
                id[n] = '\0';
            } else {
                id[0] = '\0';
            }
            p += 4;
            q += n;
        } else if (*p++ != *q++) {
            return 0;
        }
    }
    return *p == '\0' && *q == '\0';
}

enum sched_route sched_route_match(const char *method, const char *path, char *id, size_t cap,
                                   int *path_known)
{
    char scratch[2];
    if (!id || cap == 0) {
        id = scratch;
        cap = sizeof scratch;
    }
    id[0] = '\0';
    int known = 0;
    for (int r = SCHED_R_other + 1; r < SCHED_N_ROUTES; r++) {
        if (!match(routes[r].pattern, path, id, cap))
            continue;
        known = 1;
        if (strcmp(method, routes[r].method) == 0) {
            if (path_known)
                *path_known = 1;
            return (enum sched_route)r;
        }
    }
    id[0] = '\0';
    if (path_known)
        *path_known = known;
    return SCHED_R_other;
}

const char *sched_route_name(enum sched_route r)
{
    return (int)r >= 0 && r < SCHED_N_ROUTES ? routes[r].name : "other";
}

int sched_route_flags(enum sched_route r)
{
    return (int)r > 0 && r < SCHED_N_ROUTES ? routes[r].flags : 0;
}

/* One identity, one live session: each weftd process sends its own
 * X-Weft-Session. A hello from another session while the node's current
 * one is connected (a poll parked, or jobs running) is refused, so a second
 * process with the same token cannot knock the first off; once the first
 * is gone (its connections closed: a crash closes them at once) the new one
 * is taken and the old session's calls are refused. 0, or an error after
 * answering 409 session_conflict. */
static int session_check(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    struct sched_node *n = call->node;
    const char *sess = weft_http_header(req, "X-Weft-Session");
    if (!sess)
        sess = "";
    if (strlen(sess) >= sizeof n->session) {
        sched_reply_fail(req, 400, NULL, NULL, "X-Weft-Session is longer than 63 bytes");
        return WEFT_EINVAL;
    }
    if (strcmp(n->session, sess) == 0)
        return 0;
    if (call->route == SCHED_R_node_hello && !(n->live && (n->poll || n->running > 0))) {
        snprintf(n->session, sizeof n->session, "%s", sess);
        return 0;
    }
    char msg[240];
    snprintf(msg, sizeof msg,
             "node %s is connected from another weftd process; one identity has one live "
             "session (a second weftd with the same token?). It is taken when the first one "
             "is gone.",
             n->name);
    if (call->route == SCHED_R_node_hello)
        weft_log_warn(s->log, "node %s: refused a second session", n->name);
    sched_reply_fail(req, 409, NULL, "session_conflict", msg);
    return WEFT_EINVAL;
}

/* Checks the caller the route wants: 0, or the status the request was
 * answered with. */
static int authenticate(struct sched *s, struct weft_http_req *req, enum sched_auth_kind kind,
                        struct sched_call *call)
{
    int rc;
    switch (kind) {
    case SCHED_AUTH_NONE:
        return 0;
    case SCHED_AUTH_KEY:
    case SCHED_AUTH_ADMIN:
        rc = sched_auth_key(s, req, &call->key);
        if (rc)
            return rc == WEFT_ELIMIT ? 429 : rc == WEFT_EAUTH ? 401 : 503;
        if (kind == SCHED_AUTH_ADMIN && !call->key.admin) {
            sched_reply_fail(req, 403, NULL, "admin_only", "This key is not an admin key.");
            return 403;
        }
        return 0;
    case SCHED_AUTH_NODE: {
        char name[64];
        if (sched_auth_node(s, req, name, sizeof name) != 0)
            return 401;
        call->node = sched_node_get(s, name);
        if (!call->node) {
            sched_reply_fail(req, 503, NULL, NULL, "out of memory");
            return 503;
        }
        if (session_check(s, req, call) != 0)
            return 409;
        call->node->last_seen_ms = weft_mono_ms();
        return 0;
    }
    }
    return 0;
}

int sched_dispatch_headers(struct weft_http_req *req, void *ud)
{
    struct sched *s = ud;
    struct sched_call call;
    memset(&call, 0, sizeof call);
    call.route = sched_route_match(req->method, req->path, call.id, sizeof call.id, NULL);
    const struct route *rt = &routes[call.route];
    if (!rt->on_headers) {
        /* The body is buffered and the route runs when it is in; but a
         * caller without a valid credential is answered now, before a
         * byte of it is read (issue 17, finding 9). */
        if (rt->auth != SCHED_AUTH_NONE &&
            sched_auth_peek(s, req, rt->auth == SCHED_AUTH_NODE) != 0)
            return 401;
        if (rt->flags & SCHED_RF_UPLOAD)
            req->body.max = (size_t)s->cfg.limits.max_file_bytes;
        return 0;
    }
    int st = authenticate(s, req, rt->auth, &call);
    return st ? st : rt->on_headers(s, req, &call);
}

void sched_dispatch_request(struct weft_http_req *req, void *ud)
{
    struct sched *s = ud;
    struct sched_call call;
    memset(&call, 0, sizeof call);
    int known = 0;
    call.route = sched_route_match(req->method, req->path, call.id, sizeof call.id, &known);
    const struct route *rt = &routes[call.route];
    if (call.route == SCHED_R_other) {
        if (known)
            sched_reply_fail(req, 405, NULL, "method_not_allowed",
                             "Method not allowed for this path.");
        else
            sched_reply_fail(req, 404, NULL, "unknown_url", "Unknown request URL.");
        return;
    }
    /* A route that took its body as it came checked its caller at the
     * headers; the request is the one it accepted then. */
    if (!rt->on_headers && authenticate(s, req, rt->auth, &call) != 0)
        return;
    rt->on_request(s, req, &call);
}
