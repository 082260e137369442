/* Device code of the CUDA backend: weight decoding per tensor type, the
 * matrix-vector kernel every projection uses, and the small kernels
 * between them. Included by backend.cu only.
 *
 * Weights stay in the file's layout. Every type is read in "chunks" of
 * contiguous output elements (32 for the block types: one Q8_0/Q4_0
 * block, or an eighth of a Q4_K/Q6_K super-block; 8 or 4 for the float
 * types): a warp owns a row and its lanes take consecutive chunks, so one
 * warp-wide step reads a contiguous stretch of the row, each byte once.
 * Decoding follows quant.c's reference dequantizers exactly; the CPU
 * reference is what the GPU tests compare against. */
#ifndef WEFT_INFER_CUDA_KERNELS_CUH
#define WEFT_INFER_CUDA_KERNELS_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "pass.h"

namespace weft_cuda
{

/* The parameters of one pass, copied to the device by the graph. */
struct step {
    int n;                              /* slots in use */
    int32_t token[WEFT_CUDA_MAX_SLOTS]; /* token of each slot */
    int pos[WEFT_CUDA_MAX_SLOTS];       /* its position */
    int ctx[WEFT_CUDA_MAX_SLOTS];       /* its sequence's n_ctx */
    float *k[WEFT_CUDA_MAX_SLOTS];      /* its sequence's caches, [layer][ctx][kv_dim] */
    float *v[WEFT_CUDA_MAX_SLOTS];
};
static_assert(sizeof(step) <= WEFT_CUDA_STEP_BYTES, "plan.c reserves too little for the step");

__device__ __forceinline__ float h2f(uint16_t h)
{
    return __half2float(__ushort_as_half(h));
}

__device__ __forceinline__ uint16_t ld16(const uint8_t *p)
{
    return *reinterpret_cast<const uint16_t *>(p); /* callers keep p 2-byte aligned */
}

/* F32, 4 per chunk (rows of a multiple of 4 floats: 16-byte aligned). */
struct deq_f32x4 {
    static constexpr int N = 4;
    __device__ static void chunk(const uint8_t *row, int c, float *o)
    {
        float4 v = reinterpret_cast<const float4 *>(row)[c];
        o[0] = v.x, o[1] = v.y, o[2] = v.z, o[3] = v.w;
    }
};
struct deq_f32x1 {
    static constexpr int N = 1;
    __device__ static void chunk(const uint8_t *row, int c, float *o)
    {
        o[0] = reinterpret_cast<const float *>(row)[c];
    }
};
/* F16 and BF16, 8 per chunk (one 16-byte load), or 1 for odd widths. */
__device__ __forceinline__ float half_bits(uint16_t h, bool bf16)
{
    return bf16 ? __uint_as_float((uint32_t)h << 16) : h2f(h);
}
template <bool BF16> struct deq_half8 {
    static constexpr int N = 8;
    __device__ static void chunk(const uint8_t *row, int c, float *o)
    {
        uint4 v = reinterpret_cast<const uint4 *>(row)[c];
        const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
        for (int i = 0; i < 4; i++) {
            o[2 * i] = half_bits((uint16_t)(w[i] & 0xffff), BF16);
            o[2 * i + 1] = half_bits((uint16_t)(w[i] >> 16), BF16);
        }
    }
};
template <bool BF16> struct deq_half1 {
    static constexpr int N = 1;
    __device__ static void chunk(const uint8_t *row, int c, float *o)
    {
        o[0] = half_bits(reinterpret_cast<const uint16_t *>(row)[c], BF16);
    }
};
/* Q8_0: 34-byte blocks (f16 scale, 32 int8); 2-byte loads keep alignment. */
struct deq_q8_0 {
    static constexpr int N = 32;
    __device__ static void chunk(const uint8_t *row, int c, float *o)
    {
        const uint8_t *b = row + (size_t)c * 34;
        float d = h2f(ld16(b));
#pragma unroll
        for (int i = 0; i < 16; i++) {
            uint16_t q = ld16(b + 2 + 2 * i);
            o[2 * i] = d * (float)(int8_t)(q & 0xff);
            o[2 * i + 1] = d * (float)(int8_t)(q >> 8);
        }
    }
};
/* Q4_0: 18-byte blocks (f16 scale, 16 bytes of nibbles): byte j holds
 * element j (low nibble) and j + 16 (high), both offset by 8. */
struct deq_q4_0 {
    static constexpr int N = 32;
    __device__ static void chunk(const uint8_t *row, int c, float *o)
    {
        const uint8_t *b = row + (size_t)c * 18;
        float d = h2f(ld16(b));
#pragma unroll
        for (int i = 0; i < 8; i++) {
            uint16_t q = ld16(b + 2 + 2 * i);
            int q0 = q & 0xff, q1 = q >> 8;
            o[2 * i] = (float)((q0 & 0x0f) - 8) * d;
            o[2 * i + 1] = (float)((q1 & 0x0f) - 8) * d;
            o[2 * i + 16] = (float)((q0 >> 4) - 8) * d;
            o[2 * i + 17] = (float)((q1 >> 4) - 8) * d;
        }
    }
};
/* Q4_K: 144-byte super-blocks of 256. Chunk s of a block is elements
 * 32s..32s+31: the low (s even) or high (s odd) nibbles of qs[32(s/2)..],
 * with the s-th 6-bit scale and min. */
struct deq_q4_k {
    static constexpr int N = 32;
    __device__ static void chunk(const uint8_t *row, int c, float *o)
    {
        const uint8_t *b = row + (size_t)(c >> 3) * 144;
        int s = c & 7;
        float d = h2f(ld16(b)), dmin = h2f(ld16(b + 2));
        const uint8_t *sc = b + 4;
        int scale, min;
        if (s < 4) {
            scale = sc[s] & 63;
            min = sc[s + 4] & 63;
        } else {
            scale = (sc[s + 4] & 0x0f) | ((sc[s - 4] >> 6) << 4);
            min = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
        }
        float d1 = d * (float)scale, m1 = dmin * (float)min;
        /* qs starts 16 bytes into a 144-byte block: 16-byte aligned. */
        const uint4 *q = reinterpret_cast<const uint4 *>(b + 16 + 32 * (s >> 1));
        int shift = (s & 1) * 4;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            uint4 v = q[h];
            const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int i = 0; i < 16; i++) {
                int byte = (int)((w[i / 4] >> (8 * (i % 4))) & 0xff);
                o[16 * h + i] = d1 * (float)((byte >> shift) & 0x0f) - m1;
            }
        }
    }
};
/* Q6_K: 210-byte super-blocks (ql[128], qh[64], int8 scales[16], f16 d).
 * Chunk s: half n = s/4 of the block, group g = s%4, elements
 * 128n + 32g + l for l < 32, as quant.c's dequant_q6_k lays them out. */
