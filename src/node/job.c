/* A node's job; see job.h. */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/schema.h"
#include "weft/time.h"

#define OUT_MAX (16u << 20)

struct node_job *node_job_new(const char *id)
{
    struct node_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->model = -1;
    j->started_ms = weft_mono_ms();
    pthread_mutex_init(&j->mu, NULL);
    weft_buf_init(&j->out, OUT_MAX);
    weft_buf_init(&j->sent, OUT_MAX);
    return j;
}

void node_job_take_spec(struct node_job *j, struct weft_assignment *a)
{
    _Static_assert(WEFT_NODEMSG_MAX_STOP <= WEFT_MAX_STOP, "stop strings");
    _Static_assert(WEFT_NODEMSG_STOP_LEN < WEFT_STOP_MAX_LEN, "stop string length");
    j->prompt = a->prompt;
    j->resume = a->resume;
    j->markup = a->markup;
    j->n_markup = a->n_markup;
    a->prompt = NULL;
    a->resume = NULL;
    a->markup = NULL;
    a->n_markup = 0;
    j->n_resume = a->n_resume;
    j->max_tokens = a->max_tokens;
    j->temperature = (float)a->temperature;
    j->top_p = (float)a->top_p;
    j->presence_penalty = (float)a->presence_penalty;
    j->frequency_penalty = (float)a->frequency_penalty;
    j->logprobs = a->logprobs;
    j->top_logprobs = a->top_logprobs;
    j->seed = a->seed;
    for (int i = 0; i < a->n_stop; i++)
        snprintf(j->stop[i], sizeof j->stop[i], "%s", a->stop[i]);
    j->n_stop = a->n_stop;
}

void node_job_free(struct node_job *j)
{
    if (!j)
        return;
    free(j->prompt);
    free(j->resume);
    free(j->markup);
    weft_schema_free(j->schema);
    weft_buf_free(&j->out);
    weft_buf_free(&j->sent);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

int node_job_push(struct node_job *j, const struct weft_event *ev)
{
    struct weft_buf line;
    weft_buf_init(&line, 2 * WEFT_NODEMSG_TEXT_MAX + 1024);
    int end = ev->kind == WEFT_EV_END;
    int rc = weft_event_write(ev, &line);
    pthread_mutex_lock(&j->mu);
    if (rc == 0)
        rc = weft_buf_append(&j->out, line.data, line.len);
    if (rc != 0 && end)
        weft_buf_append_str(&j->out, "{\"end\":\"error\"}\n");
    /* A queue past its bound (cannot happen within it) ends the upload. */
    if (end || rc != 0)
        j->finished = 1;
    pthread_mutex_unlock(&j->mu);
    weft_buf_free(&line);
    return end;
}

void node_job_end(struct node_job *j, enum weft_event_end end, int prompt_tokens,
                  const char *message, const char *tail)
{
    struct weft_event ev;
    weft_event_end(&ev, end, prompt_tokens, message, tail);
    node_job_push(j, &ev);
}

size_t node_job_pull(struct node_job *j, char *buf, size_t cap, int *end)
{
    pthread_mutex_lock(&j->mu);
    size_t n = j->out.len < cap ? j->out.len : cap;
    if (n) {
        memcpy(buf, j->out.data, n);
        /* Kept for a re-attach; past its bound a re-attach cannot replay
         * the run, so it is not tried (node_job_rewind sees the flag). */
        if (weft_buf_append(&j->sent, buf, n) != 0)
            j->sent_lost = 1;
        weft_buf_consume(&j->out, n);
    }
    *end = j->finished && j->out.len == 0;
    pthread_mutex_unlock(&j->mu);
    return n;
}

void node_job_rewind(struct node_job *j)
{
    pthread_mutex_lock(&j->mu);
    if (j->sent.len && weft_buf_append(&j->sent, j->out.data ? j->out.data : "", j->out.len) == 0) {
        struct weft_buf t = j->out;
        j->out = j->sent;
        j->sent = t;
        weft_buf_reset(&j->sent);
    }
    pthread_mutex_unlock(&j->mu);
}

int node_job_replayable(struct node_job *j)
{
    pthread_mutex_lock(&j->mu);
    int ok = !j->sent_lost;
    pthread_mutex_unlock(&j->mu);
    return ok;
}

int node_job_finished(struct node_job *j)
{
    pthread_mutex_lock(&j->mu);
    int fin = j->finished;
    pthread_mutex_unlock(&j->mu);
    return fin;
}
