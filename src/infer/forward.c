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

/* The context a session of n_ctx (0: default) gets. */
static int session_ctx(const struct weft_model_info *in, int n_ctx)
{
    if (n_ctx <= 0)
        n_ctx = in->n_ctx_train < 4096 ? in->n_ctx_train : 4096;
    return n_ctx > in->n_ctx_train ? in->n_ctx_train : n_ctx;
}

/* The sizes of a CPU session's buffers, in floats. */
struct session_sizes {
    size_t cache, x, xb, xb2, q, kv, hb, att, logits;
};

static void session_sizes(const struct weft_model *m, int n_ctx, struct session_sizes *z)
{
    const struct weft_model_info *in = &m->info;
    size_t dim = (size_t)in->n_embd, kv = (size_t)(in->head_dim * in->n_head_kv);
    size_t B = WEFT_MAX_BATCH, qd = (size_t)m->q_dim;
    z->cache = (size_t)in->n_layer * (size_t)n_ctx * kv;
    z->x = B * dim;
    z->xb = B * (dim > qd ? dim : qd); /* xb holds a norm's output or the heads' */
    z->xb2 = B * dim;
    z->q = B * qd;
    z->kv = B * kv;
    z->hb = B * (size_t)in->n_ff;
    z->att = B * (size_t)in->n_head * (size_t)n_ctx;
    z->logits = (size_t)in->n_vocab;
}

int weft_session_ctx_for(const struct weft_model *m, int n_ctx)
{
    return session_ctx(&m->info, n_ctx);
}

uint64_t weft_session_bytes(const struct weft_model *m, int n_ctx)
{
    n_ctx = session_ctx(&m->info, n_ctx);
    struct session_sizes z;
    session_sizes(m, n_ctx, &z);
    if (m->cuda)
        return z.logits * sizeof(float) + sizeof(struct weft_session);
    size_t floats = 2 * z.cache + z.x + z.xb + z.xb2 + z.q + 2 * z.kv + 2 * z.hb + z.att + z.logits;
    return (uint64_t)floats * sizeof(float) + sizeof(struct weft_session);
}

int weft_session_new(struct weft_model *m, int n_ctx, struct weft_session **out)
{
    n_ctx = session_ctx(&m->info, n_ctx);
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
    struct session_sizes z;
    session_sizes(m, n_ctx, &z);
    if (m->cuda) {
        /* Everything but the logits lives on the device. */
        s->logits = calloc(z.logits, sizeof(float));
        int rc = s->logits ? weft_cuda_seq_new(m->cuda, n_ctx, &s->cuda, s->err, sizeof s->err)
                           : WEFT_ENOMEM;
        if (rc < 0) {
            weft_session_free(s);
            return rc;
        }
        *out = s;
        return 0;
    }
    s->k_cache = calloc(z.cache, sizeof(float));
    s->v_cache = calloc(z.cache, sizeof(float));
    s->x = malloc(z.x * sizeof(float));
    s->xb = malloc(z.xb * sizeof(float));
    s->xb2 = malloc(z.xb2 * sizeof(float));
    s->q = malloc(z.q * sizeof(float));
    s->k = malloc(z.kv * sizeof(float));
    s->v = malloc(z.kv * sizeof(float));
    s->hb = malloc(z.hb * sizeof(float));
    s->hb2 = malloc(z.hb * sizeof(float));
    s->att = malloc(z.att * sizeof(float));
    s->logits = calloc(z.logits, sizeof(float));
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

/* One row of a pass: a token of some session at some position. Rows of a
 * session in a pass are consecutive and in position order; `slot` is the
 * row's index among them (its attention scores' place in s->att). */
struct row {
    struct weft_session *s;
    int32_t tok;
    int pos, slot;
    bool last; /* the session's last row in this step: its logits are wanted */
};

struct attn_ctx {
    struct weft_session *scr; /* whose activation buffers the pass uses */
    const struct row *rows;
    int layer;
};

/* One (row, head) pair: scores against every cached position of the row's
 * session up to the row's own, softmax, weighted sum of values. Nothing
 * here depends on the other rows, so a sequence computes the same bits in
 * any batch. */
static void attn_task(void *ctx, int task)
{
    const struct attn_ctx *c = ctx;
    struct weft_session *scr = c->scr;
    const struct weft_model *m = scr->m;
    const struct weft_model_info *in = &m->info;
    int b = task / in->n_head, h = task % in->n_head;
    const struct row *r = &c->rows[b];
    struct weft_session *s = r->s;
    int pos = r->pos;
    int hd = in->head_dim, kv_dim = hd * in->n_head_kv;
    int kvh = h / (in->n_head / in->n_head_kv); /* grouped-query: heads share K/V */
    size_t qd = (size_t)m->q_dim;
    const float *q = scr->q + (size_t)b * qd + (size_t)h * (size_t)hd;
    float *att = s->att + ((size_t)r->slot * (size_t)in->n_head + (size_t)h) * (size_t)s->n_ctx;
    size_t loff = (size_t)c->layer * (size_t)s->n_ctx * (size_t)kv_dim;
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
    float *out = scr->xb + (size_t)b * qd + (size_t)h * (size_t)hd;
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int t = t0; t <= pos; t++) {
        const float *v = s->v_cache + loff + (size_t)t * (size_t)kv_dim + (size_t)kvh * (size_t)hd;
        float a = att[t] / sum;
        for (int i = 0; i < hd; i++)
            out[i] += a * v[i];
    }
}

