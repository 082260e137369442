/* Generation: prefill, then sample / emit / decode until a reason to stop.
 *
 * Text is emitted in whole UTF-8 characters, and text that could be the
 * start of a stop string is held back until it is known not to be one. Both
 * are pure functions of the token sequence, so a node resuming someone
 * else's generation (n_resumed) rebuilds the exact held-back state and emits
 * exactly the bytes the client has not seen yet. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"
#include "weft/infer.h"
#include "weft/time.h"

struct emitter {
    const struct weft_gen_params *p;
    char *pend; /* decoded, not yet emitted */
    size_t n, cap;
};

static int pend_add(struct emitter *e, const char *s, size_t n)
{
    if (n == 0)
        return 0; /* an empty piece; e->pend may still be NULL */
    if (e->n + n > e->cap) {
        size_t cap = (e->n + n) * 2 + 64;
        char *np = realloc(e->pend, cap);
        if (np == NULL)
            return WEFT_ENOMEM;
        e->pend = np;
        e->cap = cap;
    }
    memcpy(e->pend + e->n, s, n);
    e->n += n;
    return 0;
}

/* How many pending bytes may go out now. Sets *hit when a stop string
 * occurs; the bytes before it are then the last to go out. */
static size_t releasable(const struct emitter *e, int *hit)
{
    const struct weft_gen_params *p = e->p;
    *hit = 0;
    size_t first = e->n;
    for (int i = 0; i < p->n_stop; i++) {
        size_t sl = strlen(p->stop[i]);
        if (sl == 0 || sl > e->n)
            continue;
        for (size_t at = 0; at + sl <= e->n; at++) {
            if (memcmp(e->pend + at, p->stop[i], sl) == 0) {
                if (at < first)
                    first = at;
                *hit = 1;
                break;
            }
        }
    }
    if (*hit)
        return first;
    /* Hold back the longest tail that begins some stop string. */
    size_t hold = 0;
    for (int i = 0; i < p->n_stop; i++) {
        size_t sl = strlen(p->stop[i]);
        for (size_t k = sl > e->n ? e->n : sl - 1; k > hold; k--) {
            if (memcmp(e->pend + e->n - k, p->stop[i], k) == 0) {
                hold = k;
                break;
            }
        }
    }
    return e->n - hold;
}

static void drop(struct emitter *e, size_t n)
{
    if (e->n > n) /* nothing to move (and maybe no buffer yet) otherwise */
        memmove(e->pend, e->pend + n, e->n - n);
    e->n -= n;
}

enum gen_phase { GEN_PROMPT, GEN_DECODE, GEN_DONE };

struct weft_gen {
    struct weft_session *s;
    struct weft_gen_params p;
    weft_token_cb cb;
    void *ud;
    enum gen_phase phase;
    int n_prompt, fed; /* prompt tokens, and how many have been evaluated */
    int produced;      /* tokens counted against max_tokens (resumed ones too) */
    int32_t next;      /* the sampled token the next step feeds */
    int32_t *hist;     /* the prompt, then every sampled token: [n_ctx] */
    float *logits;     /* a copy the sampler may change */
    void *scratch;
    struct emitter e;
    struct weft_detok d;
    uint64_t t_start, t_decode;
    struct weft_gen_result res;
    int rc;
    struct weft_logprobs lp; /* the token being emitted's, when p.logprobs is set */
    /* With a constraint: each token's bytes (token_table). */
    uint32_t *tok_off;
    char *tok_bytes;
    int lp_valid;
};

/* The generation ends: a natural end releases what was held back; a
 * cancel or an error does not, since the node that resumes will rebuild
 * and send it. */
static void finish(struct weft_gen *g, enum weft_finish f, int rc)
{
    char piece[WEFT_DETOK_OUT];
    g->res.finish = f;
    g->rc = rc;
    if (rc == 0 && f != WEFT_FINISH_CANCELED && g->cb) {
        int k = weft_detok_flush(&g->d, piece, sizeof piece);
        if (k > 0)
            pend_add(&g->e, piece, (size_t)k);
        if (g->e.n > 0)
            g->cb(g->ud, -1, weft_session_pos(g->s), g->e.pend, g->e.n);
    }
    uint64_t now = weft_mono_ns();
    if (g->t_decode)
        g->res.decode_ms = (double)(now - g->t_decode) / 1e6;
    g->phase = GEN_DONE;
}

