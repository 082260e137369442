/* Chat templates; see include/weft/chat.h. */
#include "weft/chat.h"

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

static int render_llama2(const struct weft_chat_msg *msgs, int n, struct weft_buf *o)
{
    /* Llama-2-chat: the system prompt folds into the first user turn; each
     * finished exchange closes with </s> and the next opens with <s>. */
    const char *sys = NULL;
    int rc = 0, first = 1;
    for (int i = 0; i < n && rc == 0; i++) {
        const struct weft_chat_msg *m = &msgs[i];
        if (strcmp(m->role, "system") == 0) {
            sys = m->content;
        } else if (strcmp(m->role, "user") == 0) {
            if (!first)
                rc |= weft_buf_append_str(o, "<s>");
            rc |= weft_buf_append_str(o, "[INST] ");
            if (sys) {
                rc |= weft_buf_appendf(o, "<<SYS>>\n%s\n<</SYS>>\n\n", sys);
                sys = NULL;
            }
            rc |= weft_buf_appendf(o, "%s [/INST]", m->content);
            first = 0;
        } else {
            rc |= weft_buf_appendf(o, " %s </s>", m->content);
        }
    }
    return rc ? WEFT_E2BIG : 0;
}

int weft_chat_render(const struct weft_chat_msg *msgs, int n, enum weft_chat_template t,
                     struct weft_buf *out)
{
    int rc = 0;
    switch (t) {
    case WEFT_TPL_LLAMA2:
        return render_llama2(msgs, n, out);
    case WEFT_TPL_CHATML:
        for (int i = 0; i < n; i++)
            rc |= weft_buf_appendf(out, "<|im_start|>%s\n%s<|im_end|>\n", msgs[i].role,
                                   msgs[i].content);
        rc |= weft_buf_append_str(out, "<|im_start|>assistant\n");
        break;
    case WEFT_TPL_LLAMA3:
        for (int i = 0; i < n; i++)
            rc |= weft_buf_appendf(out, "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>",
                                   msgs[i].role, msgs[i].content);
        rc |= weft_buf_append_str(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case WEFT_TPL_RAW:
    default:
        for (int i = 0; i < n; i++)
            rc |= weft_buf_appendf(out, "%s%s", i ? "\n" : "", msgs[i].content);
        break;
    }
    return rc ? WEFT_E2BIG : 0;
}
