/* Writing models: llama2.c checkpoints to GGUF, and synthetic models with
 * real shapes and random weights for benchmarks and tests.
 *
 * Both write a complete GGUF v3 file (llama architecture, SentencePiece
 * vocabulary) at out_path, streaming tensors so memory stays small. On
 * failure they return a negative code with a one-line reason in err[errcap];
 * a partly written output file is removed.
 */
#ifndef WEFT_CONVERT_H
#define WEFT_CONVERT_H

#include <stddef.h>
#include <stdint.h>

/* llama2.c checkpoint (format v0: 7-int header, float32 weights; a negative
 * vocab size means a separate classifier) plus its tokenizer.bin. Matrices
 * are written as `type` (F32 keeps them exact); norms stay F32. llama2.c's
 * weights already use the adjacent-pair RoPE layout, so nothing is
 * permuted. */
int weft_convert_llama2c(const char *model_path, const char *tokenizer_path, const char *out_path,
                         uint32_t type, char *err, size_t errcap);

struct weft_synth_shape {
    const char *name;
    int n_embd, n_ff, n_layer, n_head, n_head_kv, n_vocab, n_ctx;
    float rope_base;
    int tied;         /* 1: no output.weight, the embedding is reused */
    const char *arch; /* "llama", "qwen2" (Q/K/V bias, NEOX RoPE), "qwen3" (Q/K norm, NEOX),
                         "phi3" (fused Q/K/V and gate/up, LongRoPE: trained at n_ctx / 32),
                         "gemma2", "gemma3" (post norms, GELU, alternating windows) */
    int head_dim;     /* 0: n_embd / n_head; else written as attention.key_length */
    int n_swa;        /* 0, or attention.sliding_window */
    float attn_softcap, final_softcap; /* 0, or Gemma 2's soft-capping */
};

/* Known shapes by name (weft_synth_shape_names lists them); NULL if
 * unknown. */
const struct weft_synth_shape *weft_synth_shape(const char *name);
/* A NULL-terminated list of the known names, for usage messages. */
const char *const *weft_synth_shape_names(void);

/* Random weights (deterministic from seed) scaled so activations stay
 * moderate through the layers, norms 1.0, and a synthetic SPM vocabulary
 * with byte tokens, or (vocab_path not NULL) the tokenizer.* keys of a
 * vocabulary GGUF as they are, its size replacing the shape's. Matrices
 * and the embedding in `type`. */
int weft_convert_synth(const struct weft_synth_shape *shape, uint32_t type, uint64_t seed,
                       const char *vocab_path, const char *out_path, char *err, size_t errcap);

#endif /* WEFT_CONVERT_H */
