/* weftd's runner in-process: the engine on its thread with a synthetic
 * model, events handed back through the uv_async wake-up. A prompt whose
 * vocabulary needs more tokens than it has bytes (weft-convert synth's
 * byte fallback spells a space as three) runs instead of failing with
 * "cannot tokenize the prompt"; a job that runs to max_tokens ends with
 * length, a yielded one with yield, a cancelled one with an error. Ends
 * with uv_loop_close() succeeding. */
#include <string.h>

#include "harness.h"
#include "loop.h"
#include "runner.h"
#include "weft/convert.h"
#include "weft/infer.h"
#include "weft/quant.h"

struct env {
    uv_loop_t loop;
    struct node_model model;
    struct weftd_compute_cfg cfg;
    struct node_runner r;
    int wakes;
    int closed;
};

static void on_events(void *ud)
{
    ((struct env *)ud)->wakes++;
}

static void start_slots(struct env *e, int slots, double tps)
{
    memset(e, 0, sizeof *e);
    ASSERT_OK(uv_loop_init(&e->loop));
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/tiny.gguf", harness_tmpdir());
    ASSERT_OK(weft_convert_synth(weft_synth_shape("test-tiny"), WEFT_TYPE_F32, 1, NULL, path, err,
                                 sizeof err));
    struct weft_model_opts o = {.backend = WEFT_BACKEND_CPU, .n_threads = 1};
    ASSERT_OK(weft_model_load(path, &o, &e->model.model, err, sizeof err));
    snprintf(e->model.name, sizeof e->model.name, "tiny");
    e->cfg.busy_w = 100;
    e->cfg.max_tokens_per_s = tps;
    snprintf(e->cfg.interactive, sizeof e->cfg.interactive, "surplus");
    ASSERT_OK(node_runner_init(&e->r, &e->loop, &e->cfg, &e->model, 1, on_events, e));
    e->r.max_slots = slots;
    ASSERT_OK(node_runner_start(&e->r));
    node_runner_set_budget(&e->r, 1000, 0);
}

static void start(struct env *e)
{
    start_slots(e, 1, 200); /* slow enough for the loop to catch a job mid-way */
}

static void closed(void *arg)
{
    ((struct env *)arg)->closed = 1;
}

static int is_closed(void *arg)
{
    return ((struct env *)arg)->closed;
}

static void stop(struct env *e)
{
    node_runner_stop(&e->r);
    node_runner_close(&e->r, closed, e);
    loop_until(&e->loop, is_closed, e, 2000);
    weft_model_free(e->model.model);
    LOOP_CLOSE(&e->loop);
}

static struct node_job *job(const char *id, const char *prompt, int max_tokens)
{
    struct node_job *j = node_job_new(id);
    ASSERT_NOT_NULL(j);
    j->model = 0;
    j->prompt = strdup(prompt);
    j->max_tokens = max_tokens;
    j->temperature = 0;
    j->top_p = 1;
    j->seed = 1;
    return j;
}

static int finished(void *arg)
{
    return node_job_finished(arg);
}

static int has_tokens(void *arg)
{
    return atomic_load(&((struct node_job *)arg)->tokens) >= 2;
}

/* Every event the job has, parsed; the count of tokens, the end in *end,
 * and (when trace is not NULL) "id:text;" per token appended to it. */
static int events_trace(struct node_job *j, struct weft_event *end, char *trace, size_t cap)
{
    char buf[1 << 16];
    int fin = 0;
    size_t n = node_job_pull(j, buf, sizeof buf - 1, &fin);
    buf[n] = '\0';
    int tokens = 0;
    memset(end, 0, sizeof *end);
    for (char *p = buf, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        struct weft_event ev;
        ASSERT_OK(weft_event_parse(p, (size_t)(nl - p), &ev));
        if (ev.kind == WEFT_EV_TOKEN) {
            ASSERT_EQ_INT(ev.i, tokens);
            tokens++;
            if (trace) {
                size_t at = strlen(trace);
                snprintf(trace + at, cap - at, "%d:%s;", (int)ev.id, ev.text);
            }
        } else {
            *end = ev;
        }
    }
    return tokens;
}

