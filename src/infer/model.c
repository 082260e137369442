/* Loading a Llama-family model from GGUF: hyperparameters from metadata,
 * weight views into the mapping, every shape checked against the
 * architecture before anything runs. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cuda/backend.h"

#include "model.h"
#include "weft/error.h"
#include "weft/gpu.h"
#include "weft/quant.h"

struct loader {
    struct weft_model *m;
    const char *path;
    char *err;
    size_t cap;
};

static int lerr(struct loader *l, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int lerr(struct loader *l, int code, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(l->err, l->cap, "%s: %s", l->path, what);
    return code;
}

/* Reads "<arch>.<suffix>" as an integer in [lo, hi]; def < 0 means required. */
static int hp_int(struct loader *l, const char *suffix, int def, int lo, int hi, int *out)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", l->m->info.arch, suffix);
    uint32_t v;
    int rc = weft_gguf_get_u32(l->m->g, key, &v);
    if (rc == WEFT_ENOENT) {
        if (def < 0)
            return lerr(l, WEFT_EFORMAT, "key '%s' is missing", key);
        *out = def;
        return 0;
    }
    if (rc < 0 || v < (uint32_t)lo || v > (uint32_t)hi)
        return lerr(l, WEFT_EFORMAT, "key '%s' must be an integer %d..%d", key, lo, hi);
    *out = (int)v;
    return 0;
}

static int hp_float(struct loader *l, const char *suffix, float def, float *out)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", l->m->info.arch, suffix);
    int rc = weft_gguf_get_f32(l->m->g, key, out);
    if (rc == WEFT_ENOENT) {
        *out = def;
        return 0;
    }
    if (rc < 0 || !(*out > 0))
        return lerr(l, WEFT_EFORMAT, "key '%s' must be a positive number", key);
    return 0;
}

/* A 2-D weight of `cols` x `rows` (GGUF order: ne[0] = cols). */
static int get_wt(struct loader *l, const char *name, int cols, int rows, int required,
                  struct wt *w)
{
    const struct weft_gguf_tensor *t = weft_gguf_tensor(l->m->g, name);
    memset(w, 0, sizeof *w);
    if (t == NULL) {
        if (required)
            return lerr(l, WEFT_EFORMAT, "tensor '%s' is missing", name);
        return 0;
    }
    if (t->n_dims != 2 || t->ne[0] != (uint64_t)cols || t->ne[1] != (uint64_t)rows)
        return lerr(l, WEFT_EFORMAT, "tensor '%s' has shape [%llu, %llu], expected [%d, %d]", name,
                    (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], cols, rows);
    w->data = t->data;
    w->type = t->type;
    w->cols = cols;
    w->rows = rows;
    w->row_bytes = weft_row_size(t->type, (uint64_t)cols);
    return 0;
}

/* A 1-D weight of n elements, converted to F32 into *dst (from the arena). */
static int get_vec(struct loader *l, const char *name, int n, int required, float **arena,
                   const float **dst)
{
    const struct weft_gguf_tensor *t = weft_gguf_tensor(l->m->g, name);
    *dst = NULL;
    if (t == NULL) {
        if (required)
            return lerr(l, WEFT_EFORMAT, "tensor '%s' is missing", name);
        return 0;
    }
    if (t->n_dims != 1 || t->ne[0] != (uint64_t)n)
        return lerr(l, WEFT_EFORMAT, "tensor '%s' has %llu elements in %u dimensions, expected %d",
                    name, (unsigned long long)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]),
                    t->n_dims, n);
    weft_dequantize_row(t->type, t->data, *arena, (size_t)n);
    *dst = *arena;
    *arena += n;
    return 0;
}

/* --- the CPU backend's copy of the matrices ------------------------------------
 *
 * The CPU backend computes from memory it owns, not from the file mapping.
 * Measured on the development VM (docs/BENCHMARKS.md): one core streamed
 * 28 GB/s from anonymous memory but 4-7 GB/s from a mapped 2 GB GGUF once
 * more than about 1.3 GB of it was read per pass, which left TinyLlama F16
 * decode at a fifth of the bandwidth bound. The copy is also where Q4_0
 * and Q8_0 are repacked for the x16 kernels. Afterwards the file's pages
 * leave the resident set, so the process holds the weights once. */