static void constraint_accept(const struct weft_constraint *c, const struct weft_vocab *v,
                              int32_t tok)
{
    char b[256];
    int n = weft_token_bytes(v, tok, b, sizeof b);
    if (n > 0)
        c->accept(c->ud, b, (size_t)n > sizeof b ? sizeof b : (size_t)n);
}

/* Masks the tokens the constraint does not allow now (their logits to
 * -inf in the sampler's copy); returns how many are left. */
/* Every token's bytes, once per generation (the mask reads them each
 * step): offsets into one block, a token without bytes (or with more than
 * 255) empty. */
static int token_table(struct weft_gen *g, const struct weft_vocab *v, int n_vocab)
{
    if (g->tok_off)
        return 0;
    g->tok_off = malloc(((size_t)n_vocab + 1) * sizeof *g->tok_off);
    size_t cap = (size_t)n_vocab * 8 + 256, used = 0;
    g->tok_bytes = malloc(cap);
    if (!g->tok_off || !g->tok_bytes)
        return WEFT_ENOMEM;
    char b[256];
    for (int32_t t = 0; t < n_vocab; t++) {
        int n = weft_token_bytes(v, t, b, sizeof b);
        if (n < 0 || (size_t)n >= sizeof b || weft_vocab_is_eog(v, t))
            n = 0;
        if (used + (size_t)n > cap) {
            char *nb = realloc(g->tok_bytes, cap * 2 + (size_t)n);
            if (!nb)
                return WEFT_ENOMEM;
            g->tok_bytes = nb;
            cap = cap * 2 + (size_t)n;
        }
        g->tok_off[t] = (uint32_t)used;
        memcpy(g->tok_bytes + used, b, (size_t)n);
        used += (size_t)n;
    }
    g->tok_off[n_vocab] = (uint32_t)used;
    return 0;
}

static int mask(struct weft_gen *g, const struct weft_vocab *v, int n_vocab, int pos, int n_ctx)
{
    const struct weft_constraint *c = g->p.constraint;
    int left = n_ctx - pos - 1;
    if (g->p.max_tokens > 0 && g->p.max_tokens - g->produced - 1 < left)
        left = g->p.max_tokens - g->produced - 1;
    int done = c->done(c->ud), n_ok = 0;
    if (token_table(g, v, n_vocab) != 0)
        return 0;
    /* A token whose first byte already breaks the format is out without a
     * trial of its own: in most places of a document few bytes may come
     * next, so most of the vocabulary goes by a table lookup. */
    unsigned char first[256];
    for (int b0 = 0; b0 < 256; b0++) {
        char ch = (char)b0;
        first[b0] = (unsigned char)c->allow(c->ud, &ch, 1, INT_MAX);
    }
    for (int32_t t = 0; t < n_vocab; t++) {
        int ok;
        const char *b = g->tok_bytes + g->tok_off[t];
        size_t n = g->tok_off[t + 1] - g->tok_off[t];
        if (weft_vocab_is_eog(v, t))
            ok = done;
        else
            ok = n > 0 && first[(unsigned char)b[0]] && c->allow(c->ud, b, n, left);
        if (!ok)
            g->logits[t] = -INFINITY;
        n_ok += ok;
    }
    return n_ok;
}

/* With fresh logits: sample, emit, and decide whether to go on (then
 * g->next is what the next step feeds). */
