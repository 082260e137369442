/* Token sampling. Deterministic by construction: the only randomness is
 * weft_sample_uniform(seed, pos), so a resumed generation replays the same
 * draws as the run it replaces. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "weft/infer.h"

void weft_sampling_defaults(struct weft_sampling *p)
{
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->presence_penalty = 0.0f;
    p->frequency_penalty = 0.0f;
    p->seed = 0;
}

/* splitmix64's finaliser over (seed, pos): a counter-based generator, so
 * any position's draw is computed directly, with no state to carry over. */
double weft_sample_uniform(uint64_t seed, uint64_t pos)
{
    uint64_t z = seed ^ (0x9e3779b97f4a7c15ull * (pos + 1));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

struct cand {
    float p;
    int32_t id;
};

/* Descending probability; equal probabilities by ascending id, so the
 * order (and the pick) does not depend on the sort algorithm. */
static int by_prob(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static void penalize(const struct weft_sampling *p, float *logits, int n_vocab,
                     const int32_t *history, int n_history)
{
    if (p->repeat_penalty == 1.0f || p->repeat_last_n <= 0 || n_history <= 0)
        return;
    int from = n_history > p->repeat_last_n ? n_history - p->repeat_last_n : 0;
    for (int i = from; i < n_history; i++) {
        int32_t t = history[i];
        if (t < 0 || t >= n_vocab)
            continue;
        int seen = 0; /* each distinct token is penalised once */
        for (int j = from; j < i && !seen; j++)
            seen = history[j] == t;
        if (seen)
            continue;
        logits[t] = logits[t] > 0 ? logits[t] / p->repeat_penalty : logits[t] * p->repeat_penalty;
    }
}

/* OpenAI's presence and frequency penalties over out[n_out], counting in
 * counts (scratch, n_vocab ints): only the entries of tokens in out are
 * touched, so nothing is cleared per step beyond them. */
static void penalize_output(const struct weft_sampling *p, float *logits, int n_vocab,
                            const int32_t *out, int n_out, int32_t *counts)
{
    if ((p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f) || n_out <= 0)
        return;
    for (int i = 0; i < n_out; i++)
        if (out[i] >= 0 && out[i] < n_vocab)
            counts[out[i]] = 0;
    for (int i = 0; i < n_out; i++)
        if (out[i] >= 0 && out[i] < n_vocab)
            counts[out[i]]++;
    for (int i = 0; i < n_out; i++) {
        int32_t t = out[i];
        if (t < 0 || t >= n_vocab || counts[t] == 0)
            continue;
        logits[t] -= (float)counts[t] * p->frequency_penalty + p->presence_penalty;
        counts[t] = 0; /* each distinct token once */
    }
}

int32_t weft_sample(const struct weft_sampling *p, float *logits, int n_vocab, int pos,
                    const int32_t *history, int n_history, int n_output, void *scratch)
{
    penalize(p, logits, n_vocab, history, n_history);
    if (n_output > n_history)
        n_output = n_history;
    penalize_output(p, logits, n_vocab, history + (n_history - n_output), n_output, scratch);
    if (p->temperature <= 0.0f) {
        int32_t best = 0;
        for (int32_t i = 1; i < n_vocab; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }

    struct cand *c = scratch;
    float max = -INFINITY;
    for (int i = 0; i < n_vocab; i++)
        if (logits[i] > max)
            max = logits[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) {
        c[i].p = expf((logits[i] - max) / p->temperature);
        c[i].id = i;
        sum += c[i].p;
    }
    for (int i = 0; i < n_vocab; i++)
        c[i].p = (float)(c[i].p / sum);
    qsort(c, (size_t)n_vocab, sizeof *c, by_prob);

    int n = n_vocab;
    if (p->top_k > 0 && p->top_k < n)
        n = p->top_k;
    if (p->top_p < 1.0f) {
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += c[i].p;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0.0f) {
        float floor_p = c[0].p * p->min_p;
        int keep = 1;
        while (keep < n && c[keep].p >= floor_p)
            keep++;
        n = keep;
    }
    double total = 0;
    for (int i = 0; i < n; i++)
        total += c[i].p;
    double r = weft_sample_uniform(p->seed, (uint64_t)pos) * total, cum = 0;
    for (int i = 0; i < n; i++) {
        cum += c[i].p;
        if (r < cum)
            return c[i].id;
    }
    return c[n - 1].id;
}

void weft_logprobs_compute(const float *logits, int n_vocab, int32_t chosen, int n_top,
                           struct weft_logprobs *lp)
{
    float max = -INFINITY;
    for (int i = 0; i < n_vocab; i++)
        if (logits[i] > max)
            max = logits[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++)
        sum += exp((double)logits[i] - (double)max);
    double lse = (double)max + log(sum);
    lp->token = chosen;
    lp->logprob =
        chosen >= 0 && chosen < n_vocab ? (float)((double)logits[chosen] - lse) : -INFINITY;
    if (n_top < 0)
        n_top = 0;
    if (n_top > WEFT_MAX_TOP_LOGPROBS)
        n_top = WEFT_MAX_TOP_LOGPROBS;
    if (n_top > n_vocab)
        n_top = n_vocab;
    /* The n_top largest by insertion: n_top is at most 20, so one pass
     * over the vocabulary with a short sorted list beats sorting it. */
    int n = 0;
    for (int i = 0; i < n_vocab && n_top > 0; i++) {
        float v = logits[i];
        if (n == n_top && !(v > lp->top[n - 1].logprob))
            continue;
        int k = n < n_top ? n++ : n - 1;
        while (k > 0 && v > lp->top[k - 1].logprob) {
            lp->top[k] = lp->top[k - 1];
            k--;
        }
        lp->top[k].id = i;
        lp->top[k].logprob = v;
    }
    for (int k = 0; k < n; k++)
        lp->top[k].logprob = (float)((double)lp->top[k].logprob - lse);
    lp->n_top = n;
}
