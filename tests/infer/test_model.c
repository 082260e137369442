/* The engine end to end on a real trained model: llama2.c's stories260K,
 * converted by weft-convert's library, must reproduce llama2.c's published
 * greedy output token for token; sampling is a function of (seed,
 * position), so resumed generation continues exactly; stop strings,
 * cancellation, bounds. */
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../../src/infer/model.h"
#include "harness.h"
#include "weft/convert.h"
#include "weft/error.h"
#include "weft/infer.h"
#include "weft/quant.h"

static char model_path[4200];

static struct weft_model *load_stories_opts(uint32_t type, int reference, int mapped)
{
    char m[4096], t[4096], err[512];
    const char *td = harness_testdata();
    snprintf(m, sizeof m, "%s/models/stories260K.bin", td);
    snprintf(t, sizeof t, "%s/models/tok512.bin", td);
    snprintf(model_path, sizeof model_path, "%s/stories260K-%s.gguf", harness_tmpdir(),
             weft_type_name(type));
    int rc = weft_convert_llama2c(m, t, model_path, type, err, sizeof err);
    if (rc < 0)
        TEST_FAIL_("convert: %s", err);
    struct weft_model_opts o = {WEFT_BACKEND_CPU, 2, reference, mapped};
    struct weft_model *model;
    rc = weft_model_load(model_path, &o, &model, err, sizeof err);
    if (rc < 0)
        TEST_FAIL_("load: %s", err);
    return model;
}

static struct weft_model *load_stories(uint32_t type, int reference)
{
    return load_stories_opts(type, reference, 0);
}

struct collect {
    char text[8192];
    size_t n;
    int32_t toks[1024];
    int n_toks;
    int stop_after; /* cancel after this many tokens; 0 = never */
};

static int collect_cb(void *ud, int32_t tok, int pos, const char *text, size_t len)
{
    (void)pos;
    struct collect *c = ud;
    ASSERT(c->n + len < sizeof c->text);
    memcpy(c->text + c->n, text, len);
    c->n += len;
    c->text[c->n] = '\0';
    if (tok >= 0)
        c->toks[c->n_toks++] = tok;
    return c->stop_after > 0 && c->n_toks >= c->stop_after;
}

static struct weft_gen_result generate(struct weft_model *m, const int32_t *prompt, int n,
                                       const struct weft_gen_params *p, struct collect *c)
{
    struct weft_session *s;
    ASSERT_EQ_INT(weft_session_new(m, 0, &s), 0);
    struct weft_gen_result res;
    ASSERT_EQ_INT(weft_generate(s, prompt, n, p, collect_cb, c, &res), 0);
    weft_session_free(s);
    return res;
}

