/* CPU matrix-vector kernels: rows split across the thread pool, and per
 * type a dot product, plain or AVX2/FMA (chosen at run time). The plain
 * weft_dot_ref() of quant.c is the definition these are tested against. */
#include <stdbool.h>
#include <string.h>

#include "model.h"
#include "weft/quant.h"

#ifdef WEFT_X86
#include <cpuid.h>
#include <immintrin.h>
#endif

/* --- AVX2 dot products ------------------------------------------------------- */

#ifdef WEFT_X86

/* Decode streams every weight byte once per token. These loops are dense
 * enough that the out-of-order window covers only a few cache lines, so
 * without help they wait on memory latency (measured: 2.9 GB/s per core for
 * Q4_0, against 17 GB/s for plain reads). Prefetching this far ahead keeps
 * enough lines in flight; rows are contiguous, so running past a row's end
 * fetches the next row. */
#define PREFETCH_AHEAD   2048
#define PREFETCH(p, off) _mm_prefetch((const char *)(p) + PREFETCH_AHEAD + (off), _MM_HINT_T0)

WEFT_AVX2 static inline float hsum8(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

WEFT_AVX2 static float dot_f32_avx2(const float *w, const float *x, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        PREFETCH(w + i, 0);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += w[i] * x[i];
    return s;
}

WEFT_AVX2 static float dot_f16_avx2(const uint16_t *w, const float *x, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        PREFETCH(w + i, 0);
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))),
                             _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))),
                             _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 16))),
                             _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 24))),
                             _mm256_loadu_ps(x + i + 24), a3);
    }
    float s = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++)
        s += weft_f16_to_f32(w[i]) * x[i];
    return s;
}

WEFT_AVX2 static float dot_bf16_avx2(const uint16_t *w, const float *x, size_t n)
{
    __m256 acc = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if (i % 32 == 0)
            PREFETCH(w + i, 0);
        __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 wf = _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
        acc = _mm256_fmadd_ps(wf, _mm256_loadu_ps(x + i), acc);
    }
    float s = hsum8(acc);
    for (; i < n; i++)
        s += weft_bf16_to_f32(w[i]) * x[i];
    return s;
}

WEFT_AVX2 static float dot_q8_0_avx2(const struct weft_block_q8_0 *b, const float *x, size_t n)
{
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < n / WEFT_QK8_0; i++) {
        __m256 d = _mm256_set1_ps(weft_f16_to_f32(b[i].d));
        __m256 s = _mm256_setzero_ps();
        for (int j = 0; j < WEFT_QK8_0; j += 8) {
            __m128i q8 = _mm_loadl_epi64((const __m128i *)(b[i].qs + j));
            __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
            s = _mm256_fmadd_ps(q, _mm256_loadu_ps(x + j), s);
        }
        acc = _mm256_fmadd_ps(d, s, acc);
        x += WEFT_QK8_0;
    }
    return hsum8(acc);
}

WEFT_AVX2 static float dot_q4_0_avx2(const struct weft_block_q4_0 *b, const float *x, size_t n)
{
    __m256 acc = _mm256_setzero_ps();
    const __m256i eight = _mm256_set1_epi32(8);
    for (size_t i = 0; i < n / WEFT_QK4_0; i++) {
        __m256 d = _mm256_set1_ps(weft_f16_to_f32(b[i].d));
        __m256 s = _mm256_setzero_ps();
        for (int j = 0; j < 16; j += 8) {
            __m256i raw = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(b[i].qs + j)));
            __m256i lo = _mm256_sub_epi32(_mm256_and_si256(raw, _mm256_set1_epi32(15)), eight);
            __m256i hi = _mm256_sub_epi32(_mm256_srli_epi32(raw, 4), eight);
            s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), _mm256_loadu_ps(x + j), s);
            s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), _mm256_loadu_ps(x + j + 16), s);
        }
        acc = _mm256_fmadd_ps(d, s, acc);
        x += WEFT_QK4_0;
    }
    return hsum8(acc);
}

/* Integer paths: weights against activations quantized to 8 bits in
 * blocks of 32 with a float scale (struct weft_act_q8). maddubs multiplies
 * unsigned by signed bytes, so the weight's sign moves onto the activation
 * and its magnitude stays: |w| * sign(w) * x == w * x, and 128 * 127 * 2
 * fits the int16 lanes. */
