/* Growable, bounded byte buffer. See weft/buf.h for the ownership rules. */
#include "weft/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"

void weft_buf_init(struct weft_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void weft_buf_free(struct weft_buf *b)
{
    free(b->data);
    weft_buf_init(b, b->max);
}

void weft_buf_reset(struct weft_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int weft_buf_reserve(struct weft_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return WEFT_E2BIG;
    size_t need = b->len + extra;
    if (need <= b->cap && b->data)
        return 0;
    /* Grow geometrically so that a stream of small appends costs amortised
     * O(1), but never past max: the bound is the point of this type. */
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->data, cap + 1);
    if (p == NULL)
        return WEFT_ENOMEM;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0';
    return 0;
}

int weft_buf_append(struct weft_buf *b, const void *p, size_t n)
{
    int rc = weft_buf_reserve(b, n);
    if (rc < 0)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int weft_buf_append_str(struct weft_buf *b, const char *s)
{
    return weft_buf_append(b, s, strlen(s));
}

int weft_buf_append_byte(struct weft_buf *b, char c)
{
    return weft_buf_append(b, &c, 1);
}

int weft_buf_vappendf(struct weft_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return WEFT_EINVAL;
    int rc = weft_buf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int weft_buf_appendf(struct weft_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = weft_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void weft_buf_consume(struct weft_buf *b, size_t n)
{
    if (n >= b->len) {
        weft_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *weft_buf_steal(struct weft_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    weft_buf_init(b, b->max);
    return p;
}
