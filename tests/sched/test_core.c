/* The scheduler in-process: sched_start() on a libuv loop, fake nodes in
 * C that speak the node API through proto's writers and parsers (over the
 * HTTP client of src/net), and a developer's request on the same loop.
 * Submit -> assign -> tokens -> the node's upload breaks -> the job is
 * resumed on another node from the tokens the client has -> done, with the
 * text whole and in order; plus a yield, a repeated token, a token from
 * the future, and a node that reaches for another's job. Each case ends
 * with the scheduler stopped and uv_loop_close() succeeding. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "loop.h"
#include "weft/http_client.h"
#include "weft/log.h"
#include "weft/nodemsg.h"
#include "weft/sched.h"
#include "weft/store.h"

struct env {
    uv_loop_t loop;
    struct weft_log log;
    struct sched *sched;
    struct weft_http_client *http;
    char base[64];
    char key[WEFT_SECRET_MAX];
    int sched_stopped, client_closed;
};

/* One HTTP exchange's outcome. */
struct reply {
    int done;
    int rc;
    long status;
    struct weft_buf body;
    struct weft_http_call *call; /* in flight (until done) */
};

static void on_reply(void *ud, const struct weft_http_result *res)
{
    struct reply *r = ud;
    r->rc = res->rc;
    r->status = res->status;
    weft_buf_reset(&r->body);
    weft_buf_append(&r->body, res->body, res->len);
    r->done = 1;
}

static int reply_done(void *arg)
{
    return ((struct reply *)arg)->done;
}

/* Starts method+path with bearer; body NULL: a GET. */
static void send_call(struct env *e, const char *bearer, const char *path,
                      const struct weft_buf *body, struct reply *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", e->base, path);
    if (!r->body.max)
        weft_buf_init(&r->body, 1u << 20);
    r->done = 0;
    struct weft_http_call_opts o = {.url = url,
                                    .bearer = bearer,
                                    .body = body ? body->data : NULL,
                                    .body_len = body ? body->len : 0,
                                    .timeout_s = 30,
                                    .on_done = on_reply,
                                    .ud = r};
    ASSERT_OK(weft_http_call_start(e->http, &o, &r->call));
}

/* Waits for any answer (the status is the caller's to check). */
static void wait_reply_any(struct env *e, struct reply *r)
{
    loop_until(&e->loop, reply_done, r, 10000);
    ASSERT_OK(r->rc);
}

static void wait_reply(struct env *e, struct reply *r, long status)
{
    loop_until(&e->loop, reply_done, r, 10000);
    ASSERT_OK(r->rc);
    if (r->status != status)
        TEST_FAIL_("HTTP %ld, want %ld: %s", r->status, status, r->body.data ? r->body.data : "");
}

/* ---- the scheduler ---- */

/* The scheduler with heartbeat_ms, its config changed by tweak (or not). */
static void start_cfg(struct env *e, int heartbeat_ms, void (*tweak)(struct sched_config *))
{
    memset(e, 0, sizeof *e);
    ASSERT_OK(uv_loop_init(&e->loop));
    weft_log_init(&e->log, "weft-scheduler", 2);
    e->log.level = getenv("TEST_LOG") ? WEFT_LOG_DEBUG : -1;
    struct sched_config cfg;
    sched_config_default(&cfg);
    if (tweak)
        tweak(&cfg);
    cfg.plain_http = true;
    cfg.port = 0;
    cfg.heartbeat_ms = heartbeat_ms;
    snprintf(cfg.state_dir, sizeof cfg.state_dir, "%s/state", harness_tmpdir());
    char err[512];
    ASSERT_OK(sched_start(&e->sched, &e->loop, &cfg, &e->log, err, sizeof err));
    snprintf(e->base, sizeof e->base, "http://127.0.0.1:%d", sched_port(e->sched));
    /* Credentials, as weftctl makes them: straight into the store. */
    char db[512];
    snprintf(db, sizeof db, "%s/weft.db", cfg.state_dir);
    struct weft_store *st;
    ASSERT_OK(weft_store_open(&st, db, err, sizeof err));
    struct weft_key_info info;
    ASSERT_OK(weft_store_key_create(st, "dev", 0, 0, 0, e->key, &info));
    weft_store_close(st);
    ASSERT_OK(weft_http_client_init(&e->http, &e->loop));
}

static void start(struct env *e, int heartbeat_ms)
{
    start_cfg(e, heartbeat_ms, NULL);
}

