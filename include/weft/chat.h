/* Chat templates: a list of role/content messages rendered into the
 * prompt text a model was trained on. Shared by the scheduler (which
 * renders an OpenAI chat request for the node that takes it) and the node
 * (which names the template its model uses), with no OpenAI request types:
 * anything that has messages can render them.
 *
 * Ownership: messages are borrowed for the call; the rendered text is
 * appended to the caller's buffer. Thread-safety: reentrant; the names
 * returned are static.
 */
#ifndef WEFT_CHAT_H
#define WEFT_CHAT_H

#include "weft/buf.h"

enum weft_chat_template {
    WEFT_TPL_RAW,    /* contents joined by newlines: base models */
    WEFT_TPL_LLAMA2, /* [INST] <<SYS>> ... [/INST] */
    WEFT_TPL_CHATML, /* <|im_start|>role ... <|im_end|> */
    WEFT_TPL_LLAMA3, /* <|start_header_id|>role<|end_header_id|> ... <|eot_id|> */
};

/* One turn of a conversation. role is system, user or assistant. */
struct weft_chat_msg {
    char *role;
    char *content;
};

/* "raw", "llama2", "chatml", "llama3" -> the template; WEFT_EINVAL for
 * anything else. */
int weft_chat_template_parse(const char *name, enum weft_chat_template *out);
const char *weft_chat_template_name(enum weft_chat_template t);

/* Chooses a template from a GGUF tokenizer.chat_template (Jinja) text by
 * its markers; NULL or an unknown text gives WEFT_TPL_RAW. */
enum weft_chat_template weft_chat_template_detect(const char *jinja);

/* Renders msgs[0..n) into a prompt that ends where the assistant's reply
 * begins, appended to out. BOS is the tokenizer's job, not the template's.
 * 0, or WEFT_E2BIG when out's bound is reached. */
int weft_chat_render(const struct weft_chat_msg *msgs, int n, enum weft_chat_template t,
                     struct weft_buf *out);

#endif /* WEFT_CHAT_H */
