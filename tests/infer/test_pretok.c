/* The BPE pre-tokenizers: the hand-written matchers cut text exactly as
 * PCRE2 (a regex engine we did not write) cuts it with the same
 * expression, on llama.cpp's tokenizer test inputs and on random strings
 * of the characters the expressions treat differently; every known
 * pre-tokenizer's list compiles; unknown names are refused by name. */
#include <stdint.h>
#include <string.h>

#include "../../src/infer/pretok.h"
#include "../../src/infer/unicode.h"
#include "harness.h"
#include "weft/error.h"

/* The text's code points, as vocab.c decodes them. */
struct decoded {
    uint32_t cp[4096], off[4097];
    struct weft_cps c;
};

static void decode(const char *text, size_t len, struct decoded *d)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n < 4096;) {
        size_t l;
        d->cp[n] = weft_utf8_decode((const unsigned char *)text + i, len - i, &l);
        d->off[n++] = (uint32_t)i;
        i += l;
    }
    d->off[n] = n < 4096 ? (uint32_t)len : d->off[n - 1] + 1;
    d->c = (struct weft_cps){text, d->cp, d->off, n};
}

static const char *const customs[] = {
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "\\p{N}",
};

/* 0 when the two ways agree on text; prints the first difference. */
static int compare(const char *re, const char *text, size_t len)
{
    static struct decoded d;
    decode(text, len, &d);
    size_t *a = NULL, *b = NULL, na = 0, nb = 0;
    int ra = weft_pretok_split_one(re, true, &d.c, &a, &na);
    int rb = weft_pretok_split_one(re, false, &d.c, &b, &nb);
    if (rb == WEFT_ENOTSUP)
        TEST_SKIP("this build has no PCRE2");
    ASSERT_OK(ra);
    ASSERT_OK(rb);
    int bad = na != nb || memcmp(a, b, (na + 1) * sizeof *a) != 0;
    if (bad) {
        fprintf(stderr, "expression %.50s... on \"%.*s\":\n  matcher:", re, (int)len, text);
        for (size_t i = 0; i <= na; i++)
            fprintf(stderr, " %zu", a[i]);
        fprintf(stderr, "\n  PCRE2:  ");
        for (size_t i = 0; i <= nb; i++)
            fprintf(stderr, " %zu", b[i]);
        fprintf(stderr, "\n");
    }
    free(a);
    free(b);
    return bad;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        TEST_FAIL_("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ASSERT_NOT_NULL(buf);
    ASSERT_EQ_UINT(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

TEST(matchers_equal_pcre2_on_llama_cpp_inputs)
{
    static const char *const files[] = {
        "ggml-vocab-gpt-2.gguf.inp", "ggml-vocab-llama-bpe.gguf.inp", "ggml-vocab-qwen2.gguf.inp",
        "ggml-vocab-deepseek-coder.gguf.inp"};
    static const char sep[] = "\n__ggml_vocab_test__\n";
    int cases = 0, bad = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[4096];
        size_t len;
        snprintf(path, sizeof path, "%s/tokenizer/%s", harness_testdata(), files[f]);
        char *inp = slurp(path, &len);
        for (char *t = inp, *end; (end = strstr(t, sep)) != NULL; t = end + strlen(sep)) {
            for (size_t r = 0; r < sizeof customs / sizeof customs[0]; r++)
                bad += compare(customs[r], t, (size_t)(end - t));
            cases++;
        }
        free(inp);
    }
    ASSERT(cases > 100);
    if (bad)
        TEST_FAIL_("%d splits differ", bad);
}

/* Random strings over the characters where the expressions branch:
 * spaces of every kind, CR/LF, apostrophes and contraction letters in
 * both cases, digits of several scripts, letters, marks, punctuation,
 * symbols, CJK, an emoji. */
TEST(matchers_equal_pcre2_on_random_strings)
{
    static const char *const atoms[] = {" ",
                                        "  ",
                                        "\t",
                                        "\n",
                                        "\r",
                                        "\r\n",
                                        "\v",
                                        "\f",
                                        "\xc2\xa0",
                                        "\xc2\x85",
                                        "\xe3\x80\x80",
                                        "\xe2\x80\xa8",
                                        "'",
                                        "s",
                                        "S",
                                        "t",
                                        "re",
                                        "VE",
                                        "ll",
                                        "D",
                                        "m",
                                        "a",
                                        "Z",
                                        "\xc3\xbc",
                                        "\xce\xb1",
                                        "1",
                                        "22",
                                        "\xd9\xa3",
                                        "\xe2\x85\xa7",
                                        "\xcc\x81",
                                        ".",
                                        ",",
                                        "!",
                                        "?",
                                        "-",
                                        "$",
                                        "+",
                                        "~",
                                        "\xe2\x82\xac",
                                        "\xe4\xb8\xad",
                                        "\xe6\x96\x87",
                                        "\xf0\x9f\x98\x80",
                                        "/",
                                        "(",
                                        ")"};
    uint64_t seed = 3;
    char text[256];
    int bad = 0;
    for (int iter = 0; iter < 3000 && bad < 5; iter++) {
        size_t len = 0;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int n = (int)((seed >> 33) % 24) + 1;
        for (int k = 0; k < n; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *a = atoms[(seed >> 33) % (sizeof atoms / sizeof atoms[0])];
            size_t l = strlen(a);
            if (len + l >= sizeof text)
                break;
            memcpy(text + len, a, l);
            len += l;
        }
        for (size_t r = 0; r < sizeof customs / sizeof customs[0]; r++)
            bad += compare(customs[r], text, len);
    }
    if (bad)
        TEST_FAIL_("%d splits differ", bad);
}

TEST(every_known_pre_tokenizer_compiles)
{
    char err[512];
    int n = 0;
    for (const char *name; (name = weft_pretok_name((size_t)n)) != NULL; n++) {
        struct weft_pretok *p;
        int rc = weft_pretok_new(name, strlen(name), &p, err, sizeof err);
        if (rc == WEFT_ENOTSUP && strstr(err, "PCRE2"))
            continue; /* a build without PCRE2: refused by name, which is the promise */
        if (rc < 0)
            TEST_FAIL_("%s: %s", name, err);
        ASSERT_NOT_NULL(weft_pretok_regexes(name));
        weft_pretok_free(p);
    }
    /* llama.cpp c392e509 knows 42 names. */
    ASSERT_EQ_INT(n, 42);
}

TEST(unknown_pre_tokenizer_is_refused_by_name)
{
    char err[512];
    struct weft_pretok *p = (struct weft_pretok *)1;
    ASSERT_ERR(weft_pretok_new("klingon-bpe", 11, &p, err, sizeof err), WEFT_ENOTSUP);
    ASSERT_NULL(p);
    ASSERT_CONTAINS(err, "'klingon-bpe'");
    ASSERT_NULL(weft_pretok_regexes("klingon-bpe"));
}

/* Pieces cover the text in order, whatever the list: checked on a
 * two-stage list (digits, then GPT-2's) with text before, between and
 * after the digits. */
TEST(pieces_cover_the_text_in_order)
{
    struct weft_pretok *p;
    char err[512];
    ASSERT_OK(weft_pretok_new("starcoder", 9, &p, err, sizeof err));
    static struct decoded d;
    const char *text = "x = 12 + y3  \n";
    decode(text, strlen(text), &d);
    size_t *b, nb;
    ASSERT_OK(weft_pretok_split(p, &d.c, &b, &nb));
    /* "x", " =", " ", "1", "2", " +", " y", "3", "  \n" (the last run at the
     * piece's end is whole). */
    static const size_t want[] = {0, 1, 3, 4, 5, 6, 8, 10, 11, 14};
    ASSERT_EQ_UINT(nb, sizeof want / sizeof want[0] - 1);
    for (size_t i = 0; i <= nb; i++)
        ASSERT_EQ_UINT(b[i], want[i]);
    free(b);
    weft_pretok_free(p);
}
