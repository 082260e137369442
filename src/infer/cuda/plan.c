/* Device memory planning for the CUDA backend: plain host arithmetic over
 * the model's shapes, so `weft-infer info` can say what a model needs on a
 * machine without a GPU. Compiled into both the engine and the module. */
#include "../model.h"
#include "backend.h"

static uint64_t align256(uint64_t n)
{
    return (n + 255) & ~(uint64_t)255;
}

static uint64_t wt_bytes(const struct wt *w)
{
    return (uint64_t)w->row_bytes * (uint64_t)w->rows;
}

void weft_cuda_scratch_sizes(const struct weft_model_info *in, int max_ctx,
                             size_t sz[WEFT_CUDA_SCRATCH_BUFS])
{
    size_t S = WEFT_CUDA_MAX_SLOTS, dim = (size_t)in->n_embd;
    size_t kv = (size_t)in->head_dim * (size_t)in->n_head_kv, ff = (size_t)in->n_ff;
    sz[0] = S * dim;                                  /* x: the residual stream */
    sz[1] = S * dim;                                  /* xb: normed input, attention output */
    sz[2] = S * dim;                                  /* q */
    sz[3] = S * kv;                                   /* k */
    sz[4] = S * kv;                                   /* v */
    sz[5] = S * ff;                                   /* hb: gate, then SwiGLU */
    sz[6] = S * ff;                                   /* hb2: up */
    sz[7] = S * (size_t)in->n_head * (size_t)max_ctx; /* att: scores per (slot, head) */
    sz[8] = S * (size_t)in->n_vocab;                  /* logits */
}

void weft_cuda_plan(const struct weft_model *m, int max_ctx, struct weft_cuda_plan *p)
{
    const struct weft_model_info *in = &m->info;
    uint64_t w = align256(wt_bytes(&m->tok_embd));
    if (m->output.data != m->tok_embd.data)
        w += align256(wt_bytes(&m->output));
    for (int l = 0; l < in->n_layer; l++) {
        const struct layer *ly = &m->layers[l];
        const struct wt *ws[7] = {&ly->wq,     &ly->wk,   &ly->wv,    &ly->wo,
                                  &ly->w_gate, &ly->w_up, &ly->w_down};
        for (int i = 0; i < 7; i++)
            w += align256(wt_bytes(ws[i]));
    }
    /* Norms and the RoPE table, F32. */
    w += align256((uint64_t)in->n_embd * (uint64_t)(2 * in->n_layer + 1) * sizeof(float));
    w += align256((uint64_t)(in->n_rot / 2 + 1) * sizeof(float));
    size_t sz[WEFT_CUDA_SCRATCH_BUFS];
    weft_cuda_scratch_sizes(in, max_ctx, sz);
    uint64_t s = WEFT_CUDA_STEP_BYTES;
    for (int i = 0; i < WEFT_CUDA_SCRATCH_BUFS; i++)
        s += align256(sz[i] * sizeof(float));
    p->weight_bytes = w;
    p->scratch_bytes = s;
    p->kv_bytes_per_pos = (uint64_t)in->n_layer * (uint64_t)in->head_dim * (uint64_t)in->n_head_kv *
                          2 * sizeof(float);
}