/* One pass of B <= WEFT_MAX_BATCH rows, of one or many sessions, through
 * the model in the activation buffers of `scr`: every weight matrix is read
 * once for all the rows. Rows never mix: each matrix row meets each
 * activation row alone (cpu.c), norms and attention are per row, so a
 * row's result does not depend on what else is in the pass. */
static void forward(struct weft_session *scr, const struct row *rows, int B)
{
    struct weft_model *m = scr->m;
    const struct weft_model_info *in = &m->info;
    int dim = in->n_embd, hd = in->head_dim, kv_dim = hd * in->n_head_kv, ff = in->n_ff;
    int qd = m->q_dim;

    for (int b = 0; b < B; b++)
        weft_wt_row(&m->tok_embd, rows[b].tok, scr->x + (size_t)b * (size_t)dim);
    if (m->arch->gemma) { /* Gemma scales the embedding by sqrt(n_embd) */
        float e = sqrtf((float)dim);
        for (size_t i = 0; i < (size_t)B * (size_t)dim; i++)
            scr->x[i] *= e;
    }

    for (int l = 0; l < in->n_layer; l++) {
        const struct layer *ly = &m->layers[l];

        /* Attention block. */
        for (int b = 0; b < B; b++)
            rmsnorm(scr->xb + (size_t)b * (size_t)dim, scr->x + (size_t)b * (size_t)dim,
                    ly->attn_norm, dim, in->norm_eps);
        weft_cpu_matmul(m, &ly->wq, scr->xb, B, scr->q);
        weft_cpu_matmul(m, &ly->wk, scr->xb, B, scr->k);
        weft_cpu_matmul(m, &ly->wv, scr->xb, B, scr->v);
        add_bias(scr->q, ly->bq, B, qd);
        add_bias(scr->k, ly->bk, B, kv_dim);
        add_bias(scr->v, ly->bv, B, kv_dim);
        for (int b = 0; b < B; b++) {
            struct weft_session *s = rows[b].s;
            float *qb = scr->q + (size_t)b * (size_t)qd, *kb = scr->k + (size_t)b * (size_t)kv_dim;
            if (ly->q_norm) { /* Qwen3: each head's Q and K normalised before RoPE */
                for (int h = 0; h < in->n_head; h++)
                    rmsnorm(qb + h * hd, qb + h * hd, ly->q_norm, hd, in->norm_eps);
                for (int h = 0; h < in->n_head_kv; h++)
                    rmsnorm(kb + h * hd, kb + h * hd, ly->k_norm, hd, in->norm_eps);
            }
            rope(m, ly, s->rope_div, qb, in->n_head, rows[b].pos);
            rope(m, ly, s->rope_div, kb, in->n_head_kv, rows[b].pos);
            size_t at = ((size_t)l * (size_t)s->n_ctx + (size_t)rows[b].pos) * (size_t)kv_dim;
            memcpy(s->k_cache + at, kb, (size_t)kv_dim * sizeof(float));
            memcpy(s->v_cache + at, scr->v + (size_t)b * (size_t)kv_dim,
                   (size_t)kv_dim * sizeof(float));
        }
        struct attn_ctx ac = {scr, rows, l};
        weft_pool_run(m->pool, attn_task, &ac, B * in->n_head);
        weft_cpu_matmul(m, &ly->wo, scr->xb, B, scr->xb2);
        post_norm(scr->xb2, ly->post_attn_norm, B, dim, in->norm_eps);
        for (size_t i = 0; i < (size_t)B * (size_t)dim; i++)
            scr->x[i] += scr->xb2[i];

        /* Feed-forward block: SwiGLU. */
        for (int b = 0; b < B; b++)
            rmsnorm(scr->xb + (size_t)b * (size_t)dim, scr->x + (size_t)b * (size_t)dim,
                    ly->ffn_norm, dim, in->norm_eps);
        weft_cpu_matmul(m, &ly->w_gate, scr->xb, B, scr->hb);
        weft_cpu_matmul(m, &ly->w_up, scr->xb, B, scr->hb2);
        for (size_t i = 0; i < (size_t)B * (size_t)ff; i++) {
            float g = scr->hb[i];
            scr->hb[i] =
                (m->arch->gemma ? gelu_tanh(g) : g * (1.0f / (1.0f + expf(-g)))) * scr->hb2[i];
        }
        weft_cpu_matmul(m, &ly->w_down, scr->hb, B, scr->xb2);
        post_norm(scr->xb2, ly->post_ffn_norm, B, dim, in->norm_eps);
        for (size_t i = 0; i < (size_t)B * (size_t)dim; i++)
            scr->x[i] += scr->xb2[i];
    }

    /* Logits only for each session's last row: prefill feeds the cache, and
     * decoding produces one token at a time. The classifier (the largest
     * matrix) is read once for all of them. */
    int n_out = 0;
    struct weft_session *who[WEFT_MAX_BATCH];
    for (int b = 0; b < B; b++) {
        if (!rows[b].last)
            continue;
        rmsnorm(scr->xb + (size_t)n_out * (size_t)dim, scr->x + (size_t)b * (size_t)dim,
                m->output_norm, dim, in->norm_eps);
        who[n_out++] = rows[b].s;
    }
    if (n_out == 0)
        return;
    size_t nv = (size_t)in->n_vocab;
    float *y = n_out == 1 ? who[0]->logits : m->logits_rows;
    weft_cpu_matmul(m, &m->output, scr->xb, n_out, y);
    for (int o = 0; o < n_out; o++) {
        float *lg = who[o]->logits;
        if (y != lg)
            memcpy(lg, y + (size_t)o * nv, nv * sizeof(float));
        if (m->final_softcap > 0) /* Gemma 2 */
            for (size_t i = 0; i < nv; i++)
                lg[i] = m->final_softcap * tanhf(lg[i] / m->final_softcap);
    }
}

