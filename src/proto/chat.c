/* Chat templates; see include/weft/chat.h. */
#include "weft/chat.h"

#include <stdlib.h>
#include <string.h>

#include "weft/error.h"

static const char *const tpl_names[] = {"raw", "llama2", "chatml", "llama3"};
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

enum weft_chat_template weft_chat_template_detect(const char *jinja)
{
    if (!jinja)
        return WEFT_TPL_RAW;
    if (strstr(jinja, "<|start_header_id|>"))
        return WEFT_TPL_LLAMA3;
    if (strstr(jinja, "<|im_start|>"))
        return WEFT_TPL_CHATML;
    if (strstr(jinja, "[INST]"))
        return WEFT_TPL_LLAMA2;
    return WEFT_TPL_RAW;
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

int weft_chat_render(const struct weft_chat_msg *msgs, int n, enum weft_chat_template t,
                     struct weft_buf *out, struct weft_chat_markup *markup)
{
    struct out o = {out, markup, 0};
    switch (t) {
    case WEFT_TPL_LLAMA2:
        render_llama2(msgs, n, &o);
        break;
    case WEFT_TPL_CHATML:
        for (int i = 0; i < n; i++) {
            mk(&o, "<|im_start|>");
            mk(&o, msgs[i].role);
            mk(&o, "\n");
            ct(&o, msgs[i].content);
            mk(&o, "<|im_end|>\n");
        }
        mk(&o, "<|im_start|>assistant\n");
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
