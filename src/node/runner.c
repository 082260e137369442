/* The runner thread; see runner.h. For each job it tokenizes the prompt,
 * appends the tokens the client already has, generates, and pushes one
 * event per token into the job, waking the loop (which drains everything
 * there is). */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/error.h"
#include "weft/log.h"
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

struct run {
    struct node_runner *r;
    struct node_job *job;
    int first; /* index of the first token this node generates */
    uint64_t last_ns;
    int64_t idle_debt_ns; /* duty-cycle idling owed (< 0: overslept, credited) */
    char *tail;           /* text held back to the end (a partial stop string) */
};

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

static int on_token(void *ud, int32_t token, int pos, const char *text, size_t len)
{
    (void)pos;
    struct run *run = ud;
    struct node_job *job = run->job;
    struct node_runner *r = run->r;
    if (token < 0) {
        /* Held-back text at the natural end: it rides on the end event. */
        free(run->tail);
        run->tail = strndup(text, len);
        return 0;
    }
    int k = atomic_fetch_add(&job->tokens, 1);
    struct weft_event ev;
    weft_event_token(&ev, run->first + k, token, text, len);
    emit(r, job, &ev);
    if (atomic_load(&job->yield) || atomic_load(&job->cancel))
        return 1;
    /* Between off and full power: a duty cycle. The token took `busy`
     * ns at full speed and owes busy * (1/duty - 1) ns of idling, which
     * brings the average draw down to the budget. The debt is paid in
     * sleeps of DUTY_MIN_SLEEP_NS or more and what a sleep overran is
     * credited (one sleep's worth at most), so the average holds even for
     * tokens of microseconds (a small model on a CPU), where sleeping after
     * each one would idle mostly timer slack. */
    uint64_t now = weft_mono_ns();
    uint64_t busy = now - run->last_ns;
    double budget = (double)atomic_load(&r->budget_mw) / 1000.0;
    double full = r->cfg->busy_w;
    /* With the GPU's own limit following the budget, no extra idling. */
    int limited = atomic_load(&r->gpu_limited);
    if (!limited && budget > 0 && budget < full && strcmp(r->cfg->interactive, "always") != 0) {
        double duty = budget / full < 0.1 ? 0.1 : budget / full;
        run->idle_debt_ns += (int64_t)((double)busy * (1.0 / duty - 1.0));
        if (run->idle_debt_ns > 1000000000) /* the yield check waits for the sleep */
            run->idle_debt_ns = 1000000000;
        if (run->idle_debt_ns >= DUTY_MIN_SLEEP_NS) {
            uint64_t t0 = weft_mono_ns();
            sleep_ns((uint64_t)run->idle_debt_ns);
            run->idle_debt_ns -= (int64_t)(weft_mono_ns() - t0);
            if (run->idle_debt_ns < -DUTY_MIN_SLEEP_NS)
                run->idle_debt_ns = -DUTY_MIN_SLEEP_NS;
        }
    } else {
        run->idle_debt_ns = 0;
    }
    /* A speed ceiling, when the homeowner set one. */
    double tps = r->cfg->max_tokens_per_s;
    if (tps > 0) {
        uint64_t spent = weft_mono_ns() - run->last_ns;
        uint64_t want = (uint64_t)(1e9 / tps);
        if (spent < want)
            sleep_ns(want - spent);
    }
    run->last_ns = weft_mono_ns();
    return 0;
}

static void run_job(struct node_runner *r, struct weft_session *sess, struct node_job *job)
{
    struct weft_model *m = r->models[job->model].model;
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
    p.sampling.top_k = 0;
    p.sampling.min_p = 0;
    p.sampling.seed = job->seed;
    p.max_tokens = job->max_tokens;
    p.n_resumed = job->n_resume;
    p.n_stop = job->n_stop;
    memcpy(p.stop, job->stop, sizeof p.stop);
    struct run run = {.r = r, .job = job, .first = job->n_resume, .last_ns = weft_mono_ns()};
    struct weft_gen_result res;
    int rc = weft_generate(sess, toks, n, &p, on_token, &run, &res);
    free(toks);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "engine: %s", weft_strerror(rc));
        end(r, job, WEFT_END_ERROR, n_prompt, msg, NULL);
    } else if (res.finish == WEFT_FINISH_CANCELED) {
        int cancelled = atomic_load(&job->cancel);
        end(r, job, cancelled ? WEFT_END_ERROR : WEFT_END_YIELD, n_prompt,
            cancelled ? "cancelled" : NULL, NULL);
    } else {
        end(r, job, res.finish == WEFT_FINISH_STOP ? WEFT_END_STOP : WEFT_END_LENGTH, n_prompt,
            NULL, run.tail);
    }
    free(run.tail);
}

static void *runner_main(void *arg)
{
    struct node_runner *r = arg;
    struct weft_session *sessions[WEFTD_MAX_MODELS] = {0};
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->next && !r->quit)
            pthread_cond_wait(&r->cv, &r->mu);
        struct node_job *job = r->next;
        r->next = NULL;
        int quit = r->quit;
        pthread_mutex_unlock(&r->mu);
        if (job) {
            int mi = job->model;
            if (!sessions[mi] &&
                weft_session_new(r->models[mi].model, r->cfg->n_ctx, &sessions[mi]) != 0) {
                end(r, job, WEFT_END_ERROR, -1, "cannot allocate the KV cache", NULL);
                continue;
            }
            run_job(r, sessions[mi], job);
        } else if (quit) {
            break;
        }
    }
    for (int i = 0; i < WEFTD_MAX_MODELS; i++)
        weft_session_free(sessions[i]);
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
    r->next = job;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
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