static int events(struct node_job *j, struct weft_event *end)
{
    return events_trace(j, end, NULL, 0);
}

TEST(a_prompt_longer_in_tokens_than_in_bytes_runs)
{
    struct env e;
    start(&e);
    const char *prompt = "Once upon a time there was a little robot who liked the sun";
    int n = weft_tokenize(weft_model_vocab(e.model.model), prompt, strlen(prompt), 1, NULL, 0);
    ASSERT((size_t)n > strlen(prompt) + 8); /* the case this test is about */
    struct node_job *j = job("j1", prompt, 4);
    node_runner_give(&e.r, j);
    loop_until(&e.loop, finished, j, 10000);
    struct weft_event end;
    ASSERT_EQ_INT(events(j, &end), 4);
    ASSERT_EQ_INT(end.kind, WEFT_EV_END);
    ASSERT_EQ_INT(end.end, WEFT_END_LENGTH);
    ASSERT_EQ_INT(end.prompt_tokens, n);
    ASSERT(e.wakes > 0);
    node_job_free(j);
    stop(&e);
}

TEST(yield_and_cancel_end_a_job_at_the_next_token)
{
    struct env e;
    start(&e);
    struct node_job *j = job("j2", "Once", 4000);
    node_runner_give(&e.r, j);
    loop_until(&e.loop, has_tokens, j, 10000);
    atomic_store(&j->yield, 1);
    loop_until(&e.loop, finished, j, 10000);
    struct weft_event end;
    ASSERT(events(j, &end) < 4000);
    ASSERT_EQ_INT(end.end, WEFT_END_YIELD);
    node_job_free(j);
    j = job("j3", "Once", 4000);
    node_runner_give(&e.r, j);
    loop_until(&e.loop, has_tokens, j, 10000);
    atomic_store(&j->cancel, 1);
    loop_until(&e.loop, finished, j, 10000);
    events(j, &end);
    ASSERT_EQ_INT(end.end, WEFT_END_ERROR);
    ASSERT_EQ_STR(end.message, "cancelled");
    node_job_free(j);
    stop(&e);
}

static int all_finished(void *arg)
{
    struct node_job **js = arg;
    for (int i = 0; js[i]; i++)
        if (!node_job_finished(js[i]))
            return 0;
    return 1;
}

enum { NJOBS = 7 };

/* Prompts and settings that differ in length, temperature and seed. */
static struct node_job *varied(int i)
{
    static const char *prompts[NJOBS] = {"Once",
                                         "The sun rose over the hill",
                                         "A",
                                         "Robots like batteries and",
                                         "Tom and Lily went to the park to play with a ball",
                                         "Hi",
                                         "It was a cold and windy night"};
    char id[16];
    snprintf(id, sizeof id, "v%d", i);
    struct node_job *j = job(id, prompts[i], 5 + 7 * i % 23);
    j->temperature = i % 2 ? 0.8f : 0;
    j->seed = 100 + (uint64_t)i;
    return j;
}

/* Continuous batching: jobs run four at a time, joining and leaving at
 * steps, and each job's tokens and text equal its run alone (the step is
 * batch-invariant; sampling is a function of the sequence). */