static void on_sched_stopped(void *arg)
{
    ((struct env *)arg)->sched_stopped = 1;
}

static void on_client_closed(void *arg)
{
    ((struct env *)arg)->client_closed = 1;
}

static int all_stopped(void *arg)
{
    struct env *e = arg;
    return e->sched_stopped && e->client_closed;
}

static void stop(struct env *e)
{
    weft_http_client_close(e->http, on_client_closed, e);
    sched_stop(e->sched, on_sched_stopped, e);
    loop_until(&e->loop, all_stopped, e, 5000);
    LOOP_CLOSE(&e->loop);
}

/* A counter from /metrics, or -1. */
static double metric(struct env *e, const char *name)
{
    struct reply r = {0};
    send_call(e, NULL, "/metrics", NULL, &r);
    wait_reply(e, &r, 200);
    char want[128];
    snprintf(want, sizeof want, "\n%s ", name);
    const char *p = strstr(r.body.data, want);
    double v = p ? strtod(p + strlen(want), NULL) : -1;
    weft_buf_free(&r.body);
    return v;
}

/* ---- a fake node ---- */

struct node {
    struct env *e;
    char name[32];
    char token[WEFT_SECRET_MAX];
    struct reply poll;
    struct weft_assignment a; /* the last one */
    /* Its upload: events written through proto, fed to curl as they come. */
    struct weft_http_call *upload;
    struct weft_buf out;
    size_t sent;
    int ended;
    struct reply upload_reply;
};

/* The running scheduler's store, opened beside it as weftctl does. */
static struct weft_store *open_store(void)
{
    char db[512], err[256];
    snprintf(db, sizeof db, "%s/state/weft.db", harness_tmpdir());
    struct weft_store *st;
    ASSERT_OK(weft_store_open(&st, db, err, sizeof err));
    return st;
}

/* A new API key, as weftctl keys create makes it. */
static void add_key(const char *name, int admin, char secret[WEFT_SECRET_MAX])
{
    struct weft_store *st = open_store();
    struct weft_key_info info;
    ASSERT_OK(weft_store_key_create(st, name, 0, 0, admin, secret, &info));
    weft_store_close(st);
}

static void node_enroll(struct env *e, struct node *n, const char *name)
{
    memset(n, 0, sizeof *n);
    n->e = e;
    snprintf(n->name, sizeof n->name, "%s", name);
    struct weft_store *st = open_store();
    ASSERT_OK(weft_store_node_enroll(st, name, n->token));
    weft_store_close(st);
    weft_buf_init(&n->out, 1u << 20);
}

static void node_free(struct node *n)
{
    weft_buf_free(&n->out);
    weft_buf_free(&n->poll.body);
    weft_buf_free(&n->upload_reply.body);
    weft_assignment_free(&n->a);
}

static void node_hello(struct node *n, double budget_w)
{
    struct weft_hello h = {.n_models = 1, .max_concurrency = 1};
    snprintf(h.models[0].name, sizeof h.models[0].name, "m");
    h.models[0].tpl = WEFT_TPL_CHATML;
    snprintf(h.hardware, sizeof h.hardware, "fake node %s", n->name);
    struct weft_buf b;
    weft_buf_init(&b, 1 << 16);
    ASSERT_OK(weft_hello_write(&h, &b));
    struct reply r = {0};
    send_call(n->e, n->token, "/v1/node/hello", &b, &r);
    wait_reply(n->e, &r, 200);
    struct weft_hello_reply hr;
    char err[160];
    ASSERT_OK(weft_hello_reply_parse(r.body.data, r.body.len, &hr, err, sizeof err));
    ASSERT_EQ_STR(hr.node, n->name);
    ASSERT(hr.lease_ms > 0);
    weft_buf_free(&r.body);
    /* A heartbeat tells the scheduler what the node may take now. */
    struct weft_heartbeat hb = {.budget_w = budget_w, .deferrable = 1, .interactive = 1};
    hb.pv_w = hb.load_w = hb.grid_w = hb.battery_w = hb.soc = hb.compute_w = NAN;
    snprintf(hb.policy_state, sizeof hb.policy_state, "on");
    weft_buf_reset(&b);
    ASSERT_OK(weft_heartbeat_write(&hb, &b));
    send_call(n->e, n->token, "/v1/node/heartbeat", &b, &r);
    wait_reply(n->e, &r, 200);
    weft_buf_free(&r.body);
    weft_buf_free(&b);
}

