/* The model as the engine sees it (private to src/infer): hyperparameters,
 * views of the weight tensors in the mapped GGUF, and the CPU kernels'
 * entry points. The forward pass in forward.c reads this and nothing else. */
#ifndef WEFT_INFER_MODEL_H
#define WEFT_INFER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "weft/gguf.h"
#include "weft/infer.h"
#include "weft/quant.h"

/* A weight matrix of `rows` rows of `cols` elements, stored as in the file
 * (row r starts at data + r * row_bytes). */
struct wt {
    const uint8_t *data;
    uint32_t type;
    int rows, cols;
    size_t row_bytes;
};

struct layer {
    const float *attn_norm, *ffn_norm; /* n_embd floats each */
    struct wt wq, wk, wv, wo;
    struct wt w_gate, w_up, w_down;
};

struct weft_model {
    struct weft_gguf *g;
    struct weft_vocab *vocab;
    struct weft_model_info info;
    struct wt tok_embd, output;
    const float *output_norm;
    const float *rope_freqs; /* n_rot/2 divisors, or NULL */
    struct layer *layers;
    float *f32_arena; /* norms and rope factors converted to F32 */
    struct weft_pool *pool;
    int reference; /* plain reference kernels only */
    int simd;      /* AVX2+FMA+F16C available */
    /* Activations quantized for the integer kernels: room for
     * WEFT_MAX_BATCH vectors of the widest matrix input (xq_cap floats). */
    struct weft_act_q8 *xq;
    size_t xq_cap;
    float *f16_table;             /* all 65536 half floats as floats, for block scales */
    struct weft_cuda_model *cuda; /* the device copy when the model runs on CUDA */
};

/* An activation block for the integer kernels: 32 int8 with a float scale. */
struct weft_act_q8 {
    float d;
    int8_t qs[32];
};

/* Tokens one forward pass takes at once (prefill chunks). */
#define WEFT_MAX_BATCH 16

/* Builds a model on an already parsed GGUF, taking ownership of g (closed
 * on failure too). weft_model_load() is this after weft_gguf_open(); the
 * fuzz target uses it on in-memory files. */
int weft_model_from_gguf(struct weft_gguf *g, const char *name, const struct weft_model_opts *opts,
                         struct weft_model **out, char *err, size_t cap);

/* 1 when this CPU has the instructions the fast kernels need. */
int weft_cpu_detect(void);

/* y[b * w->rows + r] = row r of w . x[b * w->cols ...] for b < n_batch.
 * `reference` selects the plain per-row reference dot product. */
void weft_cpu_matmul(struct weft_model *m, const struct wt *w, const float *x, int n_batch,
                     float *y);

/* Row `row` of w as floats (embedding lookup). */
void weft_wt_row(const struct wt *w, int row, float *out);

#endif /* WEFT_INFER_MODEL_H */