WEFT_AVX2 static inline __m256 mul_sum_i8(__m256i w, __m256i x)
{
    __m256i aw = _mm256_sign_epi8(w, w);
    __m256i sx = _mm256_sign_epi8(x, w);
    __m256i p16 = _mm256_maddubs_epi16(aw, sx);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

/* The weight's half-float scale comes from the model's lookup table: one
 * load instead of a conversion that competes with the shuffles for the
 * same execution port (measured 1.57 -> 1.08 ns per Q4_0 block). Two
 * blocks per iteration into two accumulators. */
WEFT_AVX2 static float dot_q8_0_q8_avx2(const struct weft_block_q8_0 *w,
                                        const struct weft_act_q8 *x, size_t nb, const float *f16)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    size_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        PREFETCH(w + i, 0);
        PREFETCH(w + i, 64);
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(const void *)w[i].qs);
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(const void *)w[i + 1].qs);
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)x[i].qs);
        __m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)x[i + 1].qs);
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(f16[w[i].d] * x[i].d), mul_sum_i8(w0, x0), a0);
        a1 = _mm256_fmadd_ps(_mm256_set1_ps(f16[w[i + 1].d] * x[i + 1].d), mul_sum_i8(w1, x1), a1);
    }
    for (; i < nb; i++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(const void *)w[i].qs);
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)x[i].qs);
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(f16[w[i].d] * x[i].d), mul_sum_i8(w0, x0), a0);
    }
    return hsum8(_mm256_add_ps(a0, a1));
}

WEFT_AVX2 static inline __m256i q4_unpack(const struct weft_block_q4_0 *w)
{
    /* Low nibbles are elements 0..15, high nibbles 16..31: one 128-bit
     * lane each, then shifted from 0..15 to -8..7. */
    __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)w->qs);
    __m256i q = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_sub_epi8(_mm256_and_si256(q, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
}

WEFT_AVX2 static float dot_q4_0_q8_avx2(const struct weft_block_q4_0 *w,
                                        const struct weft_act_q8 *x, size_t nb, const float *f16)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    size_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        PREFETCH(w + i, 0);
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)x[i].qs);
        __m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)x[i + 1].qs);
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(f16[w[i].d] * x[i].d), mul_sum_i8(q4_unpack(w + i), x0),
                             a0);
        a1 = _mm256_fmadd_ps(_mm256_set1_ps(f16[w[i + 1].d] * x[i + 1].d),
                             mul_sum_i8(q4_unpack(w + i + 1), x1), a1);
    }
    for (; i < nb; i++) {
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)x[i].qs);
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(f16[w[i].d] * x[i].d), mul_sum_i8(q4_unpack(w + i), x0),
                             a0);
    }
    return hsum8(_mm256_add_ps(a0, a1));
}

/* K-quants against activations in 256-element blocks with one scale
 * (struct weft_act_q8k), so a super-block's products add up in int32 and
 * meet the float scales once: each 32 (Q4_K/Q5_K) or 16 (Q6_K) elements'
 * integer dot is multiplied by its 6- or 8-bit scale inside madd_epi16.
 * Q4_K/Q5_K's mins multiply the activation sums of their sub-blocks. This is
 * ggml's Q8_K arrangement. */

/* Q4_K/Q5_K's eight 6-bit scales and mins from their 12 bytes (the layout
 * quant.c's q4k_scale_min reads). */
