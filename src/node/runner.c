/* The runner thread; see runner.h. Each job it is given takes a free slot:
 * its prompt tokenized, the tokens the client already has appended, a
 * generation on the slot's session. Then it steps all running jobs
 * together (continuous batching: a job joins at the next step and leaves
 * when it ends), pushing one event per token into each job and waking the
 * loop (which drains everything there is). */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/error.h"
#include "weft/log.h"
#include "weft/schema.h"
#include "weft/time.h"
#include "weft/vocab.h"

/* Pushes ev into the job and wakes the loop. */
static void emit(struct node_runner *r, struct node_job *job, const struct weft_event *ev)
{
    node_job_push(job, ev);
    uv_async_send(&r->wake);
}

static void end(struct node_runner *r, struct node_job *job, enum weft_event_end e,
                int prompt_tokens, const char *message, const char *tail)
{
    node_job_end(job, e, prompt_tokens, message, tail);
    uv_async_send(&r->wake);
}

/* The duty cycle idles in sleeps of at least this: shorter ones cost more in
 * timer slack and wake-ups than they idle. Well below anything thermal. */
#define DUTY_MIN_SLEEP_NS 2000000

/* Prompt tokens one step takes among all the jobs still in their prompts,
 * oldest first: the jobs already decoding are not stalled for more than a
 * few passes, and in a burst the first to come is the first to answer
 * (rather than all answering once every prompt is in). */
#define PROMPT_BUDGET 64

/* A job the runner holds, with its generation. Runner thread only. */
struct slot {
    struct node_runner *r;
    struct node_job *job; /* NULL: free */
    struct weft_gen *gen;
    int n_prompt;     /* tokens of the prompt alone (without the resumed ones) */
    int first;        /* index of the first token this node generates */
    uint64_t last_ns; /* when its last token went out (the speed ceiling) */
    char *tail;       /* text held back to the end (a partial stop string) */
    /* With a response format: where the output is in it, a copy to try
     * each token on, and the engine's view of them. */
    struct weft_matcher match, scratch;
    struct weft_constraint constraint;
    struct weft_session *sessions[WEFTD_MAX_MODELS]; /* this slot's KV caches, kept */
};

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

/* The response format as the engine's constraint (runner thread). */
static int format_allow(void *ud, const char *bytes, size_t n, int budget)
{
    struct slot *sl = ud;
    weft_matcher_copy(&sl->scratch, &sl->match);
    return weft_matcher_feed(&sl->scratch, bytes, n) &&
           weft_matcher_min_close(&sl->scratch) <= budget;
}

static void format_accept(void *ud, const char *bytes, size_t n)
{
    struct slot *sl = ud;
    weft_matcher_feed(&sl->match, bytes, n);
}

static int format_done(void *ud)
{
    struct slot *sl = ud;
    return weft_matcher_done(&sl->match);
}

/* A token's log-probabilities into its event, each with its own bytes. */
static void token_lp(struct weft_token_lp *t, int32_t id, float logprob, const struct weft_vocab *v)
{
    t->id = id;
    t->logprob = logprob;
    int n = weft_token_bytes(v, id, t->bytes, sizeof t->bytes);
    /* A piece longer than the event holds is cut (none of the usual
     * vocabularies has one). */
    t->n_bytes = (uint8_t)(n <= 0 ? 0 : n > (int)sizeof t->bytes ? (int)sizeof t->bytes : n);
}

static void event_logprobs(struct weft_event *ev, const struct weft_logprobs *lp,
                           const struct weft_vocab *v)
{
    ev->has_lp = 1;
    token_lp(&ev->lp, lp->token, lp->logprob, v);
    ev->n_top = lp->n_top < WEFT_NODEMSG_MAX_TOP ? lp->n_top : WEFT_NODEMSG_MAX_TOP;
    for (int k = 0; k < ev->n_top; k++)
        token_lp(&ev->top[k], lp->top[k].id, lp->top[k].logprob, v);
}

static int on_token(void *ud, int32_t token, int pos, const char *text, size_t len)
{
    (void)pos;
    struct slot *sl = ud;
    struct node_job *job = sl->job;
    if (token < 0) {
        /* Held-back text at the natural end: it rides on the end event. */
        free(sl->tail);
        sl->tail = strndup(text, len);
        return 0;
    }
    int k = atomic_fetch_add(&job->tokens, 1);
    struct weft_event ev;
    weft_event_token(&ev, sl->first + k, token, text, len);
    const struct weft_logprobs *lp = weft_gen_logprobs(sl->gen);
    if (lp)
        event_logprobs(&ev, lp, weft_model_vocab(sl->r->models[job->model].model));
    emit(sl->r, job, &ev);
    return atomic_load(&job->yield) || atomic_load(&job->cancel);
}

