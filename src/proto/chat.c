/* Chat templates; see include/weft/chat.h. */
#include "weft/chat.h"

#include <stdlib.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "weft/error.h"

static const char *const tpl_names[] = {"raw",     "llama2", "chatml", "llama3",  "llama3.1",
                                        "qwen2.5", "phi3",   "gemma",  "mistral", "deepseek-r1"};
#define N_TEMPLATES (int)(sizeof tpl_names / sizeof tpl_names[0])

int weft_chat_template_parse(const char *name, enum weft_chat_template *out)
{
    for (int i = 0; i < N_TEMPLATES; i++) {
        if (strcmp(name, tpl_names[i]) == 0) {
            *out = (enum weft_chat_template)i;
            return 0;
        }
    }
    return WEFT_EINVAL;
}

const char *weft_chat_template_name(enum weft_chat_template t)
{
    return (int)t >= 0 && (int)t < N_TEMPLATES ? tpl_names[t] : "raw";
}

/* Markers, most specific first: each family's own text, as its Jinja
 * template spells it. */
static const struct {
    const char *marker, *also;
    enum weft_chat_template t;
} fingerprints[] = {
    {"<\xef\xbd\x9c"
     "Assistant\xef\xbd\x9c>",
     NULL, WEFT_TPL_DEEPSEEK_R1},
    {"<start_of_turn>", NULL, WEFT_TPL_GEMMA},
    {"Cutting Knowledge Date", "<|start_header_id|>", WEFT_TPL_LLAMA31},
    {"<|start_header_id|>", NULL, WEFT_TPL_LLAMA3},
    {"You are Qwen, created by Alibaba Cloud", "<|im_start|>", WEFT_TPL_QWEN25},
    {"<|im_start|>", NULL, WEFT_TPL_CHATML},
    {"<|assistant|>", "<|end|>", WEFT_TPL_PHI3},
    {"[AVAILABLE_TOOLS]", "[INST]", WEFT_TPL_MISTRAL},
    {"<<SYS>>", "[INST]", WEFT_TPL_LLAMA2},
    {"[INST]", NULL, WEFT_TPL_LLAMA2},
};

int weft_chat_template_detect(const char *jinja, enum weft_chat_template *out)
{
    *out = WEFT_TPL_RAW;
    if (!jinja)
        return 0;
    for (size_t i = 0; i < sizeof fingerprints / sizeof fingerprints[0]; i++) {
        if (strstr(jinja, fingerprints[i].marker) &&
            (!fingerprints[i].also || strstr(jinja, fingerprints[i].also))) {
            *out = fingerprints[i].t;
            return 0;
        }
    }
    return WEFT_ENOENT;
}

void weft_chat_markup_free(struct weft_chat_markup *m)
{
    free(m->r);
    m->r = NULL;
    m->n = m->cap = 0;
}

/* The renderer's output: text, and the template's spans. */
struct out {
    struct weft_buf *b;
    struct weft_chat_markup *mk;
    int rc;
};

/* Appends template text, recording its span (merged with the one before
 * when they touch). */
static void mk(struct out *o, const char *s)
{
    size_t at = o->b->len;
    if (o->rc == 0 && weft_buf_append_str(o->b, s) != 0)
        o->rc = WEFT_E2BIG;
    if (o->rc != 0 || o->mk == NULL || o->b->len == at)
        return;
    struct weft_chat_markup *m = o->mk;
    if (o->b->len > UINT32_MAX) {
        o->rc = WEFT_E2BIG;
        return;
    }
    if (m->n > 0 && m->r[m->n - 1][1] == at) {
        m->r[m->n - 1][1] = (uint32_t)o->b->len;
        return;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        if (cap > WEFT_CHAT_MAX_MARKUP) {
            o->rc = WEFT_E2BIG;
            return;
        }
        uint32_t(*r)[2] = realloc(m->r, cap * sizeof *r);
        if (r == NULL) {
            o->rc = WEFT_ENOMEM;
            return;
        }
        m->r = r;
        m->cap = cap;
    }
    m->r[m->n][0] = (uint32_t)at;
    m->r[m->n][1] = (uint32_t)o->b->len;
    m->n++;
}

