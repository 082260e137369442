/* Vocabulary loading, SentencePiece-style and GPT-2 BPE tokenization, and
 * streaming detokenization. The merge orders follow llama.cpp's so that the
 * ids are identical on the same GGUF (checked against its test vectors). */
#include "weft/vocab.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pretok.h"
#include "unicode.h"
#include "weft/error.h"
#include "weft/gguf.h"

/* Bounds on what a vocab file may ask of us. */
#define MAX_VOCAB       (1 << 22)
#define MAX_TOKEN_BYTES WEFT_DETOK_MAX

struct weft_vocab {
    enum weft_vocab_kind kind;
    int n;
    char *arena;   /* all token texts, NUL-separated */
    uint32_t *off; /* text of token i: arena + off[i] */
    uint32_t *len; /* its length */
    float *score;
    int32_t *type;
    /* text -> id, open addressing; -1 empty */
    int32_t *slots;
    uint32_t n_slots;
    /* BPE merges: (left id, right id) -> rank, open addressing */
    uint64_t *mkeys;
    int32_t *mrank;
    uint32_t n_mslots;
    int32_t byte_token[256]; /* SPM <0xXX> pieces; BPE single-byte tokens */
    uint32_t byte_cp[256];   /* GPT-2 byte -> code point */
    int16_t cp_byte[512];    /* and back; -1 for code points no byte maps to */
    int32_t bos, eos, unk;
    bool add_bos, add_space_prefix;
    struct weft_pretok *pre; /* BPE: how text is cut into words */
    /* Control, user-defined and unknown tokens with text, longest first
     * (ties by id): the order llama.cpp cuts them out of text in. */
    int32_t *special;
    int n_special;
    /* Tokens that end generation: eos, eot, eom and the end-of-turn
     * markers found by text, as llama.cpp finds them. */
    int32_t eog[WEFT_VOCAB_MAX_EOG];
    int n_eog;
};

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

/* The id of the piece s[0..n), or WEFT_ENOENT. */
static int32_t lookup(const struct weft_vocab *v, const char *s, size_t n)
{
    for (uint32_t j = (uint32_t)fnv(s, n) & (v->n_slots - 1);; j = (j + 1) & (v->n_slots - 1)) {
        int32_t id = v->slots[j];
        if (id < 0)
            return WEFT_ENOENT;
        if (v->len[id] == n && memcmp(v->arena + v->off[id], s, n) == 0)
            return id;
    }
}

static uint64_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

/* The rank of the merge a + b, or WEFT_ENOENT when there is none. */
static int32_t merge_rank(const struct weft_vocab *v, int32_t a, int32_t b)
{
    if (v->n_mslots == 0 || a < 0 || b < 0)
        return WEFT_ENOENT;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    for (uint32_t j = (uint32_t)mix(key) & (v->n_mslots - 1);; j = (j + 1) & (v->n_mslots - 1)) {
        if (v->mrank[j] < 0)
            return WEFT_ENOENT;
        if (v->mkeys[j] == key)
            return v->mrank[j];
    }
}

void weft_vocab_free(struct weft_vocab *v)
{
    if (v == NULL)
        return;
    free(v->arena);
    free(v->off);
    free(v->len);
    free(v->score);
    free(v->type);
    free(v->slots);
    free(v->mkeys);
    free(v->mrank);
    weft_pretok_free(v->pre);
    free(v->special);
    free(v);
}

/* The GPT-2 byte <-> code point table: printable Latin-1 bytes stand for
 * themselves, the other 68 bytes move to U+0100 and up. */
static void init_byte_map(struct weft_vocab *v)
{
    uint32_t n = 0;
    for (int i = 0; i < 512; i++)
        v->cp_byte[i] = -1;
    for (uint32_t b = 0; b < 256; b++) {
        bool keep = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        v->byte_cp[b] = keep ? b : 256 + n++;
        v->cp_byte[v->byte_cp[b]] = (int16_t)b;
    }
}

static int load_err(char *err, size_t errcap, int code, const char *name, const char *what)
{
    snprintf(err, errcap, "%s: %s", name, what);
    return code;
}

/* The end-of-turn markers llama.cpp recognises by text (c392e509), for
 * files whose keys name only eos. They are control tokens whatever the
 * file says, so content can never spell one. */
static const char *const eog_texts[] = {"<|eot_id|>",    "<|im_end|>", "<|end|>", "<end_of_turn>",
                                        "<|endoftext|>", "<|eom_id|>", "<EOT>"};

static void add_eog(struct weft_vocab *v, int32_t id)
{
    if (id < 0 || id >= v->n)
        return;
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id)
            return;
    if (v->n_eog < WEFT_VOCAB_MAX_EOG)
        v->eog[v->n_eog++] = id;
}