/* The matrices the forward pass multiplies by (not the embedding table,
 * read one row a token, unless it is also the output), into out when it
 * is not NULL; returns how many. */
static int matrices(struct weft_model *m, struct wt **out)
{
    int n = 0;
    if (out)
        out[n] = &m->output;
    n++;
    for (int i = 0; i < m->info.n_layer; i++) {
        struct layer *ly = &m->layers[i];
        struct wt *w[] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up, &ly->w_down};
        for (size_t j = 0; j < sizeof w / sizeof w[0]; j++, n++)
            if (out)
                out[n] = w[j];
    }
    return n;
}

struct copy_job {
    struct weft_model *m;
    struct wt **w;
    size_t *at; /* each matrix's offset in the copy */
};

static void copy_task(void *ctx, int i)
{
    struct copy_job *j = ctx;
    struct wt *w = j->w[i];
    uint8_t *dst = j->m->copy + j->at[i];
    if (w->x16)
        weft_x16_pack(w, dst);
    else
        memcpy(dst, w->data, (size_t)w->rows * w->row_bytes);
    w->fast = dst;
}

static size_t copy_size(const struct wt *w)
{
    size_t n = w->x16 ? weft_x16_size(w) : (size_t)w->rows * w->row_bytes;
    return (n + 63) & ~(size_t)63;
}

static int copy_weights(struct loader *l)
{
    struct weft_model *m = l->m;
    int n = matrices(m, NULL);
    struct wt **w = malloc((size_t)n * sizeof *w);
    size_t *at = malloc((size_t)n * sizeof *at);
    if (!w || !at) {
        free(w);
        free(at);
        return lerr(l, WEFT_ENOMEM, "out of memory");
    }
    matrices(m, w);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        /* x16 needs the activations quantized, which needs xq. */
        w[i]->x16 = m->xq != NULL && weft_x16_layout(m->isa, w[i]);
        at[i] = total;
        total += copy_size(w[i]);
    }
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        /* Not fatal: the mapping works, only slower. */
        for (int i = 0; i < n; i++)
            w[i]->x16 = 0;
        snprintf(m->info.backend_note, sizeof m->info.backend_note,
                 "weights read in place: no memory for a %zu MiB copy", total >> 20);
        free(w);
        free(at);
        return 0;
    }
#ifdef MADV_HUGEPAGE
    madvise(p, total, MADV_HUGEPAGE); /* fewer TLB misses while streaming; advice only */
#endif
    m->copy = p;
    m->copy_size = total;
    struct copy_job job = {m, w, at};
    weft_pool_run(m->pool, copy_task, &job, n);
    mprotect(p, total, PROT_READ);
    for (int i = 0; i < n; i++)
        weft_gguf_drop(m->g, w[i]->data, (size_t)w[i]->rows * w[i]->row_bytes);
    m->info.copy_bytes = total;
    free(w);
    free(at);
    return 0;
}

/* The architectures the pass runs: Llama's structure plus these flags.
 * Mistral and Llama 3 are `llama` in GGUF. */
static const struct weft_arch archs[] = {
    {"llama", false, false, false, false, false, 0, 0.0f},
    {"qwen2", true, true, false, false, false, 0, 0.0f},
    {"qwen3", true, false, true, false, false, 0, 0.0f},
    {"phi3", true, false, false, true, false, 0, 0.0f},
    {"gemma2", true, false, false, false, true, 2, 0.0f},
    {"gemma3", true, false, true, false, true, 6, 10000.0f},
};

/* A matrix stored fused with others: rows [r0, r0 + rows) of f as a matrix
 * of its own (the rows are contiguous, so this is a view). */
