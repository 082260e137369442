/* The model as the engine sees it (private to src/infer): hyperparameters,
 * views of the weight tensors in the mapped GGUF, and the CPU kernels'
 * entry points. The forward pass in forward.c reads this and nothing else. */
#ifndef WEFT_INFER_MODEL_H
#define WEFT_INFER_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "weft/gguf.h"
#include "weft/infer.h"
#include "weft/quant.h"

/* A weight matrix of `rows` rows of `cols` elements, stored as in the file
 * (row r starts at data + r * row_bytes). The fast CPU kernels read `fast`
 * instead: the CPU backend's own copy (NULL: read `data`), rows as stored
 * or, when x16 is set, repacked 16 rows at a time (x16.c). */
struct wt {
    const uint8_t *data;
    uint32_t type;
    int rows, cols;
    size_t row_bytes;
    const uint8_t *fast;
    int x16;
};

/* Instruction sets the CPU kernels are built for, in order: each level
 * includes the one below. AVX2 means AVX2+FMA+F16C; AVX512 adds
 * AVX-512 F/BW/VL and VNNI. */
enum { WEFT_ISA_NONE = 0, WEFT_ISA_AVX2 = 1, WEFT_ISA_AVX512 = 2 };

/* The kernels of each level are compiled with these target attributes in
 * any build, and only called when weft_cpu_detect() reports the level. */
#if defined(__x86_64__) || defined(__i386__)
#define WEFT_X86    1
#define WEFT_AVX2   __attribute__((target("avx2,fma,f16c")))
#define WEFT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c")))
#endif

/* What an architecture changes in the pass: one row of model.c's table.
 * The pass (forward.c) reads the flags; everything else is Llama's. */
struct weft_arch {
    const char *name;
    bool rope_neox; /* rotate dimensions (i, i + n_rot/2), not (2i, 2i+1) */
    bool qkv_bias;  /* attn_q/k/v.bias added after the projections (qwen2) */
    bool qk_norm;   /* per-head RMSNorm of Q and K before RoPE (qwen3) */
    bool phi3;      /* llama.cpp's sliding-window defaults for Phi-3 files without the key */
    /* Gemma: the embedding scaled by sqrt(n_embd), GELU (tanh) gating,
     * norms after attention and after the FFN, logit soft-capping where the
     * file sets it. */
    bool gemma;
    /* Which layers slide when the model has a window: every layer (0), or
     * all but each swa_pattern-th (Gemma 2: 2, Gemma 3: 6). */
    int swa_pattern;
    float swa_rope_base; /* the sliding layers' RoPE base (Gemma 3), 0: the model's */
};

struct layer {
    const float *attn_norm, *ffn_norm;           /* n_embd floats each */
    const float *bq, *bk, *bv;                   /* q_dim / kv_dim floats, or NULL */
    const float *q_norm, *k_norm;                /* head_dim floats, or NULL */
    const float *post_attn_norm, *post_ffn_norm; /* Gemma: n_embd floats, or NULL */
    bool sliding;                                /* attends within the window only */
    struct wt wq, wk, wv, wo;
    struct wt w_gate, w_up, w_down;
};

