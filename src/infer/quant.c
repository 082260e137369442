/* Tensor types: names, sizes, half-float conversion, and the reference
 * dequantize / quantize / dot for every type the engine supports. The block
 * layouts are ggml's, as GGUF files store them. */
#include "weft/quant.h"

#include <math.h>
#include <string.h>

/* Every ggml type number up to BF16 and beyond, so that a model using a
 * type we do not support is rejected by name. */
static const char *const type_names[] = {
    [0] = "F32",     [1] = "F16",         [2] = "Q4_0",        [3] = "Q4_1",        [4] = "Q4_2",
    [5] = "Q4_3",    [6] = "Q5_0",        [7] = "Q5_1",        [8] = "Q8_0",        [9] = "Q8_1",
    [10] = "Q2_K",   [11] = "Q3_K",       [12] = "Q4_K",       [13] = "Q5_K",       [14] = "Q6_K",
    [15] = "Q8_K",   [16] = "IQ2_XXS",    [17] = "IQ2_XS",     [18] = "IQ3_XXS",    [19] = "IQ1_S",
    [20] = "IQ4_NL", [21] = "IQ3_S",      [22] = "IQ2_S",      [23] = "IQ4_XS",     [24] = "I8",
    [25] = "I16",    [26] = "I32",        [27] = "I64",        [28] = "F64",        [29] = "IQ1_M",
    [30] = "BF16",   [31] = "Q4_0_4_4",   [32] = "Q4_0_4_8",   [33] = "Q4_0_8_8",   [34] = "TQ1_0",
    [35] = "TQ2_0",  [36] = "IQ4_NL_4_4", [37] = "IQ4_NL_4_8", [38] = "IQ4_NL_8_8", [39] = "MXFP4",
};

const char *weft_type_name(uint32_t type)
{
    if (type < sizeof type_names / sizeof type_names[0] && type_names[type])
        return type_names[type];
    return "unknown";
}

_Static_assert(sizeof(struct weft_block_q4_1) == 20, "Q4_1 block");
_Static_assert(sizeof(struct weft_block_q5_0) == 22, "Q5_0 block");
_Static_assert(sizeof(struct weft_block_q5_1) == 24, "Q5_1 block");
_Static_assert(sizeof(struct weft_block_iq4_nl) == 18, "IQ4_NL block");
_Static_assert(sizeof(struct weft_block_q2_k) == 84, "Q2_K block");
_Static_assert(sizeof(struct weft_block_q3_k) == 110, "Q3_K block");
_Static_assert(sizeof(struct weft_block_q5_k) == 176, "Q5_K block");
_Static_assert(sizeof(struct weft_block_iq4_xs) == 136, "IQ4_XS block");

const int8_t weft_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                      1,    13,   25,  38,  53,  69,  89,  113};

size_t weft_type_block(uint32_t type)
{
    switch (type) {
    case WEFT_TYPE_F32:
    case WEFT_TYPE_F16:
    case WEFT_TYPE_BF16:
        return 1;
    case WEFT_TYPE_Q8_0:
    case WEFT_TYPE_Q4_0:
    case WEFT_TYPE_Q4_1:
    case WEFT_TYPE_Q5_0:
    case WEFT_TYPE_Q5_1:
    case WEFT_TYPE_IQ4_NL:
        return 32;
    case WEFT_TYPE_Q2_K:
    case WEFT_TYPE_Q3_K:
    case WEFT_TYPE_Q4_K:
    case WEFT_TYPE_Q5_K:
    case WEFT_TYPE_Q6_K:
    case WEFT_TYPE_IQ4_XS:
        return WEFT_QK_K;
    default:
        return 0;
    }
}

size_t weft_type_size(uint32_t type)
{
    switch (type) {
    case WEFT_TYPE_F32:
        return 4;
    case WEFT_TYPE_F16:
    case WEFT_TYPE_BF16:
        return 2;
    case WEFT_TYPE_Q8_0:
        return sizeof(struct weft_block_q8_0);
    case WEFT_TYPE_Q4_0:
        return sizeof(struct weft_block_q4_0);
    case WEFT_TYPE_Q4_1:
        return sizeof(struct weft_block_q4_1);
    case WEFT_TYPE_Q5_0:
        return sizeof(struct weft_block_q5_0);
    case WEFT_TYPE_Q5_1:
        return sizeof(struct weft_block_q5_1);
    case WEFT_TYPE_IQ4_NL:
        return sizeof(struct weft_block_iq4_nl);
    case WEFT_TYPE_Q2_K:
        return sizeof(struct weft_block_q2_k);
    case WEFT_TYPE_Q3_K:
        return sizeof(struct weft_block_q3_k);
    case WEFT_TYPE_Q4_K:
        return sizeof(struct weft_block_q4_k);
    case WEFT_TYPE_Q5_K:
        return sizeof(struct weft_block_q5_k);
    case WEFT_TYPE_Q6_K:
        return sizeof(struct weft_block_q6_k);
    case WEFT_TYPE_IQ4_XS:
        return sizeof(struct weft_block_iq4_xs);
    default:
        return 0;
    }
}

