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

#include <stddef.h>
#include <stdint.h>

#include "weft/buf.h"

enum weft_chat_template {
    WEFT_TPL_RAW,         /* contents joined by newlines: base models */
    WEFT_TPL_LLAMA2,      /* [INST] <<SYS>> ... [/INST] */
    WEFT_TPL_CHATML,      /* <|im_start|>role ... <|im_end|> */
    WEFT_TPL_LLAMA3,      /* Llama 3.0: <|start_header_id|>role<|end_header_id|> ... <|eot_id|> */
    WEFT_TPL_LLAMA31,     /* Llama 3.1-3.3: as 3.0, a dated system turn, contents trimmed */
    WEFT_TPL_QWEN25,      /* ChatML with Qwen2.5's default system prompt */
    WEFT_TPL_PHI3,        /* Phi-3/3.5: <|user|>\n ... <|end|>\n */
    WEFT_TPL_GEMMA,       /* Gemma 2/3: <start_of_turn>user|model ... <end_of_turn> */
    WEFT_TPL_MISTRAL,     /* Mistral Nemo / v3-Tekken: [INST]...[/INST]...</s> */
    WEFT_TPL_DEEPSEEK_R1, /* DeepSeek-R1 distills: <｜User｜>...<｜Assistant｜> */
    WEFT_TPL_HERMES,      /* Hermes 2 Pro / 3: ChatML, and its tool_use template with tools */
};

/* One turn of a conversation. role is system, user, assistant or tool
 * (a function's result). An assistant turn that called functions has
 * tool_calls: a compact JSON array [{"name":..,"arguments":{...}}, ...]
 * (NULL otherwise). */
struct weft_chat_msg {
    char *role;
    char *content;
    char *tool_calls;
};

/* "raw", "llama2", "chatml", "llama3", "llama3.1", "qwen2.5", "phi3",
 * "gemma", "mistral", "deepseek-r1", "hermes" -> the template; WEFT_EINVAL for
 * anything else. */
int weft_chat_template_parse(const char *name, enum weft_chat_template *out);
const char *weft_chat_template_name(enum weft_chat_template t);

/* Chooses a template from a GGUF tokenizer.chat_template (Jinja) text by
 * its markers into *out: WEFT_TPL_RAW for NULL (a base model), WEFT_ENOENT
 * for a text none of the known templates matches (the node then needs
 * models[].template). */
int weft_chat_template_detect(const char *jinja, enum weft_chat_template *out);

/* Which bytes of a rendered prompt the template wrote (its markup), as
 * ordered, non-overlapping [start, end) ranges; the rest is the messages'
 * content. The node tokenizes control tokens (<|im_end|>, ...) only inside
 * markup, so content cannot spell one. Grown as needed; free with
 * weft_chat_markup_free. */
#define WEFT_CHAT_MAX_MARKUP 4096
struct weft_chat_markup {
    uint32_t (*r)[2];
    size_t n, cap;
};
void weft_chat_markup_free(struct weft_chat_markup *m);

/* Renders msgs[0..n) into a prompt that ends where the assistant's reply
 * begins, appended to out, and (when markup is not NULL) records the
 * template's own spans, offsets counted from out's start. BOS is the
 * tokenizer's job, not the template's. 0, or WEFT_E2BIG when out's bound
 * or WEFT_CHAT_MAX_MARKUP spans are reached, or WEFT_ENOMEM. */
int weft_chat_render(const struct weft_chat_msg *msgs, int n, enum weft_chat_template t,
                     struct weft_buf *out, struct weft_chat_markup *markup);

/* Tools (function calling). Templates with tool support: qwen2.5 (its
 * "# Tools" system block, <tool_call> and <tool_response>), hermes (its
 * tool_use template: a function-calling system prompt with each tool's
 * Python-style signature) and llama3.1
 * (Llama 3.1-3.3's custom tools in the first user message, a call as the
 * whole reply, results as ipython turns). */
int weft_chat_template_has_tools(enum weft_chat_template t);
/* As weft_chat_render, with tools (a compact JSON array of OpenAI tool
 * objects; NULL: none) where the template puts them, each written as
 * Python's json.dumps writes it (the templates' tojson). WEFT_ENOTSUP when
 * tools, tool turns or tool calls meet a template without tool support. */
int weft_chat_render_tools(const struct weft_chat_msg *msgs, int n, enum weft_chat_template t,
                           const char *tools, struct weft_buf *out,
                           struct weft_chat_markup *markup);
/* The calls in a reply written the template's way (qwen2.5:
 * <tool_call>{"name":..,"arguments":{..}}</tool_call>, any number of
 * them): *calls a cJSON array of {"name","arguments"} (arguments an
 * object), *content what is left of the text (trimmed; NULL when empty).
 * 0 when it found calls; WEFT_ENOENT when none (or one does not parse:
 * the text is then all content); WEFT_ENOMEM. */
struct cJSON;
int weft_chat_parse_calls(enum weft_chat_template t, const char *text, struct cJSON **calls,
                          char **content);
/* How one call is written in template t's replies: the text around its
 * JSON ("<tool_call>\n", "\n</tool_call>" for qwen2.5; none for
 * llama3.1) and the key of its arguments ("arguments"; "parameters"). */
int weft_chat_call_wrap(enum weft_chat_template t, const char **open, const char **close,
                        const char **args_key);
/* The node API's response_format that makes a reply one call, written
 * template t's way: {"type":"json_schema","schema":{"anyOf":[one object
 * {"name": const, "arguments": the function's parameters} per function]},
 * "prefix","suffix"} for the functions of tools (only the one named
 * `only`, when not NULL). *out is owned by the caller. 0, WEFT_ENOTSUP
 * (no tool support), WEFT_ENOENT (no such function) or WEFT_ENOMEM. */
int weft_chat_call_format(enum weft_chat_template t, const char *tools, const char *only,
                          char **out);

#endif /* WEFT_CHAT_H */
