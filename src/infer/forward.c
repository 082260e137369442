/* Sessions and the forward pass of the Llama family (model.c's
 * architecture table: llama, qwen2, qwen3, phi3, gemma2, gemma3).
 *
 * The pass reads top to bottom like llama2.c's run.c: embedding, then per
 * layer RMSNorm, Q/K/V projections (plus Qwen2's bias, then Qwen3's
 * per-head Q/K norm), RoPE, attention over the KV cache,
 * residual, RMSNorm, SwiGLU feed-forward, residual; then the final norm and
 * the classifier. The only twist is the batch: eval() takes up to
 * WEFT_MAX_BATCH tokens at once so each weight row is read once per batch during
 * prefill, and token b of the batch attends to positions 0..pos+b. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/backend.h"
#include "model.h"
#include "weft/error.h"

struct weft_session {
    struct weft_model *m;
    int n_ctx, pos;
    const float *rope_div;    /* the RoPE divisors this context uses, or NULL */
    float *k_cache, *v_cache; /* [layer][n_ctx][kv_dim] */
    /* Activations for up to WEFT_MAX_BATCH tokens. */
    float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2;
    float *att; /* [WEFT_MAX_BATCH][n_head][n_ctx] */
    float *logits;
    struct weft_cuda_seq *cuda; /* the KV cache on the device (CUDA models) */
    char err[256];              /* what the last failed eval said */
};

int weft_session_new(struct weft_model *m, int n_ctx, struct weft_session **out)
{
    const struct weft_model_info *in = &m->info;
    if (n_ctx <= 0)
        n_ctx = in->n_ctx_train < 4096 ? in->n_ctx_train : 4096;
    if (n_ctx > in->n_ctx_train)
        n_ctx = in->n_ctx_train;
    struct weft_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return WEFT_ENOMEM;
    s->m = m;
    s->n_ctx = n_ctx;
    /* LongRoPE: the long factors once the context passes the trained-on
     * original, as llama.cpp chooses them (by the context, not the position). */
    s->rope_div = m->rope_freqs   ? m->rope_freqs
                  : m->rope_short ? (n_ctx > m->n_ctx_orig ? m->rope_long : m->rope_short)
                                  : NULL;
    if (m->cuda) {
        /* Everything but the logits lives on the device. */
        s->logits = calloc((size_t)in->n_vocab, sizeof(float));
        int rc = s->logits ? weft_cuda_seq_new(m->cuda, n_ctx, &s->cuda, s->err, sizeof s->err)
                           : WEFT_ENOMEM;
        if (rc < 0) {
            weft_session_free(s);
            return rc;
        }
        *out = s;
        return 0;
    }
    size_t dim = (size_t)in->n_embd, kv = (size_t)(in->head_dim * in->n_head_kv);
    size_t ff = (size_t)in->n_ff, B = WEFT_MAX_BATCH, qd = (size_t)m->q_dim;
    size_t wide = dim > qd ? dim : qd; /* xb holds a norm's output or the heads' */
    size_t cache = (size_t)in->n_layer * (size_t)n_ctx * kv;
    s->k_cache = calloc(cache, sizeof(float));
    s->v_cache = calloc(cache, sizeof(float));
    s->x = malloc(B * dim * sizeof(float));
    s->xb = malloc(B * wide * sizeof(float));
    s->xb2 = malloc(B * dim * sizeof(float));
    s->q = malloc(B * qd * sizeof(float));
    s->k = malloc(B * kv * sizeof(float));
    s->v = malloc(B * kv * sizeof(float));
    s->hb = malloc(B * ff * sizeof(float));
    s->hb2 = malloc(B * ff * sizeof(float));
    s->att = malloc(B * (size_t)in->n_head * (size_t)n_ctx * sizeof(float));
    s->logits = calloc((size_t)in->n_vocab, sizeof(float));
    if (!s->k_cache || !s->v_cache || !s->x || !s->xb || !s->xb2 || !s->q || !s->k || !s->v ||
        !s->hb || !s->hb2 || !s->att || !s->logits) {
        weft_session_free(s);
        return WEFT_ENOMEM;
    }
    *out = s;
    return 0;
}

void weft_session_free(struct weft_session *s)
{
    if (s == NULL)
        return;
    weft_cuda_seq_free(s->cuda);
    free(s->k_cache);
    free(s->v_cache);
    free(s->x);
    free(s->xb);
    free(s->xb2);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->hb);
    free(s->hb2);
    free(s->att);
    free(s->logits);
    free(s);
}

