/* BPE pre-tokenizers (private to src/infer): how the text is cut into
 * words before byte-pair merging, for every `tokenizer.ggml.pre` that
 * llama.cpp's vocabulary loader knows. Each is a list of regular
 * expressions, llama.cpp's exact strings, applied in turn: the first cuts
 * the text into its matches and the gaps between them, each later one cuts
 * every piece again the same way.
 *
 * The common expressions (GPT-2's, Llama 3's, Qwen2's, a lone digit) run
 * as hand-written matchers; the rest through PCRE2, which a build may lack
 * (an engine-only build on a bare GPU machine): a vocabulary needing it is
 * then refused at load, by name. The matchers are tested against PCRE2 on
 * the same expressions (tests/infer/test_pretok.c).
 *
 * A weft_pretok is immutable once made and may be used from any thread. */
#ifndef WEFT_INFER_PRETOK_H
#define WEFT_INFER_PRETOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct weft_pretok;

/* The pre-tokenizer named name[0..len) ("default" when the file names
 * none). WEFT_ENOTSUP with a message naming it when it is unknown, or
 * needs PCRE2 and this build has none. */
int weft_pretok_new(const char *name, size_t len, struct weft_pretok **out, char *err,
                    size_t errcap);
void weft_pretok_free(struct weft_pretok *p);

/* Whether a word that is itself a token is taken whole, without merging
 * (llama.cpp's ignore_merges: Llama 3 and Tekken). */
bool weft_pretok_ignore_merges(const struct weft_pretok *p);

/* Whether a BOS starts the text when the file's add_bos_token does not
 * say (llama.cpp sets it for Llama 3, Tekken and Chameleon). */
bool weft_pretok_adds_bos(const struct weft_pretok *p);

/* The text's code points: cp[i] starts at byte off[i] of text, off[n] is
 * the text's length (an invalid byte is one code point of its own). */
struct weft_cps {
    const char *text;
    const uint32_t *cp;
    const uint32_t *off;
    size_t n;
};

/* Cuts c into words: on success *bounds (malloc'd, the caller frees it)
 * holds *nb + 1 code point indexes, 0 first and c->n last, word k being
 * [bounds[k], bounds[k + 1]). WEFT_ENOMEM, or WEFT_EIO when PCRE2 gives up
 * (its match limits). */
int weft_pretok_split(const struct weft_pretok *p, const struct weft_cps *c, size_t **bounds,
                      size_t *nb);

/* For tests: splits with the expression `re` alone, through the
 * hand-written matcher when `custom` and one exists, else PCRE2.
 * WEFT_ENOTSUP when the chosen way is not available. */
int weft_pretok_split_one(const char *re, bool custom, const struct weft_cps *c, size_t **bounds,
                          size_t *nb);

/* The expressions of the pre-tokenizer named name, NULL-terminated, or
 * NULL when it is unknown; and the i-th known name, NULL past the last. */
const char *const *weft_pretok_regexes(const char *name);
const char *weft_pretok_name(size_t i);

#endif /* WEFT_INFER_PRETOK_H */
