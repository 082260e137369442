/* Generations as state machines (generate.c): several stepped together
 * give each the tokens and text it gives alone, and a step's prompt
 * budget goes to the first prompts first. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "weft/convert.h"
#include "weft/infer.h"
#include "weft/quant.h"

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