void weft_session_reset(struct weft_session *s)
{
    s->pos = 0;
}

int weft_session_pos(const struct weft_session *s)
{
    return s->pos;
}

struct weft_model *weft_session_model(const struct weft_session *s)
{
    return s->m;
}

int weft_session_ctx(const struct weft_session *s)
{
    return s->n_ctx;
}

const float *weft_session_logits(const struct weft_session *s)
{
    return s->logits;
}

static void rmsnorm(float *o, const float *x, const float *w, int n, float eps)
{
    float ss = 0.0f;
    for (int j = 0; j < n; j++)
        ss += x[j] * x[j];
    ss /= (float)n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++)
        o[j] = w[j] * (ss * x[j]);
}

/* RoPE: pairs of each head's first n_rot dimensions rotate together by
 * pos * base^(-2i/n_rot), divided by div[i] when the model has divisors
 * (Llama 3's rope_freqs, Phi-3's LongRoPE factors), and scaled by the
 * model's attn_factor (1 but for LongRoPE). The "normal" layout pairs
 * (2i, 2i+1); NEOX (Qwen, Phi-3) pairs (i, i + n_rot/2). Dimensions past
 * n_rot stay as they are. */
static void rope(const struct weft_model *m, const struct layer *ly, const float *div, float *vec,
                 int n_heads, int pos)
{
    const struct weft_model_info *in = &m->info;
    int half = in->n_rot / 2;
    /* Gemma 3: its sliding layers rotate with their own base; the global
     * ones with the model's, linearly scaled by rope.scaling.factor. */
    bool own = ly->sliding && m->arch->swa_rope_base > 0;
    float base = own ? m->arch->swa_rope_base : in->rope_base;
    float lin = own ? 1.0f : m->rope_scale;
    for (int i = 0; i < half; i++) {
        float freq = 1.0f / powf(base, (float)(2 * i) / (float)in->n_rot);
        if (div)
            freq /= div[i];
        if (lin != 1.0f)
            freq /= lin;
        float val = (float)pos * freq;
        float fcr = cosf(val) * m->attn_factor, fci = sinf(val) * m->attn_factor;
        int a = m->arch->rope_neox ? i : 2 * i, b = m->arch->rope_neox ? i + half : 2 * i + 1;
        for (int h = 0; h < n_heads; h++) {
            float *v = vec + h * in->head_dim;
            float v0 = v[a], v1 = v[b];
            v[a] = v0 * fcr - v1 * fci;
            v[b] = v0 * fci + v1 * fcr;
        }
    }
}

/* GELU, tanh approximation (Gemma's gate, as ggml_gelu computes it). */
static float gelu_tanh(float x)
{
    return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
}

/* Gemma's norms of a block's output before it joins the residual stream:
 * each of the n rows of width w, in place; nothing when w_norm is NULL. */
static void post_norm(float *x, const float *w_norm, int n, int w, float eps)
{
    if (w_norm == NULL)
        return;
    for (int b = 0; b < n; b++)
        rmsnorm(x + (size_t)b * (size_t)w, x + (size_t)b * (size_t)w, w_norm, w, eps);
}

/* Qwen2's Q/K/V bias: added to each of the batch's n rows of width w. */
static void add_bias(float *x, const float *bias, int n, int w)
{
    if (bias == NULL)
        return;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < w; i++)
            x[(size_t)b * (size_t)w + (size_t)i] += bias[i];
}

struct attn_ctx {
    struct weft_session *s;
    int layer, pos0, n_batch;
};

/* One (token, head) pair: scores against every cached position up to the
 * token's own, softmax, weighted sum of values. */