static void node_poll(struct node *n)
{
    send_call(n->e, n->token, "/v1/node/work?wait=10", NULL, &n->poll);
}

/* Waits for the poll's assignment and parses it into n->a. */
static void node_assignment(struct node *n)
{
    wait_reply(n->e, &n->poll, 200);
    char err[160];
    weft_assignment_free(&n->a);
    ASSERT_OK(weft_assignment_parse(n->poll.body.data, n->poll.body.len, &n->a, err, sizeof err));
}

static long node_feed(void *ud, char *buf, size_t cap)
{
    struct node *n = ud;
    size_t left = n->out.len - n->sent;
    if (left == 0)
        return n->ended ? 0 : WEFT_HTTP_UPLOAD_PAUSE;
    size_t k = left < cap ? left : cap;
    memcpy(buf, n->out.data + n->sent, k);
    n->sent += k;
    return (long)k;
}

static void node_upload_done(void *ud, const struct weft_http_result *res)
{
    struct node *n = ud;
    n->upload = NULL;
    on_reply(&n->upload_reply, res);
}

static void node_upload_start(struct node *n)
{
    char url[256];
    snprintf(url, sizeof url, "%s/v1/node/jobs/%s/stream", n->e->base, n->a.job);
    weft_buf_reset(&n->out);
    n->sent = 0;
    n->ended = 0;
    if (!n->upload_reply.body.max)
        weft_buf_init(&n->upload_reply.body, 1 << 16);
    n->upload_reply.done = 0;
    struct weft_http_call_opts o = {.url = url,
                                    .bearer = n->token,
                                    .on_upload = node_feed,
                                    .on_done = node_upload_done,
                                    .ud = n};
    ASSERT_OK(weft_http_call_start(n->e->http, &o, &n->upload));
}

static void node_send(struct node *n, const struct weft_event *ev)
{
    ASSERT_OK(weft_event_write(ev, &n->out));
    if (ev->kind == WEFT_EV_END)
        n->ended = 1;
    if (n->upload)
        weft_http_call_resume(n->upload);
}

/* Token i of the script: id 100 + i, text " t<i>". */
static void node_token(struct node *n, int i)
{
    struct weft_event ev;
    char text[16];
    int len = snprintf(text, sizeof text, " t%d", i);
    weft_event_token(&ev, i, 100 + i, text, (size_t)len);
    node_send(n, &ev);
}

static void node_end(struct node *n, enum weft_event_end end)
{
    struct weft_event ev;
    weft_event_end(&ev, end, 2, NULL, NULL);
    node_send(n, &ev);
}

/* ---- a developer ---- */

static void completion(struct env *e, int max_tokens, struct reply *r)
{
    struct weft_buf b;
    weft_buf_init(&b, 4096);
    weft_buf_appendf(&b, "{\"model\":\"m\",\"prompt\":\"p q\",\"max_tokens\":%d,\"seed\":7}",
                     max_tokens);
    send_call(e, e->key, "/v1/completions", &b, r);
    weft_buf_free(&b);
}

static void expect_text(struct reply *r, const char *text, int tokens, const char *finish)
{
    cJSON *o = cJSON_Parse(r->body.data);
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "choices"), 0);
    ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "text")), text);
    ASSERT_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "finish_reason")), finish);
    const cJSON *u = cJSON_GetObjectItem(o, "usage");
    ASSERT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(u, "completion_tokens")), tokens);
    ASSERT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(u, "prompt_tokens")), 2);
    cJSON_Delete(o);
}

struct metric_wait {
    struct env *e;
    const char *name;
    double want;
};

static int metric_is(void *arg)
{
    struct metric_wait *w = arg;
    return metric(w->e, w->name) == w->want;
}

static void wait_metric(struct env *e, const char *name, double want)
{
    struct metric_wait w = {e, name, want};
    loop_until(&e->loop, metric_is, &w, 5000);
}

/* ---- cases ---- */