static void find_eog(struct weft_vocab *v, const struct weft_gguf *g)
{
    for (size_t k = 0; k < sizeof eog_texts / sizeof eog_texts[0]; k++) {
        int32_t id = lookup(v, eog_texts[k], strlen(eog_texts[k]));
        if (id >= 0) {
            add_eog(v, id);
            v->type[id] = WEFT_TOKEN_CONTROL;
        }
    }
    static const char *const keys[] = {"tokenizer.ggml.eot_token_id",
                                       "tokenizer.ggml.eom_token_id"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        uint32_t id;
        if (weft_gguf_get_u32(g, keys[k], &id) == 0)
            add_eog(v, (int32_t)id);
    }
    /* DeepSeek's end of sentence is its end of turn. */
    static const char ds_end[] = "<\xef\xbd\x9c" /* fullwidth bar */ "end\xe2\x96\x81of\xe2\x96\x81"
                                 "sentence\xef\xbd\x9c>";
    int32_t ds = lookup(v, ds_end, sizeof ds_end - 1);
    if (ds >= 0)
        add_eog(v, ds);
    add_eog(v, v->eos);
}

static bool is_special_type(int type)
{
    return type == WEFT_TOKEN_CONTROL || type == WEFT_TOKEN_USER_DEFINED ||
           type == WEFT_TOKEN_UNKNOWN;
}

/* Longest text first, then lower id: a stable order for equal lengths. */
static bool special_before(const struct weft_vocab *v, int32_t x, int32_t y)
{
    return v->len[x] != v->len[y] ? v->len[x] > v->len[y] : x < y;
}

/* Sorts a[0..n) with tmp[0..n) as scratch (a merge sort: qsort has no
 * context argument, and the order needs the vocab). */
static void sort_special(const struct weft_vocab *v, int32_t *a, int32_t *tmp, int n)
{
    if (n < 2)
        return;
    int h = n / 2;
    sort_special(v, a, tmp, h);
    sort_special(v, a + h, tmp, n - h);
    int i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = special_before(v, a[j], a[i]) ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof *a);
}

static int collect_special(struct weft_vocab *v)
{
    int n = 0;
    for (int i = 0; i < v->n; i++)
        n += is_special_type(v->type[i]) && v->len[i] > 0;
    v->special = malloc((size_t)(n ? n : 1) * sizeof *v->special);
    int32_t *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!v->special || !tmp) {
        free(tmp);
        return WEFT_ENOMEM;
    }
    for (int i = 0; i < v->n; i++)
        if (is_special_type(v->type[i]) && v->len[i] > 0)
            v->special[v->n_special++] = i;
    sort_special(v, v->special, tmp, v->n_special);
    free(tmp);
    return 0;
}

static int build_merges(struct weft_vocab *v, const struct weft_gguf *g, const char *name,
                        char *err, size_t errcap)
{
    uint64_t n;
    const uint8_t *data;
    if (weft_gguf_get_arr(g, "tokenizer.ggml.merges", WEFT_GGUF_STRING, &n, &data) < 0)
        return load_err(err, errcap, WEFT_EFORMAT, name,
                        "tokenizer.ggml.merges: missing or not a string array (BPE needs it)");
    if (n > MAX_VOCAB)
        return load_err(err, errcap, WEFT_EFORMAT, name, "tokenizer.ggml.merges: too many merges");
    struct weft_str *m = malloc((n ? n : 1) * sizeof *m);
    if (m == NULL)
        return WEFT_ENOMEM;
    weft_gguf_arr_strings(data, n, m);
    v->n_mslots = 16;
    while (v->n_mslots < n * 2)
        v->n_mslots *= 2;
    v->mkeys = malloc(v->n_mslots * sizeof *v->mkeys);
    v->mrank = malloc(v->n_mslots * sizeof *v->mrank);
    if (!v->mkeys || !v->mrank) {
        free(m);
        return WEFT_ENOMEM;
    }
    for (uint32_t j = 0; j < v->n_mslots; j++)
        v->mrank[j] = -1;
    for (uint64_t i = 0; i < n; i++) {
        /* "left right": split at the first space that is not the first
         * character, as llama.cpp does. */
        const char *s = m[i].p;
        size_t len = (size_t)m[i].n, sp = 0;
        for (size_t k = 1; k < len; k++) {
            if (s[k] == ' ') {
                sp = k;
                break;
            }
        }
        if (sp == 0) {
            free(m);
            char what[96];
            snprintf(what, sizeof what, "tokenizer.ggml.merges[%llu]: no space in the merge",
                     (unsigned long long)i);
            return load_err(err, errcap, WEFT_EFORMAT, name, what);
        }
        int32_t a = lookup(v, s, sp), b = lookup(v, s + sp + 1, len - sp - 1);
        if (a < 0 || b < 0)
            continue; /* a merge of pieces the vocab lacks can never apply */
        uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
        for (uint32_t j = (uint32_t)mix(key) & (v->n_mslots - 1);;
             j = (j + 1) & (v->n_mslots - 1)) {
            if (v->mrank[j] < 0) {
                v->mkeys[j] = key;
                v->mrank[j] = (int32_t)i;
                break;
            }
            if (v->mkeys[j] == key)
                break; /* the first (best) rank wins */
        }
    }
    free(m);
    return 0;
}