static void attn_task(void *ctx, int task)
{
    const struct attn_ctx *c = ctx;
    struct weft_session *s = c->s;
    const struct weft_model_info *in = &s->m->info;
    int b = task / in->n_head, h = task % in->n_head;
    int pos = c->pos0 + b;
    int hd = in->head_dim, kv_dim = hd * in->n_head_kv;
    int kvh = h / (in->n_head / in->n_head_kv); /* grouped-query: heads share K/V */
    size_t qd = (size_t)s->m->q_dim;
    const float *q = s->q + (size_t)b * qd + (size_t)h * (size_t)hd;
    float *att = s->att + ((size_t)b * (size_t)in->n_head + (size_t)h) * (size_t)s->n_ctx;
    size_t loff = (size_t)c->layer * (size_t)s->n_ctx * (size_t)kv_dim;
    const struct weft_model *m = s->m;
    float scale = m->attn_scale, cap = m->attn_softcap;
    float max = -INFINITY;
    /* Sliding-window attention: only the last n_swa positions, this one
     * included (llama.cpp masks pos - t >= n_swa), in the layers that slide. */
    int t0 = m->layers[c->layer].sliding && pos - m->n_swa + 1 > 0 ? pos - m->n_swa + 1 : 0;
    for (int t = t0; t <= pos; t++) {
        const float *k = s->k_cache + loff + (size_t)t * (size_t)kv_dim + (size_t)kvh * (size_t)hd;
        float score = 0.0f;
        for (int i = 0; i < hd; i++)
            score += q[i] * k[i];
        score *= scale;
        if (cap > 0) /* Gemma 2's soft-capping */
            score = cap * tanhf(score / cap);
        att[t] = score;
        if (score > max)
            max = score;
    }
    float sum = 0.0f;
    for (int t = t0; t <= pos; t++) {
        att[t] = expf(att[t] - max);
        sum += att[t];
    }
    float *out = s->xb + (size_t)b * qd + (size_t)h * (size_t)hd;
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int t = t0; t <= pos; t++) {
        const float *v = s->v_cache + loff + (size_t)t * (size_t)kv_dim + (size_t)kvh * (size_t)hd;
        float a = att[t] / sum;
        for (int i = 0; i < hd; i++)
            out[i] += a * v[i];
    }
}

static void forward(struct weft_session *s, const int32_t *tokens, int B)
{
    struct weft_model *m = s->m;
    const struct weft_model_info *in = &m->info;
    int dim = in->n_embd, hd = in->head_dim, kv_dim = hd * in->n_head_kv, ff = in->n_ff;
    int qd = m->q_dim, pos0 = s->pos;

    for (int b = 0; b < B; b++)
        weft_wt_row(&m->tok_embd, tokens[b], s->x + (size_t)b * (size_t)dim);
    if (m->arch->gemma) { /* Gemma scales the embedding by sqrt(n_embd) */
        float e = sqrtf((float)dim);
        for (size_t i = 0; i < (size_t)B * (size_t)dim; i++)
            s->x[i] *= e;
    }

    for (int l = 0; l < in->n_layer; l++) {
        const struct layer *ly = &m->layers[l];

        /* Attention block. */
        for (int b = 0; b < B; b++)
            rmsnorm(s->xb + (size_t)b * (size_t)dim, s->x + (size_t)b * (size_t)dim, ly->attn_norm,
                    dim, in->norm_eps);
        weft_cpu_matmul(m, &ly->wq, s->xb, B, s->q);
        weft_cpu_matmul(m, &ly->wk, s->xb, B, s->k);
        weft_cpu_matmul(m, &ly->wv, s->xb, B, s->v);
        add_bias(s->q, ly->bq, B, qd);
        add_bias(s->k, ly->bk, B, kv_dim);
        add_bias(s->v, ly->bv, B, kv_dim);
        size_t loff = (size_t)l * (size_t)s->n_ctx * (size_t)kv_dim;
        for (int b = 0; b < B; b++) {
            float *qb = s->q + (size_t)b * (size_t)qd, *kb = s->k + (size_t)b * (size_t)kv_dim;
            if (ly->q_norm) { /* Qwen3: each head's Q and K normalised before RoPE */
                for (int h = 0; h < in->n_head; h++)
                    rmsnorm(qb + h * hd, qb + h * hd, ly->q_norm, hd, in->norm_eps);
                for (int h = 0; h < in->n_head_kv; h++)
                    rmsnorm(kb + h * hd, kb + h * hd, ly->k_norm, hd, in->norm_eps);
            }
            rope(m, ly, s->rope_div, qb, in->n_head, pos0 + b);
            rope(m, ly, s->rope_div, kb, in->n_head_kv, pos0 + b);
            size_t at = loff + (size_t)(pos0 + b) * (size_t)kv_dim;
            memcpy(s->k_cache + at, s->k + (size_t)b * (size_t)kv_dim,
                   (size_t)kv_dim * sizeof(float));
            memcpy(s->v_cache + at, s->v + (size_t)b * (size_t)kv_dim,
                   (size_t)kv_dim * sizeof(float));
        }
        struct attn_ctx ac = {s, l, pos0, B};
        weft_pool_run(m->pool, attn_task, &ac, B * in->n_head);
        weft_cpu_matmul(m, &ly->wo, s->xb, B, s->xb2);
        post_norm(s->xb2, ly->post_attn_norm, B, dim, in->norm_eps);
        for (size_t i = 0; i < (size_t)B * (size_t)dim; i++)
            s->x[i] += s->xb2[i];

        /* Feed-forward block: SwiGLU. */
        for (int b = 0; b < B; b++)
            rmsnorm(s->xb + (size_t)b * (size_t)dim, s->x + (size_t)b * (size_t)dim, ly->ffn_norm,
                    dim, in->norm_eps);
        weft_cpu_matmul(m, &ly->w_gate, s->xb, B, s->hb);
        weft_cpu_matmul(m, &ly->w_up, s->xb, B, s->hb2);
        for (size_t i = 0; i < (size_t)B * (size_t)ff; i++) {
            float g = s->hb[i];
            s->hb[i] = (m->arch->gemma ? gelu_tanh(g) : g * (1.0f / (1.0f + expf(-g)))) * s->hb2[i];
        }
        weft_cpu_matmul(m, &ly->w_down, s->hb, B, s->xb2);
        post_norm(s->xb2, ly->post_ffn_norm, B, dim, in->norm_eps);
        for (size_t i = 0; i < (size_t)B * (size_t)dim; i++)
            s->x[i] += s->xb2[i];
    }

    /* Only the last token's logits are needed: prefill feeds the cache, and
     * decoding produces one token at a time. */
    float *last = s->x + (size_t)(B - 1) * (size_t)dim;
    rmsnorm(s->xb, last, m->output_norm, dim, in->norm_eps);
    weft_cpu_matmul(m, &m->output, s->xb, 1, s->logits);
    if (m->final_softcap > 0) /* Gemma 2 */
        for (int i = 0; i < in->n_vocab; i++)
            s->logits[i] = m->final_softcap * tanhf(s->logits[i] / m->final_softcap);
}

