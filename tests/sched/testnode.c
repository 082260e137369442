/* testnode: a small home node for scheduler tests. It speaks the node API
 * (hello, heartbeat, long-poll for work, chunked token upload) with
 * libcurl and emits scripted tokens instead of running a model: token i of
 * a job is a pure function of (seed, prompt, i), so a job resumed on
 * another testnode continues exactly where the first left off, the way the
 * real engine's (seed, position) sampler does.
 *
 * Faults on demand: --die-after N raises SIGKILL after N tokens (a node
 * that crashes: its connections close), --freeze-after N raises SIGSTOP
 * (a node that goes silent with its connections open), --yield-after N
 * gives each job back after N of its tokens (lost power budget).
 *
 * --url may list several schedulers (comma-separated): when the one in use
 * stops answering, the node says hello to the next, as weftd does.
 */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weft/buf.h"
#include "weft/error.h"
#include "weft/nodemsg.h"

struct cfg {
    const char *url, *token, *cacert, *models;
    int token_ms, concurrency, slots, die_after, freeze_after, yield_after;
    int fast; /* --fast: workers that answer each job at once on kept-alive connections */
    double budget_w;
    int deferrable, interactive;
    double lie_rate; /* --lie-rate: this fraction of jobs gets a wrong last token */
};

#define MAX_URLS 8

struct node {
    struct cfg c;
    char urls[MAX_URLS][256];
    int n_urls;
    atomic_int url_idx;
    atomic_int running;
    atomic_long tokens;
    atomic_int need_hello;
    /* Counts hellos made: a heartbeat answered 409 that was sent before
     * the latest hello says nothing about the new registration. */
    atomic_int hellos;
    atomic_int heartbeat_ms;
    char session[33]; /* this process's session id */
};

struct job {
    struct node *n;
    char id[64];
    char *prompt;
    uint64_t seed;
    int logprobs, top_logprobs;
    int lie; /* this job's last token is altered (a dishonest node) */
    int next, max, emitted;
    int done;
    struct weft_buf line; /* the event being sent */
    size_t line_off;
};

static const char *const words[] = {
    "sun",    "panel", "roof",  "watt",     "grid",    "cloud",  "noon",  "meter",
    "cell",   "volt",  "amp",   "inverter", "battery", "charge", "yield", "token",
    "node",   "home",  "light", "heat",     "river",   "wind",   "leaf",  "stone",
    "bright", "quiet", "warm",  "calm",     "blue",    "green",  "gold",  "night",
};
#define NWORDS (sizeof words / sizeof words[0])

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static int token_at(uint64_t seed, const char *prompt, int i)
{
    uint64_t h = seed;
    for (const char *p = prompt; *p; p++)
        h = mix(h ^ (unsigned char)*p);
    return (int)(mix(h ^ (uint64_t)i * 0x9e3779b97f4a7c15ull) % NWORDS);
}

/* The script's log-probabilities at position i: logits over the words, a
 * pure function of (seed, prompt, i) like the token itself, so that a job
 * resumed on another node reports what the first would have. */
static void script_lp(uint64_t seed, const char *prompt, int i, int top, struct weft_event *ev)
{
    uint64_t h = seed;
    for (const char *p = prompt; *p; p++)
        h = mix(h ^ (unsigned char)*p);
    double logit[NWORDS], max = -1e300, sum = 0;
    for (size_t w = 0; w < NWORDS; w++) {
        logit[w] =
            (double)(mix(h ^ (uint64_t)i * 0x51ed27ull ^ (w + 1) * 0x2545f491ull) % 800) / 100.0;
        if (logit[w] > max)
            max = logit[w];
    }
    for (size_t w = 0; w < NWORDS; w++)
        sum += exp(logit[w] - max);
    double lse = max + log(sum);
    ev->has_lp = 1;
    ev->lp.id = ev->id;
    ev->lp.logprob = (float)(logit[ev->id] - lse);
    ev->lp.n_bytes = (uint8_t)snprintf(ev->lp.bytes, sizeof ev->lp.bytes, " %s", words[ev->id]);
    int used[NWORDS] = {0};
    ev->n_top = top < (int)NWORDS ? top : (int)NWORDS;
    for (int k = 0; k < ev->n_top; k++) {
        int best = -1;
        for (size_t w = 0; w < NWORDS; w++)
            if (!used[w] && (best < 0 || logit[w] > logit[best]))
                best = (int)w;
        used[best] = 1;
        ev->top[k].id = best;
        ev->top[k].logprob = (float)(logit[best] - lse);
        ev->top[k].n_bytes =
            (uint8_t)snprintf(ev->top[k].bytes, sizeof ev->top[k].bytes, " %s", words[best]);
    }
}

