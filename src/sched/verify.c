/* Verified results; see verify.h. */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/time.h"

/* A verification that no node takes within this ends without a word. */
#define CHECK_DEADLINE_MS (3600 * 1000)

static double uniform(void)
{
    return (double)(sched_seed_new() >> 11) / 9007199254740992.0;
}

double sched_verify_trust(const struct sched *s, const struct sched_node *n)
{
    double ok = n->checks_ok + 1.0, bad = s->cfg.verify.bad_weight * n->checks_bad;
    return ok / (ok + bad);
}

static void save(struct sched *s, const struct sched_node *n)
{
    if (weft_store_node_trust_set(s->store, n->name, n->checks_ok, n->checks_bad, n->quarantined,
                                  n->quarantine_why) != 0)
        weft_log_error(s->log, "node %s: cannot record its trust yet", n->name);
}

void sched_verify_load(struct sched *s, struct sched_node *n)
{
    int ok = 0, bad = 0, q = 0;
    char why[sizeof n->quarantine_why] = "";
    if (weft_store_node_trust_get(s->store, n->name, &ok, &bad, &q, why, sizeof why) != 0)
        return;
    n->checks_ok = ok;
    n->checks_bad = bad;
    n->quarantined = q;
    snprintf(n->quarantine_why, sizeof n->quarantine_why, "%s", why);
}

/* One check of node `name`'s work: right or wrong (why says how). */
static void judge(struct sched *s, const char *name, int right, const char *why)
{
    struct sched_node *n = sched_node_find(s, name);
    if (!n)
        return;
    if (right) {
        n->checks_ok++;
    } else {
        n->checks_bad++;
        weft_log_warn(s->log, "node %s: a result proven wrong: %s", name, why);
    }
    double trust = sched_verify_trust(s, n);
    if (!n->quarantined && trust < s->cfg.verify.min_trust) {
        n->quarantined = 1;
        snprintf(n->quarantine_why, sizeof n->quarantine_why,
                 "trust %.2f below %.2f: %d results proven wrong, %d right (last: %s)", trust,
                 s->cfg.verify.min_trust, n->checks_bad, n->checks_ok, why);
        weft_log_warn(s->log, "node %s quarantined: %s", name, n->quarantine_why);
    }
    save(s, n);
}

static int same_tokens(const int32_t *a, int na, const int32_t *b, int nb)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

static int32_t *copy_tokens(const struct sched_job *j)
{
    int32_t *t = malloc((size_t)(j->n_tokens > 0 ? j->n_tokens : 1) * sizeof *t);
    if (t && j->n_tokens > 0)
        memcpy(t, j->tokens, (size_t)j->n_tokens * sizeof *t);
    return t;
}

/* A verification run of req (copied) for check c (taken). */
static void submit(struct sched *s, const struct weft_oai_req *req, struct sched_check *c)
{
    struct sched_job *v = sched_job_new("verify-");
    if (!v || weft_oai_req_copy(&v->req, req) != 0) {
        sched_check_free(c);
        if (v)
            sched_job_free(v);
        return;
    }
    v->sched = s;
    v->check = c;
    v->req.priority = WEFT_OAI_DEFERRABLE;
    v->req.deadline_ms = weft_wall_ms() + CHECK_DEADLINE_MS;
    v->req.stream = 0;
    v->req.n = 1;
    v->req.logprobs = 0;
    snprintf(v->key_id, sizeof v->key_id, "verification");
    s->m.verify_runs++;
    sched_job_submit(s, v);
}

static void canary(struct sched *s, const struct sched_node *n)
{
    const struct sched_verify_cfg *vc = &s->cfg.verify;
    /* The canaries for a model the node holds, one at random. */
    int pickable[SCHED_MAX_CANARIES], k = 0;
    for (int i = 0; i < vc->n_canaries; i++)
        for (int m = 0; m < n->n_models; m++)
            if (strcmp(vc->canaries[i].model, n->models[m].name) == 0)
                pickable[k++] = i;
    if (k == 0)
        return;
    const struct sched_canary_cfg *cc = &vc->canaries[pickable[(int)(uniform() * k) % k]];
    struct sched_check *c = calloc(1, sizeof *c);
    if (!c || !(c->text = strdup(cc->text))) {
        free(c);
        return;
    }
    c->kind = SC_CANARY;
    snprintf(c->nodes[0], sizeof c->nodes[0], "%s", n->name);
    c->n_nodes = 1;
    snprintf(c->name, sizeof c->name, "%s", cc->name);
    struct weft_oai_req req;
    memset(&req, 0, sizeof req);
    req.kind = WEFT_OAI_COMPLETION;
    snprintf(req.model, sizeof req.model, "%s", cc->model);
    req.prompt = strdup(cc->prompt);
    if (!req.prompt) {
        free(c->text);
        free(c);
        return;
    }
    req.max_tokens = cc->max_tokens;
    req.temperature = 1.0;
    req.top_p = 1.0;
    req.seed = (uint64_t)cc->seed;
    req.has_seed = 1;
    req.n = 1;
    submit(s, &req, c);
    free(req.prompt);
}

