/* The inference engine: load a GGUF Llama-family model, run sequences
 * through it, sample and generate.
 *
 * Objects and ownership:
 *  - struct weft_model: weights (mapped from the file, never copied on the
 *    CPU backend), the vocabulary and hyperparameters. Created by
 *    weft_model_load(), freed by weft_model_free() after every session on
 *    it is freed. Its weights never change once loaded, but it holds the
 *    scratch and thread pool of the kernels: one eval or step at a time per
 *    model (weftd runs them all on one worker thread).
 *  - struct weft_session: one sequence: its KV cache, position and scratch
 *    buffers, all allocated at weft_session_new() so that decoding
 *    allocates nothing per token (weft_session_bytes() says how much, so a
 *    node sizes its slots up front). Use one session from one thread at a
 *    time.
 *
 * Errors follow weft/error.h; functions that take err[errcap] write a one-line
 * reason there that names the file and what is wrong.
 */
#ifndef WEFT_INFER_H
#define WEFT_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "weft/vocab.h"

struct weft_model;
struct weft_session;

enum weft_backend {
    WEFT_BACKEND_AUTO = 0, /* CUDA when a device is there and the model fits, else CPU */
    WEFT_BACKEND_CPU = 1,
    WEFT_BACKEND_CUDA = 2,
};

struct weft_model_opts {
    enum weft_backend backend;
    int n_threads; /* CPU threads; 0 = one per online CPU */
    /* 1: use the plain reference kernels (tests, and the definition the
     * fast paths are checked against). */
    int reference;
    /* 1: the CPU backend computes from the file mapping in place instead of
     * its own copy of the matrices: no copy at load and the page cache is
     * shared, but no repacked layouts, and on some machines (docs/engine.md)
     * streaming from the mapping is much slower. */
    int mapped;
};

struct weft_model_info {
    char arch[32];
    char name[128];
    int n_vocab;
    int n_ctx_train; /* context length the model was trained for */
    int n_embd;
    int n_layer;
    int n_head;
    int n_head_kv;
    int n_ff;
    int head_dim;
    int n_rot; /* rotated dimensions per head */
    float rope_base;
    float norm_eps;
    uint32_t weight_type;  /* type of most matrix bytes */
    uint64_t weight_bytes; /* all tensor data */
    /* Weight bytes one decode step reads: everything but the embedding
     * table, of which only one row is read (unless it is also the output
     * matrix). The numerator of the memory-bandwidth bound. */
    uint64_t bytes_per_token;
    uint64_t kv_bytes_per_token; /* K and V for every layer, one position */
    /* Matrix bytes the CPU backend holds in its own memory (0: it reads
     * the file mapping). */
    uint64_t copy_bytes;
    enum weft_backend backend; /* what the model runs on */
    int n_threads;             /* CPU threads (0 on CUDA) */
    /* With backend AUTO on a machine with a GPU: why the model stayed on
     * the CPU (it did not fit, say); "" otherwise. */
    char backend_note[256];
};

int weft_model_load(const char *path, const struct weft_model_opts *opts, struct weft_model **out,
                    char *err, size_t errcap);
void weft_model_free(struct weft_model *m);
const struct weft_model_info *weft_model_info(const struct weft_model *m);
const struct weft_vocab *weft_model_vocab(const struct weft_model *m);

/* What the model takes on a GPU (whether or not one is here): its weights
 * as uploaded, the scratch of a pass, and a KV cache of n_ctx positions. */
struct weft_gpu_plan {
    uint64_t weight_bytes, scratch_bytes, kv_bytes;
};
void weft_model_gpu_plan(const struct weft_model *m, int n_ctx, struct weft_gpu_plan *p);

/* A session for up to n_ctx positions (0: the model's training context,
 * capped at 4096). Returns WEFT_ENOMEM when the KV cache does not fit. */
int weft_session_new(struct weft_model *m, int n_ctx, struct weft_session **out);
/* The host memory weft_session_new(m, n_ctx) allocates (its KV cache and
 * buffers; on CUDA the KV cache is on the device and counted by
 * weft_model_gpu_plan instead). n_ctx as for weft_session_new. */
uint64_t weft_session_bytes(const struct weft_model *m, int n_ctx);
/* The context weft_session_new(m, n_ctx) gives a session. */
int weft_session_ctx_for(const struct weft_model *m, int n_ctx);
void weft_session_free(struct weft_session *s);
/* Forgets the sequence; the next eval starts at position 0. */
void weft_session_reset(struct weft_session *s);
int weft_session_pos(const struct weft_session *s);
struct weft_model *weft_session_model(const struct weft_session *s);
int weft_session_ctx(const struct weft_session *s);