int weft_type_supported(uint32_t type)
{
    return weft_type_block(type) != 0;
}

size_t weft_row_size(uint32_t type, uint64_t n)
{
    size_t blk = weft_type_block(type);
    if (blk == 0 || n % blk != 0)
        return 0;
    return (size_t)(n / blk) * weft_type_size(type);
}

/* --- half floats ----------------------------------------------------------- */

static float bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float weft_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0) {
        /* Zero or subnormal: value = man * 2^-24. */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    if (exp == 31)
        return bits_to_f32(sign | 0x7f800000u | (man << 13));
    return bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t weft_f32_to_f16(float f)
{
    uint32_t u = f32_to_bits(f);
    uint32_t sign = (u >> 16) & 0x8000;
    uint32_t abs = u & 0x7fffffffu;
    if (abs >= 0x7f800000u) /* inf or NaN */
        return (uint16_t)(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0));
    if (abs >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (abs < 0x38800000u) {
        /* Subnormal half (or zero): scale so the mantissa lands in the low
         * bits, letting the FPU do the round-to-nearest-even. */
        float v = bits_to_f32(abs) * 16777216.0f; /* 2^24 */
        uint32_t m = (uint32_t)lrintf(v);
        return (uint16_t)(sign | m);
    }
    uint32_t mant = abs & 0x7fffffu;
    uint32_t exp = (abs >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
        h++; /* may carry into the exponent, which is the right result */
    return (uint16_t)(sign | h);
}

float weft_bf16_to_f32(uint16_t h)
{
    return bits_to_f32((uint32_t)h << 16);
}

uint16_t weft_f32_to_bf16(float f)
{
    uint32_t u = f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* quiet NaN stays NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* --- dequantization ---------------------------------------------------------- */

static void dequant_q8_0(const struct weft_block_q8_0 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        float d = weft_f16_to_f32(b[i].d);
        for (int j = 0; j < WEFT_QK8_0; j++)
            y[i * WEFT_QK8_0 + j] = (float)b[i].qs[j] * d;
    }
}

/* The dequantizers copy each block to the stack first: its bytes then
 * cannot alias the floats written, and the compiler vectorizes the loops
 * (measured on the dev VM, -O3: Q6_K 1.04 -> 0.2 ns an element). Loops
 * write contiguous runs with loop-invariant shifts for the same reason. */
static void dequant_q4_0(const struct weft_block_q4_0 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += WEFT_QK4_0) {
        struct weft_block_q4_0 k;
        memcpy(&k, &b[i], sizeof k);
        float d = weft_f16_to_f32(k.d);
        /* Low nibbles hold elements 0..15, high nibbles 16..31. */
        int q[WEFT_QK4_0];
        for (int j = 0; j < WEFT_QK4_0 / 2; j++) {
            q[j] = (k.qs[j] & 0x0f) - 8;
            q[j + WEFT_QK4_0 / 2] = (k.qs[j] >> 4) - 8;
        }
        for (int j = 0; j < WEFT_QK4_0; j++)
            y[j] = (float)q[j] * d;
    }
}

/* Q4_K packs eight 6-bit scales and eight 6-bit mins into 12 bytes: the
 * first four of each whole in bytes 0..7, the last four split between the
 * low/high nibbles of bytes 8..11 and the top two bits of bytes 0..7. */
static void q4k_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void dequant_q4_k(const struct weft_block_q4_k *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        float d = weft_f16_to_f32(b[i].d);
        float dmin = weft_f16_to_f32(b[i].dmin);
        const uint8_t *q = b[i].qs;
        int is = 0;
        for (int j = 0; j < WEFT_QK_K; j += 64) {
            uint8_t sc, m;
            q4k_scale_min(is, b[i].scales, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            q4k_scale_min(is + 1, b[i].scales, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)(q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)(q[l] >> 4) - m2;
            q += 32;
            is += 2;
        }
    }
}

static void dequant_q6_k(const struct weft_block_q6_k *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        struct weft_block_q6_k k;
        memcpy(&k, &b[i], sizeof k);
        float d = weft_f16_to_f32(k.d);
        /* Each 128-element half: quarter c (32 elements) takes the low
         * (c < 2) or high nibbles of ql[32 * (c % 2) + l] and bits 2c of
         * qh[l]; each 16 of it has its own scale. */
        for (int n = 0; n < 2; n++, y += 128) {
            const uint8_t *ql = k.ql + 64 * n, *qh = k.qh + 32 * n;
            const int8_t *sc = k.scales + 8 * n;
            for (int c = 0; c < 4; c++) {
                const uint8_t *lq = ql + 32 * (c % 2);
                int ls = 4 * (c / 2), hs = 2 * c;
                for (int h = 0; h < 2; h++) {
                    float ds = d * (float)sc[h + 2 * c];
                    for (int l = 16 * h; l < 16 * h + 16; l++) {
                        int q = ((lq[l] >> ls) & 0x0f) | (((qh[l] >> hs) & 3) << 4);
                        y[32 * c + l] = ds * (float)(q - 32);
                    }
                }
            }
        }
    }
}

