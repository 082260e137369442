/* BPE pre-tokenizers: llama.cpp's expression lists as data, hand-written
 * matchers for the common expressions, PCRE2 for the rest. */
#include "pretok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode.h"
#include "weft/error.h"
#include "weft/gguf.h"

#ifdef WEFT_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

/* The expressions, spelled exactly as llama.cpp's vocabulary loader
 * (c392e509, src/llama-vocab.cpp) spells them. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3                                                                                  \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{" \
    "N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                   \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{" \
    "N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_DIGIT     "\\p{N}"
#define RE_CJK       "[一-龥ࠀ-一가-퟿]+"
#define RE_BLOOM     " ?[^(\\s|.,!?…。，、।۔،)]+"
#define RE_PUNCT_RUN "[\\p{P}\\$\\+<=>\\^~\\|]+"
/* One line, as llama.cpp has it: clang-format cannot measure it. */
/* clang-format off */
#define RE_DEEPSEEK_LLM_LETTERS "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+"
/* clang-format on */
#define RE_DEEPSEEK_V3                                                                             \
    "[!\"#$%&'()*+,\\-./"                                                                          \
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "               \
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
#define RE_TEKKEN                                                                                  \
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?(" \
    "(?"                                                                                           \
    "=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| "                                         \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|"                                                \
    "\\s+(?!\\S)|\\s+"

#define MAX_NAMES  14
#define MAX_STAGES 7

struct def {
    const char *names[MAX_NAMES];
    bool ignore_merges, add_bos; /* add_bos: the default when the file does not say */
    const char *re[MAX_STAGES];  /* NULL-terminated */
};

static const struct def defs[] = {
    {{"default"}, false, false, {RE_PUNCT_RUN, RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {{"llama3", "llama-v3", "llama-bpe", "falcon3"}, true, true, {RE_LLAMA3}},
    {{"dbrx", "smaug-bpe", "chatglm-bpe"}, false, false, {RE_LLAMA3}},
    {{"deepseek-llm"},
     false,
     false,
     {"[\r\n]", RE_DEEPSEEK_LLM_LETTERS, "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", RE_CJK,
      "\\p{N}+"}},
    {{"deepseek-v3"}, false, false, {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", RE_DEEPSEEK_V3}},
    {{"deepseek-coder"}, false, false, {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"}},
    {{"falcon"}, false, false, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
     false,
     false,
     {RE_DIGIT, RE_GPT2}},
    {{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
      "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"},
     false,
     false,
     {RE_GPT2}},
    {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"}, false, false, {RE_QWEN2}},
    {{"poro-chat", "bloom", "gpt3-finnish"}, false, false, {RE_BLOOM}},
    {{"viking"}, false, false, {RE_BLOOM, RE_DIGIT}},
    {{"tekken"}, true, true, {RE_TEKKEN}},
    {{"chameleon"},
     false,
     true,
     {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", RE_DIGIT,
      "[\\p{P}!-/:-@\\[-`{-~]", RE_GPT2}},
};

/* --- the hand-written matchers ---------------------------------------------------
 * Each returns the length of the leftmost-first match of its expression
 * starting exactly at i, within the piece [.., end), or 0 for none, as a
 * backtracking regex engine would find it. */

typedef size_t (*matcher_fn)(const uint32_t *cp, size_t i, size_t end);

static enum weft_ucat cat(const uint32_t *cp, size_t i, size_t end)
{
    return i < end ? weft_ucat(cp[i]) : WEFT_UCAT_OTHER;
}

static size_t run_of(const uint32_t *cp, size_t j, size_t end, enum weft_ucat k)
{
    while (j < end && weft_ucat(cp[j]) == k)
        j++;
    return j;
}

/* 's|'t|'re|'ve|'m|'ll|'d, case-insensitive for ASCII when fold. */
static size_t contraction(const uint32_t *cp, size_t i, size_t end, bool fold)
{
    if (cp[i] != '\'' || i + 1 >= end)
        return 0;
    uint32_t a = cp[i + 1], b = i + 2 < end ? cp[i + 2] : 0;
    if (fold) {
        a = a >= 'A' && a <= 'Z' ? a + 32 : a;
        b = b >= 'A' && b <= 'Z' ? b + 32 : b;
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/* The end of the whitespace run from i, and \s+(?!\S) on it: the whole
 * run at the piece's end, else all but its last character, else none. */
static size_t space_lookahead(const uint32_t *cp, size_t i, size_t end, size_t *w)
{
    *w = run_of(cp, i, end, WEFT_UCAT_SPACE);
    if (*w == end)
        return *w - i;
    return *w - i > 1 ? *w - i - 1 : 0;
}

static size_t m_gpt2(const uint32_t *cp, size_t i, size_t end)
{
    size_t n = contraction(cp, i, end, false);
    if (n)
        return n;
    /*  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+ */
    size_t j = cp[i] == ' ' ? i + 1 : i;
    enum weft_ucat k = cat(cp, j, end);
    if (j < end && k != WEFT_UCAT_SPACE)
        return run_of(cp, j, end, k) - i;
    size_t w;
    return space_lookahead(cp, i, end, &w);
}

static size_t m_llama3_digits(const uint32_t *cp, size_t i, size_t end, size_t max_digits)
{
    size_t n = contraction(cp, i, end, true);
    if (n)
        return n;
    enum weft_ucat k = cat(cp, i, end);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (k == WEFT_UCAT_LETTER)
        return run_of(cp, i, end, k) - i;
    if (k != WEFT_UCAT_NUMBER && cp[i] != '\r' && cp[i] != '\n' &&
        cat(cp, i + 1, end) == WEFT_UCAT_LETTER)
        return run_of(cp, i + 1, end, WEFT_UCAT_LETTER) - i;
    /* \p{N}{1,max} */
    if (k == WEFT_UCAT_NUMBER) {
        size_t j = i;
        while (j < end && j - i < max_digits && weft_ucat(cp[j]) == WEFT_UCAT_NUMBER)
            j++;
        return j - i;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    size_t j = cp[i] == ' ' ? i + 1 : i;
    if (cat(cp, j, end) == WEFT_UCAT_OTHER && j < end) {
        j = run_of(cp, j, end, WEFT_UCAT_OTHER);
        while (j < end && (cp[j] == '\r' || cp[j] == '\n'))
            j++;
        return j - i;
    }
    if (k != WEFT_UCAT_SPACE)
        return 0; /* unreachable: every category is handled above */
    /* \s*[\r\n]+: up to the run's last CR or LF */
    size_t w, la = space_lookahead(cp, i, end, &w);
    for (size_t p = w; p > i; p--)
        if (cp[p - 1] == '\r' || cp[p - 1] == '\n')
            return p - i;
    /* \s+(?!\S) | \s+ */
    return la ? la : w - i;
}

static size_t m_llama3(const uint32_t *cp, size_t i, size_t end)
{
    return m_llama3_digits(cp, i, end, 3);
}

static size_t m_qwen2(const uint32_t *cp, size_t i, size_t end)
{
    return m_llama3_digits(cp, i, end, 1);
}

static size_t m_digit(const uint32_t *cp, size_t i, size_t end)
{
    return cat(cp, i, end) == WEFT_UCAT_NUMBER ? 1 : 0;
}

static const struct {
    const char *re;
    matcher_fn fn;
} customs[] = {{RE_GPT2, m_gpt2}, {RE_LLAMA3, m_llama3}, {RE_QWEN2, m_qwen2}, {RE_DIGIT, m_digit}};

static matcher_fn custom_for(const char *re)
{
    for (size_t i = 0; i < sizeof customs / sizeof customs[0]; i++)
        if (strcmp(customs[i].re, re) == 0)
            return customs[i].fn;
    return NULL;
}

/* --- stages -------------------------------------------------------------------- */

struct stage {
    matcher_fn fn;
#ifdef WEFT_HAVE_PCRE2
    pcre2_code *code;
#endif
};

struct weft_pretok {
    bool ignore_merges, add_bos;
    int n;
    struct stage st[MAX_STAGES];
};

#ifdef WEFT_HAVE_PCRE2
/* The expression as PCRE2 reads it. Only \s and \S differ: llama.cpp's \s
 * is Unicode's White_Space, which PCRE2 10.42's \s (with UCP) misses
 * U+0085 of; spelled out here as a class. */
#define WS_CLASS "\\t-\\r\\x{85}\\p{Z}"
static int pcre_pattern(const char *re, char *out, size_t cap)
{
    size_t o = 0;
    bool in_class = false;
    for (size_t i = 0; re[i]; i++) {
        const char *add = NULL;
        char two[3] = {re[i], 0, 0};
        if (re[i] == '\\' && re[i + 1]) {
            two[1] = re[++i];
            if (two[1] == 's')
                add = in_class ? WS_CLASS : "[" WS_CLASS "]";
            else if (two[1] == 'S' && !in_class)
                add = "[^" WS_CLASS "]";
            else if (two[1] == 'S')
                return WEFT_ENOTSUP; /* \S inside a class: none of the lists has one */
        } else if (re[i] == '[' && !in_class) {
            in_class = true;
        } else if (re[i] == ']' && in_class) {
            in_class = false;
        }
        const char *s = add ? add : two;
        size_t l = strlen(s);
        if (o + l + 1 > cap)
            return WEFT_E2BIG;
        memcpy(out + o, s, l);
        o += l;
    }
    out[o] = '\0';
    return 0;
}
#endif

static int stage_init(struct stage *s, const char *re, bool custom, char *err, size_t errcap)
{
    memset(s, 0, sizeof *s);
    s->fn = custom ? custom_for(re) : NULL;
    if (s->fn)
        return 0;
#ifdef WEFT_HAVE_PCRE2
    char pat[2048];
    if (pcre_pattern(re, pat, sizeof pat) < 0) {
        snprintf(err, errcap, "expression \"%.60s\" cannot be translated for PCRE2", re);
        return WEFT_ENOTSUP;
    }
    int ec;
    PCRE2_SIZE eo;
    s->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY,
                            &ec, &eo, NULL);
    if (s->code == NULL) {
        char msg[120];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof msg);
        snprintf(err, errcap, "expression \"%.40s\": PCRE2: %.100s at %zu", re, msg, (size_t)eo);
        return WEFT_EFORMAT;
    }
    return 0;
#else
    snprintf(err, errcap,
             "needs PCRE2 for \"%.40s\", and this build has none (install libpcre2-dev "
             "and rebuild)",
             re);
    return WEFT_ENOTSUP;
#endif
}

static void pretok_clear(struct weft_pretok *p)
{
#ifdef WEFT_HAVE_PCRE2
    for (int i = 0; i < p->n; i++)
        pcre2_code_free(p->st[i].code);
#endif
    p->n = 0;
}

void weft_pretok_free(struct weft_pretok *p)
{
    if (p == NULL)
        return;
    pretok_clear(p);
    free(p);
}

static const struct def *find_def(const char *name, size_t len)
{
    for (size_t d = 0; d < sizeof defs / sizeof defs[0]; d++)
        for (int k = 0; k < MAX_NAMES && defs[d].names[k]; k++)
            if (strlen(defs[d].names[k]) == len && memcmp(defs[d].names[k], name, len) == 0)
                return &defs[d];
    return NULL;
}

int weft_pretok_new(const char *name, size_t len, struct weft_pretok **out, char *err,
                    size_t errcap)
{
    *out = NULL;
    const struct def *d = find_def(name, len);
    char shown[48];
    weft_str_printable((struct weft_str){name, len}, shown, sizeof shown);
    if (d == NULL) {
        snprintf(err, errcap,
                 "pre-tokenizer '%s' is not known (docs/engine.md lists the ones Weft knows: "
                 "llama.cpp's)",
                 shown);
        return WEFT_ENOTSUP;
    }
    struct weft_pretok *p = calloc(1, sizeof *p);
    if (p == NULL)
        return WEFT_ENOMEM;
    p->ignore_merges = d->ignore_merges;
    p->add_bos = d->add_bos;
    for (int i = 0; i < MAX_STAGES && d->re[i]; i++) {
        char why[240];
        int rc = stage_init(&p->st[i], d->re[i], true, why, sizeof why);
        if (rc < 0) {
            snprintf(err, errcap, "pre-tokenizer '%s': %s", shown, why);
            weft_pretok_free(p);
            return rc;
        }
        p->n = i + 1;
    }
    *out = p;
    return 0;
}

bool weft_pretok_ignore_merges(const struct weft_pretok *p)
{
    return p->ignore_merges;
}

bool weft_pretok_adds_bos(const struct weft_pretok *p)
{
    return p->add_bos;
}

/* --- splitting ------------------------------------------------------------------ */

#ifdef WEFT_HAVE_PCRE2
/* The first code point index in [lo, hi] at or after byte b. */
static size_t cp_index(const struct weft_cps *c, size_t lo, size_t hi, size_t b)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->off[mid] < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
#endif

/* The leftmost match in the piece [ps, pe) at or after `at`: 1 with its
 * start and end, 0 for none, or an error. */
static int find(const struct stage *s, const struct weft_cps *c, size_t ps, size_t pe, size_t at,
                void *md, size_t *ms, size_t *me)
{
    if (s->fn) {
        for (size_t p = at; p < pe; p++) {
            size_t l = s->fn(c->cp, p, pe);
            if (l) {
                *ms = p;
                *me = p + l;
                return 1;
            }
        }
        return 0;
    }
#ifdef WEFT_HAVE_PCRE2
    const char *base = c->text + c->off[ps];
    size_t blen = c->off[pe] - c->off[ps];
    int rc = pcre2_match(s->code, (PCRE2_SPTR)base, blen, c->off[at] - c->off[ps], 0, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0)
        return WEFT_EIO;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    *ms = cp_index(c, at, pe, c->off[ps] + ov[0]);
    *me = cp_index(c, *ms, pe, c->off[ps] + ov[1]);
    return 1;
#else
    (void)c, (void)ps, (void)pe, (void)at, (void)md, (void)ms, (void)me;
    return WEFT_ENOTSUP;
#endif
}

/* One stage over every piece of in[0..nin]: matches and the gaps between
 * them become pieces, in order. out has room for c->n + 1 boundaries. */
static int split_stage(const struct stage *s, const struct weft_cps *c, const size_t *in,
                       size_t nin, size_t *out, size_t *nout, void *md)
{
    size_t k = 0;
    out[k] = 0;
    for (size_t t = 0; t < nin; t++) {
        size_t ps = in[t], pe = in[t + 1], at = ps, last = ps;
        while (at < pe) {
            size_t ms, me;
            int rc = find(s, c, ps, pe, at, md, &ms, &me);
            if (rc < 0)
                return rc;
            if (rc == 0)
                break;
            if (me <= ms) { /* an empty match cuts nothing */
                at = ms + 1;
                continue;
            }
            if (ms > last)
                out[++k] = ms;
            out[++k] = me;
            last = at = me;
        }
        if (last < pe)
            out[++k] = pe;
    }
    *nout = k;
    return 0;
}

static int split_stages(const struct weft_pretok *p, const struct weft_cps *c, size_t **bounds,
                        size_t *nb)
{
    *bounds = NULL;
    *nb = 0;
    /* At most n + 1 boundaries; one more so an empty text still has {0, 0}. */
    size_t *a = malloc((c->n + 2) * sizeof *a), *b = malloc((c->n + 2) * sizeof *b);
    void *md = NULL;
    int rc = a && b ? 0 : WEFT_ENOMEM;
#ifdef WEFT_HAVE_PCRE2
    if (rc == 0 && (md = pcre2_match_data_create(16, NULL)) == NULL)
        rc = WEFT_ENOMEM;
#endif
    size_t n = 0;
    if (rc == 0) {
        a[0] = 0;
        a[1] = c->n;
        n = c->n > 0 ? 1 : 0;
    }
    for (int i = 0; rc == 0 && i < p->n && n > 0; i++) {
        size_t m;
        rc = split_stage(&p->st[i], c, a, n, b, &m, md);
        size_t *t = a;
        a = b;
        b = t;
        n = m;
    }
#ifdef WEFT_HAVE_PCRE2
    pcre2_match_data_free(md);
#endif
    free(b);
    if (rc < 0) {
        free(a);
        return rc;
    }
    *bounds = a;
    *nb = n;
    return 0;
}

int weft_pretok_split(const struct weft_pretok *p, const struct weft_cps *c, size_t **bounds,
                      size_t *nb)
{
    return split_stages(p, c, bounds, nb);
}

int weft_pretok_split_one(const char *re, bool custom, const struct weft_cps *c, size_t **bounds,
                          size_t *nb)
{
    struct weft_pretok p = {0};
    char err[240];
    if (custom && custom_for(re) == NULL)
        return WEFT_ENOTSUP;
    int rc = stage_init(&p.st[0], re, custom, err, sizeof err);
    if (rc < 0)
        return rc;
    p.n = 1;
    rc = split_stages(&p, c, bounds, nb);
    pretok_clear(&p);
    return rc;
}

const char *const *weft_pretok_regexes(const char *name)
{
    const struct def *d = find_def(name, strlen(name));
    return d ? d->re : NULL;
}

const char *weft_pretok_name(size_t i)
{
    for (size_t d = 0; d < sizeof defs / sizeof defs[0]; d++)
        for (int j = 0; j < MAX_NAMES && defs[d].names[j]; j++)
            if (i-- == 0)
                return defs[d].names[j];
    return NULL;
}
