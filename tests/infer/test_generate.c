/* Generations as state machines (generate.c): several stepped together
 * give each the tokens and text it gives alone, and a step's prompt
 * budget goes to the first prompts first. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "weft/convert.h"
#include "weft/infer.h"
#include "weft/quant.h"
#include "weft/vocab.h"

struct seen {
    char text[4096];
    size_t n;
    int first_step; /* the step that emitted its first token; 0: none yet */
    const int *step;
};

static int on_token(void *ud, int32_t token, int pos, const char *text, size_t len)
{
    (void)pos;
    struct seen *s = ud;
    if (token >= 0 && s->first_step == 0)
        s->first_step = *s->step;
    if (s->n + len < sizeof s->text) {
        memcpy(s->text + s->n, text, len);
        s->n += len;
    }
    return 0;
}

TEST(prompt_budget_goes_first_come_first_served)
{
    char path[4200], err[512];
    snprintf(path, sizeof path, "%s/tiny.gguf", harness_tmpdir());
    ASSERT_OK(weft_convert_synth(weft_synth_shape("test-tiny"), WEFT_TYPE_Q8_0, 5, NULL, path, err,
                                 sizeof err));
    struct weft_model_opts o = {WEFT_BACKEND_CPU, 2, 0, 0};
    struct weft_model *m;
    ASSERT_OK(weft_model_load(path, &o, &m, err, sizeof err));
    enum { N = 3 };
    static const int lens[N] = {50, 30, 10};
    int32_t prompts[N][64];
    for (int i = 0; i < N; i++)
        for (int t = 0; t < lens[i]; t++)
            prompts[i][t] = (int32_t)((t * 31 + i * 7 + 3) % 256);
    struct weft_gen_params p;
    memset(&p, 0, sizeof p);
    weft_sampling_defaults(&p.sampling);
    p.sampling.seed = 11;
    p.max_tokens = 12;
    int step = 0;
    /* alone */
    struct seen alone[N];
    memset(alone, 0, sizeof alone);
    for (int i = 0; i < N; i++) {
        struct weft_session *s;
        ASSERT_OK(weft_session_new(m, 128, &s));
        alone[i].step = &step;
        struct weft_gen_result r;
        ASSERT_OK(weft_generate(s, prompts[i], lens[i], &p, on_token, &alone[i], &r));
        ASSERT_EQ_INT(r.n_generated, 12);
        weft_session_free(s);
    }
    /* together, 32 prompt tokens a step */
    struct seen got[N];
    memset(got, 0, sizeof got);
    struct weft_session *ss[N];
    struct weft_gen *gs[N];
    for (int i = 0; i < N; i++) {
        ASSERT_OK(weft_session_new(m, 128, &ss[i]));
        got[i].step = &step;
        ASSERT_OK(weft_gen_new(ss[i], prompts[i], lens[i], &p, on_token, &got[i], &gs[i]));
    }
    int done = 0;
    for (step = 1; done < N && step < 100; step++) {
        ASSERT_OK(weft_gen_step(gs, N, 32));
        done = 0;
        for (int i = 0; i < N; i++)
            done += weft_gen_done(gs[i], NULL) == 1;
    }
    ASSERT_EQ_INT(done, N);
    /* 50 tokens at 32 a step: the first answers at step 2; the 30 get the
     * 14 left then and 16 more at step 3, with the 10 in the same step. */
    ASSERT_EQ_INT(got[0].first_step, 2);
    ASSERT_EQ_INT(got[1].first_step, 3);
    ASSERT_EQ_INT(got[2].first_step, 3);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ_INT((int)got[i].n, (int)alone[i].n);
        ASSERT(memcmp(got[i].text, alone[i].text, got[i].n) == 0);
        weft_gen_free(gs[i]);
        weft_session_free(ss[i]);
    }
    weft_model_free(m);
}

/* log-softmax in double, the plain way, for comparison. */
static double ref_logprob(const float *l, int n, int i)
{
    double max = l[0];
    for (int k = 1; k < n; k++)
        if (l[k] > max)
            max = l[k];
    double sum = 0;
    for (int k = 0; k < n; k++)
        sum += exp((double)l[k] - max);
    return (double)l[i] - max - log(sum);
}

