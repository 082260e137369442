/* A growable byte buffer with a hard upper bound.
 *
 * Ownership: the caller owns the struct (usually embedded in a larger one);
 * the buffer owns `data`, which it allocates on first growth and frees in
 * weft_buf_free(). Any call that grows the buffer may move `data`: pointers
 * into it are valid only until the next append, reserve or consume.
 *
 * Bounds: every buffer has a `max` (bytes). An append that would pass it
 * fails with WEFT_E2BIG and leaves the contents unchanged, so a peer that
 * sends too much gets a clean error instead of eating the host's memory.
 *
 * `data` is kept NUL-terminated after every successful call (when non-NULL),
 * so text can be handed to string functions; the NUL is not counted in len.
 *
 * Not thread-safe: one owner at a time.
 */
#ifndef WEFT_BUF_H
#define WEFT_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct weft_buf {
    char *data; /* NULL until the first growth */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated, not counting the trailing NUL */
    size_t max; /* hard bound on len */
};

/* Sets up an empty buffer that will never hold more than max bytes.
 * Allocates nothing. */
void weft_buf_init(struct weft_buf *b, size_t max);

/* Frees the storage and leaves an empty buffer with the same max. */
void weft_buf_free(struct weft_buf *b);

/* Empties the buffer and keeps its storage for reuse. */
void weft_buf_reset(struct weft_buf *b);

/* Makes room for `extra` more bytes. WEFT_E2BIG past max, WEFT_ENOMEM. */
int weft_buf_reserve(struct weft_buf *b, size_t extra);

int weft_buf_append(struct weft_buf *b, const void *p, size_t n);
int weft_buf_append_str(struct weft_buf *b, const char *s);
int weft_buf_append_byte(struct weft_buf *b, char c);

/* printf-style append. Returns 0 or a negative code; on failure the buffer
 * is unchanged. */
int weft_buf_appendf(struct weft_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int weft_buf_vappendf(struct weft_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Drops the first n bytes (n > len drops everything), as a stream parser
 * does after it has handled a frame. */
void weft_buf_consume(struct weft_buf *b, size_t n);

/* Hands the storage to the caller, who frees it with free(); the buffer is
 * left empty. Returns NULL for an empty buffer that never allocated, and sets
 * *len (when len is non-NULL) to the length. */
char *weft_buf_steal(struct weft_buf *b, size_t *len);

#endif /* WEFT_BUF_H */
