/* Chat templates; see include/weft/chat.h. */
#include "weft/chat.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "weft/error.h"

static const char *const tpl_names[] = {"raw",      "llama2",      "chatml", "llama3",
                                        "llama3.1", "qwen2.5",     "phi3",   "gemma",
                                        "mistral",  "deepseek-r1", "hermes"};
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
    {"You are a function calling AI model", "<|im_start|>", WEFT_TPL_HERMES},
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

/* ---- tools ---- */

/* v as Python's json.dumps(v, ensure_ascii=False) writes it, which is what
 * the templates' tojson filter does in transformers: ", " and ": " between
 * items, non-ASCII as it is. A whole number is written as an integer
 * (JSON text does not say whether 1.0 was a float; cJSON reads both
 * alike). */
static void py_json(struct weft_buf *b, const cJSON *v, int *rc)
{
    if (*rc)
        return;
    char num[40];
    const cJSON *c;
    int first = 1;
    switch (v->type & 0xff) {
    case cJSON_NULL:
        *rc = weft_buf_append_str(b, "null");
        return;
    case cJSON_True:
        *rc = weft_buf_append_str(b, "true");
        return;
    case cJSON_False:
        *rc = weft_buf_append_str(b, "false");
        return;
    case cJSON_Number: {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) {
            snprintf(num, sizeof num, "%.0f", d);
        } else {
            /* Python's repr: the shortest text that reads back the same. */
            for (int p = 1; p <= 17; p++) {
                snprintf(num, sizeof num, "%.*g", p, d);
                if (strtod(num, NULL) == d)
                    break;
            }
            size_t len = strlen(num);
            if (!strpbrk(num, ".en") && len + 2 < sizeof num)
                memcpy(num + len, ".0", 3);
        }
        *rc = weft_buf_append_str(b, num);
        return;
    }
    case cJSON_String: {
        *rc = weft_buf_append_byte(b, '"');
        for (const unsigned char *s = (const unsigned char *)v->valuestring; *s && !*rc; s++) {
            const char *e = *s == '"'    ? "\\\""
                            : *s == '\\' ? "\\\\"
                            : *s == '\n' ? "\\n"
                            : *s == '\r' ? "\\r"
                            : *s == '\t' ? "\\t"
                            : *s == '\b' ? "\\b"
                            : *s == '\f' ? "\\f"
                                         : NULL;
            if (e)
                *rc = weft_buf_append_str(b, e);
            else if (*s < 0x20)
                *rc = weft_buf_appendf(b, "\\u%04x", *s);
            else
                *rc = weft_buf_append_byte(b, (char)*s);
        }
        if (!*rc)
            *rc = weft_buf_append_byte(b, '"');
        return;
    }
    case cJSON_Array:
        *rc = weft_buf_append_byte(b, '[');
        cJSON_ArrayForEach(c, v)
        {
            if (!first && !*rc)
                *rc = weft_buf_append_str(b, ", ");
            first = 0;
            py_json(b, c, rc);
        }
        if (!*rc)
            *rc = weft_buf_append_byte(b, ']');
        return;
    case cJSON_Object:
        *rc = weft_buf_append_byte(b, '{');
        cJSON_ArrayForEach(c, v)
        {
            if (!first && !*rc)
                *rc = weft_buf_append_str(b, ", ");
            first = 0;
            cJSON key = {.type = cJSON_String, .valuestring = c->string};
            py_json(b, &key, rc);
            if (!*rc)
                *rc = weft_buf_append_str(b, ": ");
            py_json(b, c, rc);
        }
        if (!*rc)
            *rc = weft_buf_append_byte(b, '}');
        return;
    }
    *rc = WEFT_EINVAL;
}

/* v as json.dumps(v, ensure_ascii=False, indent=4): each item on a line
 * of its own, "," at its end, ": " after a key; empty containers as {}
 * and []. */