int weft_vocab_load(const struct weft_gguf *g, const char *name, struct weft_vocab **out, char *err,
                    size_t errcap)
{
    if (errcap)
        err[0] = '\0';
    struct weft_str model;
    if (weft_gguf_get_str(g, "tokenizer.ggml.model", &model) < 0)
        return load_err(err, errcap, WEFT_EFORMAT, name,
                        "tokenizer.ggml.model: missing or not a string");
    enum weft_vocab_kind kind;
    struct weft_pretok *pre = NULL;
    if (weft_str_eq(model, "llama")) {
        kind = WEFT_VOCAB_SPM;
    } else if (weft_str_eq(model, "gpt2")) {
        kind = WEFT_VOCAB_BPE;
        /* No pre-tokenizer named: llama.cpp's "default" list. */
        struct weft_str pn = {"default", 7};
        weft_gguf_get_str(g, "tokenizer.ggml.pre", &pn);
        char why[320];
        int rc = weft_pretok_new(pn.p, (size_t)pn.n, &pre, why, sizeof why);
        if (rc < 0) {
            char what[360];
            snprintf(what, sizeof what, "tokenizer.ggml.pre: %s",
                     rc == WEFT_ENOMEM ? "out of memory" : why);
            return load_err(err, errcap, rc, name, what);
        }
    } else {
        char what[160], shown[48];
        snprintf(what, sizeof what,
                 "tokenizer.ggml.model: '%s' is not supported (llama and gpt2 are)",
                 weft_str_printable(model, shown, sizeof shown));
        return load_err(err, errcap, WEFT_ENOTSUP, name, what);
    }

    uint64_t n;
    const uint8_t *data;
    if (weft_gguf_get_arr(g, "tokenizer.ggml.tokens", WEFT_GGUF_STRING, &n, &data) < 0) {
        weft_pretok_free(pre);
        return load_err(err, errcap, WEFT_EFORMAT, name,
                        "tokenizer.ggml.tokens: missing or not a string array");
    }
    if (n == 0 || n > MAX_VOCAB) {
        weft_pretok_free(pre);
        return load_err(err, errcap, WEFT_EFORMAT, name,
                        "tokenizer.ggml.tokens: vocabulary size out of range");
    }

    struct weft_vocab *v = calloc(1, sizeof *v);
    if (v == NULL) {
        weft_pretok_free(pre);
        return WEFT_ENOMEM;
    }
    v->kind = kind;
    v->pre = pre;
    v->n = (int)n;
    struct weft_str *views = malloc(n * sizeof *views);
    v->off = malloc(n * sizeof *v->off);
    v->len = malloc(n * sizeof *v->len);
    v->score = calloc(n, sizeof *v->score);
    v->type = malloc(n * sizeof *v->type);
    int rc = WEFT_ENOMEM;
    if (!views || !v->off || !v->len || !v->score || !v->type)
        goto fail;
    weft_gguf_arr_strings(data, n, views);
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (views[i].n > MAX_TOKEN_BYTES) {
            char what[96];
            snprintf(what, sizeof what, "tokenizer.ggml.tokens[%llu]: longer than %d bytes",
                     (unsigned long long)i, MAX_TOKEN_BYTES);
            rc = load_err(err, errcap, WEFT_EFORMAT, name, what);
            goto fail;
        }
        total += views[i].n + 1;
    }
    v->arena = malloc((size_t)total);
    if (v->arena == NULL)
        goto fail;
    uint64_t o = 0;
    for (uint64_t i = 0; i < n; i++) {
        memcpy(v->arena + o, views[i].p, (size_t)views[i].n);
        v->arena[o + views[i].n] = '\0';
        v->off[i] = (uint32_t)o;
        v->len[i] = (uint32_t)views[i].n;
        v->type[i] = WEFT_TOKEN_NORMAL;
        o += views[i].n + 1;
    }

    uint64_t m;
    const uint8_t *d;
    if (weft_gguf_get_arr(g, "tokenizer.ggml.scores", WEFT_GGUF_F32, &m, &d) == 0) {
        if (m != n) {
            rc = load_err(err, errcap, WEFT_EFORMAT, name,
                          "tokenizer.ggml.scores: length differs from tokenizer.ggml.tokens");
            goto fail;
        }
        memcpy(v->score, d, n * sizeof(float));
    }
    if (weft_gguf_get_arr(g, "tokenizer.ggml.token_type", WEFT_GGUF_I32, &m, &d) == 0) {
        if (m != n) {
            rc = load_err(err, errcap, WEFT_EFORMAT, name,
                          "tokenizer.ggml.token_type: length differs from tokenizer.ggml.tokens");
            goto fail;
        }
        memcpy(v->type, d, n * sizeof(int32_t));
    }

    v->n_slots = 16;
    while (v->n_slots < n * 2)
        v->n_slots *= 2;
    v->slots = malloc(v->n_slots * sizeof *v->slots);
    if (v->slots == NULL)
        goto fail;
    for (uint32_t j = 0; j < v->n_slots; j++)
        v->slots[j] = -1;
    for (uint64_t i = 0; i < n; i++) {
        const char *s = v->arena + v->off[i];
        for (uint32_t j = (uint32_t)fnv(s, v->len[i]) & (v->n_slots - 1);;
             j = (j + 1) & (v->n_slots - 1)) {
            int32_t id = v->slots[j];
            if (id < 0) {
                v->slots[j] = (int32_t)i;
                break;
            }
            /* Duplicate texts: the first id keeps the text, as in llama.cpp
             * where later duplicates do not replace the map entry. */
            if (v->len[id] == v->len[i] && memcmp(v->arena + v->off[id], s, v->len[i]) == 0)
                break;
        }
    }

    init_byte_map(v);
    for (int b = 0; b < 256; b++) {
        char t[8];
        size_t tl;
        if (kind == WEFT_VOCAB_SPM) {
            tl = (size_t)snprintf(t, sizeof t, "<0x%02X>", b);
        } else {
            tl = weft_utf8_encode(v->byte_cp[b], t);
        }
        v->byte_token[b] = lookup(v, t, tl);
    }

    if (kind == WEFT_VOCAB_BPE) {
        rc = build_merges(v, g, name, err, errcap);
        if (rc < 0)
            goto fail;
    }

    v->bos = kind == WEFT_VOCAB_SPM ? 1 : -1;
    v->eos = kind == WEFT_VOCAB_SPM ? 2 : -1;
    v->unk = kind == WEFT_VOCAB_SPM ? 0 : -1;
    uint32_t id;
    if (weft_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &id) == 0)
        v->bos = (int32_t)id;
    if (weft_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &id) == 0)
        v->eos = (int32_t)id;
    if (weft_gguf_get_u32(g, "tokenizer.ggml.unknown_token_id", &id) == 0)
        v->unk = (int32_t)id;
    if (v->bos >= v->n || v->eos >= v->n || v->unk >= v->n) {
        rc = load_err(err, errcap, WEFT_EFORMAT, name,
                      "tokenizer.ggml.*_token_id: a special token id is past the vocabulary");
        goto fail;
    }
    find_eog(v, g);
    rc = collect_special(v);
    if (rc < 0)
        goto fail;
    v->add_bos = kind == WEFT_VOCAB_SPM || (pre && weft_pretok_adds_bos(pre));
    v->add_space_prefix = kind == WEFT_VOCAB_SPM;
    weft_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &v->add_bos);
    weft_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix);

    free(views);
    *out = v;
    return 0;
