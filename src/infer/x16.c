/* Q4_0 and Q8_0 weights repacked sixteen rows at a time, and the kernels
 * that read them.
 *
 * Why: a row-at-a-time dot product spends most of its instructions per
 * 32-element block on overhead around a few multiplies (unpack, widen,
 * convert, a scalar scale broadcast); measured at 1.6 ns per Q4_0 block on
 * one core, decode was bound by that and not by memory. Interleaving 16
 * rows puts one row in each 32-bit lane: one byte-dot instruction then
 * covers 4 elements of 16 rows against 4 activation bytes broadcast to
 * every lane, and the per-block work (scale conversion, int-to-float, the
 * multiply-add) is paid once per 16 rows instead of once per row.
 *
 * Layout of a weight with `rows` a multiple of 16 and nb blocks per row:
 * groups of 16 rows, each group_bytes() (a multiple of 64) apart. A group
 * holds first the quants of block 0, 1, ... nb-1, each QB * 16 bytes (QB =
 * 16 for Q4_0, 32 for Q8_0) cut into 64-byte chunks t = 0 .. QB/4-1 whose
 * 4-byte lane r is qs[4t .. 4t+3] of row r; then the 16 half-float scales
 * of each block, 32 bytes per block. Q8_0 quants are stored plus 128 (as
 * unsigned bytes), Q4_0 nibbles as they are (0..15): the byte-dot
 * instructions multiply unsigned by signed bytes, so the weight's offset
 * (8 or 128) is taken out once per block as offset * sum(x.qs), from
 * the activation block's corr (-8 * sum).
 *
 * For Q4_0 a lane's low nibbles are elements 4t..4t+3 and its high
 * nibbles 16+4t..16+4t+3, as in the stored block. */
#include <string.h>

#include "model.h"
#include "weft/quant.h"

#ifdef WEFT_X86
#include <immintrin.h>
#endif

enum { ROWS = WEFT_X16_ROWS };

static size_t quant_bytes(uint32_t type)
{
    return type == WEFT_TYPE_Q4_0 ? WEFT_QK4_0 / 2 : WEFT_QK8_0;
}

static size_t group_bytes(uint32_t type, int cols)
{
    size_t nb = (size_t)cols / WEFT_QK8_0;
    size_t n = nb * ROWS * (quant_bytes(type) + 2);
    return (n + 63) & ~(size_t)63;
}

int weft_x16_layout(int isa, const struct wt *w)
{
    if (w->rows % ROWS != 0 || w->cols % WEFT_QK8_0 != 0)
        return 0;
    if (w->type == WEFT_TYPE_Q4_0 && isa >= WEFT_ISA_AVX2)
        return 1;
    /* Q8_0's unsigned weights reach 255, which AVX2's 16-bit pair sums
     * (maddubs) would saturate; its row kernel is as good there. */
    return w->type == WEFT_TYPE_Q8_0 && isa >= WEFT_ISA_AVX512;
}

size_t weft_x16_size(const struct wt *w)
{
    return (size_t)(w->rows / ROWS) * group_bytes(w->type, w->cols);
}

void weft_x16_pack(const struct wt *w, uint8_t *dst)
{
    size_t nb = (size_t)w->cols / WEFT_QK8_0, qb = quant_bytes(w->type);
    size_t gb = group_bytes(w->type, w->cols);
    for (int g = 0; g < w->rows / ROWS; g++) {
        uint8_t *q = dst + (size_t)g * gb;
        uint16_t *scales = (uint16_t *)(void *)(q + nb * ROWS * qb);
        memset(q, 0, gb);
        for (int r = 0; r < ROWS; r++) {
            const uint8_t *row = w->data + (size_t)(g * ROWS + r) * w->row_bytes;
            for (size_t b = 0; b < nb; b++) {
                const uint8_t *blk = row + b * (2 + qb); /* d, then qs */
                uint16_t d;
                memcpy(&d, blk, 2);
                scales[b * ROWS + (size_t)r] = d;
                uint8_t *out = q + b * ROWS * qb;
                for (size_t t = 0; t < qb / 4; t++)
                    for (int k = 0; k < 4; k++) {
                        uint8_t v = blk[2 + 4 * t + (size_t)k];
                        if (w->type == WEFT_TYPE_Q8_0)
                            v ^= 0x80; /* int8 + 128 as uint8 */
                        out[t * 64 + (size_t)r * 4 + (size_t)k] = v;
                    }
            }
        }
    }
}

/* The activation bytes x.qs[i..i+3] as one 32-bit value, for broadcasts. */
static inline int32_t x4(const struct weft_act_q8 *x, int i)
{
    int32_t v;
    memcpy(&v, x->qs + i, 4);
    return v;
}