TEST(lost_node_job_resumes_on_another_from_the_clients_tokens)
{
    struct env e;
    start(&e, 2000);
    struct node a, b;
    node_enroll(&e, &a, "a");
    node_enroll(&e, &b, "b");
    node_hello(&a, 300);
    node_hello(&b, 100);
    node_poll(&a);
    struct reply dev = {0};
    completion(&e, 6, &dev);
    node_assignment(&a);
    ASSERT_EQ_INT(a.a.n_resume, 0);
    ASSERT_EQ_INT(a.a.max_tokens, 6);
    ASSERT_EQ_UINT(a.a.seed, 7);
    ASSERT_EQ_INT(a.a.attempt, 0);
    ASSERT_EQ_STR(a.a.prompt, "p q");
    node_upload_start(&a);
    for (int i = 0; i < 3; i++)
        node_token(&a, i);
    wait_metric(&e, "weft_tokens_total", 3);
    /* Node a dies: its upload's connection breaks mid-job. */
    weft_http_call_cancel(a.upload);
    a.upload = NULL;
    wait_metric(&e, "weft_failovers_total{cause=\"connection_closed\"}", 1);
    /* b gets the job with every token the client already has. */
    node_poll(&b);
    node_assignment(&b);
    ASSERT_EQ_STR(b.a.job, a.a.job);
    ASSERT_EQ_INT(b.a.n_resume, 3);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(b.a.resume[i], 100 + i);
    ASSERT_EQ_INT(b.a.attempt, 1);
    ASSERT_EQ_UINT(b.a.seed, 7);
    node_upload_start(&b);
    node_token(&b, 2); /* a repeat of what the client has: dropped */
    for (int i = 3; i < 6; i++)
        node_token(&b, i);
    node_end(&b, WEFT_END_LENGTH);
    wait_reply(&e, &b.upload_reply, 200);
    wait_reply(&e, &dev, 200);
    expect_text(&dev, " t0 t1 t2 t3 t4 t5", 6, "length");
    /* a was declared gone: it must say hello again. */
    struct weft_heartbeat hb = {0};
    struct weft_buf body;
    weft_buf_init(&body, 4096);
    ASSERT_OK(weft_heartbeat_write(&hb, &body));
    struct reply r = {0};
    send_call(&e, a.token, "/v1/node/heartbeat", &body, &r);
    wait_reply(&e, &r, 409);
    ASSERT_CONTAINS(r.body.data, "hello_first");
    weft_buf_free(&r.body);
    weft_buf_free(&body);
    weft_buf_free(&dev.body);
    node_free(&a);
    node_free(&b);
    stop(&e);
}

TEST(yield_moves_the_job_and_bad_streams_are_refused)
{
    struct env e;
    start(&e, 2000);
    struct node a, b, c;
    node_enroll(&e, &a, "a");
    node_enroll(&e, &b, "b");
    node_enroll(&e, &c, "c");
    node_hello(&a, 300);
    node_hello(&b, 100);
    node_hello(&c, 100);
    node_poll(&a);
    struct reply dev = {0};
    completion(&e, 4, &dev);
    node_assignment(&a);
    /* Another node reaches for a's job: it does not exist for c. */
    struct weft_buf junk;
    weft_buf_init(&junk, 4096);
    weft_buf_append_str(&junk, "{\"i\":0,\"id\":1,\"text\":\"x\"}\n");
    struct reply r = {0};
    char path[128];
    snprintf(path, sizeof path, "/v1/node/jobs/%s/stream", a.a.job);
    send_call(&e, c.token, path, &junk, &r);
    wait_reply(&e, &r, 404);
    /* a yields after one token (its sun went away). */
    node_upload_start(&a);
    node_token(&a, 0);
    node_end(&a, WEFT_END_YIELD);
    wait_reply(&e, &a.upload_reply, 200);
    wait_metric(&e, "weft_failovers_total{cause=\"yield\"}", 1);
    /* b resumes it and sends a token from the future: a protocol error
     * that costs b the job. */
    node_poll(&b);
    node_assignment(&b);
    ASSERT_EQ_INT(b.a.n_resume, 1);
    node_upload_start(&b);
    node_token(&b, 3);
    node_end(&b, WEFT_END_STOP); /* curl hears the answer once its upload is out */
    wait_reply(&e, &b.upload_reply, 400);
    wait_metric(&e, "weft_failovers_total{cause=\"node_error\"}", 1);
    /* c finishes it. */
    node_poll(&c);
    node_assignment(&c);
    ASSERT_EQ_INT(c.a.n_resume, 1);
    ASSERT_EQ_INT(c.a.attempt, 2);
    node_upload_start(&c);
    for (int i = 1; i < 4; i++)
        node_token(&c, i);
    node_end(&c, WEFT_END_STOP);
    wait_reply(&e, &dev, 200);
    expect_text(&dev, " t0 t1 t2 t3", 4, "stop");
    weft_buf_free(&r.body);
    weft_buf_free(&junk);
    weft_buf_free(&dev.body);
    node_free(&a);
    node_free(&b);
    node_free(&c);
    stop(&e);
}