fail:
    if (rc == WEFT_ENOMEM && errcap && err[0] == '\0')
        snprintf(err, errcap, "%s: out of memory loading the vocabulary", name);
    free(views);
    weft_vocab_free(v);
    return rc;
}

enum weft_vocab_kind weft_vocab_kind(const struct weft_vocab *v)
{
    return v->kind;
}

int weft_vocab_size(const struct weft_vocab *v)
{
    return v->n;
}

int32_t weft_vocab_bos(const struct weft_vocab *v)
{
    return v->bos;
}

int32_t weft_vocab_eos(const struct weft_vocab *v)
{
    return v->eos;
}

bool weft_vocab_is_eog(const struct weft_vocab *v, int32_t id)
{
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id)
            return true;
    return false;
}

int weft_vocab_eog(const struct weft_vocab *v, int32_t *out, int cap)
{
    for (int i = 0; i < v->n_eog && i < cap; i++)
        out[i] = v->eog[i];
    return v->n_eog;
}

int weft_vocab_adds_bos(const struct weft_vocab *v)
{
    return v->add_bos && v->bos >= 0;
}

int weft_vocab_token_type(const struct weft_vocab *v, int32_t id)
{
    if (id < 0 || id >= v->n)
        return WEFT_EINVAL;
    return v->type[id];
}

/* --- shared machinery: output ids, symbols, a binary heap ---------------- */

struct ids {
    int32_t *out;
    size_t cap, n;
};

