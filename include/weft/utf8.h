/* UTF-8 validity, for text that reaches JSON: a JSON document must be
 * UTF-8 (RFC 8259), and an OpenAI client's decoder stops at the first bad
 * byte. */
#ifndef WEFT_UTF8_H
#define WEFT_UTF8_H

#include <stddef.h>

/* Copies in[0..n) to out with what is not well-formed (RFC 3629: no
 * overlong forms, surrogates or code points past U+10FFFF) replaced by
 * U+FFFD, one for each maximal subpart (the Unicode standard's practice,
 * which Python's errors="replace" follows: a truncated sequence is one
 * U+FFFD, a stray byte another). out must hold WEFT_UTF8_SCRUB_CAP(n)
 * bytes; returns the bytes written. */
#define WEFT_UTF8_SCRUB_CAP(n) (3 * (size_t)(n))
size_t weft_utf8_scrub(const char *in, size_t n, char *out);

/* The length of the well-formed sequence at s[0..n), or 0 when s does not
 * begin one (or n is 0). */
size_t weft_utf8_seq(const char *s, size_t n);

/* 1 when s[0..n) is well-formed throughout (a NUL byte is well-formed
 * UTF-8: callers that refuse it say so), else 0. */
int weft_utf8_valid(const char *s, size_t n);

#endif /* WEFT_UTF8_H */
