/* Unicode helpers for the tokenizers (private to src/infer): UTF-8
 * decoding that never fails, and the few character classes the GPT-2
 * pre-tokenizer needs. */
#ifndef WEFT_INFER_UNICODE_H
#define WEFT_INFER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum weft_ucat {
    WEFT_UCAT_OTHER,
    WEFT_UCAT_LETTER, /* \p{L} */
    WEFT_UCAT_NUMBER, /* \p{N} */
    WEFT_UCAT_SPACE,  /* \s: the White_Space property */
};

/* Bytes in the UTF-8 sequence starting with byte c, as ggml's tokenizers
 * count them (a stray continuation byte counts as 1). */
static inline size_t weft_utf8_len(unsigned char c)
{
    static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

/* Decodes one code point from s[0..n). Invalid or truncated sequences
 * yield one byte as WEFT_UTF8_INVALID so callers can keep the raw bytes. */
#define WEFT_UTF8_INVALID 0xFFFFFFFFu
uint32_t weft_utf8_decode(const unsigned char *s, size_t n, size_t *len);

/* Encodes cp as UTF-8 into out[4]; returns the byte count. */
size_t weft_utf8_encode(uint32_t cp, char *out);

enum weft_ucat weft_ucat(uint32_t cp);

extern const uint32_t weft_unicode_letters[][2];
extern const size_t weft_unicode_letters_count;
extern const uint32_t weft_unicode_numbers[][2];
extern const size_t weft_unicode_numbers_count;

#endif /* WEFT_INFER_UNICODE_H */
