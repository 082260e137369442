/* libFuzzer target: every JSON body the developer API parses (chat,
 * completions, jobs, batches and their input lines) and the chat templates over what parses.
 * Promises: no crash or leak; an accepted request has a model, a sane max_tokens and, for chat,
 * messages that render under every template; a refused one carries a 4xx/5xx status and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "weft/chat.h"
#include "weft/openai.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int rc, struct weft_oai_req *r, const struct weft_oai_err *e)
{
    if (rc != 0) {
        if (e->status < 400 || e->status > 599 || !e->message[0])
            abort();
        return;
    }
    if (!r->model[0] || r->max_tokens < 1 || r->max_tokens > WEFT_OAI_MAX_TOKENS)
        abort();
    if (r->kind == WEFT_OAI_CHAT) {
        if (r->n_msgs < 1)
            abort();
        for (int t = WEFT_TPL_RAW; t <= WEFT_TPL_LLAMA3; t++) {
            struct weft_buf b;
            weft_buf_init(&b, 1u << 24);
            struct weft_chat_markup mk = {0};
            if (weft_chat_render(r->msgs, r->n_msgs, (enum weft_chat_template)t, &b, &mk) == 0)
                for (size_t i = 0; i < mk.n; i++) /* ordered, apart, inside the text */
                    if (mk.r[i][0] >= mk.r[i][1] || mk.r[i][1] > b.len ||
                        (i > 0 && mk.r[i][0] <= mk.r[i - 1][1]))
                        abort();
            weft_chat_markup_free(&mk);
            weft_buf_free(&b);
        }
        /* With tools and tool turns, under each template that has them;
         * and the calls read back out of each message. */
        static const enum weft_chat_template tool_tpls[] = {WEFT_TPL_QWEN25, WEFT_TPL_LLAMA31,
                                                            WEFT_TPL_HERMES};
        for (size_t k = 0; k < sizeof tool_tpls / sizeof *tool_tpls; k++) {
            struct weft_buf b;
            weft_buf_init(&b, 1u << 24);
            weft_chat_render_tools(r->msgs, r->n_msgs, tool_tpls[k], r->tools, &b, NULL);
            weft_buf_free(&b);
            char *fmt = NULL;
            if (r->tools && weft_chat_call_format(tool_tpls[k], r->tools, NULL, &fmt) == 0 && !fmt)
                abort();
            free(fmt);
            for (int i = 0; i < r->n_msgs; i++) {
                struct cJSON *calls;
                char *content;
                if (weft_chat_parse_calls(tool_tpls[k], r->msgs[i].content, &calls, &content) == 0)
                    cJSON_Delete(calls);
                free(content);
            }
        }
    } else if (!r->prompt) {
        abort();
    }
    weft_oai_req_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct weft_oai_req r;
    struct weft_oai_err e;
    check(weft_oai_parse(&r, WEFT_OAI_CHAT, s, size, &e), &r, &e);
    check(weft_oai_parse(&r, WEFT_OAI_COMPLETION, s, size, &e), &r, &e);
    check(weft_oai_parse_job(&r, s, size, 1700000000000, &e), &r, &e);
    /* A Batch API input line: an accepted one has a custom_id and its
     * body as JSON. */
    char custom_id[WEFT_OAI_CUSTOM_ID_MAX];
    char *body = NULL;
    int rc = weft_oai_parse_batch_line(&r, WEFT_OAI_CHAT, s, size, custom_id, &body, &e);
    if (rc == 0 && (!custom_id[0] || !body || body[0] != '{'))
        abort();
    free(body);
    check(rc, &r, &e);
    struct weft_oai_batch b;
    rc = weft_oai_parse_batch(&b, s, size, &e);
    if (rc == 0 && (!b.input_file_id[0] || b.window_ms <= 0))
        abort();
    if (rc != 0 && (e.status < 400 || !e.message[0]))
        abort();
    weft_oai_batch_free(&b);
    return 0;
}
