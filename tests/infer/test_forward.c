/* The forward pass's many-sequence step (forward.c) on the CPU.
 *
 * Batch invariance is the promise failover rests on once a node batches:
 * a sequence's logits are bitwise the same whether it runs alone or in a
 * step with others, of any size, order and mix of prompt chunks and decode
 * tokens, and whether its prompt comes in one item or in pieces. Each case
 * runs eight sequences of different prompts and lengths alone, then under
 * several random schedules, and compares every logit's bits.
 *
 * The models are small random ones of each weight type with an integer or
 * repacked kernel (the paths whose arithmetic could depend on how many
 * rows meet a weight row), and one of each architecture with its own
 * steps (biases, Q/K norms, soft-capping, sliding windows). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "weft/convert.h"
#include "weft/error.h"
#include "weft/infer.h"
#include "weft/quant.h"

enum { NSEQ = 8, GEN = 6, MAXP = 23 };

static struct weft_model *load_synth(const struct weft_synth_shape *shape, uint32_t type)
{
    char path[4200], err[512];
    snprintf(path, sizeof path, "%s/%s-%s.gguf", harness_tmpdir(), shape->name,
             weft_type_name(type));
    if (weft_convert_synth(shape, type, 11, NULL, path, err, sizeof err) < 0)
        TEST_FAIL_("synth %s %s: %s", shape->name, weft_type_name(type), err);
    struct weft_model_opts o = {WEFT_BACKEND_CPU, 2, 0, 0};
    struct weft_model *m;
    if (weft_model_load(path, &o, &m, err, sizeof err) < 0)
        TEST_FAIL_("load %s: %s", path, err);
    return m;
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static int32_t argmax(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

struct seqs {
    int nv;
    int len[NSEQ];
    int32_t prompt[NSEQ][MAXP];
    int32_t gen[NSEQ][GEN]; /* greedy tokens, from the runs alone */
    float *alone[NSEQ];     /* [GEN + 1][nv]: logits after the prompt, then each token */
};

/* Each sequence alone, its prompt in one eval, then GEN greedy tokens. */
static void run_alone(struct weft_model *m, struct seqs *q, uint64_t seed)
{
    q->nv = weft_model_info(m)->n_vocab;
    for (int i = 0; i < NSEQ; i++) {
        q->len[i] = 1 + (int)(lcg(&seed) % MAXP);
        for (int t = 0; t < q->len[i]; t++)
            q->prompt[i][t] = (int32_t)(lcg(&seed) % (uint64_t)q->nv);
        q->alone[i] = malloc((size_t)(GEN + 1) * (size_t)q->nv * sizeof(float));
        ASSERT(q->alone[i] != NULL);
        struct weft_session *s;
        ASSERT_EQ_INT(weft_session_new(m, 64, &s), 0);
        ASSERT_EQ_INT(weft_session_eval(s, q->prompt[i], q->len[i]), 0);
        for (int j = 0; j <= GEN; j++) {
            const float *lg = weft_session_logits(s);
            memcpy(q->alone[i] + (size_t)j * (size_t)q->nv, lg, (size_t)q->nv * sizeof(float));
            if (j == GEN)
                break;
            q->gen[i][j] = argmax(lg, q->nv);
            ASSERT_EQ_INT(weft_session_eval(s, &q->gen[i][j], 1), 0);
        }
        weft_session_free(s);
    }
}

static void free_seqs(struct seqs *q)
{
    for (int i = 0; i < NSEQ; i++)
        free(q->alone[i]);
}

/* All sequences through weft_session_step under one schedule: mode 0 puts
 * every sequence in every step with its whole prompt first (passes then
 * straddle items); mode 1 draws, each step, which sequences go, in what
 * order, and how much of a prompt a step takes, with sequences joining
 * late. Every complete logit vector must equal the one from the run alone. */