static void py_json_indent(struct weft_buf *b, const cJSON *v, int level, int *rc)
{
    int t = v->type & 0xff;
    if ((t != cJSON_Array && t != cJSON_Object) || !v->child) {
        if (t == cJSON_Array || t == cJSON_Object)
            *rc = weft_buf_append_str(b, t == cJSON_Array ? "[]" : "{}");
        else
            py_json(b, v, rc);
        return;
    }
    *rc = weft_buf_append_byte(b, t == cJSON_Array ? '[' : '{');
    const cJSON *c;
    cJSON_ArrayForEach(c, v)
    {
        if (*rc)
            return;
        *rc = weft_buf_appendf(b, "\n%*s", 4 * (level + 1), "");
        if (t == cJSON_Object) {
            cJSON key = {.type = cJSON_String, .valuestring = c->string};
            py_json(b, &key, rc);
            if (!*rc)
                *rc = weft_buf_append_str(b, ": ");
        }
        py_json_indent(b, c, level + 1, rc);
        if (!*rc && c->next)
            *rc = weft_buf_append_byte(b, ',');
    }
    if (!*rc)
        *rc = weft_buf_appendf(b, "\n%*s%c", 4 * level, "", t == cJSON_Array ? ']' : '}');
}

/* Content written as Python's JSON (indented by 4 when `indent`). */
static void ct_py_as(struct out *o, const cJSON *v, int indent)
{
    struct weft_buf b;
    weft_buf_init(&b, o->b->max);
    int rc = 0;
    if (indent)
        py_json_indent(&b, v, 0, &rc);
    else
        py_json(&b, v, &rc);
    if (rc == 0)
        ct(o, b.data ? b.data : "");
    else if (o->rc == 0)
        o->rc = WEFT_E2BIG;
    weft_buf_free(&b);
}

static void ct_py(struct out *o, const cJSON *v)
{
    ct_py_as(o, v, 0);
}

/* Llama 3.1-3.3's template with custom tools (in the first user message,
 * its default): the tools as tojson(indent=4), a call as {"name": ...,
 * "parameters": ...}, a result as an ipython turn (its text as a JSON
 * string: the template's tojson of a string). One call a turn, as the
 * template demands. */