/* Nodes a (300 W, preferred) and b (100 W) live, and a completion of
 * max_tokens tokens assigned to a. */
static void job_on_a(struct env *e, struct node *a, struct node *b, struct reply *dev,
                     int max_tokens)
{
    node_enroll(e, a, "a");
    node_enroll(e, b, "b");
    node_hello(a, 300);
    node_hello(b, 100);
    node_poll(a);
    memset(dev, 0, sizeof *dev);
    completion(e, max_tokens, dev);
    node_assignment(a);
}

/* b takes the job a lost, with `from` tokens the client has, and finishes
 * it; the client's text is every token once. */
static void b_finishes(struct env *e, struct node *a, struct node *b, struct reply *dev, int from,
                       int max_tokens)
{
    node_poll(b);
    node_assignment(b);
    ASSERT_EQ_STR(b->a.job, a->a.job);
    ASSERT_EQ_INT(b->a.n_resume, from);
    node_upload_start(b);
    for (int i = from; i < max_tokens; i++)
        node_token(b, i);
    node_end(b, WEFT_END_LENGTH);
    wait_reply(e, &b->upload_reply, 200);
    wait_reply(e, dev, 200);
    char want[256] = "";
    size_t o = 0;
    for (int i = 0; i < max_tokens; i++)
        o += (size_t)snprintf(want + o, sizeof want - o, " t%d", i);
    expect_text(dev, want, max_tokens, "length");
    weft_buf_free(&dev->body);
    node_free(a);
    node_free(b);
}

/* One failure of the job on node n: its upload breaks after a token, the
 * scheduler counts the failover, and n says hello again (it was declared
 * gone). */
static void fail_on(struct env *e, struct node *n, int token, int failovers)
{
    node_upload_start(n);
    node_token(n, token);
    wait_metric(e, "weft_tokens_total", token + 1);
    weft_http_call_cancel(n->upload);
    n->upload = NULL;
    char m[96];
    snprintf(m, sizeof m, "weft_failovers_total{cause=\"connection_closed\"}");
    wait_metric(e, m, failovers);
    node_hello(n, 300);
}

/* max_attempts counts failures on distinct nodes, as the docs say: three
 * failures landing on a, b, a are two nodes, and the job goes on to a
 * third node instead of failing "on 3 nodes" (issue 17, finding 7). */
TEST(max_attempts_counts_distinct_nodes)
{
    struct env e;
    start(&e, 2000);
    struct node a, b, c;
    struct reply dev;
    job_on_a(&e, &a, &b, &dev, 6);
    node_enroll(&e, &c, "c");
    fail_on(&e, &a, 0, 1);
    node_hello(&b, 100); /* heartbeats: the test's own pace is slower than the lease */
    node_poll(&b);
    node_assignment(&b);
    ASSERT_EQ_INT(b.a.n_resume, 1);
    fail_on(&e, &b, 1, 2);
    node_poll(&a); /* both tried: a again */
    node_assignment(&a);
    ASSERT_EQ_INT(a.a.n_resume, 2);
    fail_on(&e, &a, 2, 3);
    /* two distinct nodes failed: the job is queued, not failed */
    node_hello(&c, 50);
    ASSERT(!dev.done);
    node_poll(&c);
    node_assignment(&c);
    ASSERT_EQ_STR(c.a.job, a.a.job);
    ASSERT_EQ_INT(c.a.n_resume, 3);
    node_upload_start(&c);
    for (int i = 3; i < 6; i++)
        node_token(&c, i);
    node_end(&c, WEFT_END_LENGTH);
    wait_reply(&e, &c.upload_reply, 200);
    wait_reply(&e, &dev, 200);
    expect_text(&dev, " t0 t1 t2 t3 t4 t5", 6, "length");
    weft_buf_free(&dev.body);
    node_free(&a);
    node_free(&b);
    node_free(&c);
    stop(&e);
}

/* An assignment is a lease (issue 17, finding 1): a node that takes a job
 * and never opens its token stream loses it to another node, and so does
 * one that trickles tokens under the operator's floor; the client's text
 * is whole either way. */