/* The legacy 32-element types: low nibbles hold elements 0..15, high
 * nibbles 16..31; Q5's fifth bit of element j is bit j of qh (a 32-bit
 * little-endian word). */
static uint32_t qh_word(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void dequant_q4_1(const struct weft_block_q4_1 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += 32) {
        struct weft_block_q4_1 k;
        memcpy(&k, &b[i], sizeof k);
        float d = weft_f16_to_f32(k.d), m = weft_f16_to_f32(k.m);
        for (int j = 0; j < 16; j++)
            y[j] = (float)(k.qs[j] & 0x0f) * d + m;
        for (int j = 0; j < 16; j++)
            y[j + 16] = (float)(k.qs[j] >> 4) * d + m;
    }
}

/* A Q5 block's 32 five-bit values, unpacked. */
static void unpack_q5(const uint8_t qs[16], const uint8_t qh[4], int q[32])
{
    uint32_t h = qh_word(qh);
    for (int j = 0; j < 16; j++) {
        q[j] = (qs[j] & 0x0f) | (int)(((h >> j) & 1) << 4);
        q[j + 16] = (qs[j] >> 4) | (int)(((h >> (j + 16)) & 1) << 4);
    }
}

static void dequant_q5_0(const struct weft_block_q5_0 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += 32) {
        int q[32];
        unpack_q5(b[i].qs, b[i].qh, q);
        float d = weft_f16_to_f32(b[i].d);
        for (int j = 0; j < 32; j++)
            y[j] = (float)(q[j] - 16) * d;
    }
}

static void dequant_q5_1(const struct weft_block_q5_1 *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += 32) {
        int q[32];
        unpack_q5(b[i].qs, b[i].qh, q);
        float d = weft_f16_to_f32(b[i].d), m = weft_f16_to_f32(b[i].m);
        for (int j = 0; j < 32; j++)
            y[j] = (float)q[j] * d + m;
    }
}

static void dequant_iq4_nl(const struct weft_block_iq4_nl *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++, y += 32) {
        float d = weft_f16_to_f32(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)weft_iq4nl_values[b[i].qs[j] & 0x0f];
            y[j + 16] = d * (float)weft_iq4nl_values[b[i].qs[j] >> 4];
        }
    }
}

/* Q2_K and Q3_K share a layout of their 2-bit parts: each half of the
 * super-block (128 elements) is 32 bytes, and element 32 * j + l of a half
 * is bits 2j..2j+1 of byte l. Sub-blocks of 16 run in element order. */
static void dequant_q2_k(const struct weft_block_q2_k *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        struct weft_block_q2_k k;
        memcpy(&k, &b[i], sizeof k);
        float d = weft_f16_to_f32(k.d), dmin = weft_f16_to_f32(k.dmin);
        for (int half = 0; half < 2; half++) {
            for (int j = 0; j < 4; j++) {
                for (int h = 0; h < 2; h++, y += 16) {
                    int sub = 8 * half + 2 * j + h;
                    float dl = d * (float)(k.scales[sub] & 0x0f);
                    float ml = dmin * (float)(k.scales[sub] >> 4);
                    const uint8_t *q = k.qs + 32 * half + 16 * h;
                    for (int l = 0; l < 16; l++)
                        y[l] = dl * (float)((q[l] >> (2 * j)) & 3) - ml;
                }
            }
        }
    }
}

/* Q3_K's 16 scales are 6 bits each in 12 bytes: the low four bits of
 * scale s in the low (s < 8) or high (s >= 8) nibble of byte s % 8, the two
 * high bits at 2 * (s / 4) of byte 8 + s % 4; stored + 32. */
static int q3k_scale(const uint8_t *sc, int s)
{
    int lo = s < 8 ? sc[s] & 0x0f : sc[s - 8] >> 4;
    int hi = (sc[8 + s % 4] >> (2 * (s / 4))) & 3;
    return (lo | hi << 4) - 32;
}