static inline void k_scales(const uint8_t *q, uint8_t sc[8], uint8_t mn[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        mn[j] = q[j + 4] & 63;
        sc[j + 4] = (uint8_t)((q[j + 8] & 0x0f) | ((q[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
    }
}

/* The K-quant kernels take up to KT activation vectors at once: a weight
 * row is unpacked once per super-block and met by each token of a prefill
 * batch. */
#define KT         4
#define K_ROW_TILE 8

/* Q4_K, and Q5_K when qh is not NULL (the fifth bit of sub-block s's
 * element l is bit s of qh[l]); x[t] is token t's block. */
WEFT_AVX2 static inline __attribute__((always_inline)) void
dot_q45_k(const uint8_t *qs, const uint8_t *qh, const uint8_t *scales, float d, float dmin,
          const struct weft_act_q8k *const *x, int nt, __m256 *acc)
{
    const __m256i lo4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    uint8_t sc[8], mn[8];
    k_scales(scales, sc, mn);
    __m256i h = qh ? _mm256_loadu_si256((const __m256i *)(const void *)qh) : _mm256_setzero_si256();
    __m256i sum[KT];
    for (int t = 0; t < nt; t++)
        sum[t] = _mm256_setzero_si256();
    for (int k = 0; k < 4; k++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(qs + 32 * k));
        __m256i q0 = _mm256_and_si256(q, lo4);
        __m256i q1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4);
        if (qh) {
            q0 = _mm256_or_si256(
                q0, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * k), one), 4));
            q1 = _mm256_or_si256(
                q1, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * k + 1), one), 4));
        }
        __m256i s0 = _mm256_set1_epi16(sc[2 * k]), s1 = _mm256_set1_epi16(sc[2 * k + 1]);
        for (int t = 0; t < nt; t++) {
            const int8_t *xs = x[t]->qs + 64 * k;
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)xs);
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)(xs + 32));
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, x0), s0);
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, x1), s1);
            sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(p0, p1));
        }
    }
    /* Each sub-block's min against its two 16-element activation sums:
     * madd_epi16 of the sums and the mins (each twice) leaves lane j with
     * mn[j] * (bsums[2j] + bsums[2j + 1]), and hsum8 adds the lanes up. */
    __m256i mins = _mm256_cvtepu8_epi16(
        _mm_set_epi8((char)mn[7], (char)mn[7], (char)mn[6], (char)mn[6], (char)mn[5], (char)mn[5],
                     (char)mn[4], (char)mn[4], (char)mn[3], (char)mn[3], (char)mn[2], (char)mn[2],
                     (char)mn[1], (char)mn[1], (char)mn[0], (char)mn[0]));
    for (int t = 0; t < nt; t++) {
        __m256i bs = _mm256_loadu_si256((const __m256i *)(const void *)x[t]->bsums);
        __m256 m = _mm256_cvtepi32_ps(_mm256_madd_epi16(bs, mins));
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * x[t]->d), _mm256_cvtepi32_ps(sum[t]), acc[t]);
        acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * x[t]->d), m, acc[t]);
    }
}

/* y[t] = row . x[t] for t < nt, for a Q4_K or (q5) Q5_K row of nb blocks of
 * bs bytes; x[t] points at token t's first block. */
WEFT_AVX2 static inline __attribute__((always_inline)) void
dot_q45_k_rows(const uint8_t *row, size_t bs, bool q5, const struct weft_act_q8k *const *x, int nt,
               size_t nb, const float *f16, float *y)
{
    __m256 acc[KT];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (size_t i = 0; i < nb; i++, row += bs) {
        PREFETCH(row, 0);
        PREFETCH(row, 64);
        const struct weft_act_q8k *xi[KT];
        for (int t = 0; t < nt; t++)
            xi[t] = x[t] + i;
        if (q5) {
            const struct weft_block_q5_k *b = (const struct weft_block_q5_k *)(const void *)row;
            dot_q45_k(b->qs, b->qh, b->scales, f16[b->d], f16[b->dmin], xi, nt, acc);
        } else {
            const struct weft_block_q4_k *b = (const struct weft_block_q4_k *)(const void *)row;
            dot_q45_k(b->qs, NULL, b->scales, f16[b->d], f16[b->dmin], xi, nt, acc);
        }
    }
    for (int t = 0; t < nt; t++)
        y[t] = hsum8(acc[t]);
}

/* Q6_K: each 16 elements has its own signed scale (madd_epi16 pairs int16
 * lanes 0..7 of a 128-bit half with bytes 0..15 and 8..15 with 16..31, so
 * the scale vector holds two scales per half), and the values, centred on
 * 32, are signed: the sign trick of mul_sum_i8. */