static void emit(struct ids *o, int32_t id)
{
    if (o->n < o->cap)
        o->out[o->n] = id;
    o->n++;
}

/* A symbol is a span of the text being merged; merged-away symbols have
 * n == 0. prev/next link the survivors. */
struct sym {
    const char *text;
    int32_t n;
    int32_t prev, next;
    int32_t id; /* BPE: token id of the span, -1 if none */
};

struct bigram {
    int32_t left, right;
    float score; /* SPM: higher first; BPE: rank, lower first */
    int32_t size;
};

struct heap {
    struct bigram *b;
    size_t n, cap;
    int bpe;
};

/* True when x should pop before y. Ties go to the leftmost pair. */
static bool before(const struct heap *h, const struct bigram *x, const struct bigram *y)
{
    if (x->score != y->score)
        return h->bpe ? x->score < y->score : x->score > y->score;
    return x->left < y->left;
}

static int heap_push(struct heap *h, struct bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct bigram *nb = realloc(h->b, cap * sizeof *nb);
        if (nb == NULL)
            return WEFT_ENOMEM;
        h->b = nb;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->b[i] = b;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(h, &h->b[i], &h->b[p]))
            break;
        struct bigram t = h->b[p];
        h->b[p] = h->b[i];
        h->b[i] = t;
        i = p;
    }
    return 0;
}

static struct bigram heap_pop(struct heap *h)
{
    struct bigram top = h->b[0];
    h->b[0] = h->b[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && before(h, &h->b[l], &h->b[m]))
            m = l;
        if (r < h->n && before(h, &h->b[r], &h->b[m]))
            m = r;
        if (m == i)
            break;
        struct bigram t = h->b[m];
        h->b[m] = h->b[i];
        h->b[i] = t;
        i = m;
    }
    return top;
}

/* Splits text into one symbol per UTF-8 character (ggml's length rule). */
static int make_symbols(const char *text, size_t len, struct sym **out, int32_t *count)
{
    struct sym *s = malloc((len ? len : 1) * sizeof *s);
    if (s == NULL)
        return WEFT_ENOMEM;
    int32_t n = 0;
    for (size_t off = 0; off < len;) {
        size_t cl = weft_utf8_len((unsigned char)text[off]);
        if (cl > len - off)
            cl = len - off;
        s[n] = (struct sym){text + off, (int32_t)cl, n - 1, n + 1, -1};
        off += cl;
        n++;
    }
    if (n > 0)
        s[n - 1].next = -1;
    *out = s;
    *count = n;
    return 0;
}

/* --- SentencePiece-style ------------------------------------------------------ */

static int spm_try_bigram(const struct weft_vocab *v, struct heap *h, const struct sym *s,
                          int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return 0;
    /* Adjacent symbols are contiguous in the text, so their union is a
     * plain span. */
    size_t n = (size_t)(s[left].n + s[right].n);
    int32_t id = lookup(v, s[left].text, n);
    if (id < 0)
        return 0;
    return heap_push(h, (struct bigram){left, right, v->score[id], (int32_t)n});
}

static int bpe_try_bigram(const struct weft_vocab *v, struct heap *h, const struct sym *s,
                          int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return 0;
    int32_t rank = merge_rank(v, s[left].id, s[right].id);
    if (rank < 0)
        return 0;
    return heap_push(h, (struct bigram){left, right, (float)rank, s[left].n + s[right].n});
}

/* Merges adjacent symbols, best pair first, until no adjacent pair is in
 * the vocabulary (SPM: highest score first) or in the merge list (BPE:
 * lowest rank first). Merged-away symbols keep n == 0. */
static int merge_symbols(const struct weft_vocab *v, struct sym *s, int32_t ns, int bpe)
{
    int (*try_pair)(const struct weft_vocab *, struct heap *, const struct sym *, int32_t,
                    int32_t) = bpe ? bpe_try_bigram : spm_try_bigram;
    struct heap h = {.bpe = bpe};
    int rc = 0;
    for (int32_t i = 1; i < ns && rc == 0; i++)
        rc = try_pair(v, &h, s, i - 1, i);
    while (rc == 0 && h.n > 0) {
        struct bigram b = heap_pop(&h);
        struct sym *l = &s[b.left], *r = &s[b.right];
        /* Stale entries: one side was merged away or grew since. */
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        if (bpe)
            l->id = lookup(v, l->text, (size_t)l->n);
        l->next = r->next;
        if (r->next >= 0)
            s[r->next].prev = b.left;
        rc = try_pair(v, &h, s, l->prev, b.left);
        if (rc == 0)
            rc = try_pair(v, &h, s, b.left, l->next);
    }
    free(h.b);
    return rc;
}