static void dequant_q3_k(const struct weft_block_q3_k *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        struct weft_block_q3_k k;
        memcpy(&k, &b[i], sizeof k);
        float d = weft_f16_to_f32(k.d);
        for (int half = 0; half < 2; half++) {
            for (int j = 0; j < 4; j++) {
                for (int h = 0; h < 2; h++, y += 16) {
                    float dl = d * (float)q3k_scale(k.scales, 8 * half + 2 * j + h);
                    const uint8_t *q = k.qs + 32 * half + 16 * h, *hm = k.hmask + 16 * h;
                    /* The third bit: element 128 * half + 32 * j + l at
                     * bit 4 * half + j of hmask[l]; clear means 4 less. */
                    int hb = 4 * half + j;
                    for (int l = 0; l < 16; l++) {
                        int v = ((q[l] >> (2 * j)) & 3) - 4 + 4 * ((hm[l] >> hb) & 1);
                        y[l] = dl * (float)v;
                    }
                }
            }
        }
    }
}

static void dequant_q5_k(const struct weft_block_q5_k *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        float d = weft_f16_to_f32(b[i].d), dmin = weft_f16_to_f32(b[i].dmin);
        /* As Q4_K, and the fifth bit of sub-block s's element l is bit s of
         * qh[l]. */
        for (int s = 0; s < 8; s++) {
            uint8_t sc, m;
            q4k_scale_min(s, b[i].scales, &sc, &m);
            float ds = d * sc, ms = dmin * m;
            const uint8_t *q = b[i].qs + 32 * (s / 2);
            for (int l = 0; l < 32; l++) {
                int v = (s % 2 ? q[l] >> 4 : q[l] & 0x0f) | (((b[i].qh[l] >> s) & 1) << 4);
                *y++ = ds * (float)v - ms;
            }
        }
    }
}

static void dequant_iq4_xs(const struct weft_block_iq4_xs *b, float *y, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        float d = weft_f16_to_f32(b[i].d);
        for (int s = 0; s < 8; s++, y += 32) {
            int ls = ((b[i].scales_l[s / 2] >> (4 * (s % 2))) & 0x0f) |
                     (((b[i].scales_h >> (2 * s)) & 3) << 4);
            float dl = d * (float)(ls - 32);
            const uint8_t *q = b[i].qs + 16 * s;
            for (int j = 0; j < 16; j++) {
                y[j] = dl * (float)weft_iq4nl_values[q[j] & 0x0f];
                y[j + 16] = dl * (float)weft_iq4nl_values[q[j] >> 4];
            }
        }
    }
}

void weft_dequantize_row(uint32_t type, const void *src, float *dst, size_t n)
{
    switch (type) {
    case WEFT_TYPE_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case WEFT_TYPE_F16: {
        const uint16_t *h = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = weft_f16_to_f32(h[i]);
        break;
    }
    case WEFT_TYPE_BF16: {
        const uint16_t *h = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = weft_bf16_to_f32(h[i]);
        break;
    }
    case WEFT_TYPE_Q8_0:
        dequant_q8_0(src, dst, n / WEFT_QK8_0);
        break;
    case WEFT_TYPE_Q4_0:
        dequant_q4_0(src, dst, n / WEFT_QK4_0);
        break;
    case WEFT_TYPE_Q4_K:
        dequant_q4_k(src, dst, n / WEFT_QK_K);
        break;
    case WEFT_TYPE_Q6_K:
        dequant_q6_k(src, dst, n / WEFT_QK_K);
        break;
    case WEFT_TYPE_Q4_1:
        dequant_q4_1(src, dst, n / 32);
        break;
    case WEFT_TYPE_Q5_0:
        dequant_q5_0(src, dst, n / 32);
        break;
    case WEFT_TYPE_Q5_1:
        dequant_q5_1(src, dst, n / 32);
        break;
    case WEFT_TYPE_IQ4_NL:
        dequant_iq4_nl(src, dst, n / 32);
        break;
    case WEFT_TYPE_Q2_K:
        dequant_q2_k(src, dst, n / WEFT_QK_K);
        break;
    case WEFT_TYPE_Q3_K:
        dequant_q3_k(src, dst, n / WEFT_QK_K);
        break;
    case WEFT_TYPE_Q5_K:
        dequant_q5_k(src, dst, n / WEFT_QK_K);
        break;
    case WEFT_TYPE_IQ4_XS:
        dequant_iq4_xs(src, dst, n / WEFT_QK_K);
        break;
    default:
        memset(dst, 0, n * sizeof(float));
        break;
    }
}

/* --- quantization -------------------------------------------------------------- */

static void quant_q8_0(const float *x, struct weft_block_q8_0 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        float amax = 0;
        for (int j = 0; j < WEFT_QK8_0; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = weft_f32_to_f16(d);
        for (int j = 0; j < WEFT_QK8_0; j++)
            b[i].qs[j] = (int8_t)lrintf(x[j] * id);
        x += WEFT_QK8_0;
    }
}