static struct wt rows_of(const struct wt *f, int r0, int rows)
{
    struct wt w = *f;
    w.data = f->data + (size_t)r0 * f->row_bytes;
    w.rows = rows;
    return w;
}

/* Q, K and V, stored apart or fused in attn_qkv (Phi-3). */
static int get_qkv(struct loader *l, int i, struct layer *ly)
{
    const struct weft_model *m = l->m;
    const struct weft_model_info *in = &m->info;
    int kv_dim = in->head_dim * in->n_head_kv, rc;
    char n[64];
    snprintf(n, sizeof n, "blk.%d.attn_qkv.weight", i);
    struct wt f = {0};
    if ((rc = get_wt(l, n, in->n_embd, m->q_dim + 2 * kv_dim, 0, &f)) < 0)
        return rc;
    if (f.data) {
        ly->wq = rows_of(&f, 0, m->q_dim);
        ly->wk = rows_of(&f, m->q_dim, kv_dim);
        ly->wv = rows_of(&f, m->q_dim + kv_dim, kv_dim);
        return 0;
    }
    snprintf(n, sizeof n, "blk.%d.attn_q.weight", i);
    if ((rc = get_wt(l, n, in->n_embd, m->q_dim, 1, &ly->wq)) < 0)
        return rc;
    snprintf(n, sizeof n, "blk.%d.attn_k.weight", i);
    if ((rc = get_wt(l, n, in->n_embd, kv_dim, 1, &ly->wk)) < 0)
        return rc;
    snprintf(n, sizeof n, "blk.%d.attn_v.weight", i);
    return get_wt(l, n, in->n_embd, kv_dim, 1, &ly->wv);
}

/* The gate and up projections, apart, or fused in ffn_up (Phi-3: the gate's
 * rows first). */
static int get_gate_up(struct loader *l, int i, struct layer *ly)
{
    const struct weft_model_info *in = &l->m->info;
    char n[64];
    int rc;
    snprintf(n, sizeof n, "blk.%d.ffn_gate.weight", i);
    if ((rc = get_wt(l, n, in->n_embd, in->n_ff, 0, &ly->w_gate)) < 0)
        return rc;
    snprintf(n, sizeof n, "blk.%d.ffn_up.weight", i);
    if (ly->w_gate.data)
        return get_wt(l, n, in->n_embd, in->n_ff, 1, &ly->w_up);
    struct wt f = {0};
    if ((rc = get_wt(l, n, in->n_embd, 2 * in->n_ff, 1, &f)) < 0)
        return rc;
    ly->w_gate = rows_of(&f, 0, in->n_ff);
    ly->w_up = rows_of(&f, in->n_ff, in->n_ff);
    return 0;
}

/* llama.cpp's sliding windows for Phi-3 files that predate the key
 * (its PR 8931): the 4k models 2047, the 128k mini 262144, medium 131072. */
static int phi3_default_swa(const struct weft_model_info *in)
{
    if ((in->n_layer == 32 || in->n_layer == 40) && in->n_ctx_train == 4096)
        return 2047;
    if (in->n_layer == 32 && in->n_head_kv == 32 && in->n_ctx_train == 131072)
        return 262144;
    if (in->n_layer == 40 && in->n_ctx_train == 131072)
        return 131072;
    return 0;
}

static const struct weft_arch *find_arch(struct weft_str s)
{
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (weft_str_eq(s, archs[i].name))
            return &archs[i];
    return NULL;
}