static int spm_tokenize(const struct weft_vocab *v, const char *text, size_t len, bool prefix,
                        struct ids *o)
{
    /* The text SentencePiece sees: a leading space when asked for one, and
     * every space replaced by U+2581 (3 bytes). */
    size_t spaces = prefix ? 1 : 0;
    for (size_t i = 0; i < len; i++)
        spaces += text[i] == ' ';
    size_t n = len + (prefix ? 1 : 0) + spaces * 2;
    char *t = malloc(n ? n : 1);
    if (t == NULL)
        return WEFT_ENOMEM;
    size_t k = 0;
    if (prefix) {
        memcpy(t, "\xe2\x96\x81", 3);
        k = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(t + k, "\xe2\x96\x81", 3);
            k += 3;
        } else {
            t[k++] = text[i];
        }
    }

    struct sym *s;
    int32_t ns;
    int rc = make_symbols(t, k, &s, &ns);
    if (rc < 0) {
        free(t);
        return rc;
    }
    rc = merge_symbols(v, s, ns, 0);
    for (int32_t i = 0; rc == 0 && ns > 0 && i != -1; i = s[i].next) {
        int32_t id = lookup(v, s[i].text, (size_t)s[i].n);
        if (id >= 0) {
            emit(o, id);
            continue;
        }
        /* No piece for this character: its bytes, or <unk> without them. */
        for (int32_t j = 0; j < s[i].n; j++) {
            int32_t bt = v->byte_token[(unsigned char)s[i].text[j]];
            emit(o, bt >= 0 ? bt : v->unk);
        }
    }
    free(s);
    free(t);
    return rc;
}

/* --- GPT-2 byte-level BPE ------------------------------------------------------- */

/* Code points of the text with their byte spans, for the pre-tokenizer. */
struct cps {
    uint32_t *cp;
    uint32_t *off; /* byte offset of cp[i]; off[n] = len */
    size_t n;
};

static int decode_all(const char *text, size_t len, struct cps *c)
{
    c->cp = malloc((len + 1) * sizeof *c->cp);
    c->off = malloc((len + 1) * sizeof *c->off);
    if (!c->cp || !c->off)
        return WEFT_ENOMEM;
    c->n = 0;
    for (size_t i = 0; i < len;) {
        size_t l;
        uint32_t cp = weft_utf8_decode((const unsigned char *)text + i, len - i, &l);
        c->cp[c->n] = cp;
        c->off[c->n] = (uint32_t)i;
        c->n++;
        i += l;
    }
    c->off[c->n] = (uint32_t)len;
    return 0;
}

static int bpe_word(const struct weft_vocab *v, const char *word, size_t wlen, struct ids *o)
{
    /* Map bytes to GPT-2's printable code points, then merge. */
    char *t = malloc(wlen * 2 + 1);
    if (t == NULL)
        return WEFT_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < wlen; i++)
        k += weft_utf8_encode(v->byte_cp[(unsigned char)word[i]], t + k);
    /* Llama 3 and Tekken take a word that is itself a token whole, even
     * when the merges would not build it. */
    if (weft_pretok_ignore_merges(v->pre)) {
        int32_t id = lookup(v, t, k);
        if (id >= 0) {
            emit(o, id);
            free(t);
            return 0;
        }
    }
    struct sym *s;
    int32_t ns;
    int rc = make_symbols(t, k, &s, &ns);
    if (rc < 0) {
        free(t);
        return rc;
    }
    for (int32_t i = 0; i < ns; i++)
        s[i].id = lookup(v, s[i].text, (size_t)s[i].n);
    rc = merge_symbols(v, s, ns, 1);
    for (int32_t i = 0; rc == 0 && ns > 0 && i != -1; i = s[i].next) {
        if (s[i].id >= 0) {
            emit(o, s[i].id);
            continue;
        }
        /* A span the vocab lacks: one token per mapped byte character. */
        for (int32_t j = 0; j < s[i].n;) {
            size_t cl = weft_utf8_len((unsigned char)s[i].text[j]);
            int32_t id = lookup(v, s[i].text + j, cl);
            if (id >= 0)
                emit(o, id);
            j += (int32_t)cl;
        }
    }
    free(s);
    free(t);
    return rc;
}

static int bpe_tokenize(const struct weft_vocab *v, const char *text, size_t len, struct ids *o)
{
    struct cps c = {0};
    int rc = decode_all(text, len, &c);
    size_t *bounds = NULL, nb = 0;
    if (rc == 0) {
        struct weft_cps view = {text, c.cp, c.off, c.n};
        rc = weft_pretok_split(v->pre, &view, &bounds, &nb);
    }
    for (size_t k = 0; rc == 0 && k < nb; k++) {
        const char *w = text + c.off[bounds[k]];
        size_t wl = c.off[bounds[k + 1]] - c.off[bounds[k]];
        rc = bpe_word(v, w, wl, o);
    }
    free(bounds);
    free(c.cp);
    free(c.off);
    return rc;
}