static void sample_next(struct weft_gen *g)
{
    const struct weft_gen_params *p = &g->p;
    const struct weft_vocab *v = weft_model_vocab(weft_session_model(g->s));
    int n_vocab = weft_vocab_size(v), n_ctx = weft_session_ctx(g->s);
    char piece[WEFT_DETOK_OUT];
    int pos = weft_session_pos(g->s);
    if ((p->max_tokens > 0 && g->produced >= p->max_tokens) || pos >= n_ctx) {
        finish(g, WEFT_FINISH_LENGTH, 0);
        return;
    }
    memcpy(g->logits, weft_session_logits(g->s), (size_t)n_vocab * sizeof *g->logits);
    if (p->constraint && mask(g, v, n_vocab, pos, n_ctx) == 0) {
        finish(g, WEFT_FINISH_NONE, WEFT_EINVAL); /* no token fits what must be written */
        return;
    }
    /* This request's output so far: the resumed tokens and the new ones. */
    int n_out = pos - (g->n_prompt - p->n_resumed);
    int32_t tok = weft_sample(&p->sampling, g->logits, n_vocab, pos, g->hist, pos,
                              n_out > 0 ? n_out : 0, g->scratch);
    if (weft_vocab_is_eog(v, tok)) { /* eos, end of turn, ...: not emitted */
        finish(g, WEFT_FINISH_STOP, 0);
        return;
    }
    /* The raw logits are the session's still: the sampler changed the copy. */
    if (p->logprobs)
        weft_logprobs_compute(weft_session_logits(g->s), n_vocab, tok, p->top_logprobs, &g->lp);
    g->hist[pos] = tok;
    g->produced++;
    g->res.n_generated++;
    if (p->constraint)
        constraint_accept(p->constraint, v, tok);
    int k = weft_detok_push(v, &g->d, tok, piece, sizeof piece);
    int rc = k < 0 ? k : pend_add(&g->e, piece, (size_t)k);
    if (rc < 0) {
        finish(g, WEFT_FINISH_NONE, rc);
        return;
    }
    int hit;
    size_t out_n = releasable(&g->e, &hit);
    /* Never NULL, even before the first byte is pending. */
    g->lp_valid = p->logprobs != 0;
    int stop = g->cb ? g->cb(g->ud, tok, pos, g->e.pend ? g->e.pend : "", out_n) : 0;
    g->lp_valid = 0;
    drop(&g->e, out_n);
    if (hit) {
        g->e.n = 0;
        finish(g, WEFT_FINISH_STOP, 0);
    } else if (stop) {
        finish(g, WEFT_FINISH_CANCELED, 0);
    } else if (pos + 1 >= n_ctx) {
        finish(g, WEFT_FINISH_LENGTH, 0);
    } else {
        g->next = tok;
        g->phase = GEN_DECODE;
    }
}

/* The whole prompt is in: rebuild what an earlier run had decoded but not
 * emitted, then the first sample. */
static void prompt_done(struct weft_gen *g)
{
    uint64_t now = weft_mono_ns();
    g->res.n_prompt = g->n_prompt;
    g->res.prefill_ms = (double)(now - g->t_start) / 1e6;
    g->t_decode = now;
    const struct weft_vocab *v = weft_model_vocab(weft_session_model(g->s));
    char piece[WEFT_DETOK_OUT];
    for (int i = g->n_prompt - g->p.n_resumed; i < g->n_prompt; i++) {
        if (g->p.constraint) /* what an earlier run wrote counts against it */
            constraint_accept(g->p.constraint, v, g->hist[i]);
        int k = weft_detok_push(v, &g->d, g->hist[i], piece, sizeof piece);
        int rc = k < 0 ? k : pend_add(&g->e, piece, (size_t)k);
        if (rc < 0) {
            g->rc = rc;
            g->phase = GEN_DONE;
            return;
        }
    }
    if (g->p.n_resumed > 0) {
        int hit;
        drop(&g->e, releasable(&g->e, &hit));
        if (hit) { /* the earlier run had already met a stop string */
            g->res.finish = WEFT_FINISH_STOP;
            g->phase = GEN_DONE;
            return;
        }
    }
    g->produced = g->p.n_resumed;
    sample_next(g);
}

void weft_gen_free(struct weft_gen *g)
{
    if (g == NULL)
        return;
    free(g->e.pend);
    free(g->hist);
    free(g->logits);
    free(g->scratch);
    free(g->tok_off);
    free(g->tok_bytes);
    free(g);
}