/* --- AVX-512 VNNI ---------------------------------------------------------- */

#ifdef WEFT_X86
#ifndef X16_AHEAD
#define X16_AHEAD 4096
#endif

/* One group against nt <= WEFT_X16_TOKENS activation vectors: the weight
 * chunks are loaded once per block and used for every token, which is
 * what makes prefill cheaper per token than decode. Decode streams from
 * memory, so the loop is kept to few instructions per byte (the
 * out-of-order window then spans more bytes in flight): Q4_0's high
 * nibbles are masked in place, 16 times their value, and the sum is
 * shifted back once; loads fold into the masks. */
WEFT_AVX512 static inline __attribute__((always_inline)) void
group_avx512_n(uint32_t type, const uint8_t *q, int nb, const struct weft_act_q8 *const *x,
               const int nt, float *y, int stride)
{
    const int qb = (int)quant_bytes(type);
    const uint16_t *scales = (const uint16_t *)(const void *)(q + (size_t)nb * ROWS * (size_t)qb);
    const __m512i lo = _mm512_set1_epi8(0x0f), hi = _mm512_set1_epi8((char)0xf0);
    __m512 acc[WEFT_X16_TOKENS];
    for (int k = 0; k < nt; k++)
        acc[k] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++, q += ROWS * qb) {
        /* One line in four ahead; the hardware prefetcher follows. */
        for (int t = 0; t < qb / 16; t++)
            _mm_prefetch((const char *)q + X16_AHEAD + 256 * t, _MM_HINT_T0);
        if ((b & 1) == 0)
            _mm_prefetch((const char *)scales + X16_AHEAD / 8, _MM_HINT_T0);
        __m512i w[8];
        for (int t = 0; t < qb / 4; t++)
            w[t] = _mm512_load_si512((const void *)(q + 64 * t));
        __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)scales));
        scales += ROWS;
        for (int k = 0; k < nt; k++) {
            const struct weft_act_q8 *xb = x[k] + b;
            __m512i s0, s1 = _mm512_setzero_si512();
            if (type == WEFT_TYPE_Q4_0) {
                /* s0: low nibbles, elements 4t..; s1: high nibbles times
                 * 16, elements 16+4t..; s0 starts at -8 * sum(x). */
                s0 = _mm512_set1_epi32(xb->corr);
                for (int t = 0; t < 4; t++) {
                    s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(w[t], lo),
                                             _mm512_set1_epi32(x4(xb, 4 * t)));
                    s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(w[t], hi),
                                             _mm512_set1_epi32(x4(xb, 16 + 4 * t)));
                }
                s0 = _mm512_add_epi32(s0, _mm512_srai_epi32(s1, 4));
            } else {
                /* Two chains over alternate chunks; -128 * sum(x) to
                 * take the +128 of the stored weights out. */
                s0 = _mm512_slli_epi32(_mm512_set1_epi32(xb->corr), 4);
                for (int t = 0; t < 8; t += 2) {
                    s0 = _mm512_dpbusd_epi32(s0, w[t], _mm512_set1_epi32(x4(xb, 4 * t)));
                    s1 = _mm512_dpbusd_epi32(s1, w[t + 1], _mm512_set1_epi32(x4(xb, 4 * t + 4)));
                }
                s0 = _mm512_add_epi32(s0, s1);
            }
            acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0),
                                     _mm512_mul_ps(ws, _mm512_set1_ps(xb->d)), acc[k]);
        }
    }
    for (int k = 0; k < nt; k++)
        _mm512_storeu_ps(y + (size_t)k * (size_t)stride, acc[k]);
}

/* One copy of the loop per token count and type, so each is straight-line
 * code with its accumulators in registers. */
WEFT_AVX512 static void group_avx512(uint32_t type, const uint8_t *q, int nb,
                                     const struct weft_act_q8 *const *x, int nt, float *y,
                                     int stride)
{
#define N(n)                                                                                       \
    case n:                                                                                        \
        if (type == WEFT_TYPE_Q4_0)                                                                \
            group_avx512_n(WEFT_TYPE_Q4_0, q, nb, x, n, y, stride);                                \
        else                                                                                       \
            group_avx512_n(WEFT_TYPE_Q8_0, q, nb, x, n, y, stride);                                \
        return;
    switch (nt) {
        N(1)
        N(2)
        N(3)
        N(4)
    }
#undef N
}

