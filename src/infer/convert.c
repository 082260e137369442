/* Model writers: llama2.c checkpoints and synthetic models, both to GGUF
 * through one tensor-streaming path. */
#include "weft/convert.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weft/error.h"
#include "weft/gguf.h"
#include "weft/quant.h"
#include "weft/vocab.h"

/* --- the shared writer --------------------------------------------------------- */

struct hparams {
    const char *name;
    int n_embd, n_ff, n_layer, n_head, n_head_kv, n_vocab, n_ctx;
    float rope_base, norm_eps;
    int tied;
    const char *arch; /* "llama", "qwen2", "qwen3", "phi3" */
    int head_dim;     /* 0: n_embd / n_head */
    int n_swa;        /* 0, or attention.sliding_window */
    float attn_softcap, final_softcap;
};

static bool arch_gemma(const struct hparams *hp)
{
    return strncmp(hp->arch, "gemma", 5) == 0;
}

static bool arch_phi3(const struct hparams *hp)
{
    return strcmp(hp->arch, "phi3") == 0;
}

/* The tensors an architecture adds to Llama's. */
static bool arch_bias(const struct hparams *hp)
{
    return strcmp(hp->arch, "qwen2") == 0;
}

static bool arch_qk_norm(const struct hparams *hp)
{
    return strcmp(hp->arch, "qwen3") == 0 || strcmp(hp->arch, "gemma3") == 0;
}

static int head_dim(const struct hparams *hp)
{
    return hp->head_dim ? hp->head_dim : hp->n_embd / hp->n_head;
}

struct vocab_data {
    char **tokens;
    uint64_t *lens;
    float *scores;
    int32_t *types;
    int n;
};

struct tdesc {
    char name[64];
    int cols, rows;
    int norm; /* 1-D, always F32: 1 a norm, 2 a bias, 3 a norm with varied weights, 4 divisors */
    uint64_t src; /* llama2.c: float index of the tensor in the checkpoint */
};

/* Fills rows [r0, r0+n) of tensor t as floats. */
typedef void (*rows_fn)(void *ud, int t_index, const struct tdesc *t, int r0, int n, float *dst);

