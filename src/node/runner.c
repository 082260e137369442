/* The runner thread: the engine, one job at a time. The loop hands a job
 * over with node_runner_give(); the runner tokenizes the prompt, appends
 * the tokens the client already has, generates, and writes one JSON line
 * per token into job->out (under d->mu), waking the loop with uv_async
 * (sends coalesce; the loop drains everything there is). The loop never
 * touches the model or the session; the runner never touches curl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/time.h"
#include "weft/vocab.h"

void node_job_free(struct node_job *job)
{
    if (!job)
        return;
    free(job->prompt);
    free(job->resume);
    weft_buf_free(&job->out);
    free(job);
}

void node_job_emit(struct weftd *d, struct node_job *job, const char *line, size_t len,
                   int finished)
{
    pthread_mutex_lock(&d->mu);
    if (weft_buf_append(&job->out, line, len) != 0)
        finished = 1; /* cannot happen within the bound; end the upload */
    if (finished)
        job->finished = 1;
    pthread_mutex_unlock(&d->mu);
    uv_async_send(&d->wake);
}

/* The duty cycle idles in sleeps of at least this: shorter ones cost more in
 * timer slack and wake-ups than they idle. Well below anything thermal. */
#define DUTY_MIN_SLEEP_NS 2000000

struct run {
    struct weftd *d;
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
    struct run *r = ud;
    struct node_job *job = r->job;
    if (token < 0) {
        /* Held-back text at the natural end: it rides on the end event. */
        free(r->tail);
        r->tail = strndup(text, len);
        return 0;
    }
    int k = atomic_fetch_add(&job->tokens, 1);
    struct weft_event ev;
    weft_event_token(&ev, r->first + k, token, text, len);
    node_job_emit_event(r->d, job, &ev);
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
    uint64_t busy = now - r->last_ns;
    double budget = (double)atomic_load(&r->d->budget_mw) / 1000.0;
    double full = r->d->cfg.compute.busy_w;
    /* With the GPU's own limit following the budget, no extra idling. */
    int limited = atomic_load(&r->d->gpu_limited);
    if (!limited && budget > 0 && budget < full &&
        strcmp(r->d->cfg.compute.interactive, "always") != 0) {
        double duty = budget / full < 0.1 ? 0.1 : budget / full;
        r->idle_debt_ns += (int64_t)((double)busy * (1.0 / duty - 1.0));
        if (r->idle_debt_ns > 1000000000) /* the yield check waits for the sleep */
            r->idle_debt_ns = 1000000000;
        if (r->idle_debt_ns >= DUTY_MIN_SLEEP_NS) {
            uint64_t t0 = weft_mono_ns();
            sleep_ns((uint64_t)r->idle_debt_ns);
            r->idle_debt_ns -= (int64_t)(weft_mono_ns() - t0);
            if (r->idle_debt_ns < -DUTY_MIN_SLEEP_NS)
                r->idle_debt_ns = -DUTY_MIN_SLEEP_NS;
        }
    } else {
        r->idle_debt_ns = 0;
    }
    /* A speed ceiling, when the homeowner set one. */
    double tps = r->d->cfg.compute.max_tokens_per_s;
    if (tps > 0) {
        uint64_t spent = weft_mono_ns() - (r->last_ns);
        uint64_t want = (uint64_t)(1e9 / tps);
        if (spent < want)
            sleep_ns(want - spent);
    }
    r->last_ns = weft_mono_ns();
    return 0;
}

void node_job_emit_event(struct weftd *d, struct node_job *job, const struct weft_event *ev)
{
    struct weft_buf line;
    weft_buf_init(&line, 2 * WEFT_NODEMSG_TEXT_MAX + 1024);
    int rc = weft_event_write(ev, &line);
    int end = ev->kind == WEFT_EV_END;
    if (rc == 0)
        node_job_emit(d, job, line.data, line.len, end);
    else if (end)
        node_job_emit(d, job, "{\"end\":\"error\"}\n", 16, 1);
    weft_buf_free(&line);
}

void node_job_end(struct weftd *d, struct node_job *job, enum weft_event_end end, int prompt_tokens,
                  const char *message, const char *tail)
{
    struct weft_event ev;
    weft_event_end(&ev, end, prompt_tokens, message, tail);
    node_job_emit_event(d, job, &ev);
}

static void run_job(struct weftd *d, struct weft_session *sess, struct node_job *job)
{
    struct weft_model *m = d->models[job->model].model;
    const struct weft_vocab *v = weft_model_vocab(m);
    size_t plen = strlen(job->prompt);
    int cap = (int)plen + 8 + job->n_resume;
    int32_t *toks = malloc((size_t)cap * sizeof *toks);
    if (!toks) {
        node_job_end(d, job, WEFT_END_ERROR, -1, "out of memory", NULL);
        return;
    }
    int n = weft_tokenize(v, job->prompt, plen, weft_vocab_adds_bos(v), toks, (size_t)cap);
    if (n < 0 || n > cap - job->n_resume) {
        free(toks);
        node_job_end(d, job, WEFT_END_ERROR, -1, "cannot tokenize the prompt", NULL);
        return;
    }
    int n_prompt = n;
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
    struct run r = {.d = d, .job = job, .first = job->n_resume, .last_ns = weft_mono_ns()};
    struct weft_gen_result res;
    int rc = weft_generate(sess, toks, n, &p, on_token, &r, &res);
    free(toks);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "engine: %s", weft_strerror(rc));
        node_job_end(d, job, WEFT_END_ERROR, n_prompt, msg, NULL);
    } else if (res.finish == WEFT_FINISH_CANCELED) {
        node_job_end(d, job, atomic_load(&job->cancel) ? WEFT_END_ERROR : WEFT_END_YIELD, n_prompt,
                     atomic_load(&job->cancel) ? "cancelled" : NULL, NULL);
    } else {
        node_job_end(d, job, res.finish == WEFT_FINISH_STOP ? WEFT_END_STOP : WEFT_END_LENGTH,
                     n_prompt, NULL, r.tail);
    }
    free(r.tail);
}

static void *runner_main(void *arg)
{
    struct weftd *d = arg;
    struct weft_session *sessions[WEFTD_MAX_MODELS] = {0};
    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (!d->next && !d->quit)
            pthread_cond_wait(&d->cv, &d->mu);
        struct node_job *job = d->next;
        d->next = NULL;
        int quit = d->quit;
        pthread_mutex_unlock(&d->mu);
        if (job) {
            int mi = job->model;
            if (!sessions[mi] &&
                weft_session_new(d->models[mi].model, d->cfg.compute.n_ctx, &sessions[mi]) != 0) {
                node_job_end(d, job, WEFT_END_ERROR, -1, "cannot allocate the KV cache", NULL);
                continue;
            }
            run_job(d, sessions[mi], job);
        } else if (quit) {
            break;
        }
    }
    for (int i = 0; i < WEFTD_MAX_MODELS; i++)
        weft_session_free(sessions[i]);
    return NULL;
}

int node_runner_start(struct weftd *d)
{
    if (pthread_create(&d->runner, NULL, runner_main, d) != 0)
        return WEFT_ENOMEM;
    pthread_setname_np(d->runner, "weftd-runner"); /* for top -H, perf, the tests */
    d->runner_started = 1;
    return 0;
}

void node_runner_give(struct weftd *d, struct node_job *job)
{
    pthread_mutex_lock(&d->mu);
    d->next = job;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void node_runner_stop(struct weftd *d)
{
    if (!d->runner_started)
        return;
    pthread_mutex_lock(&d->mu);
    d->quit = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->runner, NULL);
    d->runner_started = 0;
}