/* Runs n tokens at positions pos..pos+n-1 (prefill when n > 1) and leaves
 * the logits of the last one readable. WEFT_ERANGE when the context would
 * overflow, WEFT_EINVAL for a token id outside the vocabulary. */
int weft_session_eval(struct weft_session *s, const int32_t *tokens, int n);
/* One step for many sequences at once: items[i] runs its n tokens through
 * its own session at the session's positions (a prompt chunk, or the one
 * token of a decode step), and the logits of its last token are then
 * readable as after weft_session_eval. The CPU takes the rows of all items
 * together, WEFT_MAX_BATCH at a time, so each weight matrix is read once
 * for all of them; CUDA batches the one-token items (up to
 * WEFT_CUDA_MAX_SLOTS at a time) and runs prompt chunks one session after
 * another. Batch-invariant on the CPU: a session's logits are bitwise the
 * same whether it runs alone or with any others, in any order, and
 * whether its tokens come in one item or in many (docs/engine.md).
 * Each session at most once per step, all of one model; nothing runs when
 * an item is refused (WEFT_EINVAL, WEFT_ERANGE as for eval). Like eval,
 * one step at a time per model: the sessions' model holds the kernels'
 * scratch. */
#define WEFT_MAX_STEP_ITEMS 64
struct weft_step_item {
    struct weft_session *s;
    const int32_t *tokens;
    int n;
};
int weft_session_step(const struct weft_step_item *items, int n_items);
/* A step of n (<= WEFT_MAX_STEP_ITEMS) one-token items: ss[i] takes
 * tokens[i]. */
int weft_session_decode_batch(struct weft_session *const *ss, const int32_t *tokens, int n);
/* What the last failed eval said beyond its code ("" if nothing): the
 * CUDA call and the driver's message, for one. */
const char *weft_session_error(const struct weft_session *s);
/* The last eval's logits, n_vocab floats, valid until the next eval. */
const float *weft_session_logits(const struct weft_session *s);

/* --- sampling ------------------------------------------------------------- */

struct weft_sampling {
    float temperature;    /* <= 0: greedy */
    int top_k;            /* 0: off */
    float top_p;          /* 1: off */
    float min_p;          /* 0: off */
    float repeat_penalty; /* 1: off */
    int repeat_last_n;    /* how many recent tokens the penalty looks at */
    /* OpenAI's penalties over the request's own output so far (resumed
     * tokens included, the prompt not): a token seen c times loses
     * c * frequency_penalty + presence_penalty from its logit. 0: off. */
    float presence_penalty, frequency_penalty;
    uint64_t seed;
};

/* Defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, no
 * repetition penalty (64 tokens when on), no presence or frequency
 * penalty, seed 0. */
void weft_sampling_defaults(struct weft_sampling *p);

/* Picks the next token from logits (n_vocab floats, modified in place by
 * the penalty and temperature). The random draw is a pure function of
 * (seed, pos), so a generation resumed at position pos from the same
 * tokens picks exactly what the uninterrupted run picked. `history` holds
 * the recent tokens for the repetition penalty, its last n_output of them
 * the request's output so far (for the presence and frequency penalties).
 * scratch must hold 2 * n_vocab floats-or-ints (see WEFT_SAMPLER_SCRATCH). */
#define WEFT_SAMPLER_SCRATCH(n_vocab) ((size_t)(n_vocab)*8)
int32_t weft_sample(const struct weft_sampling *p, float *logits, int n_vocab, int pos,
                    const int32_t *history, int n_history, int n_output, void *scratch);

/* Log-probabilities: the log-softmax of a step's raw logits (before any
 * penalty or temperature), for the token chosen and the n_top likeliest
 * (ties by lower id), as OpenAI's logprobs and top_logprobs report. */
#define WEFT_MAX_TOP_LOGPROBS 20
struct weft_logprobs {
    int32_t token;
    float logprob;
    int n_top;
    struct {
        int32_t id;
        float logprob;
    } top[WEFT_MAX_TOP_LOGPROBS];
};
/* Fills lp for token `chosen` over logits[n_vocab]; n_top is clamped to
 * 0..WEFT_MAX_TOP_LOGPROBS and n_vocab. Sums in double, shifted by the
 * maximum, so that no logit overflows. */
void weft_logprobs_compute(const float *logits, int n_vocab, int32_t chosen, int n_top,
                           struct weft_logprobs *lp);

/* The uniform draw in [0, 1) used at position pos. */
double weft_sample_uniform(uint64_t seed, uint64_t pos);

/* --- generation ------------------------------------------------------------- */

/* Grammar-constrained sampling: before each sample the engine asks which
 * tokens may come next, by their bytes, and masks the others; a token
 * without bytes (a control token) never passes, and the end-of-generation
 * tokens pass exactly when the output may end. budget is how many tokens
 * may follow this one (max_tokens and the context's room): a constraint
 * that keeps what it needs to close within it ends in time, since every
 * byte is a token of its own in the vocabularies served (byte fallback or
 * byte-level BPE). The callbacks run on the generation's thread. */
