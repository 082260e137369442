/* Tensor element types as GGUF stores them (ggml's numbering and block
 * layouts), with conversion to float, quantization, and dot products.
 *
 * A row of a quantized type is a sequence of blocks; every block holds
 * `block` elements in `type_size` bytes. A row's length must be a multiple
 * of its type's block size.
 *
 * The functions here are the plain reference versions: simple loops in the
 * order the format defines. Fast paths (SIMD, threads, CUDA) live in the
 * backends and are tested against these.
 *
 * Everything here is pure and thread-safe; nothing allocates.
 */
#ifndef WEFT_QUANT_H
#define WEFT_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* ggml type numbers (stable on disk). Only the ones this engine computes
 * with have WEFT_ names; weft_type_name() knows the rest for messages. */
enum weft_type {
    WEFT_TYPE_F32 = 0,
    WEFT_TYPE_F16 = 1,
    WEFT_TYPE_Q4_0 = 2,
    WEFT_TYPE_Q4_1 = 3,
    WEFT_TYPE_Q5_0 = 6,
    WEFT_TYPE_Q5_1 = 7,
    WEFT_TYPE_Q8_0 = 8,
    WEFT_TYPE_Q2_K = 10,
    WEFT_TYPE_Q3_K = 11,
    WEFT_TYPE_Q4_K = 12,
    WEFT_TYPE_Q5_K = 13,
    WEFT_TYPE_Q6_K = 14,
    WEFT_TYPE_IQ4_NL = 20,
    WEFT_TYPE_IQ4_XS = 23,
    WEFT_TYPE_BF16 = 30,
};

#define WEFT_QK8_0  32
#define WEFT_QK4_0  32
#define WEFT_QK4_1  32
#define WEFT_QK5_0  32
#define WEFT_QK5_1  32
#define WEFT_QK4_NL 32
#define WEFT_QK_K   256

/* The 16 values an IQ4_NL / IQ4_XS nibble stands for (times the block's
 * scale): non-linear, denser near zero where weights are. */
extern const int8_t weft_iq4nl_values[16];

/* Block layouts, byte for byte as in the file. Half floats are raw bits. */
struct weft_block_q8_0 {
    uint16_t d;
    int8_t qs[WEFT_QK8_0];
};
struct weft_block_q4_0 {
    uint16_t d;
    uint8_t qs[WEFT_QK4_0 / 2];
};
struct weft_block_q4_1 {
    uint16_t d, m; /* x = d * q + m */
    uint8_t qs[WEFT_QK4_1 / 2];
};
struct weft_block_q5_0 {
    uint16_t d;
    uint8_t qh[4]; /* the fifth bit of each element, element j at bit j */
    uint8_t qs[WEFT_QK5_0 / 2];
};
struct weft_block_q5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[WEFT_QK5_1 / 2];
};
struct weft_block_iq4_nl {
    uint16_t d;
    uint8_t qs[WEFT_QK4_NL / 2]; /* indices into weft_iq4nl_values */
};
struct weft_block_q2_k {
    uint8_t scales[WEFT_QK_K / 16]; /* per 16: scale (low nibble), min (high) */
    uint8_t qs[WEFT_QK_K / 4];
    uint16_t d, dmin;
};
struct weft_block_q3_k {
    uint8_t hmask[WEFT_QK_K / 8]; /* the third bit, set for the upper half */
    uint8_t qs[WEFT_QK_K / 4];
    uint8_t scales[12]; /* 16 six-bit signed scales */
    uint16_t d;
};
struct weft_block_q5_k {
    uint16_t d, dmin;
    uint8_t scales[12]; /* as Q4_K */
    uint8_t qh[WEFT_QK_K / 8];
    uint8_t qs[WEFT_QK_K / 2];
};
struct weft_block_iq4_xs {
    uint16_t d;
    uint16_t scales_h; /* two high bits of each of the 8 sub-block scales */
    uint8_t scales_l[WEFT_QK_K / 64];
    uint8_t qs[WEFT_QK_K / 2];
};
struct weft_block_q4_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[WEFT_QK_K / 2];
};
struct weft_block_q6_k {
    uint8_t ql[WEFT_QK_K / 2];
    uint8_t qh[WEFT_QK_K / 4];
    int8_t scales[WEFT_QK_K / 16];
    uint16_t d;
};

/* Name of any ggml type number ("Q5_K"), "unknown" past the table. */
const char *weft_type_name(uint32_t type);
/* 1 when this engine can load and compute with the type. */
int weft_type_supported(uint32_t type);
/* Elements per block and bytes per block; 0 for unsupported types. */
size_t weft_type_block(uint32_t type);
size_t weft_type_size(uint32_t type);
/* Bytes of a row of n elements (n a multiple of the block), 0 if not. */
size_t weft_row_size(uint32_t type, uint64_t n);

float weft_f16_to_f32(uint16_t h);
uint16_t weft_f32_to_f16(float f); /* round to nearest even */
float weft_bf16_to_f32(uint16_t h);
uint16_t weft_f32_to_bf16(float f); /* round to nearest even, NaN kept */

/* Converts one row of n elements of `type` at src to floats. */
void weft_dequantize_row(uint32_t type, const void *src, float *dst, size_t n);

/* Quantizes n floats (n a multiple of the block) into `type`. Used by the
 * converter, synthetic models and tests. Returns bytes written, or 0 when
 * the type cannot be written. */
size_t weft_quantize_row(uint32_t type, const float *src, void *dst, size_t n);

/* Reference dot product of a row of `type` with n floats. */
float weft_dot_ref(uint32_t type, const void *row, const float *x, size_t n);

#endif /* WEFT_QUANT_H */