struct deq_q6_k {
    static constexpr int N = 32;
    __device__ static void chunk(const uint8_t *row, int c, float *o)
    {
        const uint8_t *b = row + (size_t)(c >> 3) * 210;
        int s = c & 7, n = s >> 2, g = s & 3;
        float d = h2f(ld16(b + 208));
        const uint8_t *ql = b + 64 * n + 32 * (g & 1);
        const uint8_t *qh = b + 128 + 32 * n;
        const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192) + 8 * n + 2 * g;
        int lshift = (g >> 1) * 4, hshift = 2 * g;
        float d0 = d * (float)sc[0], d1 = d * (float)sc[1];
#pragma unroll
        for (int i = 0; i < 16; i++) {
            uint16_t l2 = ld16(ql + 2 * i), h2 = ld16(qh + 2 * i);
#pragma unroll
            for (int k = 0; k < 2; k++) {
                int l = 2 * i + k;
                int lo = ((k ? l2 >> 8 : l2) >> lshift) & 0x0f;
                int hi = ((k ? h2 >> 8 : h2) >> hshift) & 3;
                int q = (lo | (hi << 4)) - 32;
                o[l] = (l < 16 ? d0 : d1) * (float)q;
            }
        }
    }
};

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Block-wide sum; every thread gets the result. blockDim a multiple of 32. */
__device__ float block_sum(float v)
{
    __shared__ float part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* part[] may still be read by a previous call */
    if (lane == 0)
        part[warp] = v;
    __syncthreads();
    float t = 0;
    for (int i = 0; i < nw; i++)
        t += part[i];
    return t;
}