static void render_llama31_tools(const struct weft_chat_msg *msgs, int n, const cJSON *tools,
                                 struct out *o)
{
    int i = 0;
    mk(o, "<|start_header_id|>system<|end_header_id|>\n\n");
    if (tools)
        mk(o, "Environment: ipython\n");
    mk(o, "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n");
    if (n > 0 && is_role(&msgs[0], "system")) {
        ct_trim(o, msgs[0].content);
        i = 1;
    }
    mk(o, "<|eot_id|>");
    if (tools) {
        if (i >= n) {
            o->rc = o->rc ? o->rc : WEFT_EINVAL; /* the template needs a first user message */
            return;
        }
        mk(o, "<|start_header_id|>user<|end_header_id|>\n\n"
              "Given the following functions, please respond with a JSON for a function call "
              "with its proper arguments that best answers the given prompt.\n\n"
              "Respond in the format {\"name\": function name, \"parameters\": dictionary of "
              "argument name and its value}.Do not use variables.\n\n");
        const cJSON *t;
        cJSON_ArrayForEach(t, tools)
        {
            ct_py_as(o, t, 1);
            mk(o, "\n\n");
        }
        ct_trim(o, msgs[i].content);
        mk(o, "<|eot_id|>");
        i++;
    }
    for (; i < n; i++) {
        const struct weft_chat_msg *m = &msgs[i];
        if (is_role(m, "tool")) {
            mk(o, "<|start_header_id|>ipython<|end_header_id|>\n\n");
            cJSON s = {.type = cJSON_String, .valuestring = m->content};
            ct_py(o, &s);
            mk(o, "<|eot_id|>");
            continue;
        }
        if (!m->tool_calls) {
            mk(o, "<|start_header_id|>");
            mk(o, m->role);
            mk(o, "<|end_header_id|>\n\n");
            ct_trim(o, m->content);
            mk(o, "<|eot_id|>");
            continue;
        }
        cJSON *calls = cJSON_Parse(m->tool_calls);
        const cJSON *c = cJSON_GetArrayItem(calls, 0);
        if (cJSON_GetArraySize(calls) != 1) {
            cJSON_Delete(calls);
            o->rc = o->rc ? o->rc : WEFT_EINVAL; /* one call a turn */
            return;
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        mk(o, "<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"");
        ct(o, cJSON_IsString(name) ? name->valuestring : "");
        mk(o, "\", \"parameters\": ");
        ct_py(o, cJSON_GetObjectItemCaseSensitive(c, "arguments"));
        mk(o, "}<|eot_id|>");
        cJSON_Delete(calls);
    }
    mk(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Hermes' json_to_python_type macro, as Jinja runs it: a JSON schema's
 * Python type name ("str", "list[...]", "dict[str, ...]"). Jinja's quirks
 * are kept: an array's items are read through the |items filter, which
 * finds no type ("Union[]"); a schema without a type is "Union[]"; a type
 * name it does not map recurses forever in Jinja, so it is refused. */
static int py_type(struct weft_buf *b, const cJSON *spec, int depth)
{
    static const char *const basic[][2] = {
        {"string", "str"}, {"number", "float"}, {"integer", "int"}, {"boolean", "bool"}};
    if (depth > 16)
        return WEFT_EINVAL;
    const cJSON *type =
        cJSON_IsObject(spec) ? cJSON_GetObjectItemCaseSensitive(spec, "type") : NULL;
    if (cJSON_IsString(type)) {
        for (size_t i = 0; i < sizeof basic / sizeof basic[0]; i++)
            if (strcmp(type->valuestring, basic[i][0]) == 0)
                return weft_buf_append_str(b, basic[i][1]);
        if (strcmp(type->valuestring, "array") == 0)
            return weft_buf_append_str(b, "list[Union[]]");
        if (strcmp(type->valuestring, "object") == 0) {
            const cJSON *extra = cJSON_GetObjectItemCaseSensitive(spec, "additionalProperties");
            if (!extra)
                return weft_buf_append_str(b, "dict");
            int rc = weft_buf_append_str(b, "dict[str, ");
            rc = rc ? rc : py_type(b, extra, depth + 1);
            return rc ? rc : weft_buf_append_byte(b, ']');
        }
        return WEFT_EINVAL;
    }
    if (cJSON_IsArray(type)) {
        int rc = weft_buf_append_str(b, "Union[");
        const cJSON *t;
        cJSON_ArrayForEach(t, type)
        {
            char key[] = "type";
            cJSON one = {.type = cJSON_Object};
            cJSON name = {.type = cJSON_String, .valuestring = t->valuestring, .string = key};
            one.child = &name;
            if (!cJSON_IsString(t))
                return WEFT_EINVAL;
            rc = rc ? rc : py_type(b, &one, depth + 1);
            if (!rc && t->next)
                rc = weft_buf_append_byte(b, ',');
        }
        return rc ? rc : weft_buf_append_byte(b, ']');
    }
    return weft_buf_append_str(b, "Union[]");
}

/* Appends what Hermes' template writes for one tool; content throughout
 * (it is all the caller's). */
static void hermes_tool(struct out *o, const cJSON *tool)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(tool, "function");
    if (f)
        tool = f;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(tool, "name");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(tool, "description");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(tool, "parameters");
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(params, "properties"), *p;
    const char *nm = cJSON_IsString(name) ? name->valuestring : "";
    struct weft_buf b;
    weft_buf_init(&b, o->b->max);
    int rc = weft_buf_appendf(&b,
                              "{\"type\": \"function\", \"function\": {\"name\": \"%s\", "
                              "\"description\": \"%s(",
                              nm, nm);
    cJSON_ArrayForEach(p, props)
    {
        rc = rc ? rc : weft_buf_appendf(&b, "%s: ", p->string);
        rc = rc ? rc : py_type(&b, p, 0);
        if (!rc && p->next)
            rc = weft_buf_append_str(&b, ", ");
    }
    rc =
        rc ? rc : weft_buf_appendf(&b, ") - %s\n\n", cJSON_IsString(desc) ? desc->valuestring : "");
    cJSON_ArrayForEach(p, props)
    {
        if (!rc && p == props->child)
            rc = weft_buf_append_str(&b, "    Args:\n");
        const cJSON *pd = cJSON_GetObjectItemCaseSensitive(p, "description");
        rc = rc ? rc : weft_buf_appendf(&b, "        %s(", p->string);
        rc = rc ? rc : py_type(&b, p, 0);
        rc = rc ? rc : weft_buf_append_str(&b, "): ");
        if (!rc && cJSON_IsString(pd)) {
            /* |trim: Python's strip */
            const char *s = pd->valuestring;
            size_t a = 0, n = strlen(s);
            while (a < n && isspace((unsigned char)s[a]))
                a++;
            while (n > a && isspace((unsigned char)s[n - 1]))
                n--;
            rc = weft_buf_append(&b, s + a, n - a);
        }
    }
    rc = rc ? rc : weft_buf_append_str(&b, "\", \"parameters\": ");
    if (!rc && cJSON_GetArraySize(props) == 0)
        rc = weft_buf_append_str(&b, "{}");
    else if (!rc)
        py_json(&b, params, &rc);
    rc = rc ? rc : weft_buf_append_byte(&b, '}');
    if (rc == 0)
        ct(o, b.data ? b.data : "");
    else if (o->rc == 0)
        o->rc = rc == WEFT_EINVAL ? WEFT_EINVAL : WEFT_E2BIG;
    weft_buf_free(&b);
}

/* Hermes 2 Pro and 3's tool_use template. */
static void render_hermes_tools(const struct weft_chat_msg *msgs, int n, const cJSON *tools,
                                struct out *o)
{
    mk(o, "<|im_start|>system\nYou are a function calling AI model. You are provided with "
          "function signatures within <tools></tools> XML tags. You may call one or more "
          "functions to assist with the user query. Don't make assumptions about what values to "
          "plug into functions. Here are the available tools: <tools> ");
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        hermes_tool(o, t);
        if (t->next)
            mk(o, "\n");
    }
    mk(o, " </tools>Use the following pydantic model json schema for each tool call you will "
          "make: {\"properties\": {\"name\": {\"title\": \"Name\", \"type\": \"string\"}, "
          "\"arguments\": {\"title\": \"Arguments\", \"type\": \"object\"}}, \"required\": "
          "[\"name\", \"arguments\"], \"title\": \"FunctionCall\", \"type\": \"object\"}}\n"
          "For each function call return a json object with function name and arguments within "
          "<tool_call></tool_call> XML tags as follows:\n<tool_call>\n{\"name\": "
          "<function-name>, \"arguments\": <args-dict>}\n</tool_call><|im_end|>\n");
    for (int i = 0; i < n; i++) {
        const struct weft_chat_msg *m = &msgs[i];
        if (is_role(m, "tool")) {
            if (i > 0 && !is_role(&msgs[i - 1], "tool"))
                mk(o, "<|im_start|>tool\n");
            mk(o, "<tool_response>\n");
            ct(o, m->content);
            mk(o, i < n - 1 ? "\n</tool_response>\n" : "\n</tool_response>");
            if (i == n - 1 || !is_role(&msgs[i + 1], "tool"))
                mk(o, "<|im_end|>");
            continue;
        }
        cJSON *calls = m->tool_calls ? cJSON_Parse(m->tool_calls) : NULL;
        if (!is_role(m, "assistant") || !calls) {
            mk(o, "<|im_start|>");
            mk(o, m->role);
            mk(o, "\n");
            ct(o, m->content);
            mk(o, "<|im_end|>\n");
            cJSON_Delete(calls);
            continue;
        }
        mk(o, "<|im_start|>assistant");
        const cJSON *c;
        cJSON_ArrayForEach(c, calls)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
            mk(o, "\n<tool_call>\n{\"name\": \"");
            ct(o, cJSON_IsString(name) ? name->valuestring : "");
            mk(o, "\", \"arguments\": ");
            ct_py(o, cJSON_GetObjectItemCaseSensitive(c, "arguments"));
            mk(o, "}\n</tool_call>");
        }
        mk(o, "<|im_end|>\n");
        cJSON_Delete(calls);
    }
    mk(o, "<|im_start|>assistant\n");
}

static const char qwen_system[] =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

/* Qwen2.5's template, tools, tool calls and tool responses included. */
static void render_qwen25(const struct weft_chat_msg *msgs, int n, const cJSON *tools,
                          struct out *o)
{
    int sys0 = n > 0 && is_role(&msgs[0], "system");
    if (tools) {
        mk(o, "<|im_start|>system\n");
        if (sys0)
            ct(o, msgs[0].content);
        else
            mk(o, qwen_system);
        mk(o, "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
              "You are provided with function signatures within <tools></tools> XML tags:\n"
              "<tools>");
        const cJSON *t;
        cJSON_ArrayForEach(t, tools)
        {
            mk(o, "\n");
            ct_py(o, t);
        }
        mk(o, "\n</tools>\n\nFor each function call, return a json object with function name and "
              "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
              "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n");
    } else if (sys0) {
        mk(o, "<|im_start|>system\n");
        ct(o, msgs[0].content);
        mk(o, "<|im_end|>\n");
    } else {
        mk(o, "<|im_start|>system\n");
        mk(o, qwen_system);
        mk(o, "<|im_end|>\n");
    }
    for (int i = sys0 ? 1 : 0; i < n; i++) {
        const struct weft_chat_msg *m = &msgs[i];
        if (is_role(m, "tool")) {
            if (i == 0 || !is_role(&msgs[i - 1], "tool"))
                mk(o, "<|im_start|>user");
            mk(o, "\n<tool_response>\n");
            ct(o, m->content);
            mk(o, "\n</tool_response>");
            if (i == n - 1 || !is_role(&msgs[i + 1], "tool"))
                mk(o, "<|im_end|>\n");
            continue;
        }
        cJSON *calls = m->tool_calls ? cJSON_Parse(m->tool_calls) : NULL;
        if (!is_role(m, "assistant") || cJSON_GetArraySize(calls) == 0) {
            mk(o, "<|im_start|>");
            mk(o, m->role);
            mk(o, "\n");
            ct(o, m->content);
            mk(o, "<|im_end|>\n");
            cJSON_Delete(calls);
            continue;
        }
        mk(o, "<|im_start|>assistant");
        if (m->content[0]) {
            mk(o, "\n");
            ct(o, m->content);
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, calls)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
            const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "arguments");
            mk(o, "\n<tool_call>\n{\"name\": \"");
            ct(o, cJSON_IsString(name) ? name->valuestring : "");
            mk(o, "\", \"arguments\": ");
            if (args)
                ct_py(o, args);
            else
                ct(o, "{}");
            mk(o, "}\n</tool_call>");
        }
        mk(o, "<|im_end|>\n");
        cJSON_Delete(calls);
    }
    mk(o, "<|im_start|>assistant\n");
}