struct weft_constraint {
    void *ud;
    int (*allow)(void *ud, const char *bytes, size_t n, int budget);
    void (*accept)(void *ud, const char *bytes, size_t n); /* the token chosen (or resumed) */
    int (*done)(void *ud);
};

#define WEFT_MAX_STOP     8
#define WEFT_STOP_MAX_LEN 64

struct weft_gen_params {
    struct weft_sampling sampling;
    int max_tokens; /* new tokens to produce; 0 = until EOS or context end */
    int n_stop;
    char stop[WEFT_MAX_STOP][WEFT_STOP_MAX_LEN]; /* stop strings, NUL-terminated */
    /* Failover: the last n_resumed tokens of the prompt were generated by
     * an earlier run whose text the client already has. They count towards
     * max_tokens and the penalty history, and their text is not emitted
     * again. */
    int n_resumed;
    /* With logprobs set, the log-probabilities of each generated token and
     * of its top_logprobs likeliest alternatives (0..WEFT_MAX_TOP_LOGPROBS);
     * see weft_gen_logprobs(). */
    int logprobs;
    int top_logprobs;
    /* What the output must be (a JSON schema, say); NULL: anything. */
    const struct weft_constraint *constraint;
};

enum weft_finish {
    WEFT_FINISH_NONE = 0,
    WEFT_FINISH_STOP = 1,     /* EOS or a stop string */
    WEFT_FINISH_LENGTH = 2,   /* max_tokens or the context end */
    WEFT_FINISH_CANCELED = 3, /* the callback asked to stop */
};

/* Called once per generated token with the text it completes (possibly
 * empty, never NULL: part of a UTF-8 character, or text held back while it may begin a
 * stop string). Return 0 to go on, anything else to stop now: the node uses
 * this to yield when its power budget vanishes. When generation ends
 * naturally with text still held back, one last call with token -1 carries
 * it. */
typedef int (*weft_token_cb)(void *ud, int32_t token, int pos, const char *text, size_t len);

struct weft_gen_result {
    int n_prompt;    /* tokens evaluated as prompt */
    int n_generated; /* new tokens this call produced */
    enum weft_finish finish;
    double prefill_ms, decode_ms;
};

/* Resets the session, evaluates the prompt, then samples until EOS, a stop
 * string, max_tokens, the context end or the callback says stop. */
int weft_generate(struct weft_session *s, const int32_t *prompt, int n_prompt,
                  const struct weft_gen_params *p, weft_token_cb cb, void *ud,
                  struct weft_gen_result *res);

/* --- many generations at once ------------------------------------------------ */

/* One generation as a state machine, so that a node can advance many in
 * one weft_session_step each: weft_generate is weft_gen_new, then
 * weft_gen_step on it alone until weft_gen_done. Every generation gets the
 * same tokens, text and finish whatever else shares its steps (the step is
 * batch-invariant, sampling a function of the sequence). */
struct weft_gen;

/* A generation of prompt on s (which it resets; nothing is evaluated yet).
 * p, prompt and the callback's ud as for weft_generate; p and prompt are
 * copied. */
int weft_gen_new(struct weft_session *s, const int32_t *prompt, int n_prompt,
                 const struct weft_gen_params *p, weft_token_cb cb, void *ud,
                 struct weft_gen **out);
/* One step for every generation of gs[0..n) not done, in one
 * weft_session_step (so all on one model, at most WEFT_MAX_STEP_ITEMS):
 * each decoding one takes the token it sampled last, and prompts take
 * `budget` prompt tokens among them (0: no bound), in the order of gs: the
 * first prompt gets what it still needs, the next what is left, and so
 * on, so that the first to come is the first to answer while the others
 * keep decoding. Then those with fresh logits sample, emit through their
 * callback and decide whether to go on. A failed step ends every
 * generation in it with that error, which it returns. */
int weft_gen_step(struct weft_gen *const *gs, int n, int budget);
/* 0 while it runs; once done, 1 (and *res filled, if res is not NULL) or
 * the error that ended it. */
int weft_gen_done(const struct weft_gen *g, struct weft_gen_result *res);
/* Ends it now as WEFT_FINISH_CANCELED (held-back text is not released): a
 * job cancelled or yielded between tokens, during its prompt say. */
void weft_gen_cancel(struct weft_gen *g);
/* Inside the token callback, with p.logprobs set: the log-probabilities
 * of the token being emitted (NULL otherwise, and for the held-back text's
 * last call). */
const struct weft_logprobs *weft_gen_logprobs(const struct weft_gen *g);
void weft_gen_free(struct weft_gen *g);

#endif /* WEFT_INFER_H */