static void short_stream_lease(struct sched_config *c)
{
    c->limits.stream_open_ms = 300;
}

static void token_floor(struct sched_config *c)
{
    c->limits.min_tokens_per_s = 5;
    c->limits.token_window_ms = 1000;
}

TEST(a_job_whose_node_never_streams_moves)
{
    struct env e;
    start_cfg(&e, 2000, short_stream_lease);
    struct node a, b;
    struct reply dev;
    job_on_a(&e, &a, &b, &dev, 3); /* and then nothing from a */
    b_finishes(&e, &a, &b, &dev, 0, 3);
    stop(&e);
}

TEST(a_job_under_the_token_floor_moves)
{
    struct env e;
    start_cfg(&e, 2000, token_floor);
    struct node a, b;
    struct reply dev;
    job_on_a(&e, &a, &b, &dev, 4);
    node_upload_start(&a);
    node_token(&a, 0); /* one token, then a trickle of nothing */
    wait_metric(&e, "weft_tokens_total", 1);
    b_finishes(&e, &a, &b, &dev, 1, 4);
    stop(&e);
}

/* A client that goes away mid-request cancels its job, and the cancelled
 * count says so for interactive requests too, not only for stored jobs
 * (issue 17, finding 11). */
TEST(an_interactive_cancel_is_counted)
{
    struct env e;
    start(&e, 2000);
    struct node a;
    node_enroll(&e, &a, "a");
    node_hello(&a, 300);
    node_poll(&a);
    struct reply dev = {0};
    completion(&e, 6, &dev);
    node_assignment(&a);
    node_upload_start(&a);
    node_token(&a, 0);
    wait_metric(&e, "weft_tokens_total", 1);
    weft_http_call_cancel(dev.call); /* the developer hangs up */
    dev.call = NULL;
    wait_metric(&e, "weft_jobs_finished_total{state=\"cancelled\"}", 1);
    weft_buf_free(&dev.body);
    node_free(&a);
    stop(&e);
}

static void three_jobs_a_key(struct sched_config *c)
{
    c->limits.max_jobs_per_key = 3;
}

static void send_json(struct env *e, const char *token, const char *path, const char *json,
                      struct reply *r)
{
    struct weft_buf b;
    weft_buf_init(&b, 1 << 16);
    weft_buf_appendf(&b, "%s", json);
    send_call(e, token, path, &b, r);
    weft_buf_free(&b);
}

static long submit_job(struct env *e, const char *key, int i)
{
    char json[200];
    snprintf(json, sizeof json,
             "{\"endpoint\":\"/v1/completions\",\"request\":{\"model\":\"m\","
             "\"prompt\":\"job %d\",\"max_tokens\":2}}",
             i);
    struct reply r = {0};
    send_json(e, key, "/v1/jobs", json, &r);
    wait_reply_any(e, &r);
    long st = r.status;
    weft_buf_free(&r.body);
    return st;
}

/* One key cannot fill the shared queue (issue 17, finding 5): past
 * limits.max_jobs_per_key queued or running jobs it gets 429, and another
 * key is not held back by it. */
TEST(a_key_cannot_fill_the_queue)
{
    struct env e;
    start_cfg(&e, 2000, three_jobs_a_key);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(submit_job(&e, e.key, i), 202);
    ASSERT_EQ_INT(submit_job(&e, e.key, 3), 429);
    char other[WEFT_SECRET_MAX];
    add_key("other", 0, other);
    ASSERT_EQ_INT(submit_job(&e, other, 4), 202);
    stop(&e);
}

static void one_second_jobs(struct sched_config *c)
{
    c->limits.job_max_wait_s = 1;
}

static int job_expired(void *arg)
{
    struct env *e = ((void **)arg)[0];
    const char *id = ((void **)arg)[1];
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    struct reply r = {0};
    send_call(e, e->key, path, NULL, &r);
    wait_reply(e, &r, 200);
    int expired = strstr(r.body.data, "\"status\":\"expired\"") != NULL;
    weft_buf_free(&r.body);
    return expired;
}

/* No job waits forever (issue 17, finding 5): one given no deadline gets
 * limits.job_max_wait_s, shown in its object, and expires past it. */