WEFT_AVX2 static inline __attribute__((always_inline)) void
dot_q6_k_rows(const struct weft_block_q6_k *w, const struct weft_act_q8k *const *x, int nt,
              size_t nb, const float *f16, float *y)
{
    __m256 acc[KT];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    const __m256i lo4 = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3);
    const __m256i c32 = _mm256_set1_epi8(32);
    for (size_t i = 0; i < nb; i++) {
        PREFETCH(w + i, 0);
        PREFETCH(w + i, 64);
        PREFETCH(w + i, 128);
        __m256i sum[KT];
        for (int t = 0; t < nt; t++)
            sum[t] = _mm256_setzero_si256();
        for (int n = 0; n < 2; n++) {
            const uint8_t *ql = w[i].ql + 64 * n;
            __m256i qh = _mm256_loadu_si256((const __m256i *)(const void *)(w[i].qh + 32 * n));
            const int8_t *sc = w[i].scales + 8 * n;
            for (int c = 0; c < 4; c++) {
                __m256i l = _mm256_loadu_si256((const __m256i *)(const void *)(ql + 32 * (c % 2)));
                if (c >= 2)
                    l = _mm256_srli_epi16(l, 4);
                __m256i h = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), three);
                __m256i q = _mm256_or_si256(_mm256_and_si256(l, lo4), _mm256_slli_epi16(h, 4));
                q = _mm256_sub_epi8(q, c32); /* -32..31 */
                __m256i aq = _mm256_sign_epi8(q, q);
                __m256i scale =
                    _mm256_set_m128i(_mm_set1_epi16(sc[2 * c + 1]), _mm_set1_epi16(sc[2 * c]));
                for (int t = 0; t < nt; t++) {
                    const int8_t *xs = x[t][i].qs + 128 * n + 32 * c;
                    __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)xs);
                    __m256i p16 = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(xv, q));
                    sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(p16, scale));
                }
            }
        }
        float d = f16[w[i].d];
        for (int t = 0; t < nt; t++)
            acc[t] =
                _mm256_fmadd_ps(_mm256_set1_ps(d * x[t][i].d), _mm256_cvtepi32_ps(sum[t]), acc[t]);
    }
    for (int t = 0; t < nt; t++)
        y[t] = hsum8(acc[t]);
}

/* Row `row` of a K-quant matrix against nt (<= KT) tokens' activations. */
WEFT_AVX2 static void dot_kquant_rows(uint32_t type, const uint8_t *row,
                                      const struct weft_act_q8k *const *x, int nt, size_t n,
                                      const float *f16, float *y)
{
    size_t nb = n / WEFT_QK_K;
    const struct weft_block_q6_k *q6 = (const struct weft_block_q6_k *)(const void *)row;
    /* nt a constant in each call, so the accumulators stay in registers:
     * measured 20 -> 29 tok/s on TinyLlama Q4_K decode for nt = 1 against
     * the variable-nt loop, and batch-2 decode 30 -> 35. The arithmetic
     * per token is the same for every nt (batch invariance). */
#define KQ_ROWS(NT)                                                                                \
    do {                                                                                           \
        if (type == WEFT_TYPE_Q6_K)                                                                \
            dot_q6_k_rows(q6, x, NT, nb, f16, y);                                                  \
        else if (type == WEFT_TYPE_Q5_K)                                                           \
            dot_q45_k_rows(row, sizeof(struct weft_block_q5_k), true, x, NT, nb, f16, y);          \
        else                                                                                       \
            dot_q45_k_rows(row, sizeof(struct weft_block_q4_k), false, x, NT, nb, f16, y);         \
    } while (0)
    switch (nt) {
    case 1:
        KQ_ROWS(1);
        break;
    case 2:
        KQ_ROWS(2);
        break;
    case 3:
        KQ_ROWS(3);
        break;
    default:
        KQ_ROWS(KT);
        break;
    }
#undef KQ_ROWS
}

/* Every other type: dequantize 256 elements at a time (a K-quant
 * super-block, or eight 32-element blocks), then a vector dot. A row of a
 * 32-element type need not be a multiple of 256: the last chunk is short. */
WEFT_AVX2 static float dot_dequant_avx2(uint32_t type, const uint8_t *row, const float *x, size_t n)
{
    float buf[WEFT_QK_K];
    size_t chunk_bytes = weft_row_size(type, WEFT_QK_K);
    float s = 0;
    for (size_t i = 0; i < n; i += WEFT_QK_K) {
        size_t m = n - i < WEFT_QK_K ? n - i : WEFT_QK_K;
        for (size_t o = 0; o < chunk_bytes; o += 64)
            PREFETCH(row, o);
        weft_dequantize_row(type, row, buf, m);
        s += dot_f32_avx2(buf, x + i, m);
        row += chunk_bytes;
    }
    return s;
}