/* The node that ran j, when one did it all. */
static const char *ran_on(const struct sched_job *j)
{
    return j->n_served == 1 ? j->served[0] : NULL;
}

static void check_done(struct sched *s, const struct sched_job *v)
{
    struct sched_check *c = v->check;
    const char *by = ran_on(v);
    if (!by) {
        s->m.verify_inconclusive++;
        return;
    }
    if (c->kind == SC_CANARY) {
        int right = v->text.len == strlen(c->text) &&
                    memcmp(v->text.data ? v->text.data : "", c->text, v->text.len) == 0;
        char why[160];
        snprintf(why, sizeof why, "canary '%s' answered wrong", c->name);
        s->m.verify_right += right;
        s->m.verify_wrong += !right;
        judge(s, c->nodes[0], right, why);
        return;
    }
    if (c->kind == SC_CHECK) {
        if (same_tokens(v->tokens, v->n_tokens, c->tokens[0], c->n_tokens[0])) {
            s->m.verify_right++;
            judge(s, c->nodes[0], 1, NULL);
            judge(s, by, 1, NULL);
            return;
        }
        /* Two disagree: a third of the same class settles it. */
        weft_log_notice(s->log, "job %s: nodes %s and %s disagree; a third run settles it", v->id,
                        c->nodes[0], by);
        struct sched_check *t = calloc(1, sizeof *t);
        if (!t || !(t->tokens[1] = copy_tokens(v))) {
            free(t);
            return;
        }
        t->kind = SC_TIEBREAK;
        memcpy(t->nodes[0], c->nodes[0], sizeof t->nodes[0]);
        snprintf(t->nodes[1], sizeof t->nodes[1], "%s", by);
        t->n_nodes = 2;
        t->tokens[0] = c->tokens[0];
        t->n_tokens[0] = c->n_tokens[0];
        c->tokens[0] = NULL; /* the tie-break has them now */
        t->n_tokens[1] = v->n_tokens;
        memcpy(t->backend, c->backend, sizeof t->backend);
        submit(s, &v->req, t);
        return;
    }
    /* A tie-break: whoever the third agrees with was right. */
    int with_a = same_tokens(v->tokens, v->n_tokens, c->tokens[0], c->n_tokens[0]);
    int with_b = same_tokens(v->tokens, v->n_tokens, c->tokens[1], c->n_tokens[1]);
    if (with_a == with_b) {
        s->m.verify_inconclusive++;
        weft_log_warn(s->log, "job %s: nodes %s, %s and %s all disagree", v->id, c->nodes[0],
                      c->nodes[1], by);
        return;
    }
    char why[160];
    snprintf(why, sizeof why, "its tokens differed from those of %s and %s", by,
             c->nodes[with_a ? 0 : 1]);
    s->m.verify_wrong++;
    judge(s, c->nodes[with_a ? 1 : 0], 0, why);
    judge(s, c->nodes[with_a ? 0 : 1], 1, NULL);
    judge(s, by, 1, NULL);
}

void sched_verify_finished(struct sched *s, const struct sched_job *j)
{
    if (j->check) {
        check_done(s, j);
        return;
    }
    const char *by = ran_on(j);
    struct sched_node *n = by ? sched_node_find(s, by) : NULL;
    if (!n)
        return;
    const struct sched_verify_cfg *vc = &s->cfg.verify;
    if (vc->canary_every > 0 && vc->n_canaries > 0 &&
        (n->since_canary++ == 0 || n->since_canary >= vc->canary_every)) {
        n->since_canary = 1;
        canary(s, n);
    }
    double rate = n->checks_ok + n->checks_bad < vc->new_node_checks ? vc->new_node_rate : vc->rate;
    if (rate <= 0 || uniform() >= rate)
        return;
    struct sched_check *c = calloc(1, sizeof *c);
    if (!c || !(c->tokens[0] = copy_tokens(j))) {
        free(c);
        return;
    }
    c->kind = SC_CHECK;
    snprintf(c->nodes[0], sizeof c->nodes[0], "%s", by);
    c->n_nodes = 1;
    c->n_tokens[0] = j->n_tokens;
    sched_backend_class(n->hardware, c->backend, sizeof c->backend);
    submit(s, &j->req, c);
}

void sched_verify_tick(struct sched *s, uint64_t now)
{
    if (now < s->verify_next_ms)
        return;
    s->verify_next_ms = now + 2000;
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        struct sched_node *n = weft_list_entry(it, struct sched_node, link);
        if (!n->quarantined)
            continue;
        sched_verify_load(s, n);
        if (!n->quarantined) {
            weft_log_notice(s->log, "node %s: quarantine lifted", n->name);
            sched_dispatch(s);
        }
    }
}