TEST(a_job_without_a_deadline_expires)
{
    struct env e;
    start_cfg(&e, 2000, one_second_jobs);
    struct weft_buf b;
    weft_buf_init(&b, 4096);
    weft_buf_appendf(&b, "{\"endpoint\":\"/v1/completions\",\"request\":{\"model\":\"m\","
                         "\"prompt\":\"wait\",\"max_tokens\":2}}");
    struct reply r = {0};
    send_call(&e, e.key, "/v1/jobs", &b, &r);
    wait_reply(&e, &r, 202);
    cJSON *o = cJSON_Parse(r.body.data);
    ASSERT(cJSON_IsNumber(cJSON_GetObjectItem(o, "deadline")));
    char id[64];
    snprintf(id, sizeof id, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")));
    cJSON_Delete(o);
    void *arg[2] = {&e, id};
    loop_until(&e.loop, job_expired, arg, 5000);
    weft_buf_free(&b);
    weft_buf_free(&r.body);
    stop(&e);
}

/* A node reports what it likes; the scheduler believes only what its
 * enrollment allows (issue 17, finding 13): a hello naming a model outside
 * the list is refused, slots and budget are clamped. */
TEST(node_reports_are_clamped_to_the_enrollment)
{
    struct env e;
    start(&e, 2000);
    struct node a;
    node_enroll(&e, &a, "a");
    struct weft_store *st = open_store();
    struct weft_node_limits lim = {.max_budget_w = 500, .max_slots = 2};
    snprintf(lim.models, sizeof lim.models, "m,small");
    ASSERT_OK(weft_store_node_limits_set(st, "a", &lim));
    weft_store_close(st);
    char admin[WEFT_SECRET_MAX];
    add_key("ops", 1, admin);
    struct reply r = {0};
    send_json(&e, a.token, "/v1/node/hello",
              "{\"models\":[{\"name\":\"m\"},{\"name\":\"gpt-4o\"}],\"max_concurrency\":8}", &r);
    wait_reply(&e, &r, 403);
    ASSERT_CONTAINS(r.body.data, "gpt-4o");
    send_json(&e, a.token, "/v1/node/hello",
              "{\"models\":[{\"name\":\"m\"}],\"max_concurrency\":8}", &r);
    wait_reply(&e, &r, 200);
    send_json(&e, a.token, "/v1/node/heartbeat",
              "{\"budget_w\":1e308,\"deferrable\":true,\"interactive\":true,\"slots\":8}", &r);
    wait_reply(&e, &r, 200);
    send_call(&e, admin, "/v1/admin/nodes", NULL, &r);
    wait_reply(&e, &r, 200);
    cJSON *o = cJSON_Parse(r.body.data);
    const cJSON *n = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "data"), 0);
    ASSERT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(n, "max_concurrency")), 2);
    ASSERT_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(n, "slots")), 2);
    ASSERT(cJSON_GetNumberValue(cJSON_GetObjectItem(n, "budget_w")) == 500);
    cJSON_Delete(o);
    weft_buf_free(&r.body);
    node_free(&a);
    stop(&e);
}

/* Deferrable work goes to the home whose budget lasts (issue 16): a node
 * that expects its sun or battery to end within minutes gets a job only
 * when no other node can take it, even with the larger budget now. */
TEST(deferrable_work_goes_where_the_budget_lasts)
{
    struct env e;
    start(&e, 2000);
    struct node a, b;
    node_enroll(&e, &a, "a");
    node_enroll(&e, &b, "b");
    node_hello(&a, 800);
    node_hello(&b, 200);
    struct reply r = {0};
    send_json(&e, a.token, "/v1/node/heartbeat",
              "{\"budget_w\":800,\"deferrable\":true,\"interactive\":true,\"budget_s\":120}", &r);
    wait_reply(&e, &r, 200);
    send_json(&e, b.token, "/v1/node/heartbeat",
              "{\"budget_w\":200,\"deferrable\":true,\"interactive\":true,\"budget_s\":7200}", &r);
    wait_reply(&e, &r, 200);
    weft_buf_free(&r.body);
    node_poll(&a);
    node_poll(&b);
    ASSERT_EQ_INT(submit_job(&e, e.key, 1), 202);
    node_assignment(&b);
    ASSERT_CONTAINS(b.a.prompt, "job 1");
    /* b's one slot is taken: now a, short budget or not. */
    ASSERT_EQ_INT(submit_job(&e, e.key, 2), 202);
    node_assignment(&a);
    ASSERT_CONTAINS(a.a.prompt, "job 2");
    node_free(&a);
    node_free(&b);
    stop(&e);
}