int weft_chat_template_has_tools(enum weft_chat_template t)
{
    return t == WEFT_TPL_QWEN25 || t == WEFT_TPL_LLAMA31 || t == WEFT_TPL_HERMES;
}

int weft_chat_call_wrap(enum weft_chat_template t, const char **open, const char **close,
                        const char **args_key)
{
    if (!weft_chat_template_has_tools(t))
        return WEFT_ENOTSUP;
    int llama = t == WEFT_TPL_LLAMA31;
    *open = llama ? "" : "<tool_call>\n";
    *close = llama ? "" : "\n</tool_call>";
    *args_key = llama ? "parameters" : "arguments";
    return 0;
}

/* Llama 3.1's reply is the call alone: {"name": ..., "parameters": {...}}
 * (maybe after <|python_tag|>). */
static int parse_llama_call(const char *text, cJSON **calls)
{
    while (isspace((unsigned char)*text))
        text++;
    if (strncmp(text, "<|python_tag|>", 14) == 0)
        text += 14;
    cJSON *call = cJSON_Parse(text);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(call, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(call, "parameters");
    if (!args)
        args = cJSON_GetObjectItemCaseSensitive(call, "arguments");
    int rc = WEFT_ENOENT;
    if (cJSON_IsString(name) && cJSON_IsObject(args)) {
        cJSON *arr = cJSON_CreateArray(), *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", name->valuestring);
        cJSON_AddItemToObject(c, "arguments", cJSON_Duplicate(args, 1));
        cJSON_AddItemToArray(arr, c);
        *calls = arr;
        rc = 0;
    }
    cJSON_Delete(call);
    return rc;
}

int weft_chat_call_format(enum weft_chat_template t, const char *tools, const char *only,
                          char **out)
{
    *out = NULL;
    const char *open, *close, *key;
    if (weft_chat_call_wrap(t, &open, &close, &key) != 0)
        return WEFT_ENOTSUP;
    cJSON *tj = cJSON_Parse(tools);
    cJSON *rf = cJSON_CreateObject();
    cJSON *schema = cJSON_AddObjectToObject(rf, "schema");
    cJSON *any = cJSON_AddArrayToObject(schema, "anyOf");
    const cJSON *t_;
    int n = 0;
    cJSON_ArrayForEach(t_, tj)
    {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(t_, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(f, "parameters");
        if (!cJSON_IsString(name) || (only && strcmp(only, name->valuestring) != 0))
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "object");
        cJSON_AddBoolToObject(o, "additionalProperties", 0);
        cJSON *props = cJSON_AddObjectToObject(o, "properties");
        cJSON *nm = cJSON_AddObjectToObject(props, "name");
        cJSON_AddStringToObject(nm, "const", name->valuestring);
        /* A function without parameters takes {}. */
        cJSON *args = params ? cJSON_Duplicate(params, 1)
                             : cJSON_Parse("{\"type\":\"object\",\"additionalProperties\":false}");
        cJSON_AddItemToObject(props, key, args);
        cJSON *req = cJSON_AddArrayToObject(o, "required");
        cJSON_AddItemToArray(req, cJSON_CreateString("name"));
        cJSON_AddItemToArray(req, cJSON_CreateString(key));
        cJSON_AddItemToArray(any, o);
        n++;
    }
    cJSON_AddStringToObject(rf, "type", "json_schema");
    if (open[0])
        cJSON_AddStringToObject(rf, "prefix", open);
    if (close[0])
        cJSON_AddStringToObject(rf, "suffix", close);
    *out = n ? cJSON_PrintUnformatted(rf) : NULL;
    cJSON_Delete(rf);
    cJSON_Delete(tj);
    return n == 0 ? WEFT_ENOENT : *out ? 0 : WEFT_ENOMEM;
}

int weft_chat_parse_calls(enum weft_chat_template t, const char *text, cJSON **calls,
                          char **content)
{
    *calls = NULL;
    *content = NULL;
    if (!weft_chat_template_has_tools(t))
        return WEFT_ENOENT;
    if (t == WEFT_TPL_LLAMA31)
        return parse_llama_call(text, calls);
    cJSON *arr = cJSON_CreateArray();
    struct weft_buf rest;
    weft_buf_init(&rest, strlen(text) + 1);
    const char *p = text;
    int rc = 0;
    while (arr && rc == 0) {
        const char *a = strstr(p, "<tool_call>");
        const char *z = a ? strstr(a, "</tool_call>") : NULL;
        if (!a || !z) {
            weft_buf_append_str(&rest, p);
            break;
        }
        weft_buf_append(&rest, p, (size_t)(a - p));
        const char *j = a + strlen("<tool_call>");
        cJSON *call = cJSON_ParseWithLength(j, (size_t)(z - j));
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(call, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(call, "arguments");
        if (!cJSON_IsString(name) || !cJSON_IsObject(args)) {
            cJSON_Delete(call);
            rc = WEFT_ENOENT;
            break;
        }
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", name->valuestring);
        cJSON_AddItemToObject(c, "arguments", cJSON_Duplicate(args, 1));
        cJSON_AddItemToArray(arr, c);
        cJSON_Delete(call);
        p = z + strlen("</tool_call>");
    }
    if (!arr) {
        weft_buf_free(&rest);
        return WEFT_ENOMEM;
    }
    if (rc || cJSON_GetArraySize(arr) == 0) {
        cJSON_Delete(arr);
        weft_buf_free(&rest);
        return WEFT_ENOENT;
    }
    /* What is left, trimmed. */
    size_t a = 0, n = rest.len;
    while (a < n && isspace((unsigned char)rest.data[a]))
        a++;
    while (n > a && isspace((unsigned char)rest.data[n - 1]))
        n--;
    if (n > a)
        *content = strndup(rest.data + a, n - a);
    weft_buf_free(&rest);
    *calls = arr;
    return 0;
}

int weft_chat_render_tools(const struct weft_chat_msg *msgs, int n, enum weft_chat_template t,
                           const char *tools, struct weft_buf *out, struct weft_chat_markup *markup)
{
    int has = tools != NULL;
    for (int i = 0; i < n; i++)
        has |= is_role(&msgs[i], "tool") || msgs[i].tool_calls != NULL;
    if (!has)
        return weft_chat_render(msgs, n, t, out, markup);
    if (!weft_chat_template_has_tools(t))
        return WEFT_ENOTSUP;
    cJSON *tj = tools ? cJSON_Parse(tools) : NULL;
    if (tools && !cJSON_IsArray(tj)) {
        cJSON_Delete(tj);
        return WEFT_EINVAL;
    }
    struct out o = {out, markup, 0};
    if (t == WEFT_TPL_LLAMA31)
        render_llama31_tools(msgs, n, tj, &o);
    else if (t == WEFT_TPL_HERMES)
        render_hermes_tools(msgs, n, tj, &o);
    else
        render_qwen25(msgs, n, tj, &o);
    cJSON_Delete(tj);
    return o.rc;
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
    case WEFT_TPL_HERMES: /* its default template; tools take the tool_use one */
        render_chatml(msgs, n, NULL, &o);
        break;
    case WEFT_TPL_QWEN25:
        render_qwen25(msgs, n, NULL, &o);
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