/* Checks a step's items: one model, each session once, tokens in the
 * vocabulary and room in each context. */
static int step_check(const struct weft_step_item *items, int n)
{
    if (n <= 0)
        return WEFT_EINVAL;
    for (int i = 0; i < n; i++) {
        const struct weft_session *s = items[i].s;
        if (s == NULL || s->m != items[0].s->m || items[i].n <= 0 || items[i].tokens == NULL)
            return WEFT_EINVAL;
        for (int j = 0; j < i; j++)
            if (items[j].s == s)
                return WEFT_EINVAL; /* one item per session per step */
        if (items[i].n > s->n_ctx - s->pos)
            return WEFT_ERANGE;
        for (int t = 0; t < items[i].n; t++)
            if (items[i].tokens[t] < 0 || items[i].tokens[t] >= s->m->info.n_vocab)
                return WEFT_EINVAL;
    }
    return 0;
}

/* CUDA: the one-token items go through the batched decode (each weight
 * read once for up to WEFT_CUDA_MAX_SLOTS of them), prompt chunks one
 * session after another. */
static int step_cuda(const struct weft_step_item *items, int n)
{
    struct weft_cuda_seq *seqs[WEFT_CUDA_MAX_SLOTS];
    float *logits[WEFT_CUDA_MAX_SLOTS];
    int pos[WEFT_CUDA_MAX_SLOTS];
    int32_t toks[WEFT_CUDA_MAX_SLOTS];
    struct weft_session *dec[WEFT_CUDA_MAX_SLOTS];
    int nd = 0;
    for (int i = 0; i <= n; i++) {
        bool flush = i == n || (items[i].n == 1 && nd == WEFT_CUDA_MAX_SLOTS);
        if (flush && nd > 0) {
            int rc = weft_cuda_decode(seqs, nd, toks, pos, logits, dec[0]->err, sizeof dec[0]->err);
            if (rc < 0)
                return rc;
            for (int k = 0; k < nd; k++)
                dec[k]->pos++;
            nd = 0;
        }
        if (i == n)
            break;
        struct weft_session *s = items[i].s;
        s->err[0] = '\0';
        if (items[i].n == 1) {
            seqs[nd] = s->cuda;
            logits[nd] = s->logits;
            pos[nd] = s->pos;
            toks[nd] = items[i].tokens[0];
            dec[nd++] = s;
            continue;
        }
        for (int done = 0; done < items[i].n;) {
            int left = items[i].n - done;
            int B = left < WEFT_CUDA_MAX_SLOTS ? left : WEFT_CUDA_MAX_SLOTS;
            int rc = weft_cuda_eval(s->cuda, items[i].tokens + done, B, s->pos, s->logits, s->err,
                                    sizeof s->err);
            if (rc < 0)
                return rc;
            s->pos += B;
            done += B;
        }
    }
    return 0;
}

