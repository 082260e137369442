/* CPU matrix-vector kernels: rows split across the thread pool, and per
 * type a dot product, plain or AVX2/FMA (chosen at run time). The plain
 * weft_dot_ref() of quant.c is the definition these are tested against. */
#include <stdbool.h>
#include <string.h>

#include "model.h"
#include "weft/quant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define WEFT_X86 1
#endif

/* --- AVX2 dot products ------------------------------------------------------- */

#ifdef WEFT_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float hsum8(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

AVX2 static float dot_f32_avx2(const float *w, const float *x, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += w[i] * x[i];
    return s;
}

AVX2 static float dot_f16_avx2(const uint16_t *w, const float *x, size_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8)));
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += weft_f16_to_f32(w[i]) * x[i];
    return s;
}

AVX2 static float dot_bf16_avx2(const uint16_t *w, const float *x, size_t n)
{
    __m256 acc = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 wf = _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
        acc = _mm256_fmadd_ps(wf, _mm256_loadu_ps(x + i), acc);
    }
    float s = hsum8(acc);
    for (; i < n; i++)
        s += weft_bf16_to_f32(w[i]) * x[i];
    return s;
}

AVX2 static float dot_q8_0_avx2(const struct weft_block_q8_0 *b, const float *x, size_t n)
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

AVX2 static float dot_q4_0_avx2(const struct weft_block_q4_0 *b, const float *x, size_t n)
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

/* K-quants: dequantize one super-block to floats, then a vector dot. */
AVX2 static float dot_kquant_avx2(uint32_t type, const uint8_t *row, const float *x, size_t n)
{
    float buf[WEFT_QK_K];
    size_t bs = weft_type_size(type);
    float s = 0;
    for (size_t i = 0; i < n; i += WEFT_QK_K) {
        weft_dequantize_row(type, row, buf, WEFT_QK_K);
        s += dot_f32_avx2(buf, x + i, WEFT_QK_K);
        row += bs;
    }
    return s;
}

/* AVX2, FMA and F16C from CPUID, plus the OS's promise (XCR0) that it
 * saves the YMM registers: all four are needed before any 256-bit code
 * runs. (__builtin_cpu_supports cannot ask about F16C on every compiler.) */
int weft_cpu_detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!(fma && osxsave && avx && f16c))
        return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 6) != 6)
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b >> 5) & 1;
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
        return dot_kquant_avx2(type, row, x, n);
    }
}
#else
int weft_cpu_detect(void)
{
    return 0;
}

static float dot_fast(uint32_t type, const uint8_t *row, const float *x, size_t n)
{
    return weft_dot_ref(type, row, x, n);
}
#endif

/* --- matmul over the pool ----------------------------------------------------- */

/* Rows per task: enough work to amortise the hand-off, small enough that
 * the pool balances. Every task covers all batch columns, so each weight
 * row is read from memory once per matmul. */
#define ROWS_PER_TASK 16

struct mm {
    const struct wt *w;
    const float *x;
    float *y;
    int n_batch;
    bool fast;
};

static void mm_task(void *ctx, int task)
{
    const struct mm *c = ctx;
    const struct wt *w = c->w;
    int r0 = task * ROWS_PER_TASK;
    int r1 = r0 + ROWS_PER_TASK < w->rows ? r0 + ROWS_PER_TASK : w->rows;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = w->data + (size_t)r * w->row_bytes;
        for (int b = 0; b < c->n_batch; b++) {
            const float *x = c->x + (size_t)b * (size_t)w->cols;
            float v = c->fast ? dot_fast(w->type, row, x, (size_t)w->cols)
                              : weft_dot_ref(w->type, row, x, (size_t)w->cols);
            c->y[(size_t)b * (size_t)w->rows + (size_t)r] = v;
        }
    }
}

void weft_cpu_matmul(struct weft_model *m, const struct wt *w, const float *x, int n_batch,
                     float *y)
{
    struct mm c = {w, x, y, n_batch, !m->reference && m->simd};
    int tasks = (w->rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    weft_pool_run(m->pool, mm_task, &c, tasks);
}

void weft_wt_row(const struct wt *w, int row, float *out)
{
    weft_dequantize_row(w->type, w->data + (size_t)row * w->row_bytes, out, (size_t)w->cols);
}
