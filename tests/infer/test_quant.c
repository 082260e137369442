/* Tensor types: half-float conversion at known bit patterns, hand-made
 * blocks of every quantized type decoded to values worked out from the
 * format, quantize/dequantize round trips, and the fast matmul kernels
 * against the reference on random data. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/infer/model.h"
#include "harness.h"
#include "weft/quant.h"

TEST(f16_known_values)
{
    ASSERT_EQ_UINT(weft_f32_to_f16(1.0f), 0x3c00);
    ASSERT_EQ_UINT(weft_f32_to_f16(-2.0f), 0xc000);
    ASSERT_EQ_UINT(weft_f32_to_f16(65504.0f), 0x7bff);
    ASSERT_EQ_UINT(weft_f32_to_f16(65520.0f), 0x7c00);               /* rounds up to infinity */
    ASSERT_EQ_UINT(weft_f32_to_f16(5.9604644775390625e-8f), 0x0001); /* smallest subnormal */
    ASSERT_EQ_UINT(weft_f32_to_f16(0.0f), 0x0000);
    ASSERT_EQ_UINT(weft_f32_to_f16(-0.0f), 0x8000);
    ASSERT_EQ_UINT(weft_f32_to_f16(INFINITY), 0x7c00);
    ASSERT((weft_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (weft_f32_to_f16(NAN) & 0x3ff) != 0);
    /* Ties go to even: 1 + 2^-11 sits halfway between 0x3c00 and 0x3c01. */
    ASSERT_EQ_UINT(weft_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
    ASSERT_EQ_UINT(weft_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    ASSERT(weft_f16_to_f32(0x3555) == 0.333251953125f);
    ASSERT(weft_f16_to_f32(0x0001) == 5.9604644775390625e-8f);
    ASSERT(weft_f16_to_f32(0xfbff) == -65504.0f);
    ASSERT(isinf(weft_f16_to_f32(0x7c00)));
    for (uint32_t h = 0; h < 0x7c00; h++) /* every finite half survives the round trip */
        ASSERT_EQ_UINT(weft_f32_to_f16(weft_f16_to_f32((uint16_t)h)), h);
}

TEST(bf16_known_values)
{
    ASSERT_EQ_UINT(weft_f32_to_bf16(1.0f), 0x3f80);
    ASSERT_EQ_UINT(weft_f32_to_bf16(-3.0f), 0xc040);
    ASSERT(weft_bf16_to_f32(0x4049) == 3.140625f);
    /* 1 + 2^-8 is halfway: ties to even keep 0x3f80; 1 + 3*2^-8 goes up. */
    ASSERT_EQ_UINT(weft_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
    ASSERT_EQ_UINT(weft_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
    ASSERT(isnan(weft_bf16_to_f32(weft_f32_to_bf16(NAN))));
}

TEST(type_table)
{
    ASSERT_EQ_UINT(weft_type_size(WEFT_TYPE_Q8_0), 34);
    ASSERT_EQ_UINT(weft_type_size(WEFT_TYPE_Q4_0), 18);
    ASSERT_EQ_UINT(weft_type_size(WEFT_TYPE_Q4_K), 144);
    ASSERT_EQ_UINT(weft_type_size(WEFT_TYPE_Q6_K), 210);
    ASSERT_EQ_UINT(weft_row_size(WEFT_TYPE_Q4_K, 512), 288);
    ASSERT_EQ_UINT(weft_row_size(WEFT_TYPE_Q4_K, 500), 0);
    /* The newer types, sizes as ggml's block structs. */
    static const struct {
        uint32_t type;
        size_t block, bytes;
    } more[] = {{WEFT_TYPE_Q4_1, 32, 20},   {WEFT_TYPE_Q5_0, 32, 22},    {WEFT_TYPE_Q5_1, 32, 24},
                {WEFT_TYPE_IQ4_NL, 32, 18}, {WEFT_TYPE_Q2_K, 256, 84},   {WEFT_TYPE_Q3_K, 256, 110},
                {WEFT_TYPE_Q5_K, 256, 176}, {WEFT_TYPE_IQ4_XS, 256, 136}};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        ASSERT(weft_type_supported(more[i].type));
        ASSERT_EQ_UINT(weft_type_block(more[i].type), more[i].block);
        ASSERT_EQ_UINT(weft_type_size(more[i].type), more[i].bytes);
    }
    ASSERT_EQ_STR(weft_type_name(13), "Q5_K");
    ASSERT_EQ_STR(weft_type_name(16), "IQ2_XXS");
    ASSERT(!weft_type_supported(16));
    ASSERT_EQ_STR(weft_type_name(9999), "unknown");
}

/* Random blocks of every quantized type and the floats llama.cpp's gguf-py
 * (a reader we did not write) dequantizes them to, made by
 * data/make_quant_vectors.py: a layout we misread differs here. */
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

TEST(peer_dequantizer_vectors)
{
    FILE *f = fopen(WEFT_TESTS_DIR "/infer/data/quant_vectors.bin", "rb");
    ASSERT_NOT_NULL(f);
    static uint8_t buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ASSERT(len >= 8 && len < sizeof buf && memcmp(buf, "WQV1", 4) == 0);
    uint32_t records = le32(buf + 4), seen_types = 0;
    size_t off = 8;
    for (uint32_t r = 0; r < records; r++) {
        ASSERT(off + 12 <= len);
        uint32_t type = le32(buf + off), n = le32(buf + off + 4), bytes = le32(buf + off + 8);
        off += 12;
        ASSERT(n > 0 && n <= 2048 && off + bytes + 4 * (size_t)n <= len);
        if (!weft_type_supported(type) || weft_row_size(type, n) != bytes)
            TEST_FAIL_("type %s (%u), %u elements: %u bytes, weft wants %zu", weft_type_name(type),
                       type, n, bytes, weft_row_size(type, n));
        float y[2048];
        weft_dequantize_row(type, buf + off, y, n);
        off += bytes;
        int bad = 0;
        for (uint32_t i = 0; i < n; i++) {
            float want;
            memcpy(&want, buf + off + 4 * (size_t)i, sizeof want);
            /* Equal up to the rounding of a multiply-add contracted or
             * not: the same products in the same order otherwise. */
            if (fabsf(y[i] - want) > 1e-6f * fabsf(want) + 1e-30f && bad++ < 3)
                TEST_FAIL_("%s element %u: %.9g, gguf-py %.9g", weft_type_name(type), i, y[i],
                           want);
        }
        off += 4 * (size_t)n;
        seen_types++;
    }
    ASSERT_EQ_UINT(off, len);
    ASSERT_EQ_UINT(seen_types, 12);
}

TEST(q8_0_hand_made_block)
{
    struct weft_block_q8_0 b;
    b.d = 0x3800; /* 0.5 */
    for (int i = 0; i < 32; i++)
        b.qs[i] = (int8_t)(i * 8 - 128);
    float y[32];
    weft_dequantize_row(WEFT_TYPE_Q8_0, &b, y, 32);
    ASSERT(y[0] == -64.0f);
    ASSERT(y[16] == 0.0f);
    ASSERT(y[31] == 60.0f);
}

TEST(q4_0_hand_made_block)
{
    struct weft_block_q4_0 b;
    b.d = 0x4000; /* 2.0 */
    for (int i = 0; i < 16; i++)
        b.qs[i] = (uint8_t)(i | ((15 - i) << 4));
    float y[32];
    weft_dequantize_row(WEFT_TYPE_Q4_0, &b, y, 32);
    /* Element j < 16 is the low nibble of byte j, element j+16 the high. */
    ASSERT(y[0] == -16.0f);  /* (0 - 8) * 2 */
    ASSERT(y[15] == 14.0f);  /* (15 - 8) * 2 */
    ASSERT(y[16] == 14.0f);  /* high nibble of byte 0 = 15 */
    ASSERT(y[31] == -16.0f); /* high nibble of byte 15 = 0 */
}

TEST(q4_k_hand_made_block)
{
    struct weft_block_q4_k b;
    memset(&b, 0, sizeof b);
    b.d = 0x3c00;    /* 1.0 */
    b.dmin = 0x3800; /* 0.5 */
    /* Sub-blocks 0..3: scale in bytes 0..3, min in bytes 4..7 (6 bits).
     * Sub-blocks 4..7: low 4 bits in bytes 8..11 (scale low nibble, min
     * high nibble), top 2 bits in the top bits of bytes 0..3 / 4..7. */
    b.scales[0] = 3;                /* sub-block 0: scale 3 */
    b.scales[4] = 2;                /* sub-block 0: min 2 */
    b.scales[1] = 5 | (1 << 6);     /* sub-block 1: scale 5; sub-block 5 scale bit 4 */
    b.scales[5] = 1 | (2 << 6);     /* sub-block 1: min 1; sub-block 5 min bits 4-5 = 2 */
    b.scales[9] = 0x7 | (0x3 << 4); /* sub-block 5: scale low 7, min low 3 */
    /* Sub-block 0 is the low nibbles of qs[0..31], sub-block 1 the high
     * nibbles; sub-blocks 4/5 use qs[64..95]. */
    b.qs[0] = 0x09;  /* element 0: q 9; element 32: q 0 */
    b.qs[1] = 0xf0;  /* element 1: q 0; element 33: q 15 */
    b.qs[64] = 0x40; /* element 128: q 0; element 160: q 4 */
    float y[256];
    weft_dequantize_row(WEFT_TYPE_Q4_K, &b, y, 256);
    ASSERT(y[0] == 1.0f * 3 * 9 - 0.5f * 2); /* 26 */
    ASSERT(y[1] == -1.0f);                   /* 0 - 0.5 * 2 */
    ASSERT(y[32] == -0.5f);                  /* scale 5, min 1, q 0 */
    ASSERT(y[33] == 5.0f * 15 - 0.5f);       /* 74.5 */
    /* Sub-block 5: scale = 7 | (1 << 4) = 23, min = 3 | (2 << 4) = 35. */
    ASSERT(y[160] == 23.0f * 4 - 0.5f * 35); /* 74.5 */
    ASSERT(y[128] == 0.0f);                  /* sub-block 4: scale 0, min 0 */
}

TEST(q6_k_hand_made_block)
{
    struct weft_block_q6_k b;
    memset(&b, 0, sizeof b);
    b.d = 0x3800; /* 0.5 */
    for (int i = 0; i < 16; i++)
        b.scales[i] = (int8_t)(i + 1);
    /* Element 0: low 4 bits from ql[0] low nibble, high 2 bits from
     * qh[0] bits 0-1. Element 64: ql[0] high nibble, qh[0] bits 4-5.
     * Element 32: ql[32] low nibble, qh[0] bits 2-3. */
    b.ql[0] = 0x5 | (0xa << 4);
    b.ql[32] = 0xf;
    b.qh[0] = 0x2 | (0x1 << 2) | (0x3 << 4);
    float y[256];
    weft_dequantize_row(WEFT_TYPE_Q6_K, &b, y, 256);
    ASSERT(y[0] == 0.5f * 1 * ((0x5 | (2 << 4)) - 32));  /* q 37 -> 5 * 0.5 * 1 */
    ASSERT(y[32] == 0.5f * 3 * ((0xf | (1 << 4)) - 32)); /* scale index 2: 3 */
    ASSERT(y[64] == 0.5f * 5 * ((0xa | (3 << 4)) - 32)); /* scale index 4: 5 */
    ASSERT(y[1] == 0.5f * 1 * -32);                      /* all-zero bits: -32 */
    ASSERT(y[128] == 0.5f * 9 * -32);                    /* second half: scales 8.. */
}

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

TEST(quantize_round_trip_error_is_bounded)
{
    static const struct {
        uint32_t type;
        float tol; /* max error as a fraction of the block's largest value */
    } cases[] = {
        {WEFT_TYPE_F16, 0.001f},
        {WEFT_TYPE_BF16, 0.004f},
        {WEFT_TYPE_Q8_0, 0.005f},
        {WEFT_TYPE_Q4_0,
         0.13f} /* levels -8..7: the side opposite the largest value clamps at 7/8 of it */,
        {WEFT_TYPE_Q4_K, 0.08f},
        {WEFT_TYPE_Q6_K, 0.03f},
        {WEFT_TYPE_Q4_1, 0.08f},   /* 15 steps over the block's range */
        {WEFT_TYPE_Q5_0, 0.07f},   /* as Q4_0 with 32 levels */
        {WEFT_TYPE_Q5_1, 0.04f},   /* 31 steps over the range */
        {WEFT_TYPE_IQ4_NL, 0.12f}, /* the widest gap between levels, and 113 of 127 */
        {WEFT_TYPE_IQ4_XS, 0.13f}, /* as IQ4_NL with 6-bit sub-block scales */
        {WEFT_TYPE_Q2_K, 0.4f},    /* 3 steps over 16 values, 4-bit scales and mins */
        {WEFT_TYPE_Q3_K, 0.3f},    /* levels -4..3: the far side clamps at 3/4 */
        {WEFT_TYPE_Q5_K, 0.045f}};
    uint64_t seed = 7;
    float x[1024], y[1024];
    uint8_t q[1024 * 4];
    for (int i = 0; i < 1024; i++)
        x[i] = frand(&seed);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t bytes = weft_quantize_row(cases[c].type, x, q, 1024);
        ASSERT_EQ_UINT(bytes, weft_row_size(cases[c].type, 1024));
        weft_dequantize_row(cases[c].type, q, y, 1024);
        float maxerr = 0;
        for (int i = 0; i < 1024; i++)
            maxerr = fmaxf(maxerr, fabsf(x[i] - y[i]));
        if (maxerr > cases[c].tol)
            TEST_FAIL_("%s: max error %g above %g", weft_type_name(cases[c].type), maxerr,
                       cases[c].tol);
    }
}

/* The fast kernels against the reference on random weights of every type,
 * at every instruction-set level this CPU has (so an AVX-512 machine also
 * tests the AVX2 kernels), for 37 rows (row kernels only) and 48 (Q4_0
 * and Q8_0 repacked 16 rows at a time where the level has x16 kernels),
 * and a batch of 5 (a full 4-token pass of the x16 kernels, then 1). */
static const char *isa_name(int isa)
{
    return isa == WEFT_ISA_AVX512 ? "AVX-512 VNNI" : isa == WEFT_ISA_AVX2 ? "AVX2/FMA" : "portable";
}

TEST(fast_matmul_matches_reference_for_every_type)
{
    static const uint32_t types[] = {
        WEFT_TYPE_F32,  WEFT_TYPE_F16,  WEFT_TYPE_BF16, WEFT_TYPE_Q8_0,   WEFT_TYPE_Q4_0,
        WEFT_TYPE_Q4_K, WEFT_TYPE_Q6_K, WEFT_TYPE_Q4_1, WEFT_TYPE_Q5_0,   WEFT_TYPE_Q5_1,
        WEFT_TYPE_Q2_K, WEFT_TYPE_Q3_K, WEFT_TYPE_Q5_K, WEFT_TYPE_IQ4_NL, WEFT_TYPE_IQ4_XS};
    enum { MAXROWS = 48, COLS = 512, B = 5 };
    struct weft_model fast = {0}, ref = {0};
    ASSERT_EQ_INT(weft_pool_new(2, &fast.pool), 0);
    ref.pool = fast.pool;
    ref.reference = 1;
    static struct weft_act_q8 xq[B * COLS / 32];
    static struct weft_act_q8k xk[B * COLS / 256];
    fast.xq = xq;
    fast.xk = xk;
    fast.xq_cap = B * COLS;
    static float table[65536];
    for (uint32_t h = 0; h < 65536; h++)
        table[h] = weft_f16_to_f32((uint16_t)h);
    fast.f16_table = table;
    uint64_t seed = 11;
    static float w[MAXROWS * COLS], x[B * COLS], ya[B * MAXROWS], yb[B * MAXROWS];
    static uint8_t q[MAXROWS * COLS * 4];
    uint8_t *packed = aligned_alloc(64, MAXROWS * COLS * 4);
    ASSERT(packed != NULL);
    for (int i = 0; i < MAXROWS * COLS; i++)
        w[i] = frand(&seed);
    for (int i = 0; i < B * COLS; i++)
        x[i] = frand(&seed);
    int tested_x16 = 0;
    for (int isa = WEFT_ISA_AVX2; isa <= weft_cpu_detect(); isa++) {
        fprintf(stderr, "fast kernels: %s\n", isa_name(isa));
        fast.isa = isa;
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            for (int rows = 37; rows <= MAXROWS; rows += MAXROWS - 37) {
                size_t rb = weft_row_size(types[t], COLS);
                for (int r = 0; r < rows; r++)
                    weft_quantize_row(types[t], w + r * COLS, q + (size_t)r * rb, COLS);
                struct wt m = {q, types[t], rows, COLS, rb, NULL, 0};
                if (weft_x16_layout(isa, &m)) {
                    weft_x16_pack(&m, packed);
                    m.fast = packed;
                    m.x16 = 1;
                    tested_x16++;
                }
                weft_cpu_matmul(&fast, &m, x, B, ya);
                weft_cpu_matmul(&ref, &m, x, B, yb);
                /* And a float64 check of the reference itself from
                 * dequantized rows. */
                float row[COLS];
                for (int b = 0; b < B; b++) {
                    for (int r = 0; r < rows; r++) {
                        weft_dequantize_row(types[t], q + (size_t)r * rb, row, COLS);
                        double d = 0, mag = 0;
                        for (int i = 0; i < COLS; i++) {
                            d += (double)row[i] * x[b * COLS + i];
                            mag += fabs((double)row[i] * x[b * COLS + i]);
                        }
                        float a = ya[b * rows + r], c = yb[b * rows + r];
                        /* Q8_0, Q4_0 and Q4/5/6_K take the integer path, which
                         * quantizes the activations to 8 bits: its error
                         * is a fraction of sum |w x|, not of float rounding. */
                        int q8 = types[t] == WEFT_TYPE_Q8_0 || types[t] == WEFT_TYPE_Q4_0 ||
                                 types[t] == WEFT_TYPE_Q4_K || types[t] == WEFT_TYPE_Q5_K ||
                                 types[t] == WEFT_TYPE_Q6_K;
                        double tol_fast = q8 ? 1e-3 + 0.01 * mag : 1e-3;
                        if (fabs(a - d) > tol_fast || fabs(c - d) > 1e-3)
                            TEST_FAIL_("%s %s %s rows %d, row %d batch %d: fast %g, reference %g, "
                                       "float64 %g",
                                       isa_name(isa), weft_type_name(types[t]),
                                       m.x16 ? "x16" : "rows", rows, r, b, a, c, d);
                    }
                }
            }
        }
    }
    /* Every x86-64 CPU this runs on in CI has AVX2; elsewhere nothing to check. */
    if (weft_cpu_detect() >= WEFT_ISA_AVX2)
        ASSERT(tested_x16 > 0);
    free(packed);
    weft_pool_free(fast.pool);
}

/* The K-quant integer kernels do exact integer arithmetic on the quantized
 * activations, so against dequantized weights times the same quantized
 * activations (in float64) they agree to float rounding, far tighter than
 * the comparison with float activations above: a misplaced scale or min
 * shows here. One row against 1..5 tokens (the kernels take 4 at a time). */
TEST(kquant_integer_kernels_equal_their_exact_sums)
{
    static const uint32_t types[] = {WEFT_TYPE_Q4_K, WEFT_TYPE_Q5_K, WEFT_TYPE_Q6_K};
    enum { ROWS = 3, COLS = 768, B = 5 };
    if (weft_cpu_detect() < WEFT_ISA_AVX2)
        TEST_SKIP("no AVX2");
    struct weft_model fast = {0};
    ASSERT_OK(weft_pool_new(1, &fast.pool));
    static struct weft_act_q8 xq[B * COLS / 32];
    static struct weft_act_q8k xk[B * COLS / 256];
    static float table[65536];
    for (uint32_t h = 0; h < 65536; h++)
        table[h] = weft_f16_to_f32((uint16_t)h);
    fast.xq = xq;
    fast.xk = xk;
    fast.xq_cap = B * COLS;
    fast.f16_table = table;
    fast.isa = WEFT_ISA_AVX2;
    uint64_t seed = 21;
    static float w[ROWS * COLS], x[B * COLS], y[B * ROWS], row[COLS];
    static uint8_t q[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = frand(&seed);
    for (int i = 0; i < B * COLS; i++)
        x[i] = frand(&seed) * (1 + i % 7); /* uneven magnitudes across blocks */
    static struct weft_act_q8k mine[B * COLS / 256];
    weft_cpu_quantize_act_k(x, mine, B * COLS / 256);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        size_t rb = weft_row_size(types[t], COLS);
        for (int r = 0; r < ROWS; r++)
            weft_quantize_row(types[t], w + r * COLS, q + rb * r, COLS);
        struct wt m = {q, types[t], ROWS, COLS, rb, NULL, 0};
        for (int nb = 1; nb <= B; nb++) {
            weft_cpu_matmul(&fast, &m, x, nb, y);
            for (int b = 0; b < nb; b++) {
                for (int r = 0; r < ROWS; r++) {
                    weft_dequantize_row(types[t], q + rb * r, row, COLS);
                    double exact = 0, mag = 0;
                    for (int i = 0; i < COLS; i++) {
                        const struct weft_act_q8k *k = &mine[(b * COLS + i) / 256];
                        double xv = (double)k->d * k->qs[(b * COLS + i) % 256];
                        exact += row[i] * xv;
                        mag += fabs(row[i] * xv);
                    }
                    double got = y[b * ROWS + r];
                    if (fabs(got - exact) > 1e-5 * mag + 1e-6)
                        TEST_FAIL_("%s, %d tokens, token %d row %d: %.7g, exact %.7g",
                                   weft_type_name(types[t]), nb, b, r, got, exact);
                }
            }
        }
    }
    weft_pool_free(fast.pool);
}

/* A row of a 32-element type need not be a whole number of 256-element
 * chunks (stories15M's 288, Qwen's 896): the fast path's last chunk is
 * short, and reads nothing past the row. */
TEST(fast_dot_on_rows_that_are_not_whole_super_blocks)
{
    static const uint32_t types[] = {WEFT_TYPE_Q4_1, WEFT_TYPE_Q5_0, WEFT_TYPE_Q5_1,
                                     WEFT_TYPE_IQ4_NL};
    enum { ROWS = 3, COLS = 288 };
    struct weft_model fast = {0}, ref = {0};
    ASSERT_EQ_INT(weft_pool_new(1, &fast.pool), 0);
    ref.pool = fast.pool;
    ref.reference = 1;
    uint64_t seed = 5;
    float w[ROWS * COLS], x[COLS], ya[ROWS], yb[ROWS];
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = frand(&seed);
    for (int i = 0; i < COLS; i++)
        x[i] = frand(&seed);
    for (int isa = WEFT_ISA_AVX2; isa <= weft_cpu_detect(); isa++) {
        fast.isa = isa;
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            size_t rb = weft_row_size(types[t], COLS);
            /* Exactly the row's bytes, so ASan sees any read past it. */
            uint8_t *q = malloc(rb * ROWS);
            ASSERT_NOT_NULL(q);
            for (int r = 0; r < ROWS; r++)
                ASSERT_EQ_UINT(weft_quantize_row(types[t], w + r * COLS, q + rb * r, COLS), rb);
            struct wt m = {q, types[t], ROWS, COLS, rb, NULL, 0};
            weft_cpu_matmul(&fast, &m, x, 1, ya);
            weft_cpu_matmul(&ref, &m, x, 1, yb);
            for (int r = 0; r < ROWS; r++)
                if (fabsf(ya[r] - yb[r]) > 1e-3f)
                    TEST_FAIL_("%s %s row %d: fast %g, reference %g", isa_name(isa),
                               weft_type_name(types[t]), r, ya[r], yb[r]);
            free(q);
        }
    }
    weft_pool_free(fast.pool);
}