/* Appends content: a message's text, never markup. */
static void ct(struct out *o, const char *s)
{
    if (o->rc == 0 && weft_buf_append_str(o->b, s) != 0)
        o->rc = WEFT_E2BIG;
}

static void render_llama2(const struct weft_chat_msg *msgs, int n, struct out *o)
{
    /* Llama-2-chat: the system prompt folds into the first user turn; each
     * finished exchange closes with </s> and the next opens with <s>. */
    const char *sys = NULL;
    int first = 1;
    for (int i = 0; i < n; i++) {
        const struct weft_chat_msg *m = &msgs[i];
        if (strcmp(m->role, "system") == 0) {
            sys = m->content;
        } else if (strcmp(m->role, "user") == 0) {
            if (!first)
                mk(o, "<s>");
            mk(o, "[INST] ");
            if (sys) {
                mk(o, "<<SYS>>\n");
                ct(o, sys);
                mk(o, "\n<</SYS>>\n\n");
                sys = NULL;
            }
            ct(o, m->content);
            mk(o, " [/INST]");
            first = 0;
        } else {
            mk(o, " ");
            ct(o, m->content);
            mk(o, " </s>");
        }
    }
}

/* Appends content with leading and trailing whitespace removed, as
 * Jinja's trim filter does (Python's str.strip: Unicode whitespace too, of
 * which the ASCII kinds and U+00A0 are handled; the rest is rare enough in
 * chat text to leave). */
static void ct_trim(struct out *o, const char *s)
{
    size_t n = strlen(s), a = 0;
    while (a < n && (isspace((unsigned char)s[a]) || s[a] == '\x1c' || s[a] == '\x1d' ||
                     s[a] == '\x1e' || s[a] == '\x1f'))
        a++;
    while (n > a && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '\x1c' || s[n - 1] == '\x1d' ||
                     s[n - 1] == '\x1e' || s[n - 1] == '\x1f'))
        n--;
    if (o->rc == 0 && weft_buf_append(o->b, s + a, n - a) != 0)
        o->rc = WEFT_E2BIG;
}

static bool is_role(const struct weft_chat_msg *m, const char *role)
{
    return strcmp(m->role, role) == 0;
}