TEST(jobs_in_a_batch_give_what_they_give_alone)
{
    char alone[NJOBS][8192] = {{0}}, batched[NJOBS][8192] = {{0}};
    struct weft_event end;
    struct env e;
    start_slots(&e, 1, 0);
    for (int i = 0; i < NJOBS; i++) {
        struct node_job *j = varied(i);
        node_runner_give(&e.r, j);
        loop_until(&e.loop, finished, j, 10000);
        events_trace(j, &end, alone[i], sizeof alone[i]);
        ASSERT(end.end == WEFT_END_LENGTH || end.end == WEFT_END_STOP);
        node_job_free(j);
    }
    stop(&e);

    start_slots(&e, 4, 0);
    struct node_job *js[NJOBS + 1] = {0};
    for (int i = 0; i < 4; i++) { /* four at once */
        js[i] = varied(i);
        node_runner_give(&e.r, js[i]);
    }
    /* the rest join as slots free up */
    for (int i = 4; i < NJOBS; i++) {
        loop_until(&e.loop, finished, js[i - 4], 10000);
        js[i] = varied(i);
        node_runner_give(&e.r, js[i]);
    }
    loop_until(&e.loop, all_finished, js, 20000);
    for (int i = 0; i < NJOBS; i++) {
        events_trace(js[i], &end, batched[i], sizeof batched[i]);
        ASSERT(end.end == WEFT_END_LENGTH || end.end == WEFT_END_STOP);
        if (strcmp(alone[i], batched[i]) != 0)
            TEST_FAIL_("job %d in a batch: %s\nalone: %s", i, batched[i], alone[i]);
        node_job_free(js[i]);
    }
    ASSERT(atomic_load(&e.r.peak) >= 2); /* they did share steps */
    stop(&e);
}

/* A job past the slots ends at once with the reason; the others run on. */
TEST(a_job_past_the_slots_is_refused_with_a_reason)
{
    struct env e;
    start_slots(&e, 2, 200);
    struct node_job *a = job("a", "Once", 4000), *b = job("b", "Once upon", 4000);
    struct node_job *c = job("c", "Once upon a", 4);
    node_runner_give(&e.r, a);
    node_runner_give(&e.r, b);
    loop_until(&e.loop, has_tokens, a, 10000);
    loop_until(&e.loop, has_tokens, b, 10000);
    node_runner_give(&e.r, c);
    loop_until(&e.loop, finished, c, 10000);
    struct weft_event end;
    ASSERT_EQ_INT(events(c, &end), 0);
    ASSERT_EQ_INT(end.end, WEFT_END_ERROR);
    ASSERT_EQ_STR(end.message, "no free slot: all 2 in use");
    ASSERT(!node_job_finished(a) && !node_job_finished(b));
    atomic_store(&a->cancel, 1);
    atomic_store(&b->cancel, 1);
    struct node_job *both[3] = {a, b, NULL};
    loop_until(&e.loop, all_finished, both, 10000);
    node_job_free(a);
    node_job_free(b);
    node_job_free(c);
    stop(&e);
}

/* A yield (the sun went) hands back every running job at the next step,
 * one still in its prompt included; the slots are free again after. */
TEST(a_yield_hands_back_every_running_job)
{
    struct env e;
    start_slots(&e, 3, 200);
    struct node_job *js[4] = {job("y1", "Once", 4000), job("y2", "The sun", 4000),
                              job("y3", "Lily", 4000), NULL};
    for (int i = 0; i < 3; i++)
        node_runner_give(&e.r, js[i]);
    for (int i = 0; i < 3; i++)
        loop_until(&e.loop, has_tokens, js[i], 10000);
    for (int i = 0; i < 3; i++)
        atomic_store(&js[i]->yield, 1);
    loop_until(&e.loop, all_finished, js, 10000);
    struct weft_event end;
    for (int i = 0; i < 3; i++) {
        ASSERT(events(js[i], &end) >= 2);
        ASSERT_EQ_INT(end.end, WEFT_END_YIELD);
        node_job_free(js[i]);
    }
    ASSERT_EQ_INT(atomic_load(&e.r.running), 0);
    struct node_job *again = job("y4", "Once", 3);
    node_runner_give(&e.r, again);
    loop_until(&e.loop, finished, again, 10000);
    ASSERT_EQ_INT(events(again, &end), 3);
    node_job_free(again);
    stop(&e);
}