static int cerr(char *err, size_t errcap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cerr(char *err, size_t errcap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
    return code;
}

/* The tensor list of a Llama model, in the order llama.cpp writes it. */
static int make_tensors(const struct hparams *hp, struct tdesc **out)
{
    int n = 4 + (hp->tied ? 0 : 1) + (9 + 3 + 2 + 2) * hp->n_layer;
    struct tdesc *t = calloc((size_t)n, sizeof *t);
    if (t == NULL)
        return WEFT_ENOMEM;
    int hd = head_dim(hp), kv = hd * hp->n_head_kv, qd = hd * hp->n_head, i = 0;
#define ADD(nm, c, r, nrm)                                                                         \
    do {                                                                                           \
        snprintf(t[i].name, sizeof t[i].name, "%s", nm);                                           \
        t[i].cols = (c);                                                                           \
        t[i].rows = (r);                                                                           \
        t[i].norm = (nrm);                                                                         \
        i++;                                                                                       \
    } while (0)
    ADD("token_embd.weight", hp->n_embd, hp->n_vocab, 0);
    for (int l = 0; l < hp->n_layer; l++) {
        char nm[64];
        snprintf(nm, sizeof nm, "blk.%d.attn_norm.weight", l);
        ADD(nm, hp->n_embd, 1, 1);
        if (arch_phi3(hp)) { /* Q, K and V in one matrix */
            snprintf(nm, sizeof nm, "blk.%d.attn_qkv.weight", l);
            ADD(nm, hp->n_embd, qd + 2 * kv, 0);
        } else {
            snprintf(nm, sizeof nm, "blk.%d.attn_q.weight", l);
            ADD(nm, hp->n_embd, qd, 0);
            snprintf(nm, sizeof nm, "blk.%d.attn_k.weight", l);
            ADD(nm, hp->n_embd, kv, 0);
            snprintf(nm, sizeof nm, "blk.%d.attn_v.weight", l);
            ADD(nm, hp->n_embd, kv, 0);
        }
        if (arch_bias(hp)) {
            snprintf(nm, sizeof nm, "blk.%d.attn_q.bias", l);
            ADD(nm, qd, 1, 2);
            snprintf(nm, sizeof nm, "blk.%d.attn_k.bias", l);
            ADD(nm, kv, 1, 2);
            snprintf(nm, sizeof nm, "blk.%d.attn_v.bias", l);
            ADD(nm, kv, 1, 2);
        }
        if (arch_qk_norm(hp)) {
            snprintf(nm, sizeof nm, "blk.%d.attn_q_norm.weight", l);
            ADD(nm, hd, 1, 3);
            snprintf(nm, sizeof nm, "blk.%d.attn_k_norm.weight", l);
            ADD(nm, hd, 1, 3);
        }
        snprintf(nm, sizeof nm, "blk.%d.attn_output.weight", l);
        ADD(nm, qd, hp->n_embd, 0);
        if (arch_gemma(hp)) {
            snprintf(nm, sizeof nm, "blk.%d.post_attention_norm.weight", l);
            ADD(nm, hp->n_embd, 1, 3);
            snprintf(nm, sizeof nm, "blk.%d.post_ffw_norm.weight", l);
            ADD(nm, hp->n_embd, 1, 3);
        }
        snprintf(nm, sizeof nm, "blk.%d.ffn_norm.weight", l);
        ADD(nm, hp->n_embd, 1, 1);
        if (arch_phi3(hp)) { /* the gate's rows, then up's */
            snprintf(nm, sizeof nm, "blk.%d.ffn_up.weight", l);
            ADD(nm, hp->n_embd, 2 * hp->n_ff, 0);
        } else {
            snprintf(nm, sizeof nm, "blk.%d.ffn_gate.weight", l);
            ADD(nm, hp->n_embd, hp->n_ff, 0);
            snprintf(nm, sizeof nm, "blk.%d.ffn_up.weight", l);
            ADD(nm, hp->n_embd, hp->n_ff, 0);
        }
        snprintf(nm, sizeof nm, "blk.%d.ffn_down.weight", l);
        ADD(nm, hp->n_ff, hp->n_embd, 0);
    }
    if (arch_phi3(hp)) { /* LongRoPE divisors, in [1, 4) */
        ADD("rope_factors_long.weight", hd / 2, 1, 4);
        ADD("rope_factors_short.weight", hd / 2, 1, 4);
    }
    ADD("output_norm.weight", hp->n_embd, 1, 1);
    if (!hp->tied)
        ADD("output.weight", hp->n_embd, hp->n_vocab, 0);
#undef ADD
    *out = t;
    return i;
}

/* The type a tensor is written as: norms F32; rows that do not divide into
 * the requested type's blocks fall back to F16. */
static uint32_t tensor_type(const struct tdesc *t, uint32_t type)
{
    if (t->norm)
        return WEFT_TYPE_F32;
    if ((size_t)t->cols % weft_type_block(type) != 0)
        return WEFT_TYPE_F16;
    return type;
}

/* The keys of a vocabulary we build (llama2.c's, or the synthetic one). */
static int write_vocab_keys(struct weft_gguf_writer *w, const struct vocab_data *v)
{
    int rc = 0;
    if (rc == 0)
        rc = weft_gguf_set_str(w, "tokenizer.ggml.model", "llama");
    if (rc == 0)
        rc = weft_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens,
                                   v->lens, (uint64_t)v->n);
    if (rc == 0)
        rc =
            weft_gguf_set_arr(w, "tokenizer.ggml.scores", WEFT_GGUF_F32, v->scores, (uint64_t)v->n);
    if (rc == 0)
        rc = weft_gguf_set_arr(w, "tokenizer.ggml.token_type", WEFT_GGUF_I32, v->types,
                               (uint64_t)v->n);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    if (rc == 0)
        rc = weft_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    if (rc == 0)
        rc = weft_gguf_set_bool(w, "tokenizer.ggml.add_space_prefix", true);
    return rc;
}

/* Copies every tokenizer.* key of g (a vocabulary-only GGUF such as
 * llama.cpp's models/ggml-vocab-*.gguf) into w: strings, scalars, and
 * arrays of strings or numbers, as they are. */
