/* The CUDA backend's host side: upload, memory planning, the pass as a
 * sequence of kernel launches, and its capture as CUDA graphs. See
 * backend.h for the contract and kernels.cuh for the device code. */
#include <cuda_runtime.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "../model.h"
#include "weft/error.h"
}
#include "backend.h"
#include "kernels.cuh"

using namespace weft_cuda;

namespace
{

/* A weight matrix on the device, in its file layout. */
struct dwt {
    const uint8_t *data;
    uint32_t type;
    int rows, cols;
    size_t row_bytes;
};

struct dlayer {
    const float *attn_norm, *ffn_norm;
    dwt wq, wk, wv, wo, w_gate, w_up, w_down;
};

} /* namespace */

struct weft_cuda_model {
    const struct weft_model *m;
    int device;
    pthread_mutex_t lock;
    cudaStream_t stream;
    uint8_t *weights; /* one allocation: every tensor at a 256-byte boundary */
    dwt tok_embd, output;
    const float *output_norm;
    dlayer *layers;
    float *inv_freq; /* n_rot / 2 */
    /* Scratch for one pass of up to WEFT_CUDA_MAX_SLOTS slots. */
    float *x, *xb, *q, *k, *v, *hb, *hb2, *att, *logits;
    int max_ctx;           /* att holds this many positions per (slot, head) */
    step *d_step, *h_step; /* device copy and its pinned host source */
    float *h_logits;       /* pinned, WEFT_CUDA_MAX_SLOTS x n_vocab */
    /* Captured passes, by slot count and whether every slot's logits come
     * back (decode) or only the last one's (prefill). */
    cudaGraphExec_t graph[WEFT_CUDA_MAX_SLOTS + 1][2];
};

struct weft_cuda_seq {
    struct weft_cuda_model *cm;
    int n_ctx;
    float *k, *v; /* [layer][n_ctx][kv_dim] */
};

static int cerr(cudaError_t e, const char *what, char *err, size_t errcap)
{
    if (errcap)
        snprintf(err, errcap, "%s: %s", what, cudaGetErrorString(e));
    return e == cudaErrorMemoryAllocation ? WEFT_ENOMEM : WEFT_ECUDA;
}

#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return cerr(e_, #call, err, errcap);                                                   \
    } while (0)

static size_t align256(size_t n)
{
    return (n + 255) & ~(size_t)255;
}

static void free_graphs(struct weft_cuda_model *cm)
{
    for (int n = 0; n <= WEFT_CUDA_MAX_SLOTS; n++)
        for (int a = 0; a < 2; a++)
            if (cm->graph[n][a]) {
                cudaGraphExecDestroy(cm->graph[n][a]);
                cm->graph[n][a] = NULL;
            }
}

static void free_scratch(struct weft_cuda_model *cm)
{
    float **bufs[] = {&cm->x,  &cm->xb,  &cm->q,   &cm->k,     &cm->v,
                      &cm->hb, &cm->hb2, &cm->att, &cm->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        cudaFree(*bufs[i]);
        *bufs[i] = NULL;
    }
}

/* (Re)allocates the pass scratch for sequences of up to max_ctx positions;
 * captured graphs point into it, so they go too. */
static int alloc_scratch(struct weft_cuda_model *cm, int max_ctx, char *err, size_t errcap)
{
    free_graphs(cm);
    free_scratch(cm);
    size_t sz[WEFT_CUDA_SCRATCH_BUFS];
    weft_cuda_scratch_sizes(&cm->m->info, max_ctx, sz);
    float **bufs[] = {&cm->x,  &cm->xb,  &cm->q,   &cm->k,     &cm->v,
                      &cm->hb, &cm->hb2, &cm->att, &cm->logits};
    for (int i = 0; i < WEFT_CUDA_SCRATCH_BUFS; i++)
        CK(cudaMalloc((void **)bufs[i], sz[i] * sizeof(float)));
    cm->max_ctx = max_ctx;
    return 0;
}

extern "C" void weft_cuda_model_free(struct weft_cuda_model *cm)
{
    if (cm == NULL)
        return;
    cudaSetDevice(cm->device);
    free_graphs(cm);
    free_scratch(cm);
    cudaFree(cm->weights);
    cudaFree(cm->d_step);
    cudaFreeHost(cm->h_step);
    cudaFreeHost(cm->h_logits);
    if (cm->stream)
        cudaStreamDestroy(cm->stream);
    pthread_mutex_destroy(&cm->lock);
    free(cm->layers);
    free(cm);
}