int weft_gen_new(struct weft_session *s, const int32_t *prompt, int n_prompt,
                 const struct weft_gen_params *p, weft_token_cb cb, void *ud, struct weft_gen **out)
{
    *out = NULL;
    if (n_prompt <= 0 || p->n_resumed < 0 || p->n_resumed > n_prompt || p->n_stop < 0 ||
        p->n_stop > WEFT_MAX_STOP)
        return WEFT_EINVAL;
    int n_ctx = weft_session_ctx(s);
    if (n_prompt > n_ctx)
        return WEFT_ERANGE;
    int n_vocab = weft_vocab_size(weft_model_vocab(weft_session_model(s)));
    struct weft_gen *g = calloc(1, sizeof *g);
    if (g == NULL)
        return WEFT_ENOMEM;
    g->hist = malloc((size_t)n_ctx * sizeof *g->hist);
    g->logits = malloc((size_t)n_vocab * sizeof *g->logits);
    g->scratch = malloc(WEFT_SAMPLER_SCRATCH(n_vocab));
    if (!g->hist || !g->logits || !g->scratch) {
        weft_gen_free(g);
        return WEFT_ENOMEM;
    }
    g->s = s;
    g->p = *p;
    g->e.p = &g->p;
    g->cb = cb;
    g->ud = ud;
    g->n_prompt = n_prompt;
    memcpy(g->hist, prompt, (size_t)n_prompt * sizeof *g->hist);
    weft_detok_init(&g->d);
    weft_session_reset(s);
    g->t_start = weft_mono_ns();
    *out = g;
    return 0;
}

int weft_gen_step(struct weft_gen *const *gs, int n, int budget)
{
    struct weft_step_item items[WEFT_MAX_STEP_ITEMS];
    struct weft_gen *in[WEFT_MAX_STEP_ITEMS];
    int k = 0, room = budget > 0 ? budget : INT_MAX;
    for (int i = 0; i < n && k < WEFT_MAX_STEP_ITEMS; i++) {
        struct weft_gen *g = gs[i];
        if (g->phase == GEN_DONE)
            continue;
        if (g->phase == GEN_PROMPT) {
            int left = g->n_prompt - g->fed;
            int c = left < room ? left : room;
            if (c == 0)
                continue; /* the budget is spent: its turn comes */
            room -= c;
            items[k] = (struct weft_step_item){g->s, g->hist + g->fed, c};
        } else {
            items[k] = (struct weft_step_item){g->s, &g->next, 1};
        }
        in[k++] = g;
    }
    if (k == 0)
        return 0;
    int rc = weft_session_step(items, k);
    if (rc < 0) {
        for (int i = 0; i < k; i++)
            finish(in[i], WEFT_FINISH_NONE, rc);
        return rc;
    }
    for (int i = 0; i < k; i++) {
        struct weft_gen *g = in[i];
        if (g->phase == GEN_DECODE) {
            sample_next(g);
        } else if ((g->fed += items[i].n) == g->n_prompt) {
            prompt_done(g);
        }
    }
    return 0;
}

int weft_gen_done(const struct weft_gen *g, struct weft_gen_result *res)
{
    if (g->phase != GEN_DONE)
        return 0;
    if (res)
        *res = g->res;
    return g->rc < 0 ? g->rc : 1;
}

void weft_gen_cancel(struct weft_gen *g)
{
    if (g->phase != GEN_DONE)
        finish(g, WEFT_FINISH_CANCELED, 0);
}

int weft_generate(struct weft_session *s, const int32_t *prompt, int n_prompt,
                  const struct weft_gen_params *p, weft_token_cb cb, void *ud,
                  struct weft_gen_result *res)
{
    memset(res, 0, sizeof *res);
    struct weft_gen *g;
    int rc = weft_gen_new(s, prompt, n_prompt, p, cb, ud, &g);
    if (rc < 0)
        return rc;
    while ((rc = weft_gen_done(g, res)) == 0)
        weft_gen_step(&g, 1, 0);
    weft_gen_free(g);
    return rc < 0 ? rc : 0;
}

const struct weft_logprobs *weft_gen_logprobs(const struct weft_gen *g)
{
    return g->lp_valid ? &g->lp : NULL;
}