static void quant_q4_0(const float *x, struct weft_block_q4_0 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        /* The element of largest magnitude maps to -8 exactly, so the full
         * 16 levels are used on the side where it lies. */
        float amax = 0, max = 0;
        for (int j = 0; j < WEFT_QK4_0; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        float d = max / -8.0f;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = weft_f32_to_f16(d);
        for (int j = 0; j < WEFT_QK4_0 / 2; j++) {
            int q0 = (int)(x[j] * id + 8.5f);
            int q1 = (int)(x[j + WEFT_QK4_0 / 2] * id + 8.5f);
            q0 = q0 < 0 ? 0 : q0 > 15 ? 15 : q0;
            q1 = q1 < 0 ? 0 : q1 > 15 ? 15 : q1;
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
        x += WEFT_QK4_0;
    }
}

static void q4k_put_scale_min(int j, uint8_t *q, uint8_t sc, uint8_t m)
{
    if (j < 4) {
        q[j] = (uint8_t)((q[j] & 0xc0) | sc);
        q[j + 4] = (uint8_t)((q[j + 4] & 0xc0) | m);
    } else {
        q[j + 4] = (uint8_t)((sc & 0x0f) | ((m & 0x0f) << 4));
        q[j - 4] = (uint8_t)((q[j - 4] & 0x3f) | ((sc >> 4) << 6));
        q[j] = (uint8_t)((q[j] & 0x3f) | ((m >> 4) << 6));
    }
}

/* The K-quants' affine fit per sub-block: nsub sub-blocks of len values
 * onto levels 0..top, x ~ scale * q - min with the min clamped to >= 0
 * (it is subtracted), and the largest scale and min, which the
 * super-block's d and dmin are then fitted to. */
static void sub_ranges(const float *x, int nsub, int len, int top, float *scales, float *mins,
                       float *max_scale, float *max_min)
{
    *max_scale = 0;
    *max_min = 0;
    for (int s = 0; s < nsub; s++) {
        float lo = 0, hi = 0;
        for (int l = 0; l < len; l++) {
            lo = fminf(lo, x[len * s + l]);
            hi = fmaxf(hi, x[len * s + l]);
        }
        scales[s] = (hi - lo) / (float)top;
        mins[s] = -lo;
        *max_scale = fmaxf(*max_scale, scales[s]);
        *max_min = fmaxf(*max_min, mins[s]);
    }
}

/* A straightforward Q4_K quantizer: per 32-element sub-block an affine
 * range [min, max] with min clamped to <= 0, scales and mins then quantized
 * to 6 bits against the super-block's d and dmin. Good enough for
 * synthetic models and tests; not llama.cpp's error-minimising search. */
static void quant_q4_k(const float *x, struct weft_block_q4_k *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        float scales[8], mins[8], max_scale, max_min;
        sub_ranges(x, 8, 32, 15, scales, mins, &max_scale, &max_min);
        float d = max_scale / 63.0f, dmin = max_min / 63.0f;
        memset(&b[i], 0, sizeof b[i]);
        b[i].d = weft_f32_to_f16(d);
        b[i].dmin = weft_f32_to_f16(dmin);
        d = weft_f16_to_f32(b[i].d);
        dmin = weft_f16_to_f32(b[i].dmin);
        for (int s = 0; s < 8; s++) {
            long sc = d > 0 ? lrintf(scales[s] / d) : 0;
            long m = dmin > 0 ? lrintf(mins[s] / dmin) : 0;
            sc = sc > 63 ? 63 : sc;
            m = m > 63 ? 63 : m;
            q4k_put_scale_min(s, b[i].scales, (uint8_t)sc, (uint8_t)m);
            float ds = d * (float)sc, ms = dmin * (float)m;
            const float *xs = x + 32 * s;
            uint8_t *q = b[i].qs + 32 * (s / 2);
            for (int l = 0; l < 32; l++) {
                long v = ds > 0 ? lrintf((xs[l] + ms) / ds) : 0;
                v = v < 0 ? 0 : v > 15 ? 15 : v;
                q[l] = (uint8_t)(s % 2 ? (q[l] & 0x0f) | (v << 4) : (q[l] & 0xf0) | v);
            }
        }
        x += WEFT_QK_K;
    }
}

/* Q6_K: per 16-element sub-block a signed scale (int8 against the
 * super-block d) and 6-bit values centred on 32. */
