/* UTF-8 and Unicode character classes for the tokenizers. */
#include "unicode.h"

uint32_t weft_utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) {
        *len = 1;
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        need = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        need = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        need = 4;
        cp = c & 0x07;
    } else {
        *len = 1;
        return WEFT_UTF8_INVALID;
    }
    if (need > n) {
        *len = 1;
        return WEFT_UTF8_INVALID;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *len = 1;
            return WEFT_UTF8_INVALID;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        *len = 1;
        return WEFT_UTF8_INVALID;
    }
    *len = need;
    return cp;
}

size_t weft_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid][0])
            hi = mid;
        else if (cp > r[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

enum weft_ucat weft_ucat(uint32_t cp)
{
    if (cp == WEFT_UTF8_INVALID)
        return WEFT_UCAT_OTHER;
    /* The White_Space property: short and stable, so listed here. */
    if ((cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
        (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
        cp == 0x205f || cp == 0x3000)
        return WEFT_UCAT_SPACE;
    if (in_ranges(weft_unicode_letters, weft_unicode_letters_count, cp))
        return WEFT_UCAT_LETTER;
    if (in_ranges(weft_unicode_numbers, weft_unicode_numbers_count, cp))
        return WEFT_UCAT_NUMBER;
    return WEFT_UCAT_OTHER;
}