/* AVX2 without VNNI, Q4_0 only: maddubs multiplies unsigned nibbles by
 * signed activation bytes into 16-bit pair sums (at most 2 * 15 * 127);
 * eight of them still fit 16 bits (30480), so a block's eight chunks add
 * up as 16-bit before one widening madd. The group is two halves of 8
 * rows: bytes 0..31 of each 64-byte chunk are rows 0..7. */
WEFT_AVX2 static void group_avx2(const uint8_t *q, int nb, const struct weft_act_q8 *const *x,
                                 int nt, float *y, int stride)
{
    const uint16_t *scales = (const uint16_t *)(const void *)(q + (size_t)nb * ROWS * 16);
    const __m256i nib = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    for (int h = 0; h < 2; h++) {
        const uint8_t *qh = q + 32 * h;
        __m256 acc[WEFT_X16_TOKENS];
        for (int k = 0; k < nt; k++)
            acc[k] = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++, qh += ROWS * 16) {
            __m256i w[8];
            for (int t = 0; t < 4; t++) {
                __m256i raw = _mm256_load_si256((const __m256i *)(const void *)(qh + 64 * t));
                w[t] = _mm256_and_si256(raw, nib);
                w[t + 4] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib);
            }
            __m256 ws = _mm256_cvtph_ps(
                _mm_loadu_si128((const __m128i *)(const void *)(scales + b * ROWS + 8 * h)));
            for (int k = 0; k < nt; k++) {
                const struct weft_act_q8 *xb = x[k] + b;
                __m256i s = _mm256_maddubs_epi16(w[0], _mm256_set1_epi32(x4(xb, 0)));
                for (int t = 1; t < 8; t++)
                    s = _mm256_add_epi16(
                        s, _mm256_maddubs_epi16(w[t], _mm256_set1_epi32(x4(xb, 4 * t))));
                __m256i s32 =
                    _mm256_add_epi32(_mm256_madd_epi16(s, ones), _mm256_set1_epi32(xb->corr));
                acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32),
                                         _mm256_mul_ps(ws, _mm256_set1_ps(xb->d)), acc[k]);
            }
        }
        for (int k = 0; k < nt; k++)
            _mm256_storeu_ps(y + (size_t)k * (size_t)stride + 8 * h, acc[k]);
    }
}
#endif

/* Portable: the same arithmetic one lane at a time, the definition the
 * vector kernels are tested against. (A model is only repacked where a
 * vector kernel exists, so loads never reach it.) */
static void group_plain(uint32_t type, const uint8_t *q, int nb, const struct weft_act_q8 *const *x,
                        int nt, float *y, int stride)
{
    const int qb = (int)quant_bytes(type), mul = type == WEFT_TYPE_Q4_0 ? 1 : 16;
    const uint16_t *scales = (const uint16_t *)(const void *)(q + (size_t)nb * ROWS * (size_t)qb);
    for (int k = 0; k < nt; k++)
        for (int r = 0; r < ROWS; r++) {
            float acc = 0;
            for (int b = 0; b < nb; b++) {
                const uint8_t *blk = q + (size_t)b * ROWS * (size_t)qb;
                const struct weft_act_q8 *xb = x[k] + b;
                int32_t s = mul * xb->corr; /* -8 or -128 times sum(x) */
                for (int t = 0; t < qb / 4; t++)
                    for (int j = 0; j < 4; j++) {
                        uint8_t v = blk[t * 64 + r * 4 + j];
                        if (type == WEFT_TYPE_Q4_0) {
                            s += (v & 15) * xb->qs[4 * t + j];
                            s += (v >> 4) * xb->qs[16 + 4 * t + j];
                        } else {
                            s += v * xb->qs[4 * t + j];
                        }
                    }
                acc += (float)s * (weft_f16_to_f32(scales[b * ROWS + r]) * xb->d);
            }
            y[(size_t)k * (size_t)stride + (size_t)r] = acc;
        }
}

void weft_x16_groups(int isa, const struct wt *w, int g0, int g1,
                     const struct weft_act_q8 *const *x, int nt, float *y)
{
    int nb = w->cols / WEFT_QK8_0;
    size_t gb = group_bytes(w->type, w->cols);
    for (int g = g0; g < g1; g++) {
        const uint8_t *q = w->fast + (size_t)g * gb;
        float *yg = y + (size_t)g * ROWS;
#ifdef WEFT_X86
        if (isa >= WEFT_ISA_AVX512) {
            group_avx512(w->type, q, nb, x, nt, yg, w->rows);
            continue;
        }
        if (isa >= WEFT_ISA_AVX2 && w->type == WEFT_TYPE_Q4_0) {
            group_avx2(q, nb, x, nt, yg, w->rows);
            continue;
        }
#endif
        group_plain(w->type, q, nb, x, nt, yg, w->rows);
    }
}