static void quant_q6_k(const float *x, struct weft_block_q6_k *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        float scales[16], max_scale = 0;
        for (int s = 0; s < 16; s++) {
            float amax = 0;
            for (int l = 0; l < 16; l++)
                amax = fmaxf(amax, fabsf(x[16 * s + l]));
            scales[s] = amax / 31.0f;
            max_scale = fmaxf(max_scale, scales[s]);
        }
        memset(&b[i], 0, sizeof b[i]);
        float d = max_scale / 127.0f;
        b[i].d = weft_f32_to_f16(d);
        d = weft_f16_to_f32(b[i].d);
        uint8_t q6[WEFT_QK_K];
        for (int s = 0; s < 16; s++) {
            long sc = d > 0 ? lrintf(scales[s] / d) : 0;
            sc = sc > 127 ? 127 : sc;
            b[i].scales[s] = (int8_t)sc;
            float ds = d * (float)sc;
            for (int l = 0; l < 16; l++) {
                long v = ds > 0 ? lrintf(x[16 * s + l] / ds) : 0;
                v = v < -32 ? -32 : v > 31 ? 31 : v;
                q6[16 * s + l] = (uint8_t)(v + 32);
            }
        }
        /* Pack in the order dequant_q6_k reads. */
        for (int n = 0; n < 2; n++) {
            uint8_t *ql = b[i].ql + 64 * n;
            uint8_t *qh = b[i].qh + 32 * n;
            const uint8_t *q = q6 + 128 * n;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((q[l] & 0x0f) | ((q[l + 64] & 0x0f) << 4));
                ql[l + 32] = (uint8_t)((q[l + 32] & 0x0f) | ((q[l + 96] & 0x0f) << 4));
                qh[l] = (uint8_t)((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                  ((q[l + 96] >> 4) << 6));
            }
        }
        x += WEFT_QK_K;
    }
}

/* --- quantizers for the other types ---------------------------------------- *
 * Like the ones above: direct min-max or max-magnitude fits, enough for
 * synthetic models, tests and weft-convert; not llama.cpp's
 * error-minimising searches. Each packs in exactly the order its
 * dequantizer reads. */

static long clampl(long v, long lo, long hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The element of largest magnitude, with its sign. */
static float signed_max(const float *x, int n)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

/* An affine fit of n values onto levels 0..top: x ~ d * q + m. */
static void affine_fit(const float *x, int n, int top, float *d, float *m)
{
    float lo = x[0], hi = x[0];
    for (int j = 1; j < n; j++) {
        lo = fminf(lo, x[j]);
        hi = fmaxf(hi, x[j]);
    }
    *d = (hi - lo) / (float)top;
    *m = lo;
}

static void quant_q4_1(const float *x, struct weft_block_q4_1 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += 32) {
        float d, m;
        affine_fit(x, 32, 15, &d, &m);
        b[i].d = weft_f32_to_f16(d);
        b[i].m = weft_f32_to_f16(m);
        d = weft_f16_to_f32(b[i].d);
        m = weft_f16_to_f32(b[i].m);
        for (int j = 0; j < 16; j++) {
            long q0 = d > 0 ? clampl(lrintf((x[j] - m) / d), 0, 15) : 0;
            long q1 = d > 0 ? clampl(lrintf((x[j + 16] - m) / d), 0, 15) : 0;
            b[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

/* Five-bit values: the low four in qs as for Q4, the fifth in qh. */
static void put_q5(uint8_t *qs, uint8_t qh[4], const long q[32])
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | (q[j + 16] & 0x0f) << 4);
        h |= (uint32_t)((q[j] >> 4) & 1) << j | (uint32_t)((q[j + 16] >> 4) & 1) << (j + 16);
    }
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(h >> (8 * k));
}

static void quant_q5_0(const float *x, struct weft_block_q5_0 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += 32) {
        float d = signed_max(x, 32) / -16.0f; /* it maps to -16 exactly */
        b[i].d = weft_f32_to_f16(d);
        d = weft_f16_to_f32(b[i].d);
        long q[32];
        for (int j = 0; j < 32; j++)
            q[j] = d != 0 ? clampl(lrintf(x[j] / d) + 16, 0, 31) : 16;
        put_q5(b[i].qs, b[i].qh, q);
    }
}

static void quant_q5_1(const float *x, struct weft_block_q5_1 *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += 32) {
        float d, m;
        affine_fit(x, 32, 31, &d, &m);
        b[i].d = weft_f32_to_f16(d);
        b[i].m = weft_f32_to_f16(m);
        d = weft_f16_to_f32(b[i].d);
        m = weft_f16_to_f32(b[i].m);
        long q[32];
        for (int j = 0; j < 32; j++)
            q[j] = d > 0 ? clampl(lrintf((x[j] - m) / d), 0, 31) : 0;
        put_q5(b[i].qs, b[i].qh, q);
    }
}

/* The index of the IQ4 level nearest v (in units of the block scale). */
static int iq4_nearest(float v)
{
    int best = 0;
    for (int k = 1; k < 16; k++)
        if (fabsf(v - (float)weft_iq4nl_values[k]) < fabsf(v - (float)weft_iq4nl_values[best]))
            best = k;
    return best;
}

