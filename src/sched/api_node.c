/* The node API: hello, heartbeat, the long poll for work and a job's
 * token upload. Nodes dial out; the messages are proto's (nodemsg.h) and
 * what they do to jobs is core.c's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "core.h"
#include "lease.h"
#include "reply.h"
#include "verify.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/nodemsg.h"
#include "weft/store.h"
#include "weft/time.h"

/* Whether name is one of the comma-separated list's. */
static int name_in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && strncmp(p, name, n) == 0)
            return 1;
        p += k + (e ? 1 : 0);
    }
    return 0;
}

void sched_h_node_hello(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    struct sched_node *n = call->node;
    struct weft_hello h;
    char why[160];
    if (weft_hello_parse(req->body.data ? req->body.data : "", req->body.len, &h, why,
                         sizeof why) != 0) {
        sched_reply_fail(req, 400, NULL, NULL, why);
        return;
    }
    /* What the enrollment allows: no model outside its list, no more
     * slots or budget than it says (a node reports what it likes). */
    struct weft_node_limits lim;
    if (weft_store_node_limits_get(s->store, n->name, &lim) != 0) {
        sched_reply_fail(req, 503, NULL, NULL, "the store is unavailable");
        return;
    }
    for (int i = 0; i < h.n_models && lim.models[0]; i++) {
        if (!name_in_list(lim.models, h.models[i].name)) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "model '%s' is not allowed for node %s (weftctl nodes enroll --models)",
                     h.models[i].name, n->name);
            weft_log_warn(s->log, "node %s: refused hello: %s", n->name, msg);
            sched_reply_fail(req, 403, NULL, "model_not_allowed", msg);
            return;
        }
    }
    if (lim.max_slots > 0 && h.max_concurrency > lim.max_slots)
        h.max_concurrency = lim.max_slots;
    n->max_budget_w = lim.max_budget_w;
    sched_node_hello(s, n);
    sched_verify_load(s, n);
    for (int i = 0; i < h.n_models; i++) {
        snprintf(n->models[i].name, sizeof n->models[i].name, "%s", h.models[i].name);
        n->models[i].tpl = h.models[i].tpl;
    }
    n->n_models = h.n_models;
    n->max_concurrency = h.max_concurrency;
    snprintf(n->hardware, sizeof n->hardware, "%s", h.hardware);
    n->budget_w = 0;
    n->budget_s = -1;
    n->deferrable_ok = n->interactive_ok = 0;
    weft_log_notice(s->log, "node %s is live (%d model%s, %d slot%s)", n->name, n->n_models,
                    n->n_models == 1 ? "" : "s", n->max_concurrency,
                    n->max_concurrency == 1 ? "" : "s");
    struct weft_hello_reply r = {.heartbeat_ms = s->cfg.heartbeat_ms,
                                 .lease_ms = (int64_t)s->lease_ms};
    snprintf(r.node, sizeof r.node, "%s", n->name);
    struct weft_buf b;
    weft_buf_init(&b, 4096);
    weft_hello_reply_write(&r, &b);
    sched_reply_buf(req, 200, &b);
}

/* Heartbeats and polls come from a node that said hello; 409 tells one the
 * scheduler forgot (a restart, a lease that ran out) to say it again. */
static int known_live(struct weft_http_req *req, const struct sched_node *n)
{
    if (!n->live)
        sched_reply_fail(req, 409, NULL, "hello_first",
                         "This node is not registered (or was declared gone): send hello first.");
    return n->live;
}