static char *expected_greedy(void)
{
    static char buf[4096];
    FILE *f = fopen(WEFT_TESTS_DIR "/infer/data/stories260K-greedy.txt", "rb");
    ASSERT_NOT_NULL(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void check_greedy_matches_llama2c(uint32_t type, int reference)
{
    struct weft_model *m = load_stories(type, reference);
    struct weft_gen_params p = {0};
    weft_sampling_defaults(&p.sampling);
    p.sampling.temperature = 0;
    p.max_tokens = 256; /* run.c's default of 256 steps */
    int32_t bos = weft_vocab_bos(weft_model_vocab(m));
    struct collect c = {0};
    struct weft_gen_result res = generate(m, &bos, 1, &p, &c);
    ASSERT_EQ_INT(res.n_generated, 256);
    ASSERT_EQ_INT(res.finish, WEFT_FINISH_LENGTH);
    ASSERT_EQ_STR(c.text, expected_greedy());
    weft_model_free(m);
}

TEST(stories260k_greedy_matches_llama2c_published_output)
{
    check_greedy_matches_llama2c(WEFT_TYPE_F32, 0);
}

TEST(stories260k_greedy_matches_with_reference_kernels)
{
    check_greedy_matches_llama2c(WEFT_TYPE_F32, 1);
}

TEST(model_info_describes_stories260k)
{
    struct weft_model *m = load_stories(WEFT_TYPE_F32, 0);
    const struct weft_model_info *in = weft_model_info(m);
    ASSERT_EQ_STR(in->arch, "llama");
    ASSERT_EQ_INT(in->n_layer, 5);
    ASSERT_EQ_INT(in->n_embd, 64);
    ASSERT_EQ_INT(in->n_ff, 172);
    ASSERT_EQ_INT(in->n_head, 8);
    ASSERT_EQ_INT(in->n_head_kv, 4);
    ASSERT_EQ_INT(in->n_vocab, 512);
    ASSERT_EQ_INT(in->n_ctx_train, 512);
    ASSERT_EQ_INT(in->weight_type, WEFT_TYPE_F32);
    ASSERT_EQ_UINT(in->kv_bytes_per_token, 5 * 32 * 2 * 4);
    weft_model_free(m);
}

/* The largest difference between two sessions' stories260K logits, and
 * in *maxabs the largest |logit| of b (checked to be non-trivial). */
static float logit_diff(const struct weft_session *a, const struct weft_session *b, float *maxabs)
{
    const float *la = weft_session_logits(a), *lb = weft_session_logits(b);
    float maxdiff = 0;
    *maxabs = 0;
    for (int i = 0; i < 512; i++) {
        *maxabs = fmaxf(*maxabs, fabsf(lb[i]));
        maxdiff = fmaxf(maxdiff, fabsf(la[i] - lb[i]));
    }
    ASSERT(*maxabs > 1.0f);
    return maxdiff;
}

TEST(fast_and_reference_logits_agree)
{
    struct weft_model *fast = load_stories(WEFT_TYPE_F32, 0);
    struct weft_model *ref = load_stories(WEFT_TYPE_F32, 1);
    int32_t toks[] = {1, 403, 261, 378, 410, 262, 300, 266, 424, 284, 325, 267};
    struct weft_session *a, *b;
    ASSERT_EQ_INT(weft_session_new(fast, 64, &a), 0);
    ASSERT_EQ_INT(weft_session_new(ref, 64, &b), 0);
    /* Batched prefill on one side, token by token on the other. */
    ASSERT_EQ_INT(weft_session_eval(a, toks, 12), 0);
    for (int i = 0; i < 12; i++)
        ASSERT_EQ_INT(weft_session_eval(b, &toks[i], 1), 0);
    float maxabs, maxdiff = logit_diff(a, b, &maxabs);
    if (maxdiff > 1e-4f * maxabs)
        TEST_FAIL_("logits differ by %g (max |logit| %g)", maxdiff, maxabs);
    weft_session_free(a);
    weft_session_free(b);
    weft_model_free(fast);
    weft_model_free(ref);
}

TEST(quantized_model_still_tells_the_story)
{
    /* Q8_0 where rows divide into blocks (the 172-wide FFN rows fall back to
     * F16): the greedy story should survive that precision almost intact. */
    struct weft_model *m = load_stories(WEFT_TYPE_Q8_0, 0);
    ASSERT_EQ_INT(weft_model_info(m)->weight_type, WEFT_TYPE_Q8_0);
    struct weft_gen_params p = {0};
    weft_sampling_defaults(&p.sampling);
    p.sampling.temperature = 0;
    p.max_tokens = 20;
    int32_t bos = 1;
    struct collect c = {0};
    generate(m, &bos, 1, &p, &c);
    ASSERT(strncmp(c.text, "Once upon a time, there was a little", 36) == 0);
    weft_model_free(m);
}

/* A node dies after each of cuts[] tokens; another gets the prompt plus
 * those tokens and must produce exactly the rest of full, text and tokens
 * alike. */
static void check_resumes(struct weft_model *m, const int32_t *prompt, int n_prompt,
                          const struct weft_gen_params *p, const struct collect *full,
                          const int *cuts, size_t n_cuts)
{
    for (size_t ci = 0; ci < n_cuts; ci++) {
        int k = cuts[ci];
        struct collect head = {0};
        head.stop_after = k;
        generate(m, prompt, n_prompt, p, &head);
        ASSERT_EQ_INT(head.n_toks, k);

        int32_t resumed[16 + 1024];
        memcpy(resumed, prompt, (size_t)n_prompt * sizeof(int32_t));
        memcpy(resumed + n_prompt, full->toks, (size_t)k * sizeof(int32_t));
        struct weft_gen_params rp = *p;
        rp.n_resumed = k;
        struct collect tail = {0};
        generate(m, resumed, n_prompt + k, &rp, &tail);

        ASSERT_EQ_INT(k + tail.n_toks, full->n_toks);
        ASSERT(memcmp(tail.toks, full->toks + k, (size_t)tail.n_toks * sizeof(int32_t)) == 0);
        char joined[16384];
        snprintf(joined, sizeof joined, "%s%s", head.text, tail.text);
        ASSERT_EQ_STR(joined, full->text);
    }
}

TEST(sampled_generation_resumes_exactly_at_any_position)
{
    struct weft_model *m = load_stories(WEFT_TYPE_F32, 0);
    struct weft_gen_params p = {0};
    weft_sampling_defaults(&p.sampling);
    p.sampling.temperature = 1.0f;
    p.sampling.top_p = 0.9f;
    p.sampling.seed = 133742;
    p.max_tokens = 120;
    int32_t prompt[1] = {1};
    struct collect full = {0};
    generate(m, prompt, 1, &p, &full);
    ASSERT(full.n_toks >= 60);

    int cuts[] = {1, 7, 33, 59};
    check_resumes(m, prompt, 1, &p, &full, cuts, sizeof cuts / sizeof cuts[0]);
    weft_model_free(m);
}

TEST(stop_string_ends_generation_before_it)
{
    struct weft_model *m = load_stories(WEFT_TYPE_F32, 0);
    struct weft_gen_params p = {0};
    weft_sampling_defaults(&p.sampling);
    p.sampling.temperature = 0;
    p.max_tokens = 256;
    p.n_stop = 2;
    snprintf(p.stop[0], sizeof p.stop[0], "red ball");
    snprintf(p.stop[1], sizeof p.stop[1], "never appears");
    int32_t bos = 1;
    struct collect c = {0};
    struct weft_gen_result res = generate(m, &bos, 1, &p, &c);
    ASSERT_EQ_INT(res.finish, WEFT_FINISH_STOP);
    ASSERT_EQ_STR(c.text, "Once upon a time, there was a little girl named Lily. She loved to play "
                          "outside in the park. One day, she saw a big, ");
    weft_model_free(m);
}

TEST(stop_string_split_across_a_resume_is_still_caught)
{
    struct weft_model *m = load_stories(WEFT_TYPE_F32, 0);
    struct weft_gen_params p = {0};
    weft_sampling_defaults(&p.sampling);
    p.sampling.temperature = 0;
    p.max_tokens = 256;
    p.n_stop = 1;
    snprintf(p.stop[0], sizeof p.stop[0], "little girl");
    int32_t prompt[64] = {1};
    struct collect full = {0};
    generate(m, prompt, 1, &p, &full);
    ASSERT_EQ_STR(full.text, "Once upon a time, there was a ");
    /* Cut right after "little": the first run holds " little" back (it may
     * start the stop string) and the resumed run must not re-send it. */
    for (int k = 1; k <= full.n_toks; k++) {
        struct collect head = {0};
        head.stop_after = k;
        generate(m, prompt, 1, &p, &head);
        memcpy(prompt + 1, head.toks, (size_t)k * sizeof(int32_t));
        struct weft_gen_params rp = p;
        rp.n_resumed = k;
        struct collect tail = {0};
        generate(m, prompt, 1 + k, &rp, &tail);
        char joined[16384];
        snprintf(joined, sizeof joined, "%s%s", head.text, tail.text);
        ASSERT_EQ_STR(joined, full.text);
    }
    weft_model_free(m);
}

TEST(callback_cancels_and_max_tokens_bounds)
{
    struct weft_model *m = load_stories(WEFT_TYPE_F32, 0);
    struct weft_gen_params p = {0};
    weft_sampling_defaults(&p.sampling);
    p.max_tokens = 5;
    int32_t bos = 1;
    struct collect c = {0};
    struct weft_gen_result res = generate(m, &bos, 1, &p, &c);
    ASSERT_EQ_INT(res.n_generated, 5);
    ASSERT_EQ_INT(res.finish, WEFT_FINISH_LENGTH);
    p.max_tokens = 100;
    struct collect c2 = {0};
    c2.stop_after = 3;
    res = generate(m, &bos, 1, &p, &c2);
    ASSERT_EQ_INT(res.n_generated, 3);
    ASSERT_EQ_INT(res.finish, WEFT_FINISH_CANCELED);
    weft_model_free(m);
}

TEST(eval_rejects_bad_tokens_and_context_overflow)
{
    struct weft_model *m = load_stories(WEFT_TYPE_F32, 0);
    struct weft_session *s;
    ASSERT_EQ_INT(weft_session_new(m, 8, &s), 0);
    ASSERT_EQ_INT(weft_session_ctx(s), 8);
    int32_t bad = 512;
    ASSERT_EQ_INT(weft_session_eval(s, &bad, 1), WEFT_EINVAL);
    bad = -1;
    ASSERT_EQ_INT(weft_session_eval(s, &bad, 1), WEFT_EINVAL);
    int32_t toks[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    ASSERT_EQ_INT(weft_session_eval(s, toks, 9), WEFT_ERANGE);
    ASSERT_EQ_INT(weft_session_eval(s, toks, 8), 0);
    ASSERT_EQ_INT(weft_session_pos(s), 8);
    ASSERT_EQ_INT(weft_session_eval(s, toks, 1), WEFT_ERANGE);
    weft_session_reset(s);
    ASSERT_EQ_INT(weft_session_eval(s, toks, 1), 0);
    weft_session_free(s);
    weft_model_free(m);
}

TEST(sampler_draws_depend_only_on_seed_and_position)
{
    ASSERT(weft_sample_uniform(1, 5) == weft_sample_uniform(1, 5));
    ASSERT(weft_sample_uniform(1, 5) != weft_sample_uniform(1, 6));
    ASSERT(weft_sample_uniform(1, 5) != weft_sample_uniform(2, 5));
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double u = weft_sample_uniform(99, (uint64_t)i);
        ASSERT(u >= 0 && u < 1);
        sum += u;
    }
    ASSERT_NEAR(sum / 10000, 0.5, 0.02);

    /* Greedy, then top-k 1 at any temperature, pick the arg max. */
    float logits[6] = {0.1f, 2.0f, -1.0f, 1.9f, 0.0f, 2.0f};
    struct weft_sampling p;
    weft_sampling_defaults(&p);
    p.temperature = 0;
    char scratch[WEFT_SAMPLER_SCRATCH(6)];
    ASSERT_EQ_INT(weft_sample(&p, logits, 6, 0, NULL, 0, 0, scratch), 1);
    p.temperature = 1.5f;
    p.top_k = 1;
    for (int pos = 0; pos < 50; pos++) {
        float l[6];
        memcpy(l, logits, sizeof l);
        ASSERT_EQ_INT(weft_sample(&p, l, 6, pos, NULL, 0, 0, scratch), 1);
    }
    /* A repetition penalty turns the choice away from a repeated token. */
    p.temperature = 0;
    p.top_k = 0;
    p.repeat_penalty = 2.0f;
    int32_t hist[] = {1, 5};
    float l[6];
    memcpy(l, logits, sizeof l);
    ASSERT_EQ_INT(weft_sample(&p, l, 6, 2, hist, 2, 0, scratch), 3);
}

/* OpenAI's frequency penalty grows with a token's count in the output, the
 * presence penalty does not; neither looks at the prompt; a negative one
 * draws a token back. */
static int32_t greedy_after(float presence, float frequency, const int32_t *hist, int n_hist,
                            int n_out)
{
    float l[6] = {0.0f, 3.0f, 0.0f, 2.5f, 0.0f, 0.0f};
    struct weft_sampling p;
    weft_sampling_defaults(&p);
    p.temperature = 0;
    p.presence_penalty = presence;
    p.frequency_penalty = frequency;
    _Alignas(int32_t) char scratch[WEFT_SAMPLER_SCRATCH(6)];
    return weft_sample(&p, l, 6, n_hist, hist, n_hist, n_out, scratch);
}

TEST(presence_and_frequency_penalties_follow_openai)
{
    int32_t once[] = {1}, twice[] = {1, 1}, four[] = {1, 1, 1, 1}, prompt_then_5[] = {1, 1, 1, 5};
    ASSERT_EQ_INT(greedy_after(0, 0.3f, once, 1, 1), 1);          /* 3 - 0.3 > 2.5 */
    ASSERT_EQ_INT(greedy_after(0, 0.3f, twice, 2, 2), 3);         /* 3 - 0.6 < 2.5 */
    ASSERT_EQ_INT(greedy_after(0.6f, 0, twice, 2, 2), 3);         /* 3 - 0.6 */
    ASSERT_EQ_INT(greedy_after(0.4f, 0, four, 4, 4), 1);          /* 3 - 0.4, whatever the count */
    ASSERT_EQ_INT(greedy_after(0, 1.0f, prompt_then_5, 4, 1), 1); /* the prompt's 1s are free */
    ASSERT_EQ_INT(greedy_after(0, 1.0f, prompt_then_5, 4, 4), 3);
    int32_t three[] = {3};
    ASSERT_EQ_INT(greedy_after(0, -1.0f, three, 1, 1), 3); /* 2.5 + 1 > 3 */
    ASSERT_EQ_INT(greedy_after(0, 0, twice, 2, 2), 1);     /* off */
}

/* With penalties on, a generation resumed after k tokens still picks what
 * the uninterrupted one picked: the resumed tokens count as output. */
TEST(penalised_generation_resumes_exactly)
{
    struct weft_model *m = load_stories(WEFT_TYPE_F32, 0);
    struct weft_gen_params p = {0};
    weft_sampling_defaults(&p.sampling);
    p.sampling.temperature = 0.7f;
    p.sampling.seed = 4242;
    p.sampling.frequency_penalty = 0.8f;
    p.sampling.presence_penalty = 0.3f;
    p.max_tokens = 80;
    int32_t prompt[1] = {1};
    struct collect full = {0}, plain = {0};
    generate(m, prompt, 1, &p, &full);
    ASSERT(full.n_toks >= 40);
    struct weft_gen_params off = p;
    off.sampling.frequency_penalty = off.sampling.presence_penalty = 0;
    generate(m, prompt, 1, &off, &plain);
    ASSERT(plain.n_toks != full.n_toks ||
           memcmp(plain.toks, full.toks, (size_t)full.n_toks * sizeof(int32_t)) != 0);
    int cuts[] = {1, 17, 39};
    check_resumes(m, prompt, 1, &p, &full, cuts, sizeof cuts / sizeof cuts[0]);
    weft_model_free(m);
}

/* The CPU backend's own copy of the matrices (repacked for Q8_0 where the
 * CPU has the x16 kernels) and reading the file mapping in place give the
 * same logits to quantization-level tolerance, and say which they did. */
TEST(copied_and_mapped_weights_agree)
{
    uint32_t types[] = {WEFT_TYPE_F32, WEFT_TYPE_Q8_0};
    for (size_t t = 0; t < 2; t++) {
        struct weft_model *copy = load_stories_opts(types[t], 0, 0);
        struct weft_model *map = load_stories_opts(types[t], 0, 1);
        ASSERT_EQ_UINT(weft_model_info(map)->copy_bytes, 0);
        if (weft_cpu_detect() >= WEFT_ISA_AVX2)
            ASSERT(weft_model_info(copy)->copy_bytes > 0);
        int32_t toks[] = {1, 403, 261, 378, 410, 262, 300, 266};
        struct weft_session *a, *b;
        ASSERT_EQ_INT(weft_session_new(copy, 64, &a), 0);
        ASSERT_EQ_INT(weft_session_new(map, 64, &b), 0);
        ASSERT_EQ_INT(weft_session_eval(a, toks, 8), 0);
        ASSERT_EQ_INT(weft_session_eval(b, toks, 8), 0);
        float maxabs, maxdiff = logit_diff(a, b, &maxabs);
        /* F32 runs the same kernels on the same bytes: identical. Q8_0
         * sums in a different order on the x16 path. */
        float tol = types[t] == WEFT_TYPE_F32 ? 0.0f : 1e-3f * maxabs;
        if (maxdiff > tol)
            TEST_FAIL_("%s: logits differ by %g (max |logit| %g)", weft_type_name(types[t]),
                       maxdiff, maxabs);
        weft_session_free(a);
        weft_session_free(b);
        weft_model_free(copy);
        weft_model_free(map);
    }
}