static int copy_tokenizer_keys(struct weft_gguf_writer *w, const struct weft_gguf *g)
{
    char key[256];
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < g->n_kv; i++) {
        const struct weft_gguf_kv *kv = &g->kv[i];
        if (kv->key.n < 10 || kv->key.n >= sizeof key || memcmp(kv->key.p, "tokenizer.", 10) != 0)
            continue;
        snprintf(key, sizeof key, "%.*s", (int)kv->key.n, kv->key.p);
        const struct weft_gguf_value *v = &kv->v;
        switch (v->type) {
        case WEFT_GGUF_U32:
            rc = weft_gguf_set_u32(w, key, (uint32_t)v->u);
            break;
        case WEFT_GGUF_I32:
            rc = weft_gguf_set_i32(w, key, (int32_t)v->i);
            break;
        case WEFT_GGUF_F32:
            rc = weft_gguf_set_f32(w, key, (float)v->f);
            break;
        case WEFT_GGUF_BOOL:
            rc = weft_gguf_set_bool(w, key, v->u != 0);
            break;
        case WEFT_GGUF_STRING: {
            char *str = strndup(v->s.p, (size_t)v->s.n);
            rc = str ? weft_gguf_set_str(w, key, str) : WEFT_ENOMEM;
            free(str);
            break;
        }
        case WEFT_GGUF_ARRAY:
            if (v->arr.type == WEFT_GGUF_STRING) {
                uint64_t n = v->arr.n;
                struct weft_str *views = malloc((n ? n : 1) * sizeof *views);
                const char **ps = malloc((n ? n : 1) * sizeof *ps);
                uint64_t *ls = malloc((n ? n : 1) * sizeof *ls);
                rc = views && ps && ls ? 0 : WEFT_ENOMEM;
                if (rc == 0) {
                    weft_gguf_arr_strings(v->arr.data, n, views);
                    for (uint64_t k = 0; k < n; k++) {
                        ps[k] = views[k].p;
                        ls[k] = views[k].n;
                    }
                    rc = weft_gguf_set_arr_str(w, key, ps, ls, n);
                }
                free(views);
                free(ps);
                free(ls);
            } else if (v->arr.type != WEFT_GGUF_ARRAY) {
                rc = weft_gguf_set_arr(w, key, v->arr.type, v->arr.data, v->arr.n);
            }
            break;
        default:
            break; /* other scalar widths: no tokenizer key uses them */
        }
    }
    return rc;
}

static int write_model(const struct hparams *hp, const struct vocab_data *v,
                       const struct weft_gguf *vocab_g, struct tdesc *t, int nt, uint32_t type,
                       rows_fn fill, void *ud, const char *out_path, char *err, size_t errcap)
{
    struct weft_gguf_writer *w;
    int rc = weft_gguf_writer_new(&w);
    if (rc < 0)
        return cerr(err, errcap, rc, "out of memory");
    int hd = head_dim(hp);
    float *f = NULL;
    uint8_t *q = NULL;
    char key[96];
#define AKEY(suffix) (snprintf(key, sizeof key, "%s." suffix, hp->arch), key)
    rc = weft_gguf_set_str(w, "general.architecture", hp->arch);
    if (rc == 0)
        rc = weft_gguf_set_str(w, "general.name", hp->name);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, "general.alignment", WEFT_GGUF_DEFAULT_ALIGNMENT);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, AKEY("context_length"), (uint32_t)hp->n_ctx);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, AKEY("embedding_length"), (uint32_t)hp->n_embd);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, AKEY("block_count"), (uint32_t)hp->n_layer);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, AKEY("feed_forward_length"), (uint32_t)hp->n_ff);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, AKEY("attention.head_count"), (uint32_t)hp->n_head);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, AKEY("attention.head_count_kv"), (uint32_t)hp->n_head_kv);
    if (rc == 0)
        rc = weft_gguf_set_u32(w, AKEY("rope.dimension_count"), (uint32_t)hd);
    if (rc == 0)
        rc = weft_gguf_set_f32(w, AKEY("rope.freq_base"), hp->rope_base);
    if (rc == 0)
        rc = weft_gguf_set_f32(w, AKEY("attention.layer_norm_rms_epsilon"), hp->norm_eps);
    if (rc == 0 && hp->n_swa)
        rc = weft_gguf_set_u32(w, AKEY("attention.sliding_window"), (uint32_t)hp->n_swa);
    if (rc == 0 && hp->attn_softcap > 0)
        rc = weft_gguf_set_f32(w, AKEY("attn_logit_softcapping"), hp->attn_softcap);
    if (rc == 0 && hp->final_softcap > 0)
        rc = weft_gguf_set_f32(w, AKEY("final_logit_softcapping"), hp->final_softcap);
    if (rc == 0 && arch_phi3(hp)) {
        /* LongRoPE as Phi-3.5 ships it: trained at a 32nd of the context,
         * rotations scaled by sqrt(1 + ln(32) / ln(original)). */
        int orig = hp->n_ctx / 32 > 1 ? hp->n_ctx / 32 : 2;
        rc = weft_gguf_set_u32(w, AKEY("rope.scaling.original_context_length"), (uint32_t)orig);
        if (rc == 0)
            rc = weft_gguf_set_f32(
                w, AKEY("rope.scaling.attn_factor"),
                sqrtf(1.0f + logf((float)hp->n_ctx / (float)orig) / logf((float)orig)));
    }
    if (rc == 0 && hp->head_dim) {
        rc = weft_gguf_set_u32(w, AKEY("attention.key_length"), (uint32_t)hd);
        if (rc == 0)
            rc = weft_gguf_set_u32(w, AKEY("attention.value_length"), (uint32_t)hd);
    }