void sched_h_node_heartbeat(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    struct sched_node *n = call->node;
    if (!known_live(req, n))
        return;
    struct weft_heartbeat hb;
    char why[160];
    if (weft_heartbeat_parse(req->body.data ? req->body.data : "", req->body.len, &hb, why,
                             sizeof why) != 0) {
        sched_reply_fail(req, 400, NULL, NULL, why);
        return;
    }
    s->m.heartbeats++;
    n->budget_w =
        n->max_budget_w > 0 && hb.budget_w > n->max_budget_w ? n->max_budget_w : hb.budget_w;
    n->slots = hb.slots;
    n->budget_s = hb.budget_s;
    n->pv_w = hb.pv_w;
    n->load_w = hb.load_w;
    n->grid_w = hb.grid_w;
    n->battery_w = hb.battery_w;
    n->soc = hb.soc;
    /* The draw reported last held until now; what the grid supplied of
     * it (an import while drawing) is not surplus. */
    uint64_t now = weft_mono_ms();
    if (n->energy_ms && isfinite(n->compute_w) && n->compute_w > 0) {
        double h = (double)weft_elapsed_ms(n->energy_ms, now) / 3.6e6;
        double from_grid = isfinite(n->grid_w) && n->grid_w > 0 ? fmin(n->grid_w, n->compute_w) : 0;
        n->wh += n->compute_w * h;
        n->surplus_wh += (n->compute_w - from_grid) * h;
    }
    n->energy_ms = now;
    n->compute_w =
        isfinite(hb.compute_w) && hb.compute_w >= 0 && hb.compute_w < 1e6 ? hb.compute_w : NAN;
    n->deferrable_ok = hb.deferrable;
    n->interactive_ok = hb.interactive;
    snprintf(n->policy_state, sizeof n->policy_state, "%s", hb.policy_state);
    /* Jobs the node still runs that are no longer its own (moved while it
     * was unreachable) go back in "cancel", so it stops them. One it runs
     * for a scheduler that died is adopted instead, once the store lets go
     * of it (until then it is left running). */
    struct weft_heartbeat_reply r;
    memset(&r, 0, sizeof r);
    n->n_orphans = 0;
    for (int i = 0; i < hb.n_jobs; i++) {
        struct sched_job *j = sched_job_find(s, hb.jobs[i].id);
        if (j && j->node == n)
            continue;
        int rc = sched_lease_adopt(s, n, hb.jobs[i].id);
        if (rc == WEFT_ENOENT)
            snprintf(r.cancel[r.n_cancel++], sizeof r.cancel[0], "%s", hb.jobs[i].id);
        else if (rc != 1 && n->n_orphans < SCHED_ORPHANS &&
                 strlen(hb.jobs[i].id) < sizeof n->orphans[0]) /* longer: none of ours */
            memcpy(n->orphans[n->n_orphans++], hb.jobs[i].id, strlen(hb.jobs[i].id) + 1);
    }
    r.lease_ms = (int64_t)s->lease_ms;
    struct weft_buf b;
    weft_buf_init(&b, 64u << 10);
    weft_heartbeat_reply_write(&r, &b);
    sched_reply_buf(req, 200, &b);
    sched_dispatch(s);
}

void sched_h_node_work(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    struct sched_node *n = call->node;
    if (!known_live(req, n))
        return;
    char w[16];
    int wait_s = 25;
    if (sched_query_param(req->query, "wait", w, sizeof w) == 0) {
        char *end;
        long v = strtol(w, &end, 10);
        if (*end || v < 0 || v > s->cfg.limits.max_work_wait_s) {
            sched_reply_fail(req, 400, NULL, NULL, "wait must be 0..max_work_wait_s");
            return;
        }
        wait_s = (int)v;
    }
    sched_node_park_poll(s, n, req, wait_s);
}

int sched_h_node_stream_open(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    struct sched_job *j = call->id[0] ? sched_job_find(s, call->id) : NULL;
    if (call->id[0] && (!j || j->node != call->node) && call->node->live) {
        /* A node re-attaching a job whose scheduler died. */
        int rc = sched_lease_adopt(s, call->node, call->id);
        if (rc == 0 || (rc < 0 && rc != WEFT_ENOENT)) {
            sched_reply_fail(req, 503, NULL, "job_busy",
                             "Another scheduler still holds this job; retry shortly.");
            return 503;
        }
        j = rc == 1 ? sched_job_find(s, call->id) : NULL;
    }
    int st = j ? sched_stream_open(s, call->node, j, req) : 404;
    if (st)
        sched_reply_fail(req, st, NULL, st == 404 ? "job_not_found" : "stream_exists",
                         st == 404 ? "No such job on this node."
                                   : "This job already has a token stream.");
    return st;
}

void sched_h_node_stream_end(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    (void)call;
    sched_stream_complete(s, req);
}