/* The x16 kernels' integer arithmetic is exact, so against activation
 * blocks made directly (any int8, any sum) they must equal the float64 sum
 * of d_w * d_x * (integer block dot) to float rounding: this checks the
 * layout, the weight offsets and the 1..4-token passes of each kernel,
 * including the portable one. */
TEST(x16_kernels_equal_exact_block_sums)
{
    enum { ROWS = 32, COLS = 256, NB = COLS / 32, NT = 4 };
    static const uint32_t types[] = {WEFT_TYPE_Q4_0, WEFT_TYPE_Q8_0};
    uint64_t seed = 5;
    static float w[ROWS * COLS];
    static uint8_t q[ROWS * COLS * 2];
    uint8_t *packed = aligned_alloc(64, ROWS * COLS * 2);
    ASSERT(packed != NULL);
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = frand(&seed) * (1 + i % 7);
    static struct weft_act_q8 xa[NT][NB];
    for (int k = 0; k < NT; k++)
        for (int b = 0; b < NB; b++) {
            xa[k][b].d = 0.01f * (float)(1 + (k + b) % 5);
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                /* Extremes included: -128 and 127 both occur. */
                int v = j == 0 ? -128 : j == 1 ? 127 : (int)(frand(&seed) * 127);
                xa[k][b].qs[j] = (int8_t)v;
                sum += v;
            }
            xa[k][b].corr = -8 * sum;
        }
    for (size_t t = 0; t < 2; t++) {
        size_t rb = weft_row_size(types[t], COLS);
        for (int r = 0; r < ROWS; r++)
            weft_quantize_row(types[t], w + r * COLS, q + (size_t)r * rb, COLS);
        struct wt m = {q, types[t], ROWS, COLS, rb, packed, 1};
        weft_x16_pack(&m, packed);
        for (int isa = WEFT_ISA_NONE; isa <= weft_cpu_detect(); isa++) {
            if (isa > WEFT_ISA_NONE && !weft_x16_layout(isa, &m))
                continue;
            for (int nt = 1; nt <= NT; nt++) {
                const struct weft_act_q8 *xp[NT];
                for (int k = 0; k < nt; k++)
                    xp[k] = xa[k];
                float y[NT * ROWS];
                weft_x16_groups(isa, &m, 0, ROWS / 16, xp, nt, y);
                for (int k = 0; k < nt; k++)
                    for (int r = 0; r < ROWS; r++) {
                        float row[COLS];
                        weft_dequantize_row(types[t], q + (size_t)r * rb, row, COLS);
                        double want = 0, mag = 0;
                        for (int b = 0; b < NB; b++) {
                            /* dequantized weight = d_w * level, so the block
                             * dot in float64 is exact up to d_w's rounding. */
                            double s = 0;
                            for (int j = 0; j < 32; j++)
                                s += (double)row[b * 32 + j] * xa[k][b].qs[j];
                            want += s * xa[k][b].d;
                            mag += fabs(s * xa[k][b].d);
                        }
                        float got = y[k * ROWS + r];
                        if (fabs(got - want) > 1e-5 * mag + 1e-6)
                            TEST_FAIL_("%s %s, %d tokens: row %d token %d: %g, want %g",
                                       isa_name(isa), weft_type_name(types[t]), nt, r, k, got,
                                       want);
                    }
            }
        }
    }
    free(packed);
}