#undef AKEY
    if (rc == 0 && vocab_g)
        rc = copy_tokenizer_keys(w, vocab_g);
    else if (rc == 0)
        rc = write_vocab_keys(w, v);
    for (int i = 0; rc == 0 && i < nt; i++) {
        uint64_t ne[2] = {(uint64_t)t[i].cols, (uint64_t)t[i].rows};
        int idx =
            weft_gguf_add_tensor(w, t[i].name, tensor_type(&t[i], type), t[i].norm ? 1 : 2, ne);
        rc = idx < 0 ? idx : 0;
    }
    if (rc < 0) {
        weft_gguf_writer_free(w);
        return cerr(err, errcap, rc, "%s: cannot describe the model: %s", out_path,
                    weft_strerror(rc));
    }
    rc = weft_gguf_write_begin(w, out_path);
    /* Rows go through in chunks of at most CHUNK floats. */
    enum { CHUNK = 1 << 22 };
    f = malloc(CHUNK * sizeof(float));
    q = malloc(CHUNK * sizeof(float));
    if (rc == 0 && (!f || !q))
        rc = WEFT_ENOMEM;
    for (int i = 0; rc == 0 && i < nt; i++) {
        uint32_t tt = tensor_type(&t[i], type);
        int per = CHUNK / t[i].cols;
        if (per < 1)
            per = 1;
        for (int r0 = 0; rc == 0 && r0 < t[i].rows; r0 += per) {
            int n = t[i].rows - r0 < per ? t[i].rows - r0 : per;
            fill(ud, i, &t[i], r0, n, f);
            size_t bytes = 0;
            for (int r = 0; r < n; r++)
                bytes += weft_quantize_row(tt, f + (size_t)r * (size_t)t[i].cols, q + bytes,
                                           (size_t)t[i].cols);
            rc = weft_gguf_write_data(w, q, bytes);
        }
    }
    if (rc == 0)
        rc = weft_gguf_write_end(w);
    weft_gguf_writer_free(w);
    free(f);
    free(q);
    if (rc < 0) {
        unlink(out_path);
        return cerr(err, errcap, rc, "%s: cannot write: %s", out_path, weft_strerror(rc));
    }
    return 0;
}

static void free_vocab(struct vocab_data *v)
{
    for (int i = 0; v->tokens && i < v->n; i++)
        free(v->tokens[i]);
    free(v->tokens);
    free(v->lens);
    free(v->scores);
    free(v->types);
}

static int alloc_vocab(struct vocab_data *v, int n)
{
    v->n = n;
    v->tokens = calloc((size_t)n, sizeof *v->tokens);
    v->lens = calloc((size_t)n, sizeof *v->lens);
    v->scores = calloc((size_t)n, sizeof *v->scores);
    v->types = calloc((size_t)n, sizeof *v->types);
    return v->tokens && v->lens && v->scores && v->types ? 0 : WEFT_ENOMEM;
}

/* --- llama2.c --------------------------------------------------------------------- */

struct l2c {
    const float *w; /* the weights after the header */
};