/* 32 values against scale dl into 16 bytes of IQ4 indices. */
static void put_iq4(const float *x, float dl, uint8_t *qs)
{
    for (int j = 0; j < 16; j++) {
        int lo = iq4_nearest(dl != 0 ? x[j] / dl : 0);
        int hi = iq4_nearest(dl != 0 ? x[j + 16] / dl : 0);
        qs[j] = (uint8_t)(lo | hi << 4);
    }
}

static void quant_iq4_nl(const float *x, struct weft_block_iq4_nl *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += 32) {
        /* The largest magnitude lands on the outermost level, -127. */
        float d = signed_max(x, 32) / (float)weft_iq4nl_values[0];
        b[i].d = weft_f32_to_f16(d);
        put_iq4(x, weft_f16_to_f32(b[i].d), b[i].qs);
    }
}

static void quant_iq4_xs(const float *x, struct weft_block_iq4_xs *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += WEFT_QK_K) {
        float sub[8], amax = 0;
        for (int s = 0; s < 8; s++) {
            sub[s] = signed_max(x + 32 * s, 32) / (float)weft_iq4nl_values[0];
            amax = fmaxf(amax, fabsf(sub[s]));
        }
        memset(&b[i], 0, sizeof b[i]);
        b[i].d = weft_f32_to_f16(amax / 31.0f);
        float d = weft_f16_to_f32(b[i].d);
        for (int s = 0; s < 8; s++) {
            long ls = d > 0 ? clampl(lrintf(sub[s] / d), -32, 31) : 0;
            unsigned u = (unsigned)(ls + 32);
            b[i].scales_l[s / 2] |= (uint8_t)((u & 0x0f) << (4 * (s % 2)));
            b[i].scales_h |= (uint16_t)((u >> 4) << (2 * s));
            put_iq4(x + 32 * s, d * (float)ls, b[i].qs + 16 * s);
        }
    }
}

/* Q2_K and Q3_K: element e's two low bits at bits 2j of qs[32 * half + l]
 * (half = e / 128, j = e % 128 / 32, l = e % 32), as their dequantizers
 * read them. */
static void put_2bit(uint8_t *qs, int e, unsigned q)
{
    qs[32 * (e / 128) + e % 32] |= (uint8_t)((q & 3) << (2 * (e % 128 / 32)));
}

static void quant_q2_k(const float *x, struct weft_block_q2_k *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += WEFT_QK_K) {
        float scales[16], mins[16], max_scale, max_min;
        sub_ranges(x, 16, 16, 3, scales, mins, &max_scale, &max_min);
        memset(&b[i], 0, sizeof b[i]);
        b[i].d = weft_f32_to_f16(max_scale / 15.0f);
        b[i].dmin = weft_f32_to_f16(max_min / 15.0f);
        float d = weft_f16_to_f32(b[i].d), dmin = weft_f16_to_f32(b[i].dmin);
        for (int s = 0; s < 16; s++) {
            long sc = d > 0 ? clampl(lrintf(scales[s] / d), 0, 15) : 0;
            long m = dmin > 0 ? clampl(lrintf(mins[s] / dmin), 0, 15) : 0;
            b[i].scales[s] = (uint8_t)(sc | m << 4);
            float ds = d * (float)sc, ms = dmin * (float)m;
            for (int l = 0; l < 16; l++) {
                int e = 16 * s + l;
                long q = ds > 0 ? clampl(lrintf((x[e] + ms) / ds), 0, 3) : 0;
                put_2bit(b[i].qs, e, (unsigned)q);
            }
        }
    }
}

static void quant_q3_k(const float *x, struct weft_block_q3_k *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += WEFT_QK_K) {
        float scales[16], amax = 0;
        for (int s = 0; s < 16; s++) {
            scales[s] = signed_max(x + 16 * s, 16) / -4.0f; /* it maps to -4 */
            amax = fmaxf(amax, fabsf(scales[s]));
        }
        memset(&b[i], 0, sizeof b[i]);
        b[i].d = weft_f32_to_f16(amax / 31.0f);
        float d = weft_f16_to_f32(b[i].d);
        for (int s = 0; s < 16; s++) {
            long sc = d > 0 ? clampl(lrintf(scales[s] / d), -32, 31) : 0;
            unsigned u = (unsigned)(sc + 32); /* the layout q3k_scale reads */
            b[i].scales[s % 8] |= (uint8_t)((u & 0x0f) << (s < 8 ? 0 : 4));
            b[i].scales[8 + s % 4] |= (uint8_t)((u >> 4) << (2 * (s / 4)));
            float ds = d * (float)sc;
            for (int l = 0; l < 16; l++) {
                int e = 16 * s + l;
                long q = ds != 0 ? clampl(lrintf(x[e] / ds), -4, 3) : 0;
                /* Stored as q + 4: the low two bits in qs, the third (set
                 * for q >= 0) at bit 4 * half + j of hmask[l]. */
                unsigned c = (unsigned)(q + 4);
                put_2bit(b[i].qs, e, c);
                b[i].hmask[e % 32] |= (uint8_t)((c >> 2) << (4 * (e / 128) + e % 128 / 32));
            }
        }
    }
}