/* The vector activation quantizer gives the same bytes as the plain one,
 * ties and signed zeros included. */
TEST(activation_quantizers_agree_exactly)
{
    enum { NB = 64 };
    static float x[NB * 32];
    uint64_t seed = 3;
    for (int i = 0; i < NB * 32; i++)
        x[i] = frand(&seed) * (float)(1 + i % 13);
    /* Block 1: exact halves after scaling (amax 127 makes the scale 1). */
    for (int j = 0; j < 32; j++)
        x[32 + j] = j == 0 ? 127.0f : (float)(j - 16) + 0.5f;
    /* Block 2: zeros of both signs; block 3: all zero (scale 0). */
    for (int j = 0; j < 32; j++) {
        x[64 + j] = j == 0 ? 3.0f : j % 2 ? -0.0f : 0.0f;
        x[96 + j] = 0.0f;
    }
    static struct weft_act_q8 a[NB], b[NB];
    weft_cpu_quantize_act(WEFT_ISA_NONE, x, a, NB);
    for (int isa = WEFT_ISA_AVX2; isa <= weft_cpu_detect(); isa++) {
        weft_cpu_quantize_act(isa, x, b, NB);
        for (int i = 0; i < NB; i++) {
            ASSERT(a[i].d == b[i].d);
            ASSERT_EQ_INT(a[i].corr, b[i].corr);
            for (int j = 0; j < 32; j++)
                if (a[i].qs[j] != b[i].qs[j])
                    TEST_FAIL_("%s: block %d byte %d: %d, plain %d", isa_name(isa), i, j,
                               b[i].qs[j], a[i].qs[j]);
        }
    }
    ASSERT_EQ_INT(a[1].qs[1], -15); /* -14.5 rounds away from zero */
    ASSERT_EQ_INT(a[1].qs[31], 16); /* 15.5 likewise */
}