/* Whether a dishonest node alters job id: a fixed fraction of ids. */
static int lies_on(const struct node *n, const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = id; *p; p++)
        h = mix(h ^ (unsigned char)*p);
    return (double)(h % 1000000) < n->c.lie_rate * 1e6;
}

/* The script's token, or the wrong one a liar sends last. */
static int token_sent(int lie, uint64_t seed, const char *prompt, int i, int max)
{
    int t = token_at(seed, prompt, i);
    return lie && i == max - 1 ? (t + 1) % (int)NWORDS : t;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    return weft_buf_append(ud, p, sz * n) == 0 ? sz * n : 0;
}

static CURL *easy(struct node *n, const char *path, struct curl_slist **h, struct weft_buf *out)
{
    CURL *c = curl_easy_init();
    char url[512], auth[160];
    snprintf(url, sizeof url, "%s%s", n->urls[atomic_load(&n->url_idx) % n->n_urls], path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", n->c.token);
    *h = curl_slist_append(NULL, auth);
    char session[64];
    snprintf(session, sizeof session, "X-Weft-Session: %s", n->session);
    *h = curl_slist_append(*h, session);
    *h = curl_slist_append(*h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *h);
    if (n->c.cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, n->c.cacert);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

static long post(struct node *n, const char *path, const char *body, struct weft_buf *out)
{
    struct curl_slist *h;
    CURL *c = easy(n, path, &h, out);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static int hello(struct node *n)
{
    struct weft_hello h;
    memset(&h, 0, sizeof h);
    char list[512];
    snprintf(list, sizeof list, "%s", n->c.models);
    for (char *save = NULL, *m = strtok_r(list, ",", &save);
         m && h.n_models < WEFT_NODEMSG_MAX_MODELS; m = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(m, ':');
        if (colon)
            *colon = '\0';
        snprintf(h.models[h.n_models].name, sizeof h.models[0].name, "%s", m);
        h.models[h.n_models].tpl = WEFT_TPL_CHATML;
        if (colon && weft_chat_template_parse(colon + 1, &h.models[h.n_models].tpl) != 0)
            fprintf(stderr, "testnode: unknown template %s; chatml it is\n", colon + 1);
        h.n_models++;
    }
    h.max_concurrency = n->c.concurrency;
    snprintf(h.hardware, sizeof h.hardware, "testnode (scripted tokens)");
    struct weft_buf body, out;
    weft_buf_init(&body, 1 << 16);
    weft_buf_init(&out, 1 << 16);
    long st = weft_hello_write(&h, &body) == 0 ? post(n, "/v1/node/hello", body.data, &out) : 0;
    struct weft_hello_reply r;
    char err[160];
    if (st == 200 &&
        weft_hello_reply_parse(out.data ? out.data : "", out.len, &r, err, sizeof err) == 0)
        atomic_store(&n->heartbeat_ms, r.heartbeat_ms);
    weft_buf_free(&body);
    weft_buf_free(&out);
    if (st == 200)
        atomic_fetch_add(&n->hellos, 1);
    if (st == 0 && n->n_urls > 1) {
        /* No answer: the next scheduler in the list. */
        int next = (atomic_load(&n->url_idx) + 1) % n->n_urls;
        atomic_store(&n->url_idx, next);
        fprintf(stderr, "testnode: trying scheduler %s\n", n->urls[next]);
    }
    return st == 200 ? 0 : WEFT_EAGAIN;
}

static void *heartbeats(void *arg)
{
    struct node *n = arg;
    struct weft_heartbeat hb;
    memset(&hb, 0, sizeof hb);
    hb.budget_w = n->c.budget_w;
    snprintf(hb.policy_state, sizeof hb.policy_state, "on");
    hb.deferrable = n->c.deferrable;
    hb.interactive = n->c.interactive;
    hb.pv_w = 3000;
    hb.grid_w = -1500;
    hb.battery_w = 0;
    hb.soc = 80;
    hb.load_w = hb.compute_w = NAN;
    hb.slots = n->c.slots; /* 0: not sent, the hello's concurrency holds */
    for (;;) {
        struct weft_buf body, out;
        weft_buf_init(&body, 1 << 16);
        weft_buf_init(&out, 1 << 16);
        int before = atomic_load(&n->hellos);
        long st = !atomic_load(&n->need_hello) && weft_heartbeat_write(&hb, &body) == 0
                      ? post(n, "/v1/node/heartbeat", body.data, &out)
                      : -1;
        weft_buf_free(&body);
        weft_buf_free(&out);
        if ((st == 409 || (st == 0 && n->n_urls > 1)) && before == atomic_load(&n->hellos))
            atomic_store(&n->need_hello, 1);
        struct timespec ts = {atomic_load(&n->heartbeat_ms) / 1000,
                              (atomic_load(&n->heartbeat_ms) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* curl pulls the upload from here, one JSON line at a time. */
static size_t produce(char *buf, size_t sz, size_t nitems, void *ud)
{
    struct job *j = ud;
    size_t cap = sz * nitems;
    if (j->line_off == j->line.len) {
        if (j->done)
            return 0;
        struct node *n = j->n;
        struct weft_event ev;
        memset(&ev, 0, sizeof ev);
        if (n->c.yield_after && j->emitted >= n->c.yield_after) {
            weft_event_end(&ev, WEFT_END_YIELD, -1, NULL, NULL);
            j->done = 1;
        } else if (j->next >= j->max) {
            int words_in_prompt = 1;
            for (const char *p = j->prompt; *p; p++)
                words_in_prompt += *p == ' ';
            weft_event_end(&ev, WEFT_END_LENGTH, words_in_prompt, NULL, NULL);
            j->done = 1;
        } else {
            /* Faults strike right after token N went out, so a benchmark
             * can time the failover from the client's last token. */
            long done_tokens = atomic_load(&n->tokens);
            if (n->c.die_after && done_tokens >= n->c.die_after)
                raise(SIGKILL);
            if (n->c.freeze_after && done_tokens >= n->c.freeze_after)
                raise(SIGSTOP);
            sleep_ms(n->c.token_ms);
            atomic_fetch_add(&n->tokens, 1);
            int id = token_sent(j->lie, j->seed, j->prompt, j->next, j->max);
            char text[32];
            int len = snprintf(text, sizeof text, " %s", words[id]);
            weft_event_token(&ev, j->next, id, text, (size_t)len);
            if (j->logprobs)
                script_lp(j->seed, j->prompt, j->next, j->top_logprobs, &ev);
            j->next++;
            j->emitted++;
        }
        weft_buf_reset(&j->line);
        if (weft_event_write(&ev, &j->line) != 0)
            return CURL_READFUNC_ABORT;
        j->line_off = 0;
    }
    size_t take = j->line.len - j->line_off;
    if (take > cap)
        take = cap;
    memcpy(buf, j->line.data + j->line_off, take);
    j->line_off += take;
    return take;
}

static void *run_job(void *arg)
{
    struct job *j = arg;
    struct node *n = j->n;
    char path[128];
    snprintf(path, sizeof path, "/v1/node/jobs/%s/stream", j->id);
    struct weft_buf out;
    weft_buf_init(&out, 1 << 16);
    struct curl_slist *h;
    CURL *c = easy(n, path, &h, &out);
    h = curl_slist_append(h, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, produce);
    curl_easy_setopt(c, CURLOPT_READDATA, j);
    curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    weft_buf_free(&out);
    weft_buf_free(&j->line);
    free(j->prompt);
    free(j);
    atomic_fetch_sub(&n->running, 1);
    return NULL;
}

static void start_job(struct node *n, const char *body, size_t len)
{
    struct weft_assignment a;
    char err[160];
    if (weft_assignment_parse(body, len, &a, err, sizeof err) != 0) {
        fprintf(stderr, "testnode: bad assignment (%s): %s\n", err, body);
        weft_assignment_free(&a);
        return;
    }
    struct job *j = calloc(1, sizeof *j);
    j->n = n;
    snprintf(j->id, sizeof j->id, "%s", a.job);
    j->prompt = a.prompt;
    a.prompt = NULL;
    j->seed = a.seed;
    j->logprobs = a.logprobs;
    j->top_logprobs = a.top_logprobs;
    j->lie = lies_on(n, a.job);
    j->next = a.n_resume;
    j->max = a.max_tokens;
    weft_buf_init(&j->line, 1 << 16);
    /* Check the resume point: the tokens the scheduler sends back must be
     * the ones this script would have produced. */
    for (int i = 0; i < a.n_resume; i++)
        if (a.resume[i] != token_at(j->seed, j->prompt, i))
            fprintf(stderr, "testnode: job %s: token %d differs from the script\n", j->id, i);
    weft_assignment_free(&a);
    atomic_fetch_add(&n->running, 1);
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_create(&th, &at, run_job, j);
    pthread_attr_destroy(&at);
}

/* --fast: each worker keeps its own two connections (poll, upload) alive
 * and answers a job with all its tokens in one body, so a benchmark sees
 * the scheduler's cost rather than this node's. */
static void *fast_worker(void *arg)
{
    struct node *n = arg;
    struct weft_buf out, body;
    weft_buf_init(&out, 1 << 20);
    weft_buf_init(&body, 1 << 20);
    struct curl_slist *hp, *hs;
    CURL *poll = easy(n, "/v1/node/work?wait=20", &hp, &out);
    curl_easy_setopt(poll, CURLOPT_TIMEOUT, 40L);
    struct weft_buf sink_buf;
    weft_buf_init(&sink_buf, 1 << 16);
    CURL *up = easy(n, "/", &hs, &sink_buf);
    for (;;) {
        weft_buf_reset(&out);
        long st = 0;
        if (curl_easy_perform(poll) == CURLE_OK)
            curl_easy_getinfo(poll, CURLINFO_RESPONSE_CODE, &st);
        if (st == 409) {
            atomic_store(&n->need_hello, 1);
            sleep_ms(100);
            continue;
        }
        if (st != 200 || !out.data) {
            if (st != 204)
                sleep_ms(100);
            continue;
        }
        struct weft_assignment a;
        char err[160];
        if (weft_assignment_parse(out.data, out.len, &a, err, sizeof err) == 0) {
            weft_buf_reset(&body);
            struct weft_event ev;
            int lie = lies_on(n, a.job);
            for (int i = a.n_resume; i < a.max_tokens; i++) {
                int t = token_sent(lie, a.seed, a.prompt, i, a.max_tokens);
                char text[32];
                int len = snprintf(text, sizeof text, " %s", words[t]);
                weft_event_token(&ev, i, t, text, (size_t)len);
                if (a.logprobs)
                    script_lp(a.seed, a.prompt, i, a.top_logprobs, &ev);
                weft_event_write(&ev, &body);
            }
            weft_event_end(&ev, WEFT_END_LENGTH, 1, NULL, NULL);
            weft_event_write(&ev, &body);
            char url[512];
            snprintf(url, sizeof url, "%s/v1/node/jobs/%s/stream",
                     n->urls[atomic_load(&n->url_idx) % n->n_urls], a.job);
            curl_easy_setopt(up, CURLOPT_URL, url);
            curl_easy_setopt(up, CURLOPT_POSTFIELDS, body.data);
            curl_easy_setopt(up, CURLOPT_POSTFIELDSIZE, (long)body.len);
            weft_buf_reset(&sink_buf);
            curl_easy_perform(up);
            atomic_fetch_add(&n->tokens, 1);
        }
        weft_assignment_free(&a);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct node n;
    memset(&n, 0, sizeof n);
    n.c.models = "test-model:chatml";
    n.c.token_ms = 5;
    n.c.concurrency = 4;
    n.c.budget_w = 300;
    n.c.deferrable = n.c.interactive = 1;
    snprintf(n.session, sizeof n.session, "%08x%08x", (unsigned)getpid(),
             (unsigned)time(NULL) ^ (unsigned)clock());
    int i = 1;
    while (i < argc) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(f, "--no-deferrable") == 0) {
            n.c.deferrable = 0;
            i++;
            continue;
        }
        if (strcmp(f, "--fast") == 0) {
            n.c.fast = 1;
            i++;
            continue;
        }
        if (strcmp(f, "--no-interactive") == 0) {
            n.c.interactive = 0;
            i++;
            continue;
        }
        i += 2;
        if (strcmp(f, "--url") == 0)
            n.c.url = v;
        else if (strcmp(f, "--token") == 0)
            n.c.token = v;
        else if (strcmp(f, "--cacert") == 0)
            n.c.cacert = v;
        else if (strcmp(f, "--models") == 0)
            n.c.models = v;
        else if (strcmp(f, "--token-ms") == 0)
            n.c.token_ms = (int)strtol(v, NULL, 10);
        else if (strcmp(f, "--concurrency") == 0)
            n.c.concurrency = (int)strtol(v, NULL, 10);
        else if (strcmp(f, "--slots") == 0)
            n.c.slots = (int)strtol(v, NULL, 10);
        else if (strcmp(f, "--budget-w") == 0)
            n.c.budget_w = strtod(v, NULL);
        else if (strcmp(f, "--die-after") == 0)
            n.c.die_after = (int)strtol(v, NULL, 10);
        else if (strcmp(f, "--freeze-after") == 0)
            n.c.freeze_after = (int)strtol(v, NULL, 10);
        else if (strcmp(f, "--yield-after") == 0)
            n.c.yield_after = (int)strtol(v, NULL, 10);
        else if (strcmp(f, "--lie-rate") == 0)
            n.c.lie_rate = strtod(v, NULL);
        else {
            fprintf(stderr, "testnode: unknown option %s\n", f);
            return 2;
        }
    }
    if (!n.c.url || !n.c.token) {
        fprintf(stderr, "usage: testnode --url URL --token TOKEN [--cacert PEM] ...\n");
        return 2;
    }
    char list[MAX_URLS * 256];
    snprintf(list, sizeof list, "%s", n.c.url);
    for (char *save = NULL, *u = strtok_r(list, ",", &save); u && n.n_urls < MAX_URLS;
         u = strtok_r(NULL, ",", &save))
        snprintf(n.urls[n.n_urls++], sizeof n.urls[0], "%s", u);
    signal(SIGPIPE, SIG_IGN); /* CURLOPT_NOSIGNAL leaves this to us */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    atomic_store(&n.heartbeat_ms, 1000);
    while (hello(&n) != 0)
        sleep_ms(200);
    fprintf(stderr, "testnode: registered\n");
    pthread_t hb;
    pthread_create(&hb, NULL, heartbeats, &n);
    if (n.c.fast) {
        for (int w = 0; w < n.c.concurrency; w++) {
            pthread_t th;
            pthread_create(&th, NULL, fast_worker, &n);
        }
        for (;;) {
            sleep_ms(50);
            if (atomic_load(&n.need_hello)) {
                while (hello(&n) != 0)
                    sleep_ms(200);
                atomic_store(&n.need_hello, 0);
            }
        }
    }
    for (;;) {
        /* Cleared once the hello is through: meanwhile the heartbeats
         * wait, so none reaches a scheduler that has not heard it. */
        if (atomic_load(&n.need_hello)) {
            while (hello(&n) != 0)
                sleep_ms(200);
            atomic_store(&n.need_hello, 0);
        }
        if (atomic_load(&n.running) >= n.c.concurrency) {
            sleep_ms(5);
            continue;
        }
        struct weft_buf out;
        weft_buf_init(&out, 1 << 20);
        struct curl_slist *h;
        CURL *c = easy(&n, "/v1/node/work?wait=20", &h, &out);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 40L);
        long st = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        if (st == 200 && out.data)
            start_job(&n, out.data, out.len);
        else if (st == 409 || (st == 0 && n.n_urls > 1))
            atomic_store(&n.need_hello, 1);
        else if (st != 204)
            sleep_ms(100);
        weft_buf_free(&out);
    }
}