static int upload(struct weft_cuda_model *cm, char *err, size_t errcap)
{
    const struct weft_model *m = cm->m;
    const struct weft_model_info *in = &m->info;
    struct weft_cuda_plan p;
    weft_cuda_plan(m, 1, &p);
    CK(cudaMalloc((void **)&cm->weights, p.weight_bytes));
    size_t off = 0;
    auto put = [&](const void *src, size_t bytes, const uint8_t **dst) -> cudaError_t {
        cudaError_t e = cudaMemcpy(cm->weights + off, src, bytes, cudaMemcpyHostToDevice);
        *dst = cm->weights + off;
        off += align256(bytes);
        return e;
    };
    auto put_wt = [&](const struct wt *w, dwt *d) -> cudaError_t {
        d->type = w->type;
        d->rows = w->rows;
        d->cols = w->cols;
        d->row_bytes = w->row_bytes;
        return put(w->data, w->row_bytes * (size_t)w->rows, &d->data);
    };
    CK(put_wt(&m->tok_embd, &cm->tok_embd));
    if (m->output.data != m->tok_embd.data)
        CK(put_wt(&m->output, &cm->output));
    else
        cm->output = cm->tok_embd;
    for (int l = 0; l < in->n_layer; l++) {
        const struct layer *ly = &m->layers[l];
        dlayer *d = &cm->layers[l];
        CK(put_wt(&ly->wq, &d->wq));
        CK(put_wt(&ly->wk, &d->wk));
        CK(put_wt(&ly->wv, &d->wv));
        CK(put_wt(&ly->wo, &d->wo));
        CK(put_wt(&ly->w_gate, &d->w_gate));
        CK(put_wt(&ly->w_up, &d->w_up));
        CK(put_wt(&ly->w_down, &d->w_down));
    }
    /* Norms, packed like the CPU side's arena. */
    size_t dim = (size_t)in->n_embd;
    float *norms = (float *)malloc(dim * (size_t)(2 * in->n_layer + 1) * sizeof(float));
    float *freq = (float *)malloc((size_t)(in->n_rot / 2 + 1) * sizeof(float));
    if (!norms || !freq) {
        free(norms);
        free(freq);
        if (errcap)
            snprintf(err, errcap, "out of host memory");
        return WEFT_ENOMEM;
    }
    for (int l = 0; l < in->n_layer; l++) {
        memcpy(norms + (size_t)(2 * l) * dim, m->layers[l].attn_norm, dim * sizeof(float));
        memcpy(norms + (size_t)(2 * l + 1) * dim, m->layers[l].ffn_norm, dim * sizeof(float));
    }
    memcpy(norms + (size_t)(2 * in->n_layer) * dim, m->output_norm, dim * sizeof(float));
    /* The same expression as forward.c's rope(), so angles match bit for bit. */
    for (int i = 0; i < in->n_rot; i += 2) {
        float f = 1.0f / powf(in->rope_base, (float)i / (float)in->n_rot);
        if (m->rope_freqs)
            f /= m->rope_freqs[i / 2];
        freq[i / 2] = f;
    }
    const uint8_t *dn = NULL, *df = NULL;
    cudaError_t e = put(norms, dim * (size_t)(2 * in->n_layer + 1) * sizeof(float), &dn);
    if (e == cudaSuccess)
        e = put(freq, (size_t)(in->n_rot / 2 + 1) * sizeof(float), &df);
    free(norms);
    free(freq);
    if (e != cudaSuccess)
        return cerr(e, "cudaMemcpy (norms)", err, errcap);
    const float *nf = (const float *)dn;
    for (int l = 0; l < in->n_layer; l++) {
        cm->layers[l].attn_norm = nf + (size_t)(2 * l) * dim;
        cm->layers[l].ffn_norm = nf + (size_t)(2 * l + 1) * dim;
    }
    cm->output_norm = nf + (size_t)(2 * in->n_layer) * dim;
    cm->inv_freq = (float *)df;
    return 0;
}