int weft_session_eval(struct weft_session *s, const int32_t *tokens, int n)
{
    if (n <= 0)
        return WEFT_EINVAL;
    if (n > s->n_ctx - s->pos)
        return WEFT_ERANGE;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= s->m->info.n_vocab)
            return WEFT_EINVAL;
    s->err[0] = '\0';
    if (s->cuda) {
        for (int done = 0; done < n;) {
            int B = n - done < WEFT_CUDA_MAX_SLOTS ? n - done : WEFT_CUDA_MAX_SLOTS;
            int rc =
                weft_cuda_eval(s->cuda, tokens + done, B, s->pos, s->logits, s->err, sizeof s->err);
            if (rc < 0)
                return rc;
            s->pos += B;
            done += B;
        }
        return 0;
    }
    for (int done = 0; done < n;) {
        int B = n - done < WEFT_MAX_BATCH ? n - done : WEFT_MAX_BATCH;
        forward(s, tokens + done, B);
        s->pos += B;
        done += B;
    }
    return 0;
}

int weft_session_decode_batch(struct weft_session *const *ss, const int32_t *tokens, int n)
{
    if (n <= 0)
        return WEFT_EINVAL;
    for (int i = 0; i < n; i++) {
        if (ss[i]->m != ss[0]->m)
            return WEFT_EINVAL;
        for (int j = 0; j < i; j++)
            if (ss[j] == ss[i])
                return WEFT_EINVAL; /* one step per session per call */
        if (ss[i]->pos >= ss[i]->n_ctx)
            return WEFT_ERANGE;
        if (tokens[i] < 0 || tokens[i] >= ss[i]->m->info.n_vocab)
            return WEFT_EINVAL;
    }
    if (ss[0]->cuda == NULL) {
        for (int i = 0; i < n; i++) {
            int rc = weft_session_eval(ss[i], &tokens[i], 1);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    for (int done = 0; done < n;) {
        int B = n - done < WEFT_CUDA_MAX_SLOTS ? n - done : WEFT_CUDA_MAX_SLOTS;
        struct weft_cuda_seq *seqs[WEFT_CUDA_MAX_SLOTS];
        float *logits[WEFT_CUDA_MAX_SLOTS];
        int pos[WEFT_CUDA_MAX_SLOTS];
        for (int i = 0; i < B; i++) {
            struct weft_session *s = ss[done + i];
            s->err[0] = '\0';
            seqs[i] = s->cuda;
            logits[i] = s->logits;
            pos[i] = s->pos;
        }
        struct weft_session *first = ss[done];
        int rc =
            weft_cuda_decode(seqs, B, tokens + done, pos, logits, first->err, sizeof first->err);
        if (rc < 0)
            return rc;
        for (int i = 0; i < B; i++)
            ss[done + i]->pos++;
        done += B;
    }
    return 0;
}

const char *weft_session_error(const struct weft_session *s)
{
    return s->err;
}