static int load(struct loader *l, const struct weft_model_opts *o)
{
    struct weft_model *m = l->m;
    struct weft_model_info *in = &m->info;
    struct weft_str s;
    if (weft_gguf_get_str(m->g, "general.architecture", &s) < 0)
        return lerr(l, WEFT_EFORMAT, "key 'general.architecture' is missing");
    m->arch = find_arch(s);
    if (m->arch == NULL) {
        char shown[40];
        return lerr(l, WEFT_ENOTSUP,
                    "architecture '%s' is not supported (llama, qwen2, qwen3, phi3, gemma2 and "
                    "gemma3 are)",
                    weft_str_printable(s, shown, sizeof shown));
    }
    snprintf(in->arch, sizeof in->arch, "%s", m->arch->name);
    if (weft_gguf_get_str(m->g, "general.name", &s) == 0)
        snprintf(in->name, sizeof in->name, "%.*s", (int)(s.n > 127 ? 127 : s.n), s.p);

    int rc = weft_vocab_load(m->g, l->path, &m->vocab, l->err, l->cap);
    if (rc < 0)
        return rc;
    in->n_vocab = weft_vocab_size(m->vocab);

    if ((rc = hp_int(l, "context_length", -1, 1, 1 << 24, &in->n_ctx_train)) < 0 ||
        (rc = hp_int(l, "embedding_length", -1, 1, 1 << 16, &in->n_embd)) < 0 ||
        (rc = hp_int(l, "block_count", -1, 1, 1024, &in->n_layer)) < 0 ||
        (rc = hp_int(l, "feed_forward_length", -1, 1, 1 << 20, &in->n_ff)) < 0 ||
        (rc = hp_int(l, "attention.head_count", -1, 1, 1024, &in->n_head)) < 0)
        return rc;
    if ((rc = hp_int(l, "attention.head_count_kv", in->n_head, 1, in->n_head, &in->n_head_kv)) < 0)
        return rc;
    if (in->n_head % in->n_head_kv != 0)
        return lerr(l, WEFT_EFORMAT, "head_count %d is not a multiple of head_count_kv %d",
                    in->n_head, in->n_head_kv);
    /* The head size: attention.key_length when the file says (Qwen3, Mistral
     * Nemo: n_head * head_dim need not be n_embd), else n_embd / n_head. */
    int vlen;
    if ((rc = hp_int(l, "attention.key_length", 0, 1, 4096, &in->head_dim)) < 0)
        return rc;
    if (in->head_dim == 0) {
        if (in->n_embd % in->n_head != 0)
            return lerr(l, WEFT_EFORMAT, "embedding_length %d is not a multiple of head_count %d",
                        in->n_embd, in->n_head);
        in->head_dim = in->n_embd / in->n_head;
    }
    if ((rc = hp_int(l, "attention.value_length", in->head_dim, 1, 4096, &vlen)) < 0)
        return rc;
    if (vlen != in->head_dim)
        return lerr(l, WEFT_ENOTSUP, "attention.value_length %d differs from key_length %d", vlen,
                    in->head_dim);
    m->q_dim = in->n_head * in->head_dim;
    if ((rc = hp_int(l, "rope.dimension_count", in->head_dim, 2, in->head_dim, &in->n_rot)) < 0)
        return rc;
    if (in->n_rot % 2 != 0)
        return lerr(l, WEFT_EFORMAT, "rope.dimension_count %d is odd", in->n_rot);
    if ((rc = hp_float(l, "rope.freq_base", 10000.0f, &in->rope_base)) < 0 ||
        (rc = hp_float(l, "attention.layer_norm_rms_epsilon", 1e-5f, &in->norm_eps)) < 0)
        return rc;

    int kv_dim = in->head_dim * in->n_head_kv;
    size_t per_layer = (m->arch->qkv_bias ? (size_t)(m->q_dim + 2 * kv_dim) : 0) +
                       (m->arch->qk_norm ? (size_t)(2 * in->head_dim) : 0) +
                       (m->arch->gemma ? (size_t)(2 * in->n_embd) : 0);
    size_t arena_n = (size_t)in->n_embd * (size_t)(2 * in->n_layer + 1) +
                     (size_t)in->n_rot / 2 * 3 + per_layer * (size_t)in->n_layer;
    m->f32_arena = malloc(arena_n * sizeof(float));
    m->layers = calloc((size_t)in->n_layer, sizeof *m->layers);
    if (!m->f32_arena || !m->layers)
        return lerr(l, WEFT_ENOMEM, "out of memory");
    float *arena = m->f32_arena;

    if ((rc = get_wt(l, "token_embd.weight", in->n_embd, in->n_vocab, 1, &m->tok_embd)) < 0 ||
        (rc = get_vec(l, "output_norm.weight", in->n_embd, 1, &arena, &m->output_norm)) < 0 ||
        (rc = get_wt(l, "output.weight", in->n_embd, in->n_vocab, 0, &m->output)) < 0 ||
        (rc = get_vec(l, "rope_freqs.weight", in->n_rot / 2, 0, &arena, &m->rope_freqs)) < 0 ||
        (rc = get_vec(l, "rope_factors_short.weight", in->n_rot / 2, 0, &arena, &m->rope_short)) <
            0 ||
        (rc = get_vec(l, "rope_factors_long.weight", in->n_rot / 2, 0, &arena, &m->rope_long)) < 0)
        return rc;
    if ((m->rope_short == NULL) != (m->rope_long == NULL))
        return lerr(l, WEFT_EFORMAT, "rope_factors_short and rope_factors_long come together");
    if ((rc = hp_int(l, "rope.scaling.original_context_length", in->n_ctx_train, 1, 1 << 24,
                     &m->n_ctx_orig)) < 0 ||
        (rc = hp_float(l, "rope.scaling.attn_factor", 1.0f, &m->attn_factor)) < 0 ||
        (rc = hp_int(l, "attention.sliding_window", m->arch->phi3 ? phi3_default_swa(in) : 0, 0,
                     1 << 24, &m->n_swa)) < 0)
        return rc;
    if ((rc = hp_float(l, "attn_logit_softcapping", 0.0f, &m->attn_softcap)) < 0 ||
        (rc = hp_float(l, "final_logit_softcapping", 0.0f, &m->final_softcap)) < 0)
        return rc;
    /* RoPE scaling: linear (positions divided by the factor) is read; YaRN
     * and the rest are refused rather than run wrong. */
    char key[96];
    snprintf(key, sizeof key, "%s.rope.scaling.type", in->arch);
    struct weft_str st;
    m->rope_scale = 1.0f;
    if (weft_gguf_get_str(m->g, key, &st) == 0 && !weft_str_eq(st, "none")) {
        if (!weft_str_eq(st, "linear")) {
            char shown[40];
            return lerr(l, WEFT_ENOTSUP, "rope scaling '%s' is not supported (linear is)",
                        weft_str_printable(st, shown, sizeof shown));
        }
        if ((rc = hp_float(l, "rope.scaling.factor", 1.0f, &m->rope_scale)) < 0)
            return rc;
    }
    if (m->attn_softcap < 0 || m->final_softcap < 0 || !(m->rope_scale >= 1.0f))
        return lerr(l, WEFT_EFORMAT, "soft-capping and rope.scaling.factor must be positive");
    /* Gemma's 27B models scale Q.K by 1/sqrt(n_embd / n_head), as llama.cpp
     * does for them (46 layers in Gemma 2, 62 in Gemma 3); the rest by the
     * head size. */
    m->attn_scale = 1.0f / sqrtf((float)in->head_dim);
    if (m->arch->gemma && (in->n_layer == 46 || in->n_layer == 62))
        m->attn_scale = 1.0f / sqrtf((float)in->n_embd / (float)in->n_head);
    if (!(m->attn_factor > 0.0f && m->attn_factor < 100.0f))
        return lerr(l, WEFT_EFORMAT, "rope.scaling.attn_factor %g is out of range",
                    (double)m->attn_factor);
    if (m->output.data == NULL)
        m->output = m->tok_embd; /* tied embeddings */

    for (int i = 0; i < in->n_layer; i++) {
        struct layer *ly = &m->layers[i];
        char n[64];
#define NAME(suffix) (snprintf(n, sizeof n, "blk.%d." suffix, i), n)
        if ((rc = get_vec(l, NAME("attn_norm.weight"), in->n_embd, 1, &arena, &ly->attn_norm)) <
                0 ||
            (rc = get_vec(l, NAME("ffn_norm.weight"), in->n_embd, 1, &arena, &ly->ffn_norm)) < 0 ||
            (rc = get_qkv(l, i, ly)) < 0 ||
            (rc = get_wt(l, NAME("attn_output.weight"), m->q_dim, in->n_embd, 1, &ly->wo)) < 0 ||
            (rc = get_gate_up(l, i, ly)) < 0 ||
            (rc = get_wt(l, NAME("ffn_down.weight"), in->n_ff, in->n_embd, 1, &ly->w_down)) < 0)
            return rc;
        if (m->arch->qkv_bias &&
            ((rc = get_vec(l, NAME("attn_q.bias"), m->q_dim, 1, &arena, &ly->bq)) < 0 ||
             (rc = get_vec(l, NAME("attn_k.bias"), kv_dim, 1, &arena, &ly->bk)) < 0 ||
             (rc = get_vec(l, NAME("attn_v.bias"), kv_dim, 1, &arena, &ly->bv)) < 0))
            return rc;
        if (m->arch->gemma && ((rc = get_vec(l, NAME("post_attention_norm.weight"), in->n_embd, 1,
                                             &arena, &ly->post_attn_norm)) < 0 ||
                               (rc = get_vec(l, NAME("post_ffw_norm.weight"), in->n_embd, 1, &arena,
                                             &ly->post_ffn_norm)) < 0))
            return rc;
        ly->sliding =
            m->n_swa > 0 && (m->arch->swa_pattern == 0 || (i + 1) % m->arch->swa_pattern != 0);
        if (m->arch->qk_norm &&
            ((rc = get_vec(l, NAME("attn_q_norm.weight"), in->head_dim, 1, &arena, &ly->q_norm)) <
                 0 ||
             (rc = get_vec(l, NAME("attn_k_norm.weight"), in->head_dim, 1, &arena, &ly->k_norm)) <
                 0))
            return rc;
#undef NAME
    }

    /* The type holding most of the weight bytes names the model's type. */
    uint64_t by_type[64] = {0};
    for (uint64_t i = 0; i < m->g->n_tensors; i++) {
        const struct weft_gguf_tensor *t = &m->g->tensors[i];
        in->weight_bytes += t->size;
        if (t->n_dims >= 2 && t->type < 64)
            by_type[t->type] += t->size;
    }
    for (uint32_t t = 0; t < 64; t++)
        if (by_type[t] > by_type[in->weight_type])
            in->weight_type = t;
    in->kv_bytes_per_token = (uint64_t)in->n_layer * (uint64_t)kv_dim * 2 * sizeof(float);
    in->bytes_per_token = in->weight_bytes;
    if (m->output.data != m->tok_embd.data)
        in->bytes_per_token -= (uint64_t)m->tok_embd.row_bytes * (uint64_t)(m->tok_embd.rows - 1);

    /* CUDA when asked for, or (auto) when a device is there; the CPU when
     * auto finds none or the model does not fit (the reason is kept). */
    enum weft_backend want = o ? o->backend : WEFT_BACKEND_AUTO;
    int reference = o ? o->reference : 0;
    if (want == WEFT_BACKEND_CUDA && !weft_gpu_built())
        return lerr(l, WEFT_ENOTSUP, "the CUDA backend is not available in this build");
    if (want == WEFT_BACKEND_CUDA ||
        (want == WEFT_BACKEND_AUTO && !reference && weft_gpu_count() > 0)) {
        char why[224];
        int n_ctx = in->n_ctx_train < 4096 ? in->n_ctx_train : 4096;
        rc = weft_cuda_model_new(m, 0, n_ctx, &m->cuda, why, sizeof why);
        if (rc == 0) {
            in->backend = WEFT_BACKEND_CUDA;
            in->n_threads = 0;
            return 0;
        }
        if (want == WEFT_BACKEND_CUDA)
            return lerr(l, rc, "CUDA: %s", why);
        snprintf(in->backend_note, sizeof in->backend_note, "on the CPU: CUDA: %s", why);
    }
    in->backend = WEFT_BACKEND_CPU;
    int threads = o && o->n_threads > 0 ? o->n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (threads > 256)
        threads = 256;
    in->n_threads = threads;
    m->reference = o ? o->reference : 0;
    m->isa = weft_cpu_detect();
    m->f16_table = malloc(65536 * sizeof *m->f16_table);
    if (m->f16_table == NULL)
        return lerr(l, WEFT_ENOMEM, "out of memory");
    for (uint32_t h = 0; h < 65536; h++)
        m->f16_table[h] = weft_f16_to_f32((uint16_t)h);
    int widest = in->n_ff > in->n_embd ? in->n_ff : in->n_embd;
    if (m->q_dim > widest)
        widest = m->q_dim; /* the output projection's input */
    if (widest % WEFT_QK8_0 == 0) {
        m->xq_cap = (size_t)widest * WEFT_MAX_BATCH;
        m->xq = malloc(m->xq_cap / WEFT_QK8_0 * sizeof *m->xq);
        if (widest % WEFT_QK_K == 0)
            m->xk = malloc(m->xq_cap / WEFT_QK_K * sizeof *m->xk);
        if (m->xq == NULL || (widest % WEFT_QK_K == 0 && m->xk == NULL))
            return lerr(l, WEFT_ENOMEM, "out of memory");
    }
    m->logits_rows = malloc((size_t)WEFT_MAX_BATCH * (size_t)in->n_vocab * sizeof(float));
    if (m->logits_rows == NULL)
        return lerr(l, WEFT_ENOMEM, "out of memory");
    rc = weft_pool_new(threads, &m->pool);
    if (rc < 0)
        return lerr(l, rc, "cannot start %d threads", threads);
    /* The reference kernels are the definition and read the file as is. */
    if (m->reference || m->isa == WEFT_ISA_NONE || (o && o->mapped))
        return 0;
    return copy_weights(l);
}