struct weft_model {
    struct weft_gguf *g;
    struct weft_vocab *vocab;
    struct weft_model_info info;
    const struct weft_arch *arch;
    int q_dim; /* n_head * head_dim: n_embd for most models, not for Qwen3 or Mistral Nemo */
    struct wt tok_embd, output;
    const float *output_norm;
    const float *rope_freqs; /* n_rot/2 divisors, or NULL */
    /* LongRoPE (Phi-3): divisors for contexts up to n_ctx_orig and past it,
     * and the factor both rotations are scaled by. */
    const float *rope_short, *rope_long;
    int n_ctx_orig;
    float attn_factor; /* 1 unless the file says */
    int n_swa;         /* sliding-window attention: keys within n_swa positions; 0: all */
    float attn_scale;  /* of Q.K: 1/sqrt(head_dim), Gemma's 27B models 1/sqrt(n_embd/n_head) */
    float attn_softcap, final_softcap; /* 0: none (Gemma 2: tanh soft-capping) */
    float rope_scale; /* linear RoPE scaling of the global layers (rope.scaling.factor), 1 */
    struct layer *layers;
    float *f32_arena; /* norms and rope factors converted to F32 */
    struct weft_pool *pool;
    int reference; /* plain reference kernels only */
    int isa;       /* WEFT_ISA_*: what this CPU runs */
    uint8_t *copy; /* the CPU backend's copy of the matrices (mmap'd), or NULL */
    size_t copy_size;
    /* Activations quantized for the integer kernels: room for
     * WEFT_MAX_BATCH vectors of the widest matrix input (xq_cap floats). */
    struct weft_act_q8 *xq;
    size_t xq_cap;
    /* The same activations in 256-element blocks for the K-quant kernels
     * (xq_cap / 256 of them), when the widest input is a multiple of 256. */
    struct weft_act_q8k *xk;
    /* The classifier's output for the last rows of up to WEFT_MAX_BATCH
     * sequences of one pass (forward.c), before each goes to its session. */
    float *logits_rows;
    float *f16_table;             /* all 65536 half floats as floats, for block scales */
    struct weft_cuda_model *cuda; /* the device copy when the model runs on CUDA */
};

/* An activation block for the integer kernels: 32 int8 with a float scale,
 * and -8 times their sum, with which the x16 kernels take the offset of
 * unsigned stored weights out (x16.c). */
struct weft_act_q8 {
    float d;
    int32_t corr;
    int8_t qs[32];
};

/* Activations for the K-quant kernels: 256 int8 with one float scale (as
 * ggml's Q8_K) and the sums of each 16, which the mins of Q4_K/Q5_K
 * multiply. One scale per super-block lets a whole super-block's products
 * add up in integers. */
struct weft_act_q8k {
    float d;
    int16_t bsums[16];
    int8_t qs[256];
};

/* x[0 .. 256 nb) as nb such blocks (amax / 127, rounding half away from
 * zero). */
void weft_cpu_quantize_act_k(const float *x, struct weft_act_q8k *q, size_t nb);

/* x[0 .. 32 nb) as nb activation blocks, with kernels of level isa (every
 * level gives the same bytes). */
void weft_cpu_quantize_act(int isa, const float *x, struct weft_act_q8 *q, size_t nb);

/* Tokens one forward pass takes at once (prefill chunks). */
#define WEFT_MAX_BATCH 16

/* Builds a model on an already parsed GGUF, taking ownership of g (closed
 * on failure too). weft_model_load() is this after weft_gguf_open(); the
 * fuzz target uses it on in-memory files. */
int weft_model_from_gguf(struct weft_gguf *g, const char *name, const struct weft_model_opts *opts,
                         struct weft_model **out, char *err, size_t errcap);

/* The best WEFT_ISA_* level this CPU and OS support. */
int weft_cpu_detect(void);

/* The x16 layout (x16.c): groups of WEFT_X16_ROWS interleaved rows, read
 * against up to WEFT_X16_TOKENS activation vectors at once. */
#define WEFT_X16_ROWS   16
#define WEFT_X16_TOKENS 4
/* 1 when w should be repacked for kernels of level isa. */
int weft_x16_layout(int isa, const struct wt *w);
size_t weft_x16_size(const struct wt *w);
/* Writes w (read from w->data) repacked into dst, 64-byte aligned. */
void weft_x16_pack(const struct wt *w, uint8_t *dst);
/* y[k * w->rows + r] for rows r of groups g0..g1-1 and nt tokens, from
 * w->fast in the x16 layout and activations x[k] (w->cols / 32 blocks). */
void weft_x16_groups(int isa, const struct wt *w, int g0, int g1,
                     const struct weft_act_q8 *const *x, int nt, float *y);

/* y[b * w->rows + r] = row r of w . x[b * w->cols ...] for b < n_batch.
 * `reference` selects the plain per-row reference dot product. */
void weft_cpu_matmul(struct weft_model *m, const struct wt *w, const float *x, int n_batch,
                     float *y);

/* Row `row` of w as floats (embedding lookup). */
void weft_wt_row(const struct wt *w, int row, float *out);

#endif /* WEFT_INFER_MODEL_H */