static void run_batched(struct weft_model *m, const struct seqs *q, int mode, uint64_t seed,
                        const char *what)
{
    struct weft_session *ss[NSEQ];
    int fed[NSEQ] = {0}, done[NSEQ] = {0}; /* prompt tokens fed; tokens decoded */
    for (int i = 0; i < NSEQ; i++)
        ASSERT_EQ_INT(weft_session_new(m, 64, &ss[i]), 0);
    int left = NSEQ, steps = 0;
    while (left > 0) {
        ASSERT(++steps < 10000);
        struct weft_step_item items[NSEQ];
        int order[NSEQ], n = 0, full[NSEQ];
        for (int i = 0; i < NSEQ; i++)
            order[i] = i;
        if (mode == 1)
            for (int i = NSEQ - 1; i > 0; i--) {
                int j = (int)(lcg(&seed) % (uint64_t)(i + 1)), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        for (int k = 0; k < NSEQ; k++) {
            int i = order[k];
            if (done[i] == GEN + 1)
                continue;
            /* late joiners: a sequence not begun waits with odds 1 in 2 */
            if (mode == 1 && (lcg(&seed) % 4 == 0 || (fed[i] == 0 && lcg(&seed) % 2 == 0)))
                continue;
            if (fed[i] < q->len[i]) {
                int rest = q->len[i] - fed[i];
                int c = mode == 0 ? rest : 1 + (int)(lcg(&seed) % (uint64_t)rest);
                items[n] = (struct weft_step_item){ss[i], q->prompt[i] + fed[i], c};
                fed[i] += c;
                full[n] = fed[i] == q->len[i];
            } else {
                items[n] = (struct weft_step_item){ss[i], &q->gen[i][done[i] - 1], 1};
                full[n] = 1;
            }
            order[n++] = i; /* the k-th item's sequence (k >= n is not read again) */
        }
        if (n == 0)
            continue;
        int rc = weft_session_step(items, n);
        if (rc < 0)
            TEST_FAIL_("%s: step of %d items: %s", what, n, weft_strerror(rc));
        for (int k = 0; k < n; k++) {
            int i = order[k];
            if (!full[k])
                continue; /* a prompt's middle: the run alone has no logits there */
            const float *want = q->alone[i] + (size_t)done[i] * (size_t)q->nv;
            if (memcmp(weft_session_logits(ss[i]), want, (size_t)q->nv * sizeof(float)) != 0)
                TEST_FAIL_("%s: sequence %d (prompt %d), token %d, step %d of %d items: logits "
                           "differ from the run alone",
                           what, i, q->len[i], done[i], steps, n);
            ASSERT_EQ_INT(weft_session_pos(ss[i]), q->len[i] + done[i]);
            if (++done[i] == GEN + 1)
                left--;
        }
    }
    for (int i = 0; i < NSEQ; i++)
        weft_session_free(ss[i]);
}

static const struct weft_synth_shape small = {"step",   256, 512,     2, 4, 2, 512, 256,
                                              10000.0f, 0,   "llama", 0, 0, 0, 0};

/* One set of sequences, the whole-prompt schedule and three random ones
 * (the sanitizer builds run this too, so it stays small). */
static void invariant(const struct weft_synth_shape *shape, uint32_t type)
{
    struct weft_model *m = load_synth(shape, type);
    char what[128];
    struct seqs q;
    run_alone(m, &q, 7919);
    snprintf(what, sizeof what, "%s %s, whole prompts", shape->name, weft_type_name(type));
    run_batched(m, &q, 0, 1, what);
    for (uint64_t sch = 0; sch < 3; sch++) {
        snprintf(what, sizeof what, "%s %s, schedule %d", shape->name, weft_type_name(type),
                 (int)sch);
        run_batched(m, &q, 1, 1000 + sch, what);
    }
    free_seqs(&q);
    weft_model_free(m);
}

TEST(step_is_batch_invariant_f32)
{
    invariant(&small, WEFT_TYPE_F32);
}

TEST(step_is_batch_invariant_f16)
{
    invariant(&small, WEFT_TYPE_F16);
}

TEST(step_is_batch_invariant_q8_0)
{
    invariant(&small, WEFT_TYPE_Q8_0);
}

TEST(step_is_batch_invariant_q4_0)
{
    invariant(&small, WEFT_TYPE_Q4_0);
}

TEST(step_is_batch_invariant_q4_k)
{
    invariant(&small, WEFT_TYPE_Q4_K);
}

TEST(step_is_batch_invariant_q6_k)
{
    invariant(&small, WEFT_TYPE_Q6_K);
}

TEST(step_is_batch_invariant_q3_k)
{
    invariant(&small, WEFT_TYPE_Q3_K);
}

TEST(step_is_batch_invariant_every_architecture)
{
    const char *names[] = {"test-tiny-qwen2", "test-tiny-qwen3", "test-tiny-phi3",
                           "test-tiny-gemma2", "test-tiny-gemma3"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct weft_synth_shape *sh = weft_synth_shape(names[i]);
        ASSERT(sh != NULL);
        invariant(sh, WEFT_TYPE_Q8_0);
    }
}

/* A refused step runs nothing: every session keeps its position. */
TEST(step_refuses_and_runs_nothing)
{
    struct weft_model *m = load_synth(&small, WEFT_TYPE_Q8_0),
                      *m2 = load_synth(&small, WEFT_TYPE_F32);
    struct weft_session *a, *b, *c;
    ASSERT_EQ_INT(weft_session_new(m, 8, &a), 0);
    ASSERT_EQ_INT(weft_session_new(m, 8, &b), 0);
    ASSERT_EQ_INT(weft_session_new(m2, 8, &c), 0);
    int32_t t[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, bad = 512;
    struct weft_step_item twice[2] = {{a, t, 2}, {a, t, 1}};
    ASSERT_EQ_INT(weft_session_step(twice, 2), WEFT_EINVAL);
    struct weft_step_item mixed[2] = {{a, t, 2}, {c, t, 1}};
    ASSERT_EQ_INT(weft_session_step(mixed, 2), WEFT_EINVAL);
    struct weft_step_item over[2] = {{a, t, 2}, {b, t, 9}};
    ASSERT_EQ_INT(weft_session_step(over, 2), WEFT_ERANGE);
    struct weft_step_item oov[2] = {{a, t, 2}, {b, &bad, 1}};
    ASSERT_EQ_INT(weft_session_step(oov, 2), WEFT_EINVAL);
    struct weft_step_item empty[1] = {{a, t, 0}};
    ASSERT_EQ_INT(weft_session_step(empty, 1), WEFT_EINVAL);
    ASSERT_EQ_INT(weft_session_pos(a), 0);
    ASSERT_EQ_INT(weft_session_pos(b), 0);
    struct weft_step_item ok[2] = {{a, t, 8}, {b, t, 3}};
    ASSERT_EQ_INT(weft_session_step(ok, 2), 0);
    ASSERT_EQ_INT(weft_session_pos(a), 8);
    ASSERT_EQ_INT(weft_session_pos(b), 3);
    weft_session_free(a);
    weft_session_free(b);
    weft_session_free(c);
    weft_model_free(m);
    weft_model_free(m2);
}

/* What a slot costs: the KV cache grows by the model's own per-position
 * figure (plus each batch row's attention scores), so a node's count of
 * slots from weft_session_bytes() matches what weft_session_new takes. */
TEST(session_bytes_grow_with_the_context)
{
    struct weft_model *m = load_synth(&small, WEFT_TYPE_Q8_0);
    const struct weft_model_info *in = weft_model_info(m);
    uint64_t a = weft_session_bytes(m, 64), b = weft_session_bytes(m, 128);
    uint64_t per = in->kv_bytes_per_token + 16 * (uint64_t)in->n_head * sizeof(float);
    ASSERT_EQ_INT((long long)(b - a), (long long)(64 * per));
    ASSERT(a > 64 * per);
    ASSERT_EQ_INT(weft_session_ctx_for(m, 0), 256);
    ASSERT_EQ_INT(weft_session_ctx_for(m, 100000), 256);
    ASSERT_EQ_INT(weft_session_ctx_for(m, 64), 64);
    /* 0 and past the training context mean what weft_session_new makes of them */
    ASSERT_EQ_INT((long long)weft_session_bytes(m, 0), (long long)weft_session_bytes(m, 256));
    ASSERT_EQ_INT((long long)weft_session_bytes(m, 100000), (long long)weft_session_bytes(m, 256));
    weft_model_free(m);
}
