/* UTF-8 validity (weft/utf8.h). The ranges are RFC 3629's table. */
#include "weft/utf8.h"

#include <string.h>

/* Checks the sequence at p[0..n): its full length when well-formed, else
 * 0, with *sub set to its maximal subpart (the bytes that begin a
 * well-formed sequence before it breaks off; at least 1), which is what one
 * U+FFFD replaces. */
static size_t seq(const unsigned char *p, size_t n, size_t *sub)
{
    *sub = 1;
    if (n == 0)
        return 0;
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0; /* no overlong three-byte forms */
        else if (c == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90; /* no overlong four-byte forms */
        else if (c == 0xf4)
            hi = 0x8f; /* nothing past U+10FFFF */
    } else {
        return 0; /* a continuation byte, C0/C1, or F5..FF */
    }
    if (n < 2 || p[1] < lo || p[1] > hi)
        return 0;
    size_t k = 2;
    while (k < need && k < n && (p[k] & 0xc0) == 0x80)
        k++;
    if (k == need)
        return need;
    *sub = k;
    return 0;
}

size_t weft_utf8_seq(const char *s, size_t n)
{
    size_t sub;
    return seq((const unsigned char *)s, n, &sub);
}

int weft_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = weft_utf8_seq(s + i, n - i)) == 0)
            return 0;
    return 1;
}

size_t weft_utf8_scrub(const char *in, size_t n, char *out)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t sub, k = seq(p + i, n - i, &sub);
        if (k == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3); /* U+FFFD for the maximal subpart */
            o += 3;
            i += sub;
            continue;
        }
        memcpy(out + o, in + i, k);
        o += k;
        i += k;
    }
    return o;
}