/* The weight types by_type has a decoder for. The CPU reads more (every
 * type quant.c knows); a model using one of those is refused here, so that
 * auto falls back to the CPU with the reason rather than running a kernel
 * that was never launched. */
static bool cuda_type_ok(uint32_t type)
{
    switch (type) {
    case WEFT_TYPE_F32:
    case WEFT_TYPE_F16:
    case WEFT_TYPE_BF16:
    case WEFT_TYPE_Q8_0:
    case WEFT_TYPE_Q4_0:
    case WEFT_TYPE_Q4_K:
    case WEFT_TYPE_Q6_K:
        return true;
    default:
        return false;
    }
}

static const struct wt *first_unsupported(const struct weft_model *m)
{
    if (!cuda_type_ok(m->tok_embd.type))
        return &m->tok_embd;
    if (!cuda_type_ok(m->output.type))
        return &m->output;
    for (int l = 0; l < m->info.n_layer; l++) {
        const struct layer *ly = &m->layers[l];
        const struct wt *ws[] = {&ly->wq,     &ly->wk,   &ly->wv,    &ly->wo,
                                 &ly->w_gate, &ly->w_up, &ly->w_down};
        for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++)
            if (!cuda_type_ok(ws[k]->type))
                return ws[k];
    }
    return NULL;
}

extern "C" int weft_cuda_model_new(const struct weft_model *m, int device, int n_ctx,
                                   struct weft_cuda_model **out, char *err, size_t errcap)
{
    if (errcap)
        err[0] = '\0';
    const struct weft_model_info *in = &m->info;
    if (in->head_dim > 1024 || in->n_head % in->n_head_kv != 0 || in->n_rot % 2 != 0) {
        if (errcap)
            snprintf(err, errcap, "head_dim %d / heads %d/%d not supported by the CUDA kernels",
                     in->head_dim, in->n_head, in->n_head_kv);
        return WEFT_ENOTSUP;
    }
    if (m->arch->rope_neox || m->arch->qkv_bias || m->arch->qk_norm || m->q_dim != in->n_embd ||
        m->rope_short || m->attn_factor != 1.0f || m->n_swa > 0 || m->arch->gemma ||
        m->rope_scale != 1.0f || m->attn_softcap > 0 || m->final_softcap > 0) {
        if (errcap)
            snprintf(err, errcap, "the %s architecture%s has no CUDA kernels yet", m->arch->name,
                     m->q_dim != in->n_embd ? " with n_head * head_dim != n_embd"
                     : m->n_swa > 0         ? " with sliding-window attention"
                     : m->rope_short        ? " with LongRoPE"
                                            : "");
        return WEFT_ENOTSUP;
    }
    if (const struct wt *w = first_unsupported(m)) {
        if (errcap)
            snprintf(err, errcap, "weight type %s has no CUDA kernel yet", weft_type_name(w->type));
        return WEFT_ENOTSUP;
    }
    CK(cudaSetDevice(device));
    struct weft_cuda_plan p;
    weft_cuda_plan(m, n_ctx, &p);
    size_t free_b = 0, total_b = 0;
    CK(cudaMemGetInfo(&free_b, &total_b));
    uint64_t need = p.weight_bytes + p.scratch_bytes + p.kv_bytes_per_pos * (uint64_t)n_ctx;
    if (need > free_b) {
        if (errcap)
            snprintf(err, errcap,
                     "the model needs %llu MiB of GPU memory (weights %llu MiB, KV cache for %d "
                     "positions %llu MiB, scratch %llu MiB); the device has %llu MiB free",
                     (unsigned long long)(need >> 20), (unsigned long long)(p.weight_bytes >> 20),
                     n_ctx, (unsigned long long)((p.kv_bytes_per_pos * (uint64_t)n_ctx) >> 20),
                     (unsigned long long)(p.scratch_bytes >> 20),
                     (unsigned long long)(free_b >> 20));
        return WEFT_ENOMEM;
    }
    struct weft_cuda_model *cm = (struct weft_cuda_model *)calloc(1, sizeof *cm);
    if (cm == NULL)
        return WEFT_ENOMEM;
    cm->m = m;
    cm->device = device;
    pthread_mutex_init(&cm->lock, NULL);
    cm->layers = (dlayer *)calloc((size_t)in->n_layer, sizeof *cm->layers);
    int rc = cm->layers ? 0 : WEFT_ENOMEM;
    cudaError_t e = cudaSuccess;
    if (rc == 0 &&
        (e = cudaStreamCreateWithFlags(&cm->stream, cudaStreamNonBlocking)) != cudaSuccess)
        rc = cerr(e, "cudaStreamCreate", err, errcap);
    if (rc == 0)
        rc = upload(cm, err, errcap);
    if (rc == 0 && (e = cudaMalloc((void **)&cm->d_step, sizeof(step))) != cudaSuccess)
        rc = cerr(e, "cudaMalloc (step)", err, errcap);
    if (rc == 0 && (e = cudaMallocHost((void **)&cm->h_step, sizeof(step))) != cudaSuccess)
        rc = cerr(e, "cudaMallocHost (step)", err, errcap);
    if (rc == 0 && (e = cudaMallocHost((void **)&cm->h_logits, (size_t)WEFT_CUDA_MAX_SLOTS *
                                                                   (size_t)in->n_vocab *
                                                                   sizeof(float))) != cudaSuccess)
        rc = cerr(e, "cudaMallocHost (logits)", err, errcap);
    if (rc == 0)
        rc = alloc_scratch(cm, n_ctx, err, errcap);
    if (rc < 0) {
        weft_cuda_model_free(cm);
        return rc;
    }
    *out = cm;
    return 0;
}