int weft_model_from_gguf(struct weft_gguf *g, const char *name, const struct weft_model_opts *opts,
                         struct weft_model **out, char *err, size_t errcap)
{
    if (errcap)
        err[0] = '\0';
    struct weft_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        weft_gguf_close(g);
        return WEFT_ENOMEM;
    }
    m->g = g;
    struct loader l = {m, name, err, errcap};
    int rc = load(&l, opts);
    if (rc < 0) {
        weft_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int weft_model_load(const char *path, const struct weft_model_opts *opts, struct weft_model **out,
                    char *err, size_t errcap)
{
    struct weft_gguf *g;
    int rc = weft_gguf_open(path, &g, err, errcap);
    if (rc < 0)
        return rc;
    return weft_model_from_gguf(g, path, opts, out, err, errcap);
}

void weft_model_free(struct weft_model *m)
{
    if (m == NULL)
        return;
    weft_cuda_model_free(m->cuda);
    weft_pool_free(m->pool);
    if (m->copy)
        munmap(m->copy, m->copy_size);
    free(m->xq);
    free(m->xk);
    free(m->logits_rows);
    free(m->f16_table);
    weft_vocab_free(m->vocab);
    free(m->layers);
    free(m->f32_arena);
    weft_gguf_close(m->g);
    free(m);
}

const struct weft_model_info *weft_model_info(const struct weft_model *m)
{
    return &m->info;
}

const struct weft_vocab *weft_model_vocab(const struct weft_model *m)
{
    return m->vocab;
}

void weft_model_gpu_plan(const struct weft_model *m, int n_ctx, struct weft_gpu_plan *p)
{
    struct weft_cuda_plan c;
    weft_cuda_plan(m, n_ctx, &c);
    p->weight_bytes = c.weight_bytes;
    p->scratch_bytes = c.scratch_bytes;
    p->kv_bytes = c.kv_bytes_per_pos * (uint64_t)n_ctx;
}
