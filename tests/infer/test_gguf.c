/* GGUF reader: a hand-assembled file with every value type (nested arrays
 * included) reads back exactly; then every kind of damage — truncation at
 * every byte, absurd counts and lengths, bad alignment, overlapping or
 * out-of-bounds tensors, unknown types, wrong shapes — is refused with a
 * message that names what is wrong. Under ASan this also proves no read
 * strays outside the buffer. */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "harness.h"
#include "weft/error.h"
#include "weft/gguf.h"
#include "weft/infer.h"
#include "weft/quant.h"

/* A little byte builder for hand-made files. */
struct gb {
    uint8_t d[8192];
    size_t n;
};

static void put(struct gb *b, const void *p, size_t n)
{
    ASSERT(b->n + n <= sizeof b->d);
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void u8(struct gb *b, uint8_t v)
{
    put(b, &v, 1);
}
static void u32(struct gb *b, uint32_t v)
{
    put(b, &v, 4);
}
static void u64(struct gb *b, uint64_t v)
{
    put(b, &v, 8);
}
static void str(struct gb *b, const char *s)
{
    u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void pad(struct gb *b, size_t align)
{
    while (b->n % align)
        u8(b, 0);
}

/* Knobs for breaking the standard file in one place at a time. */
struct variant {
    uint32_t magic, version, alignment;
    uint64_t n_kv_override, n_tensors_override, str_len_override;
    uint32_t t1_type, t1_dims, bool_value, value_type_override;
    uint64_t t0_ne0, t1_ne0, t1_offset, dup_key, dup_tensor;
};

static struct variant standard(void)
{
    return (struct variant){.magic = 0x46554747u,
                            .version = 3,
                            .alignment = 32,
                            .t1_type = WEFT_TYPE_Q8_0,
                            .t1_dims = 1,
                            .bool_value = 1,
                            .t0_ne0 = 4,
                            .t1_ne0 = 32,
                            .t1_offset = 32};
}

/* Metadata: every scalar type, a string, a string array, a nested array;
 * tensors: "a" F32 [4, 2] at 0 and "b" Q8_0 [32] at 32. */
static void build(struct gb *b, struct variant v)
{
    b->n = 0;
    u32(b, v.magic);
    u32(b, v.version);
    u64(b, v.n_tensors_override ? v.n_tensors_override : 2);
    u64(b, v.n_kv_override ? v.n_kv_override : 17 + (v.dup_key ? 1 : 0));
    str(b, "general.alignment");
    u32(b, WEFT_GGUF_U32);
    u32(b, v.alignment);
    str(b, "k.u8");
    u32(b, v.value_type_override ? v.value_type_override : WEFT_GGUF_U8);
    u8(b, 200);
    str(b, "k.i8");
    u32(b, WEFT_GGUF_I8);
    u8(b, (uint8_t)-5);
    str(b, "k.u16");
    u32(b, WEFT_GGUF_U16);
    u8(b, 0x34);
    u8(b, 0x12);
    str(b, "k.i16");
    u32(b, WEFT_GGUF_I16);
    u8(b, 0xff);
    u8(b, 0xff);
    str(b, "k.u32");
    u32(b, WEFT_GGUF_U32);
    u32(b, 4000000000u);
    str(b, "k.i32");
    u32(b, WEFT_GGUF_I32);
    u32(b, (uint32_t)-70000);
    str(b, "k.f32");
    u32(b, WEFT_GGUF_F32);
    float f = 0.25f;
    put(b, &f, 4);
    str(b, "k.bool");
    u32(b, WEFT_GGUF_BOOL);
    u8(b, (uint8_t)v.bool_value);
    str(b, "k.str");
    u32(b, WEFT_GGUF_STRING);
    if (v.str_len_override) {
        u64(b, v.str_len_override);
        put(b, "hello", 5);
    } else {
        str(b, "hello");
    }
    str(b, "k.u64");
    u32(b, WEFT_GGUF_U64);
    u64(b, 1ull << 40);
    str(b, "k.i64");
    u32(b, WEFT_GGUF_I64);
    u64(b, (uint64_t)-3);
    str(b, "k.f64");
    u32(b, WEFT_GGUF_F64);
    double d = -1.5;
    put(b, &d, 8);
    str(b, "k.strs");
    u32(b, WEFT_GGUF_ARRAY);
    u32(b, WEFT_GGUF_STRING);
    u64(b, 3);
    str(b, "x");
    str(b, "");
    str(b, "zz");
    str(b, "k.f32s");
    u32(b, WEFT_GGUF_ARRAY);
    u32(b, WEFT_GGUF_F32);
    u64(b, 2);
    float fs[2] = {1.5f, -2.0f};
    put(b, fs, 8);
    str(b, "k.nested");
    u32(b, WEFT_GGUF_ARRAY);
    u32(b, WEFT_GGUF_ARRAY);
    u64(b, 2);
    u32(b, WEFT_GGUF_I32);
    u64(b, 1);
    u32(b, 7);
    u32(b, WEFT_GGUF_STRING);
    u64(b, 1);
    str(b, "deep");
    str(b, "k.empty");
    u32(b, WEFT_GGUF_ARRAY);
    u32(b, WEFT_GGUF_U8);
    u64(b, 0);
    if (v.dup_key) {
        str(b, "k.u8");
        u32(b, WEFT_GGUF_U8);
        u8(b, 1);
    }
    /* tensors */
    str(b, "a");
    u32(b, 2);
    u64(b, v.t0_ne0);
    u64(b, 2);
    u32(b, WEFT_TYPE_F32);
    u64(b, 0);
    str(b, v.dup_tensor ? "a" : "b");
    u32(b, v.t1_dims);
    for (uint32_t i = 0; i < v.t1_dims; i++)
        u64(b, i == 0 ? v.t1_ne0 : 1);
    u32(b, v.t1_type);
    u64(b, v.t1_offset);
    pad(b, 32);
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    put(b, a, sizeof a);
    pad(b, 32);
    struct weft_block_q8_0 q = {.d = 0x3c00};
    for (int i = 0; i < 32; i++)
        q.qs[i] = (int8_t)i;
    put(b, &q, sizeof q);
}

static char err[512];

static int parse(const struct gb *b, struct weft_gguf **g)
{
    return weft_gguf_parse(b->d, b->n, "t.gguf", g, err, sizeof err);
}

/* Builds the variant and checks it is refused with `needle` in the message. */
static void refuse(struct variant v, const char *needle)
{
    static struct gb b;
    build(&b, v);
    struct weft_gguf *g = NULL;
    int rc = parse(&b, &g);
    if (rc >= 0)
        TEST_FAIL_("accepted a file that should fail with \"%s\"", needle);
    ASSERT_EQ_INT(rc, WEFT_EFORMAT);
    ASSERT(strncmp(err, "t.gguf: ", 8) == 0);
    ASSERT_CONTAINS(err, needle);
}

TEST(reads_every_value_type_and_nested_arrays)
{
    static struct gb b;
    build(&b, standard());
    struct weft_gguf *g;
    int rc = parse(&b, &g);
    if (rc < 0)
        TEST_FAIL_("%s", err);
    ASSERT_EQ_UINT(g->version, 3);
    ASSERT_EQ_UINT(g->n_kv, 17);
    ASSERT_EQ_UINT(weft_gguf_find(g, "k.u8")->v.u, 200);
    ASSERT_EQ_INT(weft_gguf_find(g, "k.i8")->v.i, -5);
    ASSERT_EQ_UINT(weft_gguf_find(g, "k.u16")->v.u, 0x1234);
    ASSERT_EQ_INT(weft_gguf_find(g, "k.i16")->v.i, -1);
    ASSERT_EQ_UINT(weft_gguf_find(g, "k.u32")->v.u, 4000000000u);
    ASSERT_EQ_INT(weft_gguf_find(g, "k.i32")->v.i, -70000);
    ASSERT(weft_gguf_find(g, "k.f32")->v.f == 0.25);
    ASSERT_EQ_UINT(weft_gguf_find(g, "k.u64")->v.u, 1ull << 40);
    ASSERT_EQ_INT(weft_gguf_find(g, "k.i64")->v.i, -3);
    ASSERT(weft_gguf_find(g, "k.f64")->v.f == -1.5);
    bool bl = false;
    ASSERT_EQ_INT(weft_gguf_get_bool(g, "k.bool", &bl), 0);
    ASSERT(bl);
    struct weft_str s;
    ASSERT_EQ_INT(weft_gguf_get_str(g, "k.str", &s), 0);
    ASSERT(weft_str_eq(s, "hello"));
    uint64_t n;
    const uint8_t *data;
    ASSERT_EQ_INT(weft_gguf_get_arr(g, "k.strs", WEFT_GGUF_STRING, &n, &data), 0);
    ASSERT_EQ_UINT(n, 3);
    struct weft_str v[3];
    weft_gguf_arr_strings(data, n, v);
    ASSERT(weft_str_eq(v[0], "x") && weft_str_eq(v[1], "") && weft_str_eq(v[2], "zz"));
    ASSERT_EQ_INT(weft_gguf_get_arr(g, "k.f32s", WEFT_GGUF_F32, &n, &data), 0);
    float fs[2];
    memcpy(fs, data, sizeof fs);
    ASSERT(fs[0] == 1.5f && fs[1] == -2.0f);
    const struct weft_gguf_kv *nested = weft_gguf_find(g, "k.nested");
    ASSERT_EQ_UINT(nested->v.arr.type, WEFT_GGUF_ARRAY);
    ASSERT_EQ_UINT(nested->v.arr.n, 2);
    /* Typed getters: ranges and kinds are checked. */
    uint32_t u;
    int32_t i;
    float f;
    ASSERT_EQ_INT(weft_gguf_get_u32(g, "k.u16", &u), 0);
    ASSERT_EQ_UINT(u, 0x1234);
    ASSERT_EQ_INT(weft_gguf_get_u32(g, "k.i8", &u), WEFT_EFORMAT);  /* negative */
    ASSERT_EQ_INT(weft_gguf_get_i32(g, "k.u32", &i), WEFT_EFORMAT); /* too big */
    ASSERT_EQ_INT(weft_gguf_get_u32(g, "k.u64", &u), WEFT_EFORMAT);
    ASSERT_EQ_INT(weft_gguf_get_u32(g, "k.str", &u), WEFT_EFORMAT);
    ASSERT_EQ_INT(weft_gguf_get_f32(g, "k.i32", &f), 0);
    ASSERT(f == -70000.0f);
    ASSERT_EQ_INT(weft_gguf_get_u32(g, "absent", &u), WEFT_ENOENT);
    /* Tensors and their data. */
    const struct weft_gguf_tensor *a = weft_gguf_tensor(g, "a"), *t = weft_gguf_tensor(g, "b");
    ASSERT_NOT_NULL(a);
    ASSERT_NOT_NULL(t);
    ASSERT_EQ_UINT(a->ne[0], 4);
    ASSERT_EQ_UINT(a->ne[1], 2);
    ASSERT_EQ_UINT(a->size, 32);
    float av[8];
    memcpy(av, a->data, sizeof av);
    ASSERT(av[7] == 8.0f);
    ASSERT_EQ_UINT(t->size, 34);
    float y[32];
    weft_dequantize_row(t->type, t->data, y, 32);
    ASSERT(y[31] == 31.0f);
    weft_gguf_close(g);
}

TEST(every_truncation_is_refused)
{
    static struct gb b;
    build(&b, standard());
    for (size_t len = 0; len < b.n; len++) {
        /* A fresh heap copy of exactly len bytes, so ASan sees any read
         * past the end. */
        uint8_t *copy = malloc(len ? len : 1);
        ASSERT_NOT_NULL(copy);
        memcpy(copy, b.d, len);
        struct weft_gguf *g = NULL;
        int rc = weft_gguf_parse(copy, len, "t.gguf", &g, err, sizeof err);
        if (rc >= 0)
            TEST_FAIL_("a file cut at %zu of %zu bytes was accepted", len, b.n);
        ASSERT(err[0] != '\0');
        free(copy);
    }
}

TEST(refuses_bad_header)
{
    struct variant v = standard();
    v.magic = 0x46554746u;
    refuse(v, "not a GGUF file");
    v = standard();
    v.version = 1;
    refuse(v, "GGUF version 1 is not supported");
    v.version = 4;
    refuse(v, "GGUF version 4 is not supported");
}

TEST(refuses_absurd_counts_and_lengths)
{
    struct variant v = standard();
    v.n_kv_override = 1ull << 60;
    refuse(v, "metadata count 1152921504606846976 cannot fit");
    v = standard();
    v.n_tensors_override = 1ull << 40;
    refuse(v, "tensor count 1099511627776 cannot fit");
    v = standard();
    v.str_len_override = 1ull << 62;
    refuse(v, "truncated");
    v = standard();
    v.n_kv_override = 18; /* one more than present: runs into the tensor table */
    refuse(v, "t.gguf:");
}

TEST(refuses_bad_values)
{
    struct variant v = standard();
    v.value_type_override = 13;
    refuse(v, "key 'k.u8': unknown value type 13");
    v = standard();
    v.bool_value = 2;
    refuse(v, "key 'k.bool': bool value 2 is neither 0 nor 1");
    v = standard();
    v.alignment = 24;
    refuse(v, "general.alignment' is 24, not a power of two");
    v.alignment = 2; /* half floats read in place would be misaligned */
    refuse(v, "general.alignment' is 2, not a power of two from 8");
    v = standard();
    v.dup_key = 1;
    refuse(v, "key 'k.u8' appears twice");
}

TEST(refuses_bad_tensors)
{
    struct variant v = standard();
    v.t1_type = 16;
    refuse(v, "tensor 'b': type IQ2_XXS (16) is not supported");
    v.t1_type = 77;
    refuse(v, "type unknown (77) is not supported");
    v = standard();
    v.t1_dims = 5;
    refuse(v, "tensor 'b': 5 dimensions (1..4 allowed)");
    v.t1_dims = 0;
    refuse(v, "tensor 'b': 0 dimensions");
    v = standard();
    v.t0_ne0 = 0;
    refuse(v, "tensor 'a': dimension 0 is 0");
    v = standard();
    v.t1_offset = 16;
    refuse(v, "tensor 'b': offset 16 is not a multiple of the alignment 32");
    v.t1_offset = 0;
    refuse(v, "tensors 'a' and 'b' overlap");
    v.t1_offset = 1ull << 50;
    refuse(v, "tensor 'b': data [1125899906842624, +34) lies outside the data section");
    v = standard();
    v.t0_ne0 = 8; /* twice the data: runs into tensor b */
    refuse(v, "overlap");
    v = standard();
    v.dup_tensor = 1;
    refuse(v, "tensor 'a' appears twice");
}

TEST(refuses_rows_that_do_not_fill_blocks)
{
    struct variant v = standard();
    v.t1_ne0 = 31;
    refuse(v, "tensor 'b': row length 31 is not a multiple of the Q8_0 block (32)");
}

TEST(missing_file_and_not_gguf)
{
    struct weft_gguf *g;
    char path[4200];
    snprintf(path, sizeof path, "%s/none.gguf", harness_tmpdir());
    ASSERT_EQ_INT(weft_gguf_open(path, &g, err, sizeof err), WEFT_ENOENT);
    ASSERT_CONTAINS(err, "none.gguf: cannot open: No such file or directory");
    snprintf(path, sizeof path, "%s/text.gguf", harness_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ_INT(write(fd, "hello, world", 12), 12);
    close(fd);
    ASSERT_EQ_INT(weft_gguf_open(path, &g, err, sizeof err), WEFT_EFORMAT);
    ASSERT_CONTAINS(err, "text.gguf: not a GGUF file");
}

/* Writes a GGUF with the writer, describing a 1-layer llama whose attn_q
 * has the wrong shape: the model loader must name the tensor and shapes. */
struct tensor_spec {
    const char *name;
    uint64_t ne0, ne1; /* ne1 0: a vector */
};

/* A one-layer model of architecture arch (n_embd 8, 2 heads, ff 16, 4
 * tokens) with the given tensors, zero-filled, at tmpdir/file. */
static void write_model(const char *arch, const struct tensor_spec *t, size_t n, const char *file,
                        char *path, size_t cap)
{
    struct weft_gguf_writer *w;
    ASSERT_EQ_INT(weft_gguf_writer_new(&w), 0);
    char key[64];
#define K(suffix) (snprintf(key, sizeof key, "%s." suffix, arch), key)
    weft_gguf_set_str(w, "general.architecture", arch);
    weft_gguf_set_u32(w, K("context_length"), 64);
    weft_gguf_set_u32(w, K("embedding_length"), 8);
    weft_gguf_set_u32(w, K("block_count"), 1);
    weft_gguf_set_u32(w, K("feed_forward_length"), 16);
    weft_gguf_set_u32(w, K("attention.head_count"), 2);
#undef K
    weft_gguf_set_str(w, "tokenizer.ggml.model", "llama");
    const char *toks[4] = {"<unk>", "<s>", "</s>", "a"};
    uint64_t lens[4] = {5, 3, 4, 1};
    weft_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, lens, 4);
    for (size_t i = 0; i < n; i++) {
        uint64_t ne[2] = {t[i].ne0, t[i].ne1};
        ASSERT(weft_gguf_add_tensor(w, t[i].name, WEFT_TYPE_F32, t[i].ne1 ? 2 : 1, ne) >= 0);
    }
    snprintf(path, cap, "%s/%s", harness_tmpdir(), file);
    ASSERT_EQ_INT(weft_gguf_write_begin(w, path), 0);
    float zeros[256] = {0};
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_INT(weft_gguf_write_data(w, zeros, weft_gguf_tensor_size(w, (int)i)), 0);
    ASSERT_EQ_INT(weft_gguf_write_data(w, zeros, 4), WEFT_EINVAL); /* past the end */
    ASSERT_EQ_INT(weft_gguf_write_end(w), 0);
    weft_gguf_writer_free(w);
}

TEST(model_loader_refuses_wrong_shapes)
{
    static const struct tensor_spec t[] = {
        {"token_embd.weight", 8, 4},      {"output_norm.weight", 8, 0},
        {"blk.0.attn_norm.weight", 8, 0}, {"blk.0.ffn_norm.weight", 8, 0},
        {"blk.0.attn_q.weight", 8, 9},    {"blk.0.attn_k.weight", 8, 8},
        {"blk.0.attn_v.weight", 8, 8},    {"blk.0.attn_output.weight", 8, 8},
        {"blk.0.ffn_gate.weight", 8, 16}, {"blk.0.ffn_up.weight", 8, 16},
        {"blk.0.ffn_down.weight", 16, 8}};
    char path[4200];
    write_model("llama", t, sizeof t / sizeof t[0], "bad-shape.gguf", path, sizeof path);
    struct weft_model *m;
    ASSERT_EQ_INT(weft_model_load(path, NULL, &m, err, sizeof err), WEFT_EFORMAT);
    ASSERT_CONTAINS(err, "bad-shape.gguf: tensor 'blk.0.attn_q.weight' has shape [8, 9], "
                         "expected [8, 8]");
}

/* Qwen2 needs its Q/K/V biases, Qwen3 its Q/K norms; Llama's tensors alone
 * are refused, naming the first one missing. An unknown architecture is
 * refused by name. */
TEST(model_loader_wants_each_architectures_tensors)
{
    static const struct tensor_spec t[] = {
        {"token_embd.weight", 8, 4},      {"output_norm.weight", 8, 0},
        {"blk.0.attn_norm.weight", 8, 0}, {"blk.0.ffn_norm.weight", 8, 0},
        {"blk.0.attn_q.weight", 8, 8},    {"blk.0.attn_k.weight", 8, 8},
        {"blk.0.attn_v.weight", 8, 8},    {"blk.0.attn_output.weight", 8, 8},
        {"blk.0.ffn_gate.weight", 8, 16}, {"blk.0.ffn_up.weight", 8, 16},
        {"blk.0.ffn_down.weight", 16, 8}};
    size_t n = sizeof t / sizeof t[0];
    static const struct {
        const char *arch, *missing;
    } cases[] = {{"qwen2", "blk.0.attn_q.bias"}, {"qwen3", "blk.0.attn_q_norm.weight"}};
    char path[4200];
    struct weft_model *m;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_model(cases[c].arch, t, n, "arch.gguf", path, sizeof path);
        ASSERT_ERR(weft_model_load(path, NULL, &m, err, sizeof err), WEFT_EFORMAT);
        ASSERT_CONTAINS(err, cases[c].missing);
    }
    write_model("llama", t, n, "arch.gguf", path, sizeof path);
    ASSERT_OK(weft_model_load(path, NULL, &m, err, sizeof err));
    weft_model_free(m);
    write_model("gemma7", t, n, "arch.gguf", path, sizeof path);
    ASSERT_ERR(weft_model_load(path, NULL, &m, err, sizeof err), WEFT_ENOTSUP);
    ASSERT_CONTAINS(err, "architecture 'gemma7' is not supported");
}