static void render_llama31(const struct weft_chat_msg *msgs, int n, struct out *o)
{
    /* The system turn always comes, dated with the template's own default
     * (a fixed date, so a job renders the same on every node and day). */
    int i = 0;
    mk(o, "<|start_header_id|>system<|end_header_id|>\n\n"
          "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n");
    if (n > 0 && is_role(&msgs[0], "system")) {
        ct_trim(o, msgs[0].content);
        i = 1;
    }
    mk(o, "<|eot_id|>");
    for (; i < n; i++) {
        mk(o, "<|start_header_id|>");
        mk(o, msgs[i].role);
        mk(o, "<|end_header_id|>\n\n");
        ct_trim(o, msgs[i].content);
        mk(o, "<|eot_id|>");
    }
    mk(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void render_chatml(const struct weft_chat_msg *msgs, int n, const char *default_system,
                          struct out *o)
{
    if (default_system && (n == 0 || !is_role(&msgs[0], "system"))) {
        mk(o, "<|im_start|>system\n");
        mk(o, default_system);
        mk(o, "<|im_end|>\n");
    }
    for (int i = 0; i < n; i++) {
        mk(o, "<|im_start|>");
        mk(o, msgs[i].role);
        mk(o, "\n");
        ct(o, msgs[i].content);
        mk(o, "<|im_end|>\n");
    }
    mk(o, "<|im_start|>assistant\n");
}

static void render_phi3(const struct weft_chat_msg *msgs, int n, struct out *o)
{
    for (int i = 0; i < n; i++) {
        if (is_role(&msgs[i], "system") && !msgs[i].content[0])
            continue; /* the template drops an empty system message */
        mk(o, "<|");
        mk(o, msgs[i].role);
        mk(o, "|>\n");
        ct(o, msgs[i].content);
        mk(o, "<|end|>\n");
    }
    mk(o, "<|assistant|>\n");
}

/* Gemma has no system role (its template refuses one): a system message
 * opens the first user turn instead, followed by a blank line. */
static void render_gemma(const struct weft_chat_msg *msgs, int n, struct out *o)
{
    const char *sys = NULL;
    for (int i = 0; i < n; i++) {
        if (is_role(&msgs[i], "system")) {
            sys = msgs[i].content;
            continue;
        }
        bool user = is_role(&msgs[i], "user");
        mk(o, user ? "<start_of_turn>user\n" : "<start_of_turn>model\n");
        if (user && sys) {
            ct_trim(o, sys);
            mk(o, "\n\n");
            sys = NULL;
        }
        ct_trim(o, msgs[i].content);
        mk(o, "<end_of_turn>\n");
    }
    mk(o, "<start_of_turn>model\n");
}

/* Mistral Nemo: the system message goes into the last user turn, and
 * nowhere when the conversation does not end with one (as its template
 * does); no generation prompt after [/INST]. */
static void render_mistral(const struct weft_chat_msg *msgs, int n, struct out *o)
{
    const char *sys = NULL;
    int i = 0;
    if (n > 0 && is_role(&msgs[0], "system")) {
        sys = msgs[0].content;
        i = 1;
    }
    for (; i < n; i++) {
        if (is_role(&msgs[i], "user")) {
            mk(o, "[INST]");
            if (i == n - 1 && sys) {
                ct(o, sys);
                mk(o, "\n\n");
            }
            ct(o, msgs[i].content);
            mk(o, "[/INST]");
        } else if (is_role(&msgs[i], "assistant")) {
            ct(o, msgs[i].content);
            mk(o, "</s>");
        }
        /* A later system message: the template refuses it; left out. */
    }
}

/* DeepSeek-R1 distills: the (last) system prompt right after BOS, then the
 * turns; an assistant turn keeps only what follows its </think>. */
static void render_deepseek_r1(const struct weft_chat_msg *msgs, int n, struct out *o)
{
    const char *sys = NULL;
    for (int i = 0; i < n; i++)
        if (is_role(&msgs[i], "system"))
            sys = msgs[i].content;
    if (sys)
        ct(o, sys);
    for (int i = 0; i < n; i++) {
        if (is_role(&msgs[i], "user")) {
            mk(o, "<\xef\xbd\x9cUser\xef\xbd\x9c>");
            ct(o, msgs[i].content);
        } else if (is_role(&msgs[i], "assistant")) {
            const char *c = msgs[i].content, *t;
            while ((t = strstr(c, "</think>")) != NULL)
                c = t + 8;
            mk(o, "<\xef\xbd\x9c"
                  "Assistant\xef\xbd\x9c>");
            ct(o, c);
            mk(o, "<\xef\xbd\x9c"
                  "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>");
        }
    }
    mk(o, "<\xef\xbd\x9c"
          "Assistant\xef\xbd\x9c><think>\n");
}

int weft_chat_render(const struct weft_chat_msg *msgs, int n, enum weft_chat_template t,
                     struct weft_buf *out, struct weft_chat_markup *markup)
{
    struct out o = {out, markup, 0};
    switch (t) {
    case WEFT_TPL_LLAMA2:
        render_llama2(msgs, n, &o);
        break;
    case WEFT_TPL_CHATML:
        render_chatml(msgs, n, NULL, &o);
        break;
    case WEFT_TPL_QWEN25:
        render_chatml(msgs, n,
                      "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", &o);
        break;
    case WEFT_TPL_LLAMA3:
        for (int i = 0; i < n; i++) {
            mk(&o, "<|start_header_id|>");
            mk(&o, msgs[i].role);
            mk(&o, "<|end_header_id|>\n\n");
            ct(&o, msgs[i].content);
            mk(&o, "<|eot_id|>");
        }
        mk(&o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case WEFT_TPL_LLAMA31:
        render_llama31(msgs, n, &o);
        break;
    case WEFT_TPL_PHI3:
        render_phi3(msgs, n, &o);
        break;
    case WEFT_TPL_GEMMA:
        render_gemma(msgs, n, &o);
        break;
    case WEFT_TPL_MISTRAL:
        render_mistral(msgs, n, &o);
        break;
    case WEFT_TPL_DEEPSEEK_R1:
        render_deepseek_r1(msgs, n, &o);
        break;
    case WEFT_TPL_RAW:
    default:
        for (int i = 0; i < n; i++) {
            if (i)
                mk(&o, "\n");
            ct(&o, msgs[i].content);
        }
        break;
    }
    return o.rc;
}