/* Between off and full power: a duty cycle over steps. A step took `busy`
 * ns at full speed and owes busy * (1/duty - 1) ns of idling, which brings
 * the average draw down to the budget whatever the batch. The debt is paid
 * in sleeps of DUTY_MIN_SLEEP_NS or more and what a sleep overran is
 * credited (one sleep's worth at most), so the average holds even for
 * steps of microseconds (a small model on a CPU), where sleeping after each
 * one would idle mostly timer slack. */
static void duty_cycle(struct node_runner *r, uint64_t busy, int64_t *debt)
{
    double budget = (double)atomic_load(&r->budget_mw) / 1000.0;
    double full = r->cfg->busy_w;
    /* With the GPU's own limit following the budget, no extra idling. */
    int limited = atomic_load(&r->gpu_limited);
    if (limited || budget <= 0 || budget >= full || strcmp(r->cfg->interactive, "always") == 0) {
        *debt = 0;
        return;
    }
    double duty = budget / full < 0.1 ? 0.1 : budget / full;
    *debt += (int64_t)((double)busy * (1.0 / duty - 1.0));
    if (*debt > 1000000000) /* the yield check waits for the sleep */
        *debt = 1000000000;
    if (*debt >= DUTY_MIN_SLEEP_NS) {
        uint64_t t0 = weft_mono_ns();
        sleep_ns((uint64_t)*debt);
        *debt -= (int64_t)(weft_mono_ns() - t0);
        if (*debt < -DUTY_MIN_SLEEP_NS)
            *debt = -DUTY_MIN_SLEEP_NS;
    }
}

/* Tokenizes the job's prompt, appends the tokens the client already has
 * and makes its generation on the slot's session; on failure the job ends
 * with the reason and the slot stays free. */
static void slot_start(struct slot *sl, struct node_job *job)
{
    struct node_runner *r = sl->r;
    struct weft_model *m = r->models[job->model].model;
    if (!sl->sessions[job->model]) {
        int rc = weft_session_new(m, r->cfg->n_ctx, &sl->sessions[job->model]);
        if (rc != 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "cannot allocate the KV cache (%.0f MiB): %s",
                     (double)weft_session_bytes(m, r->cfg->n_ctx) / (1 << 20), weft_strerror(rc));
            end(r, job, WEFT_END_ERROR, -1, msg, NULL);
            return;
        }
    }
    const struct weft_vocab *v = weft_model_vocab(m);
    size_t plen = strlen(job->prompt);
    int bos = weft_vocab_adds_bos(v);
    /* The tokenizer says how many ids the prompt takes: a byte-level
     * vocabulary may need several per byte, so no size is guessed. A first
     * try with room for one per byte is enough for most prompts. */
    size_t cap = plen + 8;
    int32_t *toks = NULL;
    int n = WEFT_ENOMEM;
    for (int tries = 0; tries < 2; tries++) {
        int32_t *t = realloc(toks, (cap + (size_t)job->n_resume) * sizeof *toks);
        if (!t) {
            n = WEFT_ENOMEM;
            break;
        }
        toks = t;
        /* Control tokens only where the template wrote them: a user's
         * "<|im_end|>" stays text. */
        struct weft_spans mk = {job->markup, (size_t)job->n_markup};
        n = weft_tokenize_spans(v, job->prompt, plen, bos, &mk, toks, cap);
        if (n < 0 || (size_t)n <= cap)
            break;
        cap = (size_t)n;
    }
    if (n < 0 || (size_t)n > cap) {
        free(toks);
        char msg[128];
        snprintf(msg, sizeof msg, "cannot tokenize the prompt: %s",
                 weft_strerror(n < 0 ? n : WEFT_EIO));
        end(r, job, WEFT_END_ERROR, -1, msg, NULL);
        return;
    }
    int n_prompt = n;
    if (job->n_resume > 0) /* a fresh job has no resume array at all */
        memcpy(toks + n, job->resume, (size_t)job->n_resume * sizeof *toks);
    n += job->n_resume;
    struct weft_gen_params p;
    memset(&p, 0, sizeof p);
    weft_sampling_defaults(&p.sampling);
    p.sampling.temperature = job->temperature;
    p.sampling.top_p = job->top_p;
    p.sampling.presence_penalty = job->presence_penalty;
    p.sampling.frequency_penalty = job->frequency_penalty;
    p.sampling.top_k = 0;
    p.sampling.min_p = 0;
    p.sampling.seed = job->seed;
    p.max_tokens = job->max_tokens;
    p.n_resumed = job->n_resume;
    p.logprobs = job->logprobs;
    p.top_logprobs = job->top_logprobs;
    if (job->schema) {
        weft_matcher_init(&sl->match, job->schema);
        sl->constraint = (struct weft_constraint){sl, format_allow, format_accept, format_done};
        p.constraint = &sl->constraint;
    }
    p.n_stop = job->n_stop;
    memcpy(p.stop, job->stop, sizeof p.stop);
    sl->job = job;
    sl->n_prompt = n_prompt;
    sl->first = job->n_resume;
    sl->last_ns = weft_mono_ns();
    int rc = weft_gen_new(sl->sessions[job->model], toks, n, &p, on_token, sl, &sl->gen);
    free(toks);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "engine: %s", weft_strerror(rc));
        end(r, job, WEFT_END_ERROR, n_prompt, msg, NULL);
        sl->job = NULL;
    }
}