static void l2c_rows(void *ud, int t_index, const struct tdesc *t, int r0, int n, float *dst)
{
    (void)t_index;
    const struct l2c *c = ud;
    memcpy(dst, c->w + t->src + (uint64_t)r0 * (uint64_t)t->cols,
           (size_t)n * (size_t)t->cols * sizeof(float));
}

/* Reads llama2.c's tokenizer.bin: max length, then per token a float score,
 * an int length and the bytes. Its exporter wrote SentencePiece's U+2581 as
 * a plain space and BOS/EOS as "\n<s>\n" / "\n</s>\n"; both are undone so
 * the vocabulary is an ordinary SentencePiece one. */
static int read_tokenizer(const char *path, int n, struct vocab_data *v, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cerr(err, errcap, weft_err_from_errno(errno), "%s: cannot open: %s", path,
                    strerror(errno));
    int rc = alloc_vocab(v, n);
    int32_t maxlen;
    if (rc == 0 && fread(&maxlen, 4, 1, f) != 1)
        rc = cerr(err, errcap, WEFT_EFORMAT, "%s: truncated header", path);
    if (rc == 0 && (maxlen < 1 || maxlen > 4096))
        rc =
            cerr(err, errcap, WEFT_EFORMAT, "%s: max token length %d is implausible", path, maxlen);
    for (int i = 0; rc == 0 && i < n; i++) {
        int32_t len;
        if (fread(&v->scores[i], 4, 1, f) != 1 || fread(&len, 4, 1, f) != 1) {
            rc = cerr(err, errcap, WEFT_EFORMAT, "%s: truncated at token %d of %d", path, i, n);
            break;
        }
        if (len < 0 || len > maxlen) {
            rc = cerr(err, errcap, WEFT_EFORMAT, "%s: token %d has length %d (max %d)", path, i,
                      len, maxlen);
            break;
        }
        char raw[4096];
        if (fread(raw, 1, (size_t)len, f) != (size_t)len) {
            rc = cerr(err, errcap, WEFT_EFORMAT, "%s: truncated in token %d", path, i);
            break;
        }
        /* Each space becomes the 3-byte U+2581. */
        char *t = malloc((size_t)len * 3 + 1);
        if (t == NULL) {
            rc = WEFT_ENOMEM;
            break;
        }
        size_t o = 0;
        for (int k = 0; k < len; k++) {
            if (raw[k] == ' ') {
                memcpy(t + o, "\xe2\x96\x81", 3);
                o += 3;
            } else {
                t[o++] = raw[k];
            }
        }
        t[o] = '\0';
        int32_t type = WEFT_TOKEN_NORMAL;
        unsigned int b;
        char tail;
        if (i == 0) {
            type = WEFT_TOKEN_UNKNOWN;
        } else if (strcmp(t, "\n<s>\n") == 0 || strcmp(t, "\n</s>\n") == 0) {
            type = WEFT_TOKEN_CONTROL;
            o = (size_t)snprintf(t, (size_t)len * 3 + 1, "%s", i == 1 ? "<s>" : "</s>");
        } else if (o == 6 && sscanf(t, "<0x%2X%c", &b, &tail) == 2 && tail == '>') {
            type = WEFT_TOKEN_BYTE;
        }
        v->tokens[i] = t;
        v->lens[i] = o;
        v->types[i] = type;
    }
    fclose(f);
    return rc;
}