__device__ float block_max(float v)
{
    __shared__ float part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0)
        part[warp] = v;
    __syncthreads();
    float t = -INFINITY;
    for (int i = 0; i < nw; i++)
        t = fmaxf(t, part[i]);
    return t;
}

constexpr int MV_WARPS = 4; /* rows per block of the matvec kernel */

/* y[b][r] (+)= row r of W . x[b] for b < st->n (NB >= n, a compile-time
 * bound so the accumulators stay in registers). One warp per row. */
template <class D, int NB>
__global__ void __launch_bounds__(MV_WARPS * 32)
    matvec(const uint8_t *__restrict__ w, size_t row_bytes, int rows, int cols,
           const float *__restrict__ x, float *__restrict__ y, const step *__restrict__ st,
           int accumulate)
{
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int r = blockIdx.x * MV_WARPS + warp;
    if (r >= rows)
        return;
    int n = st->n;
    const uint8_t *row = w + (size_t)r * row_bytes;
    int nch = cols / D::N;
    float acc[NB];
#pragma unroll
    for (int b = 0; b < NB; b++)
        acc[b] = 0.0f;
    for (int c = lane; c < nch; c += 32) {
        float v[D::N];
        D::chunk(row, c, v);
#pragma unroll
        for (int b = 0; b < NB; b++) {
            if (b < n) {
                const float *xb = x + (size_t)b * (size_t)cols + (size_t)c * D::N;
                float s = 0.0f;
                if constexpr (D::N % 4 == 0) {
#pragma unroll
                    for (int i = 0; i < D::N; i += 4) {
                        float4 xv = *reinterpret_cast<const float4 *>(xb + i);
                        s += v[i] * xv.x + v[i + 1] * xv.y + v[i + 2] * xv.z + v[i + 3] * xv.w;
                    }
                } else {
#pragma unroll
                    for (int i = 0; i < D::N; i++)
                        s += v[i] * xb[i];
                }
                acc[b] += s;
            }
        }
    }
#pragma unroll
    for (int b = 0; b < NB; b++) {
        if (b < n) {
            float t = warp_sum(acc[b]);
            if (lane == 0) {
                float *o = y + (size_t)b * (size_t)rows + r;
                *o = accumulate ? *o + t : t;
            }
        }
    }
}

/* x[b] = row token[b] of the embedding table. One block per slot. */
template <class D>
__global__ void embed(const uint8_t *__restrict__ w, size_t row_bytes, int cols, float *x,
                      const step *__restrict__ st)
{
    int b = blockIdx.x;
    if (b >= st->n)
        return;
    const uint8_t *row = w + (size_t)st->token[b] * row_bytes;
    float *o = x + (size_t)b * (size_t)cols;
    for (int c = threadIdx.x; c < cols / D::N; c += blockDim.x) {
        float v[D::N];
        D::chunk(row, c, v);
#pragma unroll
        for (int i = 0; i < D::N; i++)
            o[c * D::N + i] = v[i];
    }
}