/* The generation is over: the end event, and the slot is free. */
static void slot_end(struct slot *sl)
{
    struct node_job *job = sl->job;
    struct weft_gen_result res;
    int rc = weft_gen_done(sl->gen, &res);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "engine: %s",
                 rc == WEFT_EINVAL && job->schema ? "no token of the model fits the response format"
                                                  : weft_strerror(rc));
        end(sl->r, job, WEFT_END_ERROR, sl->n_prompt, msg, NULL);
    } else if (res.finish == WEFT_FINISH_CANCELED) {
        int cancelled = atomic_load(&job->cancel);
        end(sl->r, job, cancelled ? WEFT_END_ERROR : WEFT_END_YIELD, sl->n_prompt,
            cancelled ? "cancelled" : NULL, NULL);
    } else {
        end(sl->r, job, res.finish == WEFT_FINISH_STOP ? WEFT_END_STOP : WEFT_END_LENGTH,
            sl->n_prompt, NULL, sl->tail);
    }
    weft_gen_free(sl->gen);
    sl->gen = NULL;
    free(sl->tail);
    sl->tail = NULL;
    sl->job = NULL;
    atomic_fetch_sub(&sl->r->running, 1);
}

/* One step for each model's running jobs together (one step per model:
 * a step is of one model), the duty cycle after it, then the ends. */
static void step_all(struct node_runner *r, struct slot *slots, int64_t *debt)
{
    int n_slots = r->max_slots;
    for (int i = 0; i < n_slots; i++) /* a yield or cancel during a prompt */
        if (slots[i].job &&
            (atomic_load(&slots[i].job->yield) || atomic_load(&slots[i].job->cancel)))
            weft_gen_cancel(slots[i].gen);
    uint64_t t0 = weft_mono_ns();
    for (int mi = 0; mi < r->n_models; mi++) {
        struct weft_gen *gs[WEFTD_MAX_SLOTS];
        int n = 0;
        const struct node_job *who[WEFTD_MAX_SLOTS];
        for (int i = 0; i < n_slots; i++) {
            if (!slots[i].job || slots[i].job->model != mi || weft_gen_done(slots[i].gen, NULL))
                continue;
            /* in the order the jobs came (slots are reused out of order) */
            int at = n++;
            while (at > 0 && who[at - 1]->started_ms > slots[i].job->started_ms) {
                gs[at] = gs[at - 1];
                who[at] = who[at - 1];
                at--;
            }
            gs[at] = slots[i].gen;
            who[at] = slots[i].job;
        }
        if (n > atomic_load(&r->peak))
            atomic_store(&r->peak, n);
        if (n > 0)
            weft_gen_step(gs, n, PROMPT_BUDGET); /* a failure ends each with its error */
    }
    duty_cycle(r, weft_mono_ns() - t0, debt);
    /* A speed ceiling, when the homeowner set one: per job, so per step. */
    double tps = r->cfg->max_tokens_per_s;
    if (tps > 0) {
        uint64_t spent = weft_mono_ns() - t0, want = (uint64_t)(1e9 / tps);
        if (spent < want)
            sleep_ns(want - spent);
    }
    for (int i = 0; i < n_slots; i++)
        if (slots[i].job && weft_gen_done(slots[i].gen, NULL) != 0)
            slot_end(&slots[i]);
}