int weft_session_step(const struct weft_step_item *items, int n)
{
    int rc = step_check(items, n);
    if (rc < 0)
        return rc;
    if (items[0].s->cuda)
        return step_cuda(items, n);
    /* The rows of all items in order, cut into passes of WEFT_MAX_BATCH; an
     * item may straddle two passes (its later rows then see the KV cache
     * the earlier pass wrote). */
    struct weft_session *scr = items[0].s;
    struct row rows[WEFT_MAX_BATCH];
    int B = 0, slot = 0;
    for (int i = 0; i < n; i++) {
        struct weft_session *s = items[i].s;
        s->err[0] = '\0';
        int pos0 = s->pos;
        slot = 0;
        for (int t = 0; t < items[i].n; t++) {
            rows[B] = (struct row){s, items[i].tokens[t], pos0 + t, slot++, t == items[i].n - 1};
            if (++B == WEFT_MAX_BATCH) {
                forward(scr, rows, B);
                B = 0;
                slot = 0;
            }
        }
        s->pos = pos0 + items[i].n;
    }
    if (B > 0)
        forward(scr, rows, B);
    return 0;
}

int weft_session_eval(struct weft_session *s, const int32_t *tokens, int n)
{
    struct weft_step_item it = {s, tokens, n};
    return weft_session_step(&it, 1);
}

int weft_session_decode_batch(struct weft_session *const *ss, const int32_t *tokens, int n)
{
    if (n <= 0 || n > WEFT_MAX_STEP_ITEMS)
        return WEFT_EINVAL;
    struct weft_step_item items[WEFT_MAX_STEP_ITEMS];
    for (int i = 0; i < n; i++)
        items[i] = (struct weft_step_item){ss[i], &tokens[i], 1};
    return weft_session_step(items, n);
}

const char *weft_session_error(const struct weft_session *s)
{
    return s->err;
}