static void quant_q5_k(const float *x, struct weft_block_q5_k *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += WEFT_QK_K) {
        float scales[8], mins[8], max_scale, max_min;
        sub_ranges(x, 8, 32, 31, scales, mins, &max_scale, &max_min);
        memset(&b[i], 0, sizeof b[i]);
        b[i].d = weft_f32_to_f16(max_scale / 63.0f);
        b[i].dmin = weft_f32_to_f16(max_min / 63.0f);
        float d = weft_f16_to_f32(b[i].d), dmin = weft_f16_to_f32(b[i].dmin);
        for (int s = 0; s < 8; s++) {
            long sc = d > 0 ? clampl(lrintf(scales[s] / d), 0, 63) : 0;
            long m = dmin > 0 ? clampl(lrintf(mins[s] / dmin), 0, 63) : 0;
            q4k_put_scale_min(s, b[i].scales, (uint8_t)sc, (uint8_t)m);
            float ds = d * (float)sc, ms = dmin * (float)m;
            uint8_t *q = b[i].qs + 32 * (s / 2);
            for (int l = 0; l < 32; l++) {
                long v = ds > 0 ? clampl(lrintf((x[32 * s + l] + ms) / ds), 0, 31) : 0;
                q[l] |= (uint8_t)((v & 0x0f) << (4 * (s % 2)));
                b[i].qh[l] |= (uint8_t)(((v >> 4) & 1) << s);
            }
        }
    }
}

size_t weft_quantize_row(uint32_t type, const float *src, void *dst, size_t n)
{
    size_t blk = weft_type_block(type);
    if (blk == 0 || n % blk != 0)
        return 0;
    switch (type) {
    case WEFT_TYPE_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case WEFT_TYPE_F16: {
        uint16_t *h = dst;
        for (size_t i = 0; i < n; i++)
            h[i] = weft_f32_to_f16(src[i]);
        break;
    }
    case WEFT_TYPE_BF16: {
        uint16_t *h = dst;
        for (size_t i = 0; i < n; i++)
            h[i] = weft_f32_to_bf16(src[i]);
        break;
    }
    case WEFT_TYPE_Q8_0:
        quant_q8_0(src, dst, n / blk);
        break;
    case WEFT_TYPE_Q4_0:
        quant_q4_0(src, dst, n / blk);
        break;
    case WEFT_TYPE_Q4_K:
        quant_q4_k(src, dst, n / blk);
        break;
    case WEFT_TYPE_Q6_K:
        quant_q6_k(src, dst, n / blk);
        break;
    case WEFT_TYPE_Q4_1:
        quant_q4_1(src, dst, n / blk);
        break;
    case WEFT_TYPE_Q5_0:
        quant_q5_0(src, dst, n / blk);
        break;
    case WEFT_TYPE_Q5_1:
        quant_q5_1(src, dst, n / blk);
        break;
    case WEFT_TYPE_IQ4_NL:
        quant_iq4_nl(src, dst, n / blk);
        break;
    case WEFT_TYPE_Q2_K:
        quant_q2_k(src, dst, n / blk);
        break;
    case WEFT_TYPE_Q3_K:
        quant_q3_k(src, dst, n / blk);
        break;
    case WEFT_TYPE_Q5_K:
        quant_q5_k(src, dst, n / blk);
        break;
    case WEFT_TYPE_IQ4_XS:
        quant_iq4_xs(src, dst, n / blk);
        break;
    default:
        return 0;
    }
    return weft_row_size(type, n);
}

float weft_dot_ref(uint32_t type, const void *row, const float *x, size_t n)
{
    if (type == WEFT_TYPE_F32) {
        const float *w = row;
        float sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += w[i] * x[i];
        return sum;
    }
    /* Block by block through a small buffer: the reference is about being
     * obviously right, not fast. */
    size_t blk = weft_type_block(type);
    size_t chunk = blk < 256 ? 256 : blk;
    size_t bytes_per_chunk = weft_row_size(type, chunk);
    const uint8_t *p = row;
    float buf[256];
    float sum = 0;
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        weft_dequantize_row(type, p, buf, m);
        for (size_t j = 0; j < m; j++)
            sum += buf[j] * x[i + j];
        p += bytes_per_chunk;
    }
    return sum;
}