/* AVX2, FMA and F16C from CPUID, plus the OS's promise (XCR0) that it
 * saves the YMM registers: all four are needed before any 256-bit code
 * runs. AVX-512 needs F, BW, VL and VNNI, and XCR0's opmask and ZMM state.
 * (__builtin_cpu_supports cannot ask about F16C on every compiler.) */
int weft_cpu_detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return WEFT_ISA_NONE;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!(fma && osxsave && avx && f16c))
        return WEFT_ISA_NONE;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6) != 6)
        return WEFT_ISA_NONE;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((b >> 5) & 1))
        return WEFT_ISA_NONE;
    int f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
    if (f && bw && vl && vnni && (xlo & 0xe0) == 0xe0)
        return WEFT_ISA_AVX512;
    return WEFT_ISA_AVX2;
}

static float dot_fast(uint32_t type, const uint8_t *row, const float *x, size_t n)
{
    switch (type) {
    case WEFT_TYPE_F32:
        return dot_f32_avx2((const float *)(const void *)row, x, n);
    case WEFT_TYPE_F16:
        return dot_f16_avx2((const uint16_t *)(const void *)row, x, n);
    case WEFT_TYPE_BF16:
        return dot_bf16_avx2((const uint16_t *)(const void *)row, x, n);
    case WEFT_TYPE_Q8_0:
        return dot_q8_0_avx2((const struct weft_block_q8_0 *)(const void *)row, x, n);
    case WEFT_TYPE_Q4_0:
        return dot_q4_0_avx2((const struct weft_block_q4_0 *)(const void *)row, x, n);
    default:
        return dot_dequant_avx2(type, row, x, n);
    }
}
#else
int weft_cpu_detect(void)
{
    return WEFT_ISA_NONE;
}

static float dot_fast(uint32_t type, const uint8_t *row, const float *x, size_t n)
{
    return weft_dot_ref(type, row, x, n);
}
#endif

/* --- matmul over the pool ----------------------------------------------------- */

/* Activations to 8 bits per block of 32, scale amax / 127, rounding half
 * away from zero (this is Weft's own in-memory format, never stored). */
static void quantize_act_plain(const float *x, struct weft_act_q8 *q, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += WEFT_QK8_0) {
        float amax = 0;
        for (int j = 0; j < WEFT_QK8_0; j++) {
            float a = x[j] < 0 ? -x[j] : x[j];
            amax = a > amax ? a : amax;
        }
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        int32_t sum = 0;
        q[i].d = d;
        for (int j = 0; j < WEFT_QK8_0; j++) {
            float v = x[j] * id;
            q[i].qs[j] = (int8_t)(v >= 0 ? v + 0.5f : v - 0.5f);
            sum += q[i].qs[j];
        }
        q[i].corr = -8 * sum;
    }
}

#ifdef WEFT_X86
/* The same, eight lanes at a time, with the same result: the caller runs
 * it alone while the pool waits, once per matmul (it was 6 % of decode).
 * Half away from zero is v + copysign(0.5, v) truncated. */
WEFT_AVX2 static void quantize_act_avx2(const float *x, struct weft_act_q8 *q, size_t nb)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f);
    for (size_t i = 0; i < nb; i++, x += WEFT_QK8_0) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
        float d = _mm_cvtss_f32(m) / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        __m256 vid = _mm256_set1_ps(id);
        __m256i n[4];
        for (int k = 0; k < 4; k++) {
            __m256 t = _mm256_mul_ps(v[k], vid);
            t = _mm256_add_ps(t, _mm256_or_ps(_mm256_and_ps(t, sign), half));
            n[k] = _mm256_cvttps_epi32(t);
        }
        __m256i s = _mm256_add_epi32(_mm256_add_epi32(n[0], n[1]), _mm256_add_epi32(n[2], n[3]));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        /* Pack 32 x int32 to int8; packs work per 128-bit lane, so the
         * dwords come out in lane order 0 4 1 5 2 6 3 7 and are put back. */
        __m256i a = _mm256_packs_epi32(n[0], n[1]), b = _mm256_packs_epi32(n[2], n[3]);
        __m256i p8 = _mm256_packs_epi16(a, b);
        p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        q[i].d = d;
        q[i].corr = -8 * _mm_cvtsi128_si32(s4);
        _mm256_storeu_si256((__m256i *)(void *)q[i].qs, p8);
    }
}
#endif

