/* Generation: prefill, then sample / emit / decode until a reason to stop.
 *
 * Text is emitted in whole UTF-8 characters, and text that could be the
 * start of a stop string is held back until it is known not to be one. Both
 * are pure functions of the token sequence, so a node resuming someone
 * else's generation (n_resumed) rebuilds the exact held-back state and emits
 * exactly the bytes the client has not seen yet. */
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

int weft_generate(struct weft_session *s, const int32_t *prompt, int n_prompt,
                  const struct weft_gen_params *p, weft_token_cb cb, void *ud,
                  struct weft_gen_result *res)
{
    memset(res, 0, sizeof *res);
    if (n_prompt <= 0 || p->n_resumed < 0 || p->n_resumed > n_prompt || p->n_stop < 0 ||
        p->n_stop > WEFT_MAX_STOP)
        return WEFT_EINVAL;
    int n_ctx = weft_session_ctx(s);
    if (n_prompt > n_ctx)
        return WEFT_ERANGE;
    const struct weft_vocab *v = weft_model_vocab(weft_session_model(s));
    int n_vocab = weft_vocab_size(v);

    int32_t *hist = malloc((size_t)n_ctx * sizeof *hist);
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    void *scratch = malloc(WEFT_SAMPLER_SCRATCH(n_vocab));
    struct emitter e = {p, NULL, 0, 0};
    int rc = (!hist || !logits || !scratch) ? WEFT_ENOMEM : 0;
    if (rc < 0)
        goto out;
    memcpy(hist, prompt, (size_t)n_prompt * sizeof *hist);

    weft_session_reset(s);
    uint64_t t0 = weft_mono_ns();
    rc = weft_session_eval(s, prompt, n_prompt);
    if (rc < 0)
        goto out;
    res->n_prompt = n_prompt;
    res->prefill_ms = (double)(weft_mono_ns() - t0) / 1e6;
    uint64_t t1 = weft_mono_ns();

    /* Rebuild what the earlier run had decoded but not emitted. */
    struct weft_detok d;
    weft_detok_init(&d);
    char piece[WEFT_DETOK_MAX + 8];
    for (int i = n_prompt - p->n_resumed; i < n_prompt; i++) {
        int k = weft_detok_push(v, &d, prompt[i], piece, sizeof piece);
        if (k < 0 || (rc = pend_add(&e, piece, (size_t)k)) < 0)
            goto out;
    }
    if (p->n_resumed > 0) {
        int hit;
        drop(&e, releasable(&e, &hit));
        if (hit) {
            /* The earlier run had already met a stop string. */
            res->finish = WEFT_FINISH_STOP;
            goto out;
        }
    }

    int produced = p->n_resumed;
    for (;;) {
        int pos = weft_session_pos(s);
        if ((p->max_tokens > 0 && produced >= p->max_tokens) || pos >= n_ctx) {
            res->finish = WEFT_FINISH_LENGTH;
            break;
        }
        memcpy(logits, weft_session_logits(s), (size_t)n_vocab * sizeof *logits);
        int32_t tok = weft_sample(&p->sampling, logits, n_vocab, pos, hist, pos, scratch);
        if (weft_vocab_is_eog(v, tok)) { /* eos, end of turn, ...: not emitted */
            res->finish = WEFT_FINISH_STOP;
            break;
        }
        hist[pos] = tok;
        produced++;
        res->n_generated++;
        int k = weft_detok_push(v, &d, tok, piece, sizeof piece);
        if (k < 0 || (rc = pend_add(&e, piece, (size_t)k)) < 0) {
            rc = k < 0 ? k : rc;
            break;
        }
        int hit;
        size_t out_n = releasable(&e, &hit);
        /* Never NULL, even before the first byte is pending. */
        int stop = cb ? cb(ud, tok, pos, e.pend ? e.pend : "", out_n) : 0;
        drop(&e, out_n);
        if (hit) {
            e.n = 0;
            res->finish = WEFT_FINISH_STOP;
            break;
        }
        if (stop) {
            res->finish = WEFT_FINISH_CANCELED;
            break;
        }
        if (pos + 1 >= n_ctx) {
            res->finish = WEFT_FINISH_LENGTH;
            break;
        }
        rc = weft_session_eval(s, &tok, 1);
        if (rc < 0)
            break;
    }
    /* A natural end releases what was held back; a cancel does not, since
     * the node that resumes will rebuild and send it. */
    if (rc == 0 && res->finish != WEFT_FINISH_CANCELED && cb) {
        int k = weft_detok_flush(&d, piece, sizeof piece);
        if (k > 0)
            pend_add(&e, piece, (size_t)k);
        if (e.n > 0)
            cb(ud, -1, weft_session_pos(s), e.pend, e.n);
    }
    res->decode_ms = (double)(weft_mono_ns() - t1) / 1e6;
out:
    free(e.pend);
    free(hist);
    free(logits);
    free(scratch);
    return rc;
}