/* A span of the text to tokenize: raw text, or a special token cut out. */
struct frag {
    size_t start, len;
    int32_t id; /* -1: raw */
};

static int push_frag(struct frag **f, size_t *n, size_t *cap, struct frag x)
{
    if (x.id < 0 && x.len == 0)
        return 0;
    if (*n == *cap) {
        size_t nc = *cap * 2;
        struct frag *nf = realloc(*f, nc * sizeof *nf);
        if (nf == NULL)
            return WEFT_ENOMEM;
        *f = nf;
        *cap = nc;
    }
    (*f)[(*n)++] = x;
    return 0;
}

/* Cuts the special tokens out of text, longest first, each one out of
 * every raw span left by the ones before it (as llama.cpp's
 * tokenizer_st_partition does). User-defined tokens are always cut, as
 * they are in llama.cpp and Hugging Face tokenizers; control and unknown
 * tokens only when `control`. */
/* Whether [at, at + n) lies inside one of the markup spans. */
static bool in_markup(const struct weft_spans *mk, size_t at, size_t n)
{
    for (size_t i = 0; mk && i < mk->n; i++)
        if (mk->r[i][0] <= at && at + n <= mk->r[i][1])
            return true;
    return false;
}

static int partition(const struct weft_vocab *v, const char *text, size_t len,
                     const struct weft_spans *mk, struct frag **out, size_t *nout)
{
    bool control = mk && mk->n > 0;
    size_t n = 0, cap = 8, n2 = 0, cap2 = 8;
    struct frag *f = malloc(cap * sizeof *f), *g = malloc(cap2 * sizeof *g);
    int rc = f && g ? push_frag(&f, &n, &cap, (struct frag){0, len, -1}) : WEFT_ENOMEM;
    for (int s = 0; rc == 0 && s < v->n_special; s++) {
        int32_t id = v->special[s];
        if (!control && v->type[id] != WEFT_TOKEN_USER_DEFINED)
            continue;
        const char *tt = v->arena + v->off[id];
        size_t tl = v->len[id];
        n2 = 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (f[i].id >= 0 || f[i].len < tl) {
                rc = push_frag(&g, &n2, &cap2, f[i]);
                continue;
            }
            size_t at = f[i].start, end = f[i].start + f[i].len;
            const char *p;
            size_t from = at; /* where the search goes on; at: the raw span's start */
            while (rc == 0 && (p = memmem(text + from, end - from, tt, tl)) != NULL) {
                size_t m = (size_t)(p - text);
                /* A control token counts only where markup spells it. */
                if (v->type[id] != WEFT_TOKEN_USER_DEFINED && !in_markup(mk, m, tl)) {
                    from = m + 1;
                    continue;
                }
                rc = push_frag(&g, &n2, &cap2, (struct frag){at, m - at, -1});
                if (rc == 0)
                    rc = push_frag(&g, &n2, &cap2, (struct frag){m, tl, id});
                at = from = m + tl;
            }
            if (rc == 0)
                rc = push_frag(&g, &n2, &cap2, (struct frag){at, end - at, -1});
        }
        struct frag *t = f;
        size_t tc = cap;
        f = g;
        cap = cap2;
        n = n2;
        g = t;
        cap2 = tc;
    }
    free(g);
    if (rc < 0) {
        free(f);
        return rc;
    }
    *out = f;
    *nout = n;
    return 0;
}

static int tokenize(const struct weft_vocab *v, const char *text, size_t len, int add_bos,
                    const struct weft_spans *mk, int32_t *out, size_t cap)
{
    if (len > INT32_MAX / 4)
        return WEFT_E2BIG;
    struct ids o = {out, cap, 0};
    if (add_bos && v->bos >= 0)
        emit(&o, v->bos);
    if (len == 0)
        return (int)o.n;
    struct frag *f = NULL;
    size_t nf = 0;
    int rc = partition(v, text, len, mk, &f, &nf);
    /* SentencePiece: a space before the first raw span and before each one
     * that follows a special token, as llama.cpp adds it. */
    bool prev_special = true;
    for (size_t i = 0; rc == 0 && i < nf; i++) {
        if (f[i].id >= 0) {
            emit(&o, f[i].id);
            prev_special = true;
            continue;
        }
        const char *t = text + f[i].start;
        rc = v->kind == WEFT_VOCAB_SPM
                 ? spm_tokenize(v, t, f[i].len, v->add_space_prefix && prev_special, &o)
                 : bpe_tokenize(v, t, f[i].len, &o);
        prev_special = false;
    }
    free(f);
    return rc < 0 ? rc : (int)o.n;
}

