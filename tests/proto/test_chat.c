/* Chat templates: their exact text over a conversation with every role,
 * detection from a GGUF's Jinja text, and the names. */
#include "harness.h"
#include "weft/chat.h"
#include "weft/error.h"

static void check_markup(enum weft_chat_template t, const char *want, const char *rest_want);

static void render(enum weft_chat_template t, const char *want)
{
    check_markup(t, want, "SU1A1U2");
}

/* Renders the four-message conversation with t: the text is want (unless
 * want is NULL), and what the markup spans leave out is rest_want. */
static void check_markup(enum weft_chat_template t, const char *want, const char *rest_want)
{
    char sys[] = "system", user[] = "user", asst[] = "assistant";
    char s[] = "S", u1[] = "U1", a1[] = "A1", u2[] = "U2";
    struct weft_chat_msg msgs[] = {
        {sys, s, NULL}, {user, u1, NULL}, {asst, a1, NULL}, {user, u2, NULL}};
    struct weft_buf out;
    weft_buf_init(&out, 1 << 16);
    struct weft_chat_markup mk = {0};
    ASSERT_OK(weft_chat_render(msgs, 4, t, &out, &mk));
    if (want)
        ASSERT_EQ_STR(out.data, want);
    /* The markup spans are ordered, apart, inside the text, and what they
     * leave out is exactly the four contents, in order. */
    char rest[64];
    size_t k = 0, at = 0;
    for (size_t i = 0; i < mk.n; i++) {
        ASSERT(mk.r[i][0] >= at && mk.r[i][0] < mk.r[i][1] && mk.r[i][1] <= out.len);
        ASSERT(i == 0 || mk.r[i][0] > mk.r[i - 1][1]); /* touching spans are merged */
        for (; at < mk.r[i][0]; at++)
            rest[k++] = out.data[at];
        at = mk.r[i][1];
    }
    for (; at < out.len; at++)
        rest[k++] = out.data[at];
    rest[k] = '\0';
    ASSERT_EQ_STR(rest, rest_want);
    /* The same text without asking for the spans. */
    struct weft_buf again;
    weft_buf_init(&again, 1 << 16);
    ASSERT_OK(weft_chat_render(msgs, 4, t, &again, NULL));
    ASSERT_EQ_STR(again.data, out.data);
    weft_buf_free(&again);
    weft_chat_markup_free(&mk);
    weft_buf_free(&out);
}

TEST(templates_render_exactly)
{
    render(WEFT_TPL_LLAMA2,
           "[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]");
    render(WEFT_TPL_CHATML, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n"
                            "<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n"
                            "<|im_start|>assistant\n");
    render(WEFT_TPL_LLAMA3, "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                            "<|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|>"
                            "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|>"
                            "<|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|>"
                            "<|start_header_id|>assistant<|end_header_id|>\n\n");
    render(WEFT_TPL_RAW, "S\nU1\nA1\nU2");
}

/* The families whose exact text tests/proto/templates_match_jinja2.py checks
 * against their Jinja templates: here, that only the messages' contents
 * lie outside the markup (Mistral puts the system message in the last user
 * turn; Qwen2.5's default system prompt is markup when there is none). */
TEST(every_family_marks_only_the_contents_as_content)
{
    check_markup(WEFT_TPL_LLAMA31, NULL, "SU1A1U2");
    check_markup(WEFT_TPL_QWEN25, NULL, "SU1A1U2");
    check_markup(WEFT_TPL_PHI3, NULL, "SU1A1U2");
    check_markup(WEFT_TPL_GEMMA, NULL, "SU1A1U2");
    check_markup(WEFT_TPL_MISTRAL, NULL, "U1A1SU2");
    check_markup(WEFT_TPL_DEEPSEEK_R1, NULL, "SU1A1U2");
}

TEST(render_stops_at_the_bound)
{
    char user[] = "user", text[] = "a message longer than the buffer allows";
    struct weft_chat_msg m = {user, text, NULL};
    struct weft_buf out;
    weft_buf_init(&out, 16);
    ASSERT_ERR(weft_chat_render(&m, 1, WEFT_TPL_CHATML, &out, NULL), WEFT_E2BIG);
    weft_buf_free(&out);
}

TEST(template_detection_and_names)
{
    enum weft_chat_template t = WEFT_TPL_RAW;
    ASSERT_OK(weft_chat_template_detect("{% ... '<|im_start|>' + role %}", &t));
    ASSERT_EQ_INT(t, WEFT_TPL_CHATML);
    ASSERT_OK(weft_chat_template_detect("'<|start_header_id|>' + m.role", &t));
    ASSERT_EQ_INT(t, WEFT_TPL_LLAMA3);
    ASSERT_OK(weft_chat_template_detect("{{ bos_token + '[INST] ' }}", &t));
    ASSERT_EQ_INT(t, WEFT_TPL_LLAMA2);
    ASSERT_OK(weft_chat_template_detect(NULL, &t));
    ASSERT_EQ_INT(t, WEFT_TPL_RAW);
    /* A template with none of the known markers is not guessed at. */
    ASSERT_ERR(weft_chat_template_detect("{{ '### Human: ' + m.content }}", &t), WEFT_ENOENT);
    t = WEFT_TPL_RAW;
    ASSERT_OK(weft_chat_template_parse("llama3", &t));
    ASSERT_EQ_INT(t, WEFT_TPL_LLAMA3);
    ASSERT_ERR(weft_chat_template_parse("vicuna", &t), WEFT_EINVAL);
    ASSERT_EQ_INT(t, WEFT_TPL_LLAMA3); /* untouched on failure */
    ASSERT_EQ_STR(weft_chat_template_name(WEFT_TPL_CHATML), "chatml");
}