TEST(logprobs_are_the_log_softmax_with_the_likeliest_first)
{
    enum { V = 1000 };
    static float l[V];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < V; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        l[i] = (float)((double)(x % 20001) / 1000.0 - 10.0);
    }
    l[10] = 5000.0f; /* far past what expf holds: shifted by the maximum */
    l[20] = 5000.0f; /* a tie: the lower id first */
    l[30] = 4999.0f;
    struct weft_logprobs lp;
    weft_logprobs_compute(l, V, 30, 5, &lp);
    ASSERT_EQ_INT(lp.n_top, 5);
    ASSERT_EQ_INT(lp.top[0].id, 10);
    ASSERT_EQ_INT(lp.top[1].id, 20);
    ASSERT_EQ_INT(lp.top[2].id, 30);
    ASSERT_NEAR(lp.logprob, ref_logprob(l, V, 30), 1e-4);
    for (int k = 0; k < lp.n_top; k++) {
        double want = ref_logprob(l, V, lp.top[k].id);
        ASSERT_NEAR(lp.top[k].logprob, want, 1e-4 + 1e-6 * fabs(want)); /* a float's precision */
        if (k > 0)
            ASSERT(lp.top[k].logprob <= lp.top[k - 1].logprob);
    }
    /* Without the giants, every top entry against a full sort. */
    l[10] = l[20] = l[30] = 0.0f;
    weft_logprobs_compute(l, V, 7, WEFT_MAX_TOP_LOGPROBS + 5, &lp);
    ASSERT_EQ_INT(lp.n_top, WEFT_MAX_TOP_LOGPROBS);
    for (int k = 0; k < lp.n_top; k++) {
        int above = 0;
        for (int i = 0; i < V; i++)
            above += l[i] > l[lp.top[k].id];
        ASSERT(above <= k);
        ASSERT_NEAR(lp.top[k].logprob, ref_logprob(l, V, lp.top[k].id), 1e-4);
    }
    ASSERT_NEAR(lp.logprob, ref_logprob(l, V, 7), 1e-4);
    weft_logprobs_compute(l, 3, 1, 8, &lp);
    ASSERT_EQ_INT(lp.n_top, 3);
}

/* What a generation reports inside its callback, checked against the
 * session's raw logits there. */
struct lp_seen {
    struct weft_gen *g;
    struct weft_session *s;
    int n, bad, greedy;
    double worst;
};

static int on_token_lp(void *ud, int32_t token, int pos, const char *text, size_t len)
{
    (void)pos;
    (void)text;
    (void)len;
    struct lp_seen *c = ud;
    const struct weft_logprobs *lp = c->g ? weft_gen_logprobs(c->g) : NULL;
    if (token < 0)
        return 0;
    if (!lp || lp->token != token || lp->n_top != 3) {
        c->bad++;
        return 0;
    }
    const float *raw = weft_session_logits(c->s);
    int n_vocab = weft_vocab_size(weft_model_vocab(weft_session_model(c->s)));
    double want = ref_logprob(raw, n_vocab, token);
    double err = fabs(want - lp->logprob);
    if (err > c->worst)
        c->worst = err;
    if (c->greedy && lp->top[0].id != token)
        c->bad++;
    c->n++;
    return 0;
}

TEST(a_generation_reports_the_raw_logprobs_of_what_it_samples)
{
    char path[4200], err[512];
    snprintf(path, sizeof path, "%s/tiny.gguf", harness_tmpdir());
    ASSERT_OK(weft_convert_synth(weft_synth_shape("test-tiny"), WEFT_TYPE_Q8_0, 5, NULL, path, err,
                                 sizeof err));
    struct weft_model_opts o = {WEFT_BACKEND_CPU, 2, 0, 0};
    struct weft_model *m;
    ASSERT_OK(weft_model_load(path, &o, &m, err, sizeof err));
    int32_t prompt[8] = {1, 5, 9, 17, 33, 65, 129, 200};
    for (int greedy = 0; greedy < 2; greedy++) {
        struct weft_gen_params p;
        memset(&p, 0, sizeof p);
        weft_sampling_defaults(&p.sampling);
        p.sampling.seed = 3;
        /* Penalties and temperature change the draw, not what is reported;
         * greedy without them picks the likeliest, top_logprobs' first. */
        p.sampling.temperature = greedy ? 0.0f : 1.3f;
        p.sampling.presence_penalty = greedy ? 0.0f : 1.5f;
        p.max_tokens = 10;
        p.logprobs = 1;
        p.top_logprobs = 3;
        struct lp_seen c = {.greedy = greedy};
        ASSERT_OK(weft_session_new(m, 64, &c.s));
        ASSERT_OK(weft_gen_new(c.s, prompt, 8, &p, on_token_lp, &c, &c.g));
        while (weft_gen_done(c.g, NULL) == 0)
            ASSERT_OK(weft_gen_step(&c.g, 1, 0));
        ASSERT_EQ_INT(c.bad, 0);
        ASSERT(c.n > 0);
        if (c.worst >= 1e-4)
            TEST_FAIL_("worst logprob error %g", c.worst);
        /* Off, nothing is reported. */
        weft_gen_free(c.g);
        p.logprobs = 0;
        struct lp_seen off = {.greedy = 0};
        off.s = c.s;
        ASSERT_OK(weft_gen_new(c.s, prompt, 8, &p, on_token_lp, &off, &off.g));
        while (weft_gen_done(off.g, NULL) == 0)
            ASSERT_OK(weft_gen_step(&off.g, 1, 0));
        ASSERT(off.bad > 0 && off.n == 0);
        weft_gen_free(off.g);
        weft_session_free(c.s);
    }
    weft_model_free(m);
}
