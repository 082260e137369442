/* The CUDA backend as the engine sees it (private to src/infer).
 *
 * The model code (model.c, forward.c) stays the one definition of the
 * network; this backend takes the loaded weight views, uploads them once as
 * stored, and runs whole forward passes on the device: embedding, every
 * layer (RMSNorm, Q/K/V matvecs, RoPE and the KV write, attention over the
 * cache, output projection with the residual folded in, SwiGLU), the final
 * norm and the logits, with no host round trip until the logits come back.
 *
 * One pass takes up to WEFT_CUDA_MAX_SLOTS "slots", each a (sequence,
 * position, token): the tokens of one sequence's prefill chunk, or one
 * decode token from each of several sequences (batched decode). Every
 * weight is read once per pass whatever the number of slots. Each slot
 * count's pass is captured once as a CUDA graph and replayed; the slots'
 * tokens, positions and cache addresses travel in one small parameter
 * block copied in by the graph itself.
 *
 * Ownership: weft_cuda_model belongs to its weft_model and is freed with
 * it; a weft_cuda_seq (the device KV cache of one session) belongs to its
 * session. Passes on one model are serialised by a mutex inside it, so
 * sessions on several threads may share the model as they may on the CPU.
 * Every CUDA status is checked; failures return WEFT_ECUDA (WEFT_ENOMEM
 * when device memory runs out) with the call and CUDA's message in err.
 * The engine calls these through gpu_dl.c, which forwards to the loaded
 * module (module.h); without one (no CUDA build, no driver) they return
 * WEFT_ENOTSUP with the reason. weft_cuda_plan() and the scratch sizes
 * (plan.c) are plain host code, compiled into both sides.
 */
#ifndef WEFT_INFER_CUDA_BACKEND_H
#define WEFT_INFER_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "pass.h"

#ifdef __cplusplus
extern "C" {
#endif

struct weft_model;
struct weft_model_info;
struct weft_cuda_model;
struct weft_cuda_seq;

/* Device bytes the model's weights take as uploaded, the per-pass scratch
 * for `max_ctx` positions, and each position of one sequence's KV cache. */
struct weft_cuda_plan {
    uint64_t weight_bytes;
    uint64_t scratch_bytes;
    uint64_t kv_bytes_per_pos;
};
void weft_cuda_plan(const struct weft_model *m, int max_ctx, struct weft_cuda_plan *p);

/* The pass scratch, in floats per buffer (plan.c; the module allocates
 * exactly these). */
#define WEFT_CUDA_SCRATCH_BUFS 9
void weft_cuda_scratch_sizes(const struct weft_model_info *in, int max_ctx,
                             size_t sz[WEFT_CUDA_SCRATCH_BUFS]);

/* Uploads the model to `device`. Refuses (WEFT_ENOMEM, saying how much is
 * needed and free) when weights, scratch and a KV cache of `n_ctx`
 * positions would not fit in the device's free memory. */
int weft_cuda_model_new(const struct weft_model *m, int device, int n_ctx,
                        struct weft_cuda_model **out, char *err, size_t errcap);
void weft_cuda_model_free(struct weft_cuda_model *cm);

/* A KV cache of n_ctx positions on the device. */
int weft_cuda_seq_new(struct weft_cuda_model *cm, int n_ctx, struct weft_cuda_seq **out, char *err,
                      size_t errcap);
void weft_cuda_seq_free(struct weft_cuda_seq *s);

/* n tokens of one sequence from position pos (n <= WEFT_CUDA_MAX_SLOTS,
 * pos + n <= its n_ctx); the last token's logits (n_vocab floats) to
 * `logits` on the host. */
int weft_cuda_eval(struct weft_cuda_seq *s, const int32_t *tokens, int n, int pos, float *logits,
                   char *err, size_t errcap);

/* One decode step for n sequences of the same model: seqs[i] takes
 * tokens[i] at pos[i]; logits[i] (n_vocab floats on the host) receives its
 * logits. */
int weft_cuda_decode(struct weft_cuda_seq *const *seqs, int n, const int32_t *tokens,
                     const int *pos, float *const *logits, char *err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_INFER_CUDA_BACKEND_H */