extern "C" int weft_cuda_seq_new(struct weft_cuda_model *cm, int n_ctx, struct weft_cuda_seq **out,
                                 char *err, size_t errcap)
{
    if (errcap)
        err[0] = '\0';
    struct weft_cuda_plan p;
    weft_cuda_plan(cm->m, n_ctx, &p);
    size_t bytes = (size_t)(p.kv_bytes_per_pos / 2) * (size_t)n_ctx;
    struct weft_cuda_seq *s = (struct weft_cuda_seq *)calloc(1, sizeof *s);
    if (s == NULL)
        return WEFT_ENOMEM;
    s->cm = cm;
    s->n_ctx = n_ctx;
    pthread_mutex_lock(&cm->lock);
    int rc = 0;
    cudaError_t e = cudaSetDevice(cm->device);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&s->k, bytes);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&s->v, bytes);
    /* A zeroed cache keeps stale positions out of sight of compute-sanitizer's initcheck. */
    if (e == cudaSuccess)
        e = cudaMemset(s->k, 0, bytes);
    if (e == cudaSuccess)
        e = cudaMemset(s->v, 0, bytes);
    if (e != cudaSuccess)
        rc = cerr(e, "cudaMalloc (KV cache)", err, errcap);
    if (rc == 0 && n_ctx > cm->max_ctx)
        rc = alloc_scratch(cm, n_ctx, err, errcap);
    pthread_mutex_unlock(&cm->lock);
    if (rc < 0) {
        weft_cuda_seq_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

extern "C" void weft_cuda_seq_free(struct weft_cuda_seq *s)
{
    if (s == NULL)
        return;
    cudaSetDevice(s->cm->device);
    cudaFree(s->k);
    cudaFree(s->v);
    free(s);
}

/* Launches y (+)= W x for the slots, picking the decoder for W's type and
 * the smallest accumulator count that covers n. */
template <class D>
static void mv_n(const dwt &w, const float *x, float *y, int n, const step *st, int acc,
                 cudaStream_t stream)
{
    dim3 grid((unsigned)((w.rows + MV_WARPS - 1) / MV_WARPS)), block(MV_WARPS * 32);
    if (n <= 1)
        matvec<D, 1>
            <<<grid, block, 0, stream>>>(w.data, w.row_bytes, w.rows, w.cols, x, y, st, acc);
    else if (n <= 2)
        matvec<D, 2>
            <<<grid, block, 0, stream>>>(w.data, w.row_bytes, w.rows, w.cols, x, y, st, acc);
    else if (n <= 4)
        matvec<D, 4>
            <<<grid, block, 0, stream>>>(w.data, w.row_bytes, w.rows, w.cols, x, y, st, acc);
    else if (n <= 8)
        matvec<D, 8>
            <<<grid, block, 0, stream>>>(w.data, w.row_bytes, w.rows, w.cols, x, y, st, acc);
    else
        matvec<D, 16>
            <<<grid, block, 0, stream>>>(w.data, w.row_bytes, w.rows, w.cols, x, y, st, acc);
}

/* Calls f with the chunk decoder for a weight type: the wide float
 * decoders when `wide` and the row width allows them, else one element per
 * chunk. Every type the loader accepts has a case. */
template <class F> static void by_type(uint32_t type, int cols, bool wide, F &&f)
{
    switch (type) {
    case WEFT_TYPE_F32:
        if (wide && cols % 4 == 0)
            f(deq_f32x4{});
        else
            f(deq_f32x1{});
        break;
    case WEFT_TYPE_F16:
        if (wide && cols % 8 == 0)
            f(deq_half8<false>{});
        else
            f(deq_half1<false>{});
        break;
    case WEFT_TYPE_BF16:
        if (wide && cols % 8 == 0)
            f(deq_half8<true>{});
        else
            f(deq_half1<true>{});
        break;
    case WEFT_TYPE_Q8_0:
        f(deq_q8_0{});
        break;
    case WEFT_TYPE_Q4_0:
        f(deq_q4_0{});
        break;
    case WEFT_TYPE_Q4_K:
        f(deq_q4_k{});
        break;
    case WEFT_TYPE_Q6_K:
        f(deq_q6_k{});
        break;
    }
}

static void mv(const dwt &w, const float *x, float *y, int n, const step *st, int acc,
               cudaStream_t s)
{
    by_type(w.type, w.cols, true, [&](auto d) { mv_n<decltype(d)>(w, x, y, n, st, acc, s); });
}

/* Embedding rows: one element per chunk for float types (any width). */
static void embed_launch(const dwt &w, float *x, int n, const step *st, cudaStream_t s)
{
    by_type(w.type, w.cols, false, [&](auto d) {
        embed<decltype(d)><<<(unsigned)n, 256, 0, s>>>(w.data, w.row_bytes, w.cols, x, st);
    });
}

/* The whole pass for n slots, enqueued on the model's stream (captured
 * into a graph by the caller). all_logits: every slot's logits come back,
 * else only the last slot's. */
static void enqueue_pass(struct weft_cuda_model *cm, int n, int all_logits)
{
    const struct weft_model_info *in = &cm->m->info;
    cudaStream_t s = cm->stream;
    const step *st = cm->d_step;
    int dim = in->n_embd, ff = in->n_ff;

    cudaMemcpyAsync(cm->d_step, cm->h_step, sizeof(step), cudaMemcpyHostToDevice, s);
    embed_launch(cm->tok_embd, cm->x, n, st, s);
    for (int l = 0; l < in->n_layer; l++) {
        const dlayer *ly = &cm->layers[l];
        rmsnorm<<<n, 256, 0, s>>>(cm->x, ly->attn_norm, cm->xb, dim, in->norm_eps, st);
        mv(ly->wq, cm->xb, cm->q, n, st, 0, s);
        mv(ly->wk, cm->xb, cm->k, n, st, 0, s);
        mv(ly->wv, cm->xb, cm->v, n, st, 0, s);
        rope_store<<<n, 256, 0, s>>>(cm->q, cm->k, cm->v, cm->inv_freq, in->n_head, in->n_head_kv,
                                     in->head_dim, in->n_rot, l, st);
        attention<<<dim3((unsigned)in->n_head, (unsigned)n), 128,
                    (size_t)in->head_dim * sizeof(float), s>>>(
            cm->q, cm->xb, cm->att, in->n_head, in->n_head_kv, in->head_dim, cm->max_ctx, l, st);
        mv(ly->wo, cm->xb, cm->x, n, st, 1, s); /* the residual folded in */
        rmsnorm<<<n, 256, 0, s>>>(cm->x, ly->ffn_norm, cm->xb, dim, in->norm_eps, st);
        mv(ly->w_gate, cm->xb, cm->hb, n, st, 0, s);
        mv(ly->w_up, cm->xb, cm->hb2, n, st, 0, s);
        swiglu<<<(unsigned)((n * ff + 255) / 256), 256, 0, s>>>(cm->hb, cm->hb2, ff, st);
        mv(ly->w_down, cm->hb, cm->x, n, st, 1, s);
    }
    rmsnorm<<<n, 256, 0, s>>>(cm->x, cm->output_norm, cm->xb, dim, in->norm_eps, st);
    mv(cm->output, cm->xb, cm->logits, n, st, 0, s);
    size_t nv = (size_t)in->n_vocab;
    if (all_logits)
        cudaMemcpyAsync(cm->h_logits, cm->logits, (size_t)n * nv * sizeof(float),
                        cudaMemcpyDeviceToHost, s);
    else
        cudaMemcpyAsync(cm->h_logits, cm->logits + (size_t)(n - 1) * nv, nv * sizeof(float),
                        cudaMemcpyDeviceToHost, s);
}

/* Runs the pass for the slots in h_step (lock held), capturing its graph
 * the first time this shape is seen. */
static int run_pass(struct weft_cuda_model *cm, int all_logits, char *err, size_t errcap)
{
    int n = cm->h_step->n;
    CK(cudaSetDevice(cm->device));
    cudaGraphExec_t *ge = &cm->graph[n][all_logits ? 1 : 0];
    if (*ge == NULL) {
        cudaGraph_t g;
        CK(cudaStreamBeginCapture(cm->stream, cudaStreamCaptureModeThreadLocal));
        enqueue_pass(cm, n, all_logits);
        cudaError_t launch = cudaGetLastError(); /* a bad launch configuration shows here */
        CK(cudaStreamEndCapture(cm->stream, &g));
        if (launch != cudaSuccess) {
            cudaGraphDestroy(g);
            return cerr(launch, "kernel launch", err, errcap);
        }
        cudaError_t e = cudaGraphInstantiate(ge, g, 0);
        cudaGraphDestroy(g);
        if (e != cudaSuccess) {
            *ge = NULL;
            return cerr(e, "cudaGraphInstantiate", err, errcap);
        }
    }
    CK(cudaGraphLaunch(*ge, cm->stream));
    CK(cudaStreamSynchronize(cm->stream));
    return 0;
}

static void set_slot(step *st, int i, const struct weft_cuda_seq *s, int32_t token, int pos)
{
    st->token[i] = token;
    st->pos[i] = pos;
    st->ctx[i] = s->n_ctx;
    st->k[i] = s->k;
    st->v[i] = s->v;
}

extern "C" int weft_cuda_eval(struct weft_cuda_seq *s, const int32_t *tokens, int n, int pos,
                              float *logits, char *err, size_t errcap)
{
    if (errcap)
        err[0] = '\0';
    if (n <= 0 || n > WEFT_CUDA_MAX_SLOTS || pos < 0 || pos + n > s->n_ctx)
        return WEFT_EINVAL;
    struct weft_cuda_model *cm = s->cm;
    pthread_mutex_lock(&cm->lock);
    cm->h_step->n = n;
    for (int i = 0; i < n; i++)
        set_slot(cm->h_step, i, s, tokens[i], pos + i);
    int rc = run_pass(cm, 0, err, errcap);
    if (rc == 0)
        memcpy(logits, cm->h_logits, (size_t)cm->m->info.n_vocab * sizeof(float));
    pthread_mutex_unlock(&cm->lock);
    return rc;
}

extern "C" int weft_cuda_decode(struct weft_cuda_seq *const *seqs, int n, const int32_t *tokens,
                                const int *pos, float *const *logits, char *err, size_t errcap)
{
    if (errcap)
        err[0] = '\0';
    if (n <= 0 || n > WEFT_CUDA_MAX_SLOTS)
        return WEFT_EINVAL;
    struct weft_cuda_model *cm = seqs[0]->cm;
    for (int i = 0; i < n; i++)
        if (seqs[i]->cm != cm || pos[i] < 0 || pos[i] >= seqs[i]->n_ctx)
            return WEFT_EINVAL;
    pthread_mutex_lock(&cm->lock);
    cm->h_step->n = n;
    for (int i = 0; i < n; i++)
        set_slot(cm->h_step, i, seqs[i], tokens[i], pos[i]);
    int rc = run_pass(cm, 1, err, errcap);
    size_t nv = (size_t)cm->m->info.n_vocab;
    for (int i = 0; rc == 0 && i < n; i++)
        memcpy(logits[i], cm->h_logits + (size_t)i * nv, nv * sizeof(float));
    pthread_mutex_unlock(&cm->lock);
    return rc;
}
