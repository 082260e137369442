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

static void start(struct env *e)
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
    e->cfg.max_tokens_per_s = 200; /* slow enough for the loop to catch a job mid-way */
    snprintf(e->cfg.interactive, sizeof e->cfg.interactive, "surplus");
    ASSERT_OK(node_runner_init(&e->r, &e->loop, &e->cfg, &e->model, 1, on_events, e));
    ASSERT_OK(node_runner_start(&e->r));
    node_runner_set_budget(&e->r, 1000, 0);
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

/* Every event the job has, parsed; the count of tokens, the end in *end. */
static int events(struct node_job *j, struct weft_event *end)
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
        } else {
            *end = ev;
        }
    }
    return tokens;
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