int weft_tokenize(const struct weft_vocab *v, const char *text, size_t len, int add_bos,
                  int32_t *out, size_t cap)
{
    return tokenize(v, text, len, add_bos, NULL, out, cap);
}

int weft_tokenize_markup(const struct weft_vocab *v, const char *text, size_t len, int add_bos,
                         int32_t *out, size_t cap)
{
    uint32_t all[1][2] = {{0, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len}};
    struct weft_spans mk = {all, 1};
    return tokenize(v, text, len, add_bos, &mk, out, cap);
}

int weft_tokenize_spans(const struct weft_vocab *v, const char *text, size_t len, int add_bos,
                        const struct weft_spans *markup, int32_t *out, size_t cap)
{
    return tokenize(v, text, len, add_bos, markup, out, cap);
}

/* --- detokenization ----------------------------------------------------------------- */

int weft_token_bytes(const struct weft_vocab *v, int32_t id, char *out, size_t cap)
{
    if (id < 0 || id >= v->n)
        return WEFT_EINVAL;
    int type = v->type[id];
    if (type == WEFT_TOKEN_CONTROL || type == WEFT_TOKEN_UNUSED)
        return 0;
    const char *s = v->arena + v->off[id];
    size_t n = v->len[id], o = 0;
    if (v->kind == WEFT_VOCAB_SPM) {
        unsigned int b;
        if (type == WEFT_TOKEN_BYTE && n == 6 && sscanf(s, "<0x%2X>", &b) == 1) {
            if (cap > 0)
                out[0] = (char)b;
            return 1;
        }
        for (size_t i = 0; i < n;) {
            if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                if (o < cap)
                    out[o] = ' ';
                o++;
                i += 3;
            } else {
                if (o < cap)
                    out[o] = s[i];
                o++;
                i++;
            }
        }
        return (int)(o < cap ? o : cap);
    }
    /* BPE: every character of the token is one mapped byte. */
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t cp = weft_utf8_decode((const unsigned char *)s + i, n - i, &l);
        i += l;
        int byte = cp < 512 ? v->cp_byte[cp] : -1;
        if (byte < 0)
            continue; /* not a byte-level character: nothing to emit */
        if (o < cap)
            out[o] = (char)byte;
        o++;
    }
    return (int)(o < cap ? o : cap);
}

void weft_detok_init(struct weft_detok *d)
{
    d->n_pending = 0;
    d->at_start = 1;
}

/* Bytes of the longest prefix of s[0..n) that ends on a character
 * boundary, treating bytes that can never start a valid sequence as whole
 * characters so they do not stall the stream. */
static size_t complete_prefix(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80             ? 1
                      : (c & 0xe0) == 0xc0 ? 2
                      : (c & 0xf0) == 0xe0 ? 3
                      : (c & 0xf8) == 0xf0 ? 4
                                           : 1;
        if (i + need > n) {
            /* Incomplete tail: hold it only if what is there continues
             * correctly; garbage goes out now (as U+FFFD). */
            for (size_t k = i + 1; k < n; k++)
                if (((unsigned char)s[k] & 0xc0) != 0x80)
                    return n;
            return i;
        }
        i += need;
    }
    return n;
}

int weft_detok_push(const struct weft_vocab *v, struct weft_detok *d, int32_t id, char *out,
                    size_t cap)
{
    char piece[WEFT_DETOK_MAX + 8];
    if (id < 0 || id >= v->n || cap < WEFT_DETOK_OUT)
        return WEFT_EINVAL;
    if (id == v->bos) {
        d->at_start = 1;
        return 0;
    }
    int n = weft_token_bytes(v, id, piece, WEFT_DETOK_MAX);
    if (n < 0)
        return n;
    const char *p = piece;
    if (d->at_start && n > 0) {
        if (v->kind == WEFT_VOCAB_SPM && v->add_space_prefix && p[0] == ' ') {
            p++;
            n--;
        }
        d->at_start = 0;
    }
    char all[sizeof d->pending + WEFT_DETOK_MAX];
    size_t total = (size_t)d->n_pending;
    memcpy(all, d->pending, total);
    memcpy(all + total, p, (size_t)n);
    total += (size_t)n;
    size_t done = complete_prefix(all, total);
    size_t k = weft_utf8_scrub(all, done, out);
    d->n_pending = (int)(total - done);
    memcpy(d->pending, all + done, (size_t)d->n_pending);
    return (int)k;
}

int weft_detok_flush(struct weft_detok *d, char *out, size_t cap)
{
    if (cap < WEFT_UTF8_SCRUB_CAP(d->n_pending))
        return WEFT_EINVAL;
    size_t k = weft_utf8_scrub(d->pending, (size_t)d->n_pending, out);
    d->n_pending = 0;
    return (int)k;
}