/* o[b] = w * x[b] / rms(x[b]), as forward.c's rmsnorm. One block per slot. */
__global__ void rmsnorm(const float *__restrict__ x, const float *__restrict__ w, float *o, int dim,
                        float eps, const step *__restrict__ st)
{
    int b = blockIdx.x;
    if (b >= st->n)
        return;
    const float *xb = x + (size_t)b * (size_t)dim;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        ss += xb[i] * xb[i];
    ss = block_sum(ss);
    float scale = 1.0f / sqrtf(ss / (float)dim + eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        o[(size_t)b * dim + i] = w[i] * (scale * xb[i]);
}

/* RoPE on q and k (adjacent pairs, the first n_rot dimensions of each
 * head), then k and v into the slot's cache at its position. inv_freq[i]
 * is the host-computed angle per position of pair i. One block per slot. */
__global__ void rope_store(float *q, const float *k, const float *v,
                           const float *__restrict__ inv_freq, int n_head, int n_head_kv,
                           int head_dim, int n_rot, int layer, const step *__restrict__ st)
{
    int b = blockIdx.x;
    if (b >= st->n)
        return;
    int pos = st->pos[b], kv_dim = n_head_kv * head_dim, dim = n_head * head_dim;
    size_t at = ((size_t)layer * (size_t)st->ctx[b] + (size_t)pos) * (size_t)kv_dim;
    float *qb = q + (size_t)b * dim;
    const float *kb = k + (size_t)b * kv_dim, *vb = v + (size_t)b * kv_dim;
    for (int p = threadIdx.x; p < dim / 2; p += blockDim.x) {
        int i = (2 * p) % head_dim;
        if (i >= n_rot)
            continue;
        float val = (float)pos * inv_freq[i / 2];
        float fcr = cosf(val), fci = sinf(val);
        float v0 = qb[2 * p], v1 = qb[2 * p + 1];
        qb[2 * p] = v0 * fcr - v1 * fci;
        qb[2 * p + 1] = v0 * fci + v1 * fcr;
    }
    float *kc = st->k[b] + at, *vc = st->v[b] + at;
    for (int p = threadIdx.x; p < kv_dim / 2; p += blockDim.x) {
        int i = (2 * p) % head_dim;
        float v0 = kb[2 * p], v1 = kb[2 * p + 1];
        if (i < n_rot) {
            float val = (float)pos * inv_freq[i / 2];
            float fcr = cosf(val), fci = sinf(val);
            kc[2 * p] = v0 * fcr - v1 * fci;
            kc[2 * p + 1] = v0 * fci + v1 * fcr;
        } else {
            kc[2 * p] = v0;
            kc[2 * p + 1] = v1;
        }
        vc[2 * p] = vb[2 * p];
        vc[2 * p + 1] = vb[2 * p + 1];
    }
}

/* Attention of one (head, slot): scores against cached positions 0..pos,
 * softmax, weighted sum of values into out. att: scratch of max_ctx floats
 * per (slot, head). Grid (n_head, slots). */
__global__ void attention(const float *__restrict__ q, float *out, float *att, int n_head,
                          int n_head_kv, int head_dim, int max_ctx, int layer,
                          const step *__restrict__ st)
{
    int h = blockIdx.x, b = blockIdx.y;
    if (b >= st->n)
        return;
    extern __shared__ float qs[]; /* head_dim floats */
    int pos = st->pos[b], kv_dim = n_head_kv * head_dim, dim = n_head * head_dim;
    int kvh = h / (n_head / n_head_kv);
    size_t base = (size_t)layer * (size_t)st->ctx[b] * (size_t)kv_dim + (size_t)kvh * head_dim;
    const float *kc = st->k[b] + base, *vc = st->v[b] + base;
    float *a = att + ((size_t)b * n_head + h) * (size_t)max_ctx;
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x)
        qs[i] = q[(size_t)b * dim + (size_t)h * head_dim + i];
    __syncthreads();

    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int t = warp; t <= pos; t += nw) {
        const float *kt = kc + (size_t)t * kv_dim;
        float s = 0.0f;
        for (int i = lane; i < head_dim; i += 32)
            s += qs[i] * kt[i];
        s = warp_sum(s);
        if (lane == 0)
            a[t] = s * scale;
    }
    __syncthreads();
    float mx = -INFINITY;
    for (int t = threadIdx.x; t <= pos; t += blockDim.x)
        mx = fmaxf(mx, a[t]);
    mx = block_max(mx);
    float sum = 0.0f;
    for (int t = threadIdx.x; t <= pos; t += blockDim.x) {
        float e = expf(a[t] - mx);
        a[t] = e;
        sum += e;
    }
    sum = block_sum(sum); /* its barrier also orders the a[] writes before the reads below */
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
        float acc = 0.0f;
        for (int t = 0; t <= pos; t++)
            acc += a[t] * vc[(size_t)t * kv_dim + i];
        out[(size_t)b * dim + (size_t)h * head_dim + i] = acc / sum;
    }
}

/* hb = silu(hb) * hb2 over n slots of ff. */
__global__ void swiglu(float *hb, const float *__restrict__ hb2, int ff,
                       const step *__restrict__ st)
{
    size_t total = (size_t)st->n * (size_t)ff;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = hb[i];
        hb[i] = g * (1.0f / (1.0f + expf(-g))) * hb2[i];
    }
}

} /* namespace weft_cuda */

#endif /* WEFT_INFER_CUDA_KERNELS_CUH */
