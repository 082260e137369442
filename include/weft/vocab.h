/* Vocabulary and tokenizers, matching llama.cpp's on the same GGUF.
 *
 * Two tokenizer models:
 *  - "llama" (SentencePiece-style): a leading space is added, spaces become
 *    U+2581, adjacent pieces merge by highest vocab score, and characters
 *    with no piece fall back to <0xXX> byte tokens;
 *  - "gpt2" (byte-level BPE): the GPT-2 pre-tokenizer splits the text
 *    (contractions, letters, numbers, punctuation, whitespace runs), bytes
 *    map to printable code points, and pairs merge by merge rank.
 *
 * Ownership: weft_vocab_load() copies everything it needs out of the GGUF,
 * so the vocab outlives the file. A loaded vocab is immutable and may be
 * used from any number of threads at once.
 */
#ifndef WEFT_VOCAB_H
#define WEFT_VOCAB_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "weft/utf8.h"

struct weft_gguf;
struct weft_vocab;

enum weft_vocab_kind { WEFT_VOCAB_SPM = 1, WEFT_VOCAB_BPE = 2 };

/* tokenizer.ggml.token_type values. */
enum weft_token_type {
    WEFT_TOKEN_NORMAL = 1,
    WEFT_TOKEN_UNKNOWN = 2,
    WEFT_TOKEN_CONTROL = 3,
    WEFT_TOKEN_USER_DEFINED = 4,
    WEFT_TOKEN_UNUSED = 5,
    WEFT_TOKEN_BYTE = 6,
};

/* Reads the tokenizer.ggml.* keys. 0, or WEFT_EFORMAT with a message that
 * names the file's key, or WEFT_ENOTSUP for a tokenizer model or
 * pre-tokenizer this engine does not implement. `name` prefixes messages. */
int weft_vocab_load(const struct weft_gguf *g, const char *name, struct weft_vocab **out, char *err,
                    size_t errcap);
void weft_vocab_free(struct weft_vocab *v);

enum weft_vocab_kind weft_vocab_kind(const struct weft_vocab *v);
int weft_vocab_size(const struct weft_vocab *v);
int32_t weft_vocab_bos(const struct weft_vocab *v); /* -1 when none */
int32_t weft_vocab_eos(const struct weft_vocab *v);
/* End of generation: eos, the file's eot/eom ids, and the end-of-turn
 * markers llama.cpp finds by text (<|eot_id|>, <|im_end|>, <|end|>,
 * <end_of_turn>, <|endoftext|>, <|eom_id|>, <EOT>, DeepSeek's end of
 * sentence). Generation stops at any of them and does not emit it. */
#define WEFT_VOCAB_MAX_EOG 16
bool weft_vocab_is_eog(const struct weft_vocab *v, int32_t id);
/* Copies up to cap of them to out; returns how many there are. */
int weft_vocab_eog(const struct weft_vocab *v, int32_t *out, int cap);
/* Whether generation should start with BOS (tokenizer.ggml.add_bos_token). */
int weft_vocab_adds_bos(const struct weft_vocab *v);
int weft_vocab_token_type(const struct weft_vocab *v, int32_t id);

/* Tokenizes text[0..len): content, with control tokens (<|im_end|>,
 * <|eot_id|>, ...) treated as plain text, so a user cannot type one.
 * User-defined tokens are matched whole, as llama.cpp and Hugging Face
 * tokenizers match them in all text. Writes at most cap ids and returns how
 * many the text needs (call again with a bigger buffer when the result
 * exceeds cap), or a negative code. */
int weft_tokenize(const struct weft_vocab *v, const char *text, size_t len, int add_bos,
                  int32_t *out, size_t cap);

/* The same for markup Weft itself composes (a chat template's own text):
 * control tokens are matched whole too. Never for user content. */
int weft_tokenize_markup(const struct weft_vocab *v, const char *text, size_t len, int add_bos,
                         int32_t *out, size_t cap);

/* A rendered prompt's markup: byte ranges [r[i][0], r[i][1]) of the text
 * that the template wrote, in order, not overlapping. The rest is content. */
struct weft_spans {
    uint32_t (*r)[2];
    size_t n;
};

/* Tokenizes a rendered prompt as a whole (so the ids are those of the
 * whole text, as llama.cpp tokenizes a chat prompt), with control tokens
 * matched only where they lie inside a markup span: content that spells
 * one stays text. markup may be NULL (all content). */
int weft_tokenize_spans(const struct weft_vocab *v, const char *text, size_t len, int add_bos,
                        const struct weft_spans *markup, int32_t *out, size_t cap);

/* The raw bytes a token stands for (byte tokens decoded, U+2581 or the
 * GPT-2 byte mapping undone). Control tokens give no bytes. Returns the
 * byte count (bytes past cap are dropped), or WEFT_EINVAL for a bad id. */
int weft_token_bytes(const struct weft_vocab *v, int32_t id, char *out, size_t cap);

/* Streaming detokenizer: text comes out only in whole UTF-8 characters, so
 * a character split across tokens is emitted once it is complete. It also
 * drops the leading space an SPM model puts on the first piece after BOS,
 * as SentencePiece's decoder does. Caller-owned, no resources. */
struct weft_detok {
    char pending[8];
    int n_pending;
    int at_start;
};
void weft_detok_init(struct weft_detok *d);
/* Appends the text of `id` to out[cap]; returns bytes written (cap must be
 * at least WEFT_DETOK_OUT), or WEFT_EINVAL. The text is always valid UTF-8:
 * a sequence split across tokens is held until it completes, and bytes
 * that cannot form one (a byte-fallback token out of place, say) come out
 * as U+FFFD, so what reaches a JSON body is well-formed. */
#define WEFT_DETOK_MAX 1024
#define WEFT_DETOK_OUT WEFT_UTF8_SCRUB_CAP(WEFT_DETOK_MAX + 8)
int weft_detok_push(const struct weft_vocab *v, struct weft_detok *d, int32_t id, char *out,
                    size_t cap);
/* Emits whatever incomplete sequence is left (at the end of a stream), as
 * U+FFFD; cap as for weft_detok_push. */
int weft_detok_flush(struct weft_detok *d, char *out, size_t cap);

#endif /* WEFT_VOCAB_H */