void weft_cpu_quantize_act_k(const float *x, struct weft_act_q8k *q, size_t nb)
{
    for (size_t i = 0; i < nb; i++, x += WEFT_QK_K) {
        float amax = 0;
        for (int j = 0; j < WEFT_QK_K; j++) {
            float a = x[j] < 0 ? -x[j] : x[j];
            amax = a > amax ? a : amax;
        }
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        q[i].d = d;
        for (int j = 0; j < WEFT_QK_K; j++) {
            float v = x[j] * id;
            q[i].qs[j] = (int8_t)(v >= 0 ? v + 0.5f : v - 0.5f);
        }
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++)
                s += q[i].qs[16 * g + j];
            q[i].bsums[g] = (int16_t)s;
        }
    }
}

void weft_cpu_quantize_act(int isa, const float *x, struct weft_act_q8 *q, size_t nb)
{
#ifdef WEFT_X86
    if (isa >= WEFT_ISA_AVX2) {
        quantize_act_avx2(x, q, nb);
        return;
    }
#endif
    (void)isa;
    quantize_act_plain(x, q, nb);
}

/* How rows are split. Each thread should stream long contiguous runs of a
 * matrix: with small interleaved chunks the two cores' streams break every
 * few kilobytes, the hardware prefetchers restart, and prefetches past a
 * chunk's end fetch rows the other core reads (measured on TinyLlama Q4_0,
 * 2 threads: 16 rows a task 23 tok/s, 256 rows 29.6). A few tasks per
 * thread still lets a thread that started late catch up. */
#define TASKS_PER_THREAD  4
#define MIN_ROWS_PER_TASK 16

struct mm {
    const struct wt *w;
    const float *x;
    const struct weft_act_q8 *xq;  /* x quantized, when int_path */
    const struct weft_act_q8k *xk; /* the same in 256-blocks, for K-quants */
    const float *f16;              /* half-float lookup table */
    float *y;
    int n_batch, rows_per_task;
    bool fast, int_path;
    int isa;
};

static float dot_row(const struct mm *c, const uint8_t *row, int b)
{
    const struct wt *w = c->w;
    size_t n = (size_t)w->cols;
#ifdef WEFT_X86
    if (c->int_path) {
        const struct weft_act_q8 *xq = c->xq + (size_t)b * (n / WEFT_QK8_0);
        switch (w->type) {
        case WEFT_TYPE_Q8_0:
            return dot_q8_0_q8_avx2((const struct weft_block_q8_0 *)(const void *)row, xq,
                                    n / WEFT_QK8_0, c->f16);
        default:
            return dot_q4_0_q8_avx2((const struct weft_block_q4_0 *)(const void *)row, xq,
                                    n / WEFT_QK4_0, c->f16);
        }
    }
#endif
    const float *x = c->x + (size_t)b * n;
    return c->fast ? dot_fast(w->type, row, x, n) : weft_dot_ref(w->type, row, x, n);
}