static void *runner_main(void *arg)
{
    struct node_runner *r = arg;
    struct slot slots[WEFTD_MAX_SLOTS];
    memset(slots, 0, sizeof slots);
    for (int i = 0; i < WEFTD_MAX_SLOTS; i++)
        slots[i].r = r;
    int64_t debt = 0;
    for (;;) {
        struct node_job *in[WEFTD_MAX_SLOTS];
        int n_in = 0, busy = atomic_load(&r->running) > 0;
        pthread_mutex_lock(&r->mu);
        while (!busy && r->n_incoming == 0 && !r->quit)
            pthread_cond_wait(&r->cv, &r->mu);
        n_in = r->n_incoming;
        memcpy(in, r->incoming, (size_t)n_in * sizeof in[0]);
        r->n_incoming = 0;
        int quit = r->quit;
        pthread_mutex_unlock(&r->mu);
        /* New jobs join at this step. */
        for (int k = 0; k < n_in; k++) {
            struct slot *free_slot = NULL;
            for (int i = 0; i < r->max_slots && !free_slot; i++)
                if (!slots[i].job)
                    free_slot = &slots[i];
            if (!free_slot) {
                char msg[96];
                snprintf(msg, sizeof msg, "no free slot: all %d in use", r->max_slots);
                end(r, in[k], WEFT_END_ERROR, -1, msg, NULL);
                continue;
            }
            atomic_fetch_add(&r->running, 1);
            slot_start(free_slot, in[k]);
            if (!free_slot->job)
                atomic_fetch_sub(&r->running, 1);
        }
        if (atomic_load(&r->running) > 0)
            step_all(r, slots, &debt);
        else if (quit)
            break;
    }
    for (int i = 0; i < WEFTD_MAX_SLOTS; i++)
        for (int mi = 0; mi < WEFTD_MAX_MODELS; mi++)
            weft_session_free(slots[i].sessions[mi]);
    return NULL;
}

static void on_wake(uv_async_t *a)
{
    struct node_runner *r = a->data;
    r->on_events(r->ud);
}

int node_runner_init(struct node_runner *r, uv_loop_t *loop, const struct weftd_compute_cfg *cfg,
                     const struct node_model *models, int n_models, void (*on_events)(void *),
                     void *ud)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->models = models;
    r->n_models = n_models;
    r->max_slots = 1; /* the daemon sets its count before the start */
    r->on_events = on_events;
    r->ud = ud;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    int rc = uv_async_init(loop, &r->wake, on_wake);
    r->wake.data = r;
    return rc;
}

int node_runner_start(struct node_runner *r)
{
    if (pthread_create(&r->thread, NULL, runner_main, r) != 0)
        return WEFT_ENOMEM;
    pthread_setname_np(r->thread, "weftd-runner"); /* for top -H, perf, the tests */
    r->started = 1;
    return 0;
}

void node_runner_give(struct node_runner *r, struct node_job *job)
{
    pthread_mutex_lock(&r->mu);
    if (r->n_incoming < WEFTD_MAX_SLOTS) {
        r->incoming[r->n_incoming++] = job;
        job = NULL;
    }
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (job) /* the daemon gives no more than max_slots; say so if it did */
        end(r, job, WEFT_END_ERROR, -1, "no free slot", NULL);
}

void node_runner_set_budget(struct node_runner *r, double watts, int gpu_limited)
{
    atomic_store(&r->budget_mw, (long)(watts * 1000));
    atomic_store(&r->gpu_limited, gpu_limited);
}

void node_runner_stop(struct node_runner *r)
{
    if (!r->started)
        return;
    pthread_mutex_lock(&r->mu);
    r->quit = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    r->started = 0;
}

static void on_closed(uv_handle_t *h)
{
    struct node_runner *r = h->data;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    if (r->close_cb)
        r->close_cb(r->close_arg);
}

void node_runner_close(struct node_runner *r, void (*cb)(void *), void *arg)
{
    r->close_cb = cb;
    r->close_arg = arg;
    uv_close((uv_handle_t *)&r->wake, on_closed);
}