int weft_convert_llama2c(const char *model_path, const char *tokenizer_path, const char *out_path,
                         uint32_t type, char *err, size_t errcap)
{
    if (!weft_type_supported(type))
        return cerr(err, errcap, WEFT_EINVAL, "type %s cannot be written", weft_type_name(type));
    int fd = open(model_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cerr(err, errcap, weft_err_from_errno(errno), "%s: cannot open: %s", model_path,
                    strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 28) {
        close(fd);
        return cerr(err, errcap, WEFT_EFORMAT, "%s: too small for a llama2.c checkpoint",
                    model_path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return cerr(err, errcap, weft_err_from_errno(errno), "%s: cannot map: %s", model_path,
                    strerror(errno));
    int32_t h[7];
    memcpy(h, map, sizeof h);
    int dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kv_heads = h[4];
    int vocab = h[5] < 0 ? -h[5] : h[5], seq = h[6], shared = h[5] > 0;
    int rc = 0;
    struct vocab_data v = {0};
    struct tdesc *t = NULL;
    if (dim <= 0 || dim > 65536 || hidden <= 0 || hidden > 1 << 20 || layers <= 0 ||
        layers > 1024 || heads <= 0 || kv_heads <= 0 || heads % kv_heads != 0 || dim % heads != 0 ||
        vocab <= 0 || vocab > 1 << 22 || seq <= 0 || seq > 1 << 24) {
        rc = cerr(err, errcap, WEFT_EFORMAT,
                  "%s: implausible header (dim %d, hidden %d, layers %d, heads %d/%d, vocab %d, "
                  "seq %d)",
                  model_path, dim, hidden, layers, heads, kv_heads, vocab, seq);
        goto out;
    }
    uint64_t D = (uint64_t)dim, F = (uint64_t)hidden, L = (uint64_t)layers, V = (uint64_t)vocab;
    uint64_t hs = D / (uint64_t)heads, KV = hs * (uint64_t)kv_heads;
    /* Float offsets of each weight group, in the file's order. */
    uint64_t o_emb = 0, o_att = o_emb + V * D, o_wq = o_att + L * D, o_wk = o_wq + L * D * D,
             o_wv = o_wk + L * D * KV, o_wo = o_wv + L * D * KV, o_ffn = o_wo + L * D * D,
             o_w1 = o_ffn + L * D, o_w2 = o_w1 + L * D * F, o_w3 = o_w2 + L * F * D,
             o_fin = o_w3 + L * D * F, o_cls = o_fin + D + (uint64_t)seq * hs;
    uint64_t want = o_cls + (shared ? 0 : V * D);
    if ((uint64_t)st.st_size != 28 + want * 4) {
        rc = cerr(err, errcap, WEFT_EFORMAT,
                  "%s: %lld bytes, but the header describes %llu (a llama2.c v0 checkpoint)",
                  model_path, (long long)st.st_size, (unsigned long long)(28 + want * 4));
        goto out;
    }
    rc = read_tokenizer(tokenizer_path, vocab, &v, err, errcap);
    if (rc < 0)
        goto out;
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(strcspn(base, ".") < 100 ? strcspn(base, ".") : 100),
             base);
    struct hparams hp = {name,     dim,   hidden, layers,  heads, kv_heads, vocab, seq,
                         10000.0f, 1e-5f, shared, "llama", 0,     0,        0,     0};
    int nt = make_tensors(&hp, &t);
    if (nt < 0) {
        rc = nt;
        goto out;
    }
    for (int i = 0; i < nt; i++) {
        int l = -1;
        char what[48] = "";
        sscanf(t[i].name, "blk.%d.%47s", &l, what);
        uint64_t ul = (uint64_t)(l < 0 ? 0 : l);
        if (strcmp(t[i].name, "token_embd.weight") == 0)
            t[i].src = o_emb;
        else if (strcmp(t[i].name, "output_norm.weight") == 0)
            t[i].src = o_fin;
        else if (strcmp(t[i].name, "output.weight") == 0)
            t[i].src = o_cls;
        else if (strcmp(what, "attn_norm.weight") == 0)
            t[i].src = o_att + ul * D;
        else if (strcmp(what, "attn_q.weight") == 0)
            t[i].src = o_wq + ul * D * D;
        else if (strcmp(what, "attn_k.weight") == 0)
            t[i].src = o_wk + ul * D * KV;
        else if (strcmp(what, "attn_v.weight") == 0)
            t[i].src = o_wv + ul * D * KV;
        else if (strcmp(what, "attn_output.weight") == 0)
            t[i].src = o_wo + ul * D * D;
        else if (strcmp(what, "ffn_norm.weight") == 0)
            t[i].src = o_ffn + ul * D;
        else if (strcmp(what, "ffn_gate.weight") == 0)
            t[i].src = o_w1 + ul * D * F;
        else if (strcmp(what, "ffn_down.weight") == 0)
            t[i].src = o_w2 + ul * F * D;
        else if (strcmp(what, "ffn_up.weight") == 0)
            t[i].src = o_w3 + ul * D * F;
    }
    struct l2c c = {(const float *)(const void *)((const char *)map + 28)};
    rc = write_model(&hp, &v, NULL, t, nt, type, l2c_rows, &c, out_path, err, errcap);
out:
    free(t);
    free_vocab(&v);
    munmap(map, (size_t)st.st_size);
    return rc;
}

/* --- synthetic models -------------------------------------------------------------- */

static const struct weft_synth_shape shapes[] = {
    {"test-tiny", 64, 256, 2, 4, 2, 512, 256, 10000.0f, 0, "llama", 0, 0, 0, 0},
    /* A window of 4 positions, so a 9-token test crosses it. */
    {"test-tiny-phi3", 64, 256, 2, 4, 4, 512, 256, 10000.0f, 0, "phi3", 0, 4, 0, 0},
    {"test-tiny-qwen2", 64, 256, 2, 4, 2, 512, 256, 1000000.0f, 1, "qwen2", 0, 0, 0, 0},
    /* Heads of 32 with n_embd 64: n_head * head_dim = 128, as Qwen3's are wider than n_embd. */
    {"test-tiny-qwen3", 64, 256, 2, 4, 2, 512, 256, 1000000.0f, 1, "qwen3", 32, 0, 0, 0},
    /* Soft-capping small enough to bite on random weights. */
    {"test-tiny-gemma2", 64, 256, 2, 4, 2, 512, 256, 10000.0f, 1, "gemma2", 32, 4, 2.0f, 5.0f},
    /* Six layers: the sixth is the global one. */
    {"test-tiny-gemma3", 64, 256, 6, 4, 2, 512, 256, 1000000.0f, 1, "gemma3", 32, 4, 0, 0},
    {"tinyllama-1.1b", 2048, 5632, 22, 32, 4, 32000, 2048, 10000.0f, 0, "llama", 0, 0, 0, 0},
    {"llama-3.2-1b", 2048, 8192, 16, 32, 8, 128256, 8192, 500000.0f, 1, "llama", 0, 0, 0, 0},
    {"llama-2-7b", 4096, 11008, 32, 32, 32, 32000, 4096, 10000.0f, 0, "llama", 0, 0, 0, 0},
    {"qwen2.5-0.5b", 896, 4864, 24, 14, 2, 151936, 32768, 1000000.0f, 1, "qwen2", 0, 0, 0, 0},
    {"qwen3-0.6b", 1024, 3072, 28, 16, 8, 151936, 40960, 1000000.0f, 1, "qwen3", 128, 0, 0, 0},
    {"phi-3.5-mini", 3072, 8192, 32, 32, 32, 32064, 131072, 10000.0f, 0, "phi3", 0, 262144, 0, 0},
    {"gemma-2-2b", 2304, 9216, 26, 8, 4, 256000, 8192, 10000.0f, 1, "gemma2", 256, 4096, 50.0f,
     30.0f},
    {"gemma-3-1b", 1152, 6912, 26, 4, 1, 262144, 32768, 1000000.0f, 1, "gemma3", 256, 512, 0, 0},
};

const struct weft_synth_shape *weft_synth_shape(const char *name)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(shapes[i].name, name) == 0)
            return &shapes[i];
    return NULL;
}