static void mm_task(void *ctx, int task)
{
    const struct mm *c = ctx;
    const struct wt *w = c->w;
    int r0 = task * c->rows_per_task;
    int r1 = r0 + c->rows_per_task < w->rows ? r0 + c->rows_per_task : w->rows;
    if (c->int_path && w->x16) {
        size_t nb = (size_t)w->cols / WEFT_QK8_0;
        for (int b = 0; b < c->n_batch; b += WEFT_X16_TOKENS) {
            const struct weft_act_q8 *x[WEFT_X16_TOKENS];
            int nt = c->n_batch - b < WEFT_X16_TOKENS ? c->n_batch - b : WEFT_X16_TOKENS;
            for (int k = 0; k < nt; k++)
                x[k] = c->xq + (size_t)(b + k) * nb;
            weft_x16_groups(c->isa, w, r0 / WEFT_X16_ROWS, r1 / WEFT_X16_ROWS, x, nt,
                            c->y + (size_t)b * (size_t)w->rows);
        }
        return;
    }
    /* A repacked copy is for the x16 kernels only; otherwise the rows
     * come from the backend's plain copy, or the file. */
    const uint8_t *data = c->fast && w->fast && !w->x16 ? w->fast : w->data;
#ifdef WEFT_X86
    if (c->int_path && weft_type_block(w->type) == WEFT_QK_K) {
        /* K-quants: each row against up to KT tokens at once. */
        /* Rows in tiles of K_ROW_TILE, each tile meeting every KT-token
         * chunk in turn: a chunk's activations stay in L1 across the tile's
         * rows, which matters once the batch's activations outgrow L1. */
        size_t nb = (size_t)w->cols / WEFT_QK_K;
        for (int rt = r0; rt < r1; rt += K_ROW_TILE) {
            int re = rt + K_ROW_TILE < r1 ? rt + K_ROW_TILE : r1;
            for (int b = 0; b < c->n_batch; b += KT) {
                int nt = c->n_batch - b < KT ? c->n_batch - b : KT;
                const struct weft_act_q8k *x[KT];
                for (int t = 0; t < nt; t++)
                    x[t] = c->xk + (size_t)(b + t) * nb;
                for (int r = rt; r < re; r++) {
                    float out[KT];
                    dot_kquant_rows(w->type, data + (size_t)r * w->row_bytes, x, nt,
                                    (size_t)w->cols, c->f16, out);
                    for (int t = 0; t < nt; t++)
                        c->y[(size_t)(b + t) * (size_t)w->rows + (size_t)r] = out[t];
                }
            }
        }
        return;
    }
#endif
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = data + (size_t)r * w->row_bytes;
        for (int b = 0; b < c->n_batch; b++)
            c->y[(size_t)b * (size_t)w->rows + (size_t)r] = dot_row(c, row, b);
    }
}

/* The types with an integer kernel against quantized activations. */
static bool int_type(uint32_t type)
{
    return type == WEFT_TYPE_Q8_0 || type == WEFT_TYPE_Q4_0 || type == WEFT_TYPE_Q4_K ||
           type == WEFT_TYPE_Q5_K || type == WEFT_TYPE_Q6_K;
}

void weft_cpu_matmul(struct weft_model *m, const struct wt *w, const float *x, int n_batch,
                     float *y)
{
    struct mm c = {.w = w,
                   .x = x,
                   .f16 = m->f16_table,
                   .y = y,
                   .n_batch = n_batch,
                   .fast = !m->reference && m->isa > 0,
                   .isa = m->isa};
    /* Q8_0, Q4_0 and the K-quants meet activations quantized to 8 bits
     * once per matmul, so the inner loop is byte arithmetic, as in ggml. The
     * reference path keeps float activations: it is the definition. The
     * x16 layout exists only where this path is taken (load checks xq). */
    bool k = weft_type_block(w->type) == WEFT_QK_K;
    if (c.fast && int_type(w->type) && (size_t)w->cols * (size_t)n_batch <= m->xq_cap &&
        (!k || m->xk)) {
        if (k) {
            size_t nb = (size_t)w->cols / WEFT_QK_K;
            for (int b = 0; b < n_batch; b++)
                weft_cpu_quantize_act_k(x + (size_t)b * (size_t)w->cols, m->xk + (size_t)b * nb,
                                        nb);
            c.xk = m->xk;
        } else {
            size_t nb = (size_t)w->cols / WEFT_QK8_0;
            for (int b = 0; b < n_batch; b++)
                weft_cpu_quantize_act(m->isa, x + (size_t)b * (size_t)w->cols,
                                      m->xq + (size_t)b * nb, nb);
            c.xq = m->xq;
        }
        c.int_path = true;
    }
    int slices = TASKS_PER_THREAD * weft_pool_threads(m->pool);
    int per = (w->rows + slices - 1) / slices;
    c.rows_per_task = per < MIN_ROWS_PER_TASK ? MIN_ROWS_PER_TASK : per;
    if (c.int_path && w->x16)
        c.rows_per_task = (c.rows_per_task + WEFT_X16_ROWS - 1) / WEFT_X16_ROWS * WEFT_X16_ROWS;
    int tasks = (w->rows + c.rows_per_task - 1) / c.rows_per_task;
    weft_pool_run(m->pool, mm_task, &c, tasks);
}

void weft_wt_row(const struct wt *w, int row, float *out)
{
    weft_dequantize_row(w->type, w->data + (size_t)row * w->row_bytes, out, (size_t)w->cols);
}