const char *const *weft_synth_shape_names(void)
{
    static const char *const names[] = {"test-tiny",      "test-tiny-qwen2",  "test-tiny-qwen3",
                                        "test-tiny-phi3", "test-tiny-gemma2", "test-tiny-gemma3",
                                        "tinyllama-1.1b", "llama-3.2-1b",     "llama-2-7b",
                                        "qwen2.5-0.5b",   "qwen3-0.6b",       "phi-3.5-mini",
                                        "gemma-2-2b",     "gemma-3-1b",       NULL};
    return names;
}

struct synth {
    uint64_t seed;
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void synth_rows(void *ud, int t_index, const struct tdesc *t, int r0, int n, float *dst)
{
    const struct synth *c = ud;
    if (t->norm == 1) {
        for (int i = 0; i < t->cols; i++)
            dst[i] = 1.0f;
        return;
    }
    if (t->norm > 1) {
        /* Biases in [-0.5, 0.5], varied norms in [0.5, 1.5]: values a
         * pass that skipped or misplaced them would show. */
        uint64_t s = c->seed ^ ((uint64_t)t_index << 40);
        for (int i = 0; i < t->cols; i++) {
            double u = (double)(splitmix(&s) >> 11) * (1.0 / 9007199254740992.0);
            dst[i] = t->norm == 4 ? (float)(1.0 + 3.0 * u)
                                  : (float)(u - 0.5) + (t->norm == 3 ? 1.0f : 0.0f);
        }
        return;
    }
    /* Uniform in [-a, a] with a = sqrt(3 / cols): unit-variance inputs give
     * unit-variance outputs, so deep stacks neither explode nor vanish. */
    float a = sqrtf(3.0f / (float)t->cols);
    for (int r = 0; r < n; r++) {
        uint64_t s = c->seed ^ ((uint64_t)t_index << 40) ^ (uint64_t)(r0 + r);
        for (int i = 0; i < t->cols; i++) {
            double u = (double)(splitmix(&s) >> 11) * (1.0 / 9007199254740992.0);
            dst[(size_t)r * (size_t)t->cols + (size_t)i] = (float)(u * 2.0 - 1.0) * a;
        }
    }
}

/* <unk>, <s>, </s>, the 256 byte pieces, then "▁w<N>" filler pieces. */
static int synth_vocab(int n, struct vocab_data *v)
{
    if (n < 259)
        return WEFT_EINVAL;
    int rc = alloc_vocab(v, n);
    for (int i = 0; rc == 0 && i < n; i++) {
        char t[32];
        int32_t type = WEFT_TOKEN_NORMAL;
        if (i == 0) {
            snprintf(t, sizeof t, "<unk>");
            type = WEFT_TOKEN_UNKNOWN;
        } else if (i <= 2) {
            snprintf(t, sizeof t, "%s", i == 1 ? "<s>" : "</s>");
            type = WEFT_TOKEN_CONTROL;
        } else if (i < 259) {
            snprintf(t, sizeof t, "<0x%02X>", i - 3);
            type = WEFT_TOKEN_BYTE;
        } else {
            snprintf(t, sizeof t, "\xe2\x96\x81w%d", i);
        }
        v->tokens[i] = strdup(t);
        if (v->tokens[i] == NULL)
            rc = WEFT_ENOMEM;
        v->lens[i] = strlen(t);
        v->scores[i] = (float)-i;
        v->types[i] = type;
    }
    return rc;
}

int weft_convert_synth(const struct weft_synth_shape *shape, uint32_t type, uint64_t seed,
                       const char *vocab_path, const char *out_path, char *err, size_t errcap)
{
    if (!weft_type_supported(type))
        return cerr(err, errcap, WEFT_EINVAL, "type %s cannot be written", weft_type_name(type));
    struct vocab_data v = {0};
    struct tdesc *t = NULL;
    struct weft_gguf *vg = NULL;
    int n_vocab = shape->n_vocab, rc;
    if (vocab_path) {
        /* A real vocabulary: its keys as they are, and its size. */
        rc = weft_gguf_open(vocab_path, &vg, err, errcap);
        if (rc < 0)
            return rc;
        uint64_t n;
        const uint8_t *data;
        if (weft_gguf_get_arr(vg, "tokenizer.ggml.tokens", WEFT_GGUF_STRING, &n, &data) < 0 ||
            n == 0 || n > (1u << 22)) {
            weft_gguf_close(vg);
            return cerr(err, errcap, WEFT_EFORMAT, "%s: no usable tokenizer.ggml.tokens",
                        vocab_path);
        }
        n_vocab = (int)n;
    } else {
        rc = synth_vocab(n_vocab, &v);
        if (rc < 0) {
            free_vocab(&v);
            return cerr(err, errcap, rc, "cannot build the synthetic vocabulary");
        }
    }
    struct hparams hp = {
        shape->name,         shape->n_embd, shape->n_ff,     shape->n_layer,   shape->n_head,
        shape->n_head_kv,    n_vocab,       shape->n_ctx,    shape->rope_base, 1e-5f,
        shape->tied,         shape->arch,   shape->head_dim, shape->n_swa,     shape->attn_softcap,
        shape->final_softcap};
    int nt = make_tensors(&hp, &t);
    if (nt < 0) {
        rc = nt;
    } else {
        struct synth c = {seed};
        rc = write_model(&hp, &v, vg, t, nt, type, synth_rows, &c, out_path, err, errcap);
    }
    free(t);
    free_vocab(&v);
    weft_gguf_close(vg);
    return rc;
}
