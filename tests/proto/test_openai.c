/* OpenAI request bodies: what is accepted, what is refused with which
 * status and param, and job fields. */
#include "harness.h"
#include "weft/error.h"
#include "weft/openai.h"

static int parse(enum weft_oai_kind k, const char *body, struct weft_oai_req *r,
                 struct weft_oai_err *e)
{
    return weft_oai_parse(r, k, body, strlen(body), e);
}

TEST(chat_request_with_every_field)
{
    struct weft_oai_req r;
    struct weft_oai_err e;
    ASSERT_EQ_INT(parse(WEFT_OAI_CHAT,
                        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
                        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                        "{\"type\":\"text\",\"text\":\"b\"}]}],\"max_tokens\":12,"
                        "\"temperature\":0.5,\"top_p\":0.9,\"seed\":-3,\"stop\":[\"x\",\"yz\"],"
                        "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"n\":1,"
                        "\"user\":\"u\",\"presence_penalty\":-0.5,\"frequency_penalty\":2}",
                        &r, &e),
                  0);
    ASSERT_EQ_STR(r.model, "m");
    ASSERT_EQ_INT(r.n_msgs, 2);
    ASSERT_EQ_STR(r.msgs[1].content, "ab");
    ASSERT_EQ_INT(r.max_tokens, 12);
    ASSERT(r.temperature == 0.5 && r.top_p == 0.9);
    ASSERT(r.presence_penalty == -0.5 && r.frequency_penalty == 2);
    ASSERT_EQ_INT(r.has_seed, 1);
    ASSERT_EQ_INT((int64_t)r.seed, -3);
    ASSERT_EQ_INT(r.n_stop, 2);
    ASSERT_EQ_STR(r.stop[1], "yz");
    ASSERT_EQ_INT(r.stream, 1);
    ASSERT_EQ_INT(r.include_usage, 1);
    weft_oai_req_free(&r);
}

TEST(defaults_when_fields_are_absent)
{
    struct weft_oai_req r;
    struct weft_oai_err e;
    ASSERT_EQ_INT(parse(WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":[\"p\"]}", &r, &e), 0);
    ASSERT_EQ_STR(r.prompt, "p");
    ASSERT_EQ_INT(r.max_tokens, WEFT_OAI_DEFAULT_TOKENS);
    ASSERT(r.temperature == 1.0 && r.top_p == 1.0);
    ASSERT_EQ_INT(r.has_seed, 0);
    ASSERT_EQ_INT(r.stream, 0);
    weft_oai_req_free(&r);
}

struct bad_case {
    enum weft_oai_kind kind;
    const char *body;
    const char *param;
};

TEST(bad_requests_name_the_param)
{
    static const struct bad_case cases[] = {
        {WEFT_OAI_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model"},
        {WEFT_OAI_CHAT, "{\"model\":\"m\"}", "messages"},
        {WEFT_OAI_CHAT, "{\"model\":\"m\",\"messages\":[]}", "messages"},
        {WEFT_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}",
         "messages[0]"},
        {WEFT_OAI_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", "messages[0]"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"max_tokens\":0}",
         "max_tokens"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"max_tokens\":1.5}",
         "max_tokens"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"temperature\":2.5}",
         "temperature"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"top_p\":\"high\"}",
         "top_p"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
         "stop"},
        /* A node matches stop strings of up to 63 bytes: longer is refused, not cut. */
        {WEFT_OAI_COMPLETION,
         "{\"model\":\"m\",\"prompt\":\"a\",\"stop\":"
         "\"0123456789012345678901234567890123456789012345678901234567890123\"}",
         "stop"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"n\":17}",
         "n"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"tools\":[]}",
         "tools"},
        {WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}", "prompt"},
        {WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"logit_bias\":{\"50256\":-100}}",
         "logit_bias"},
        {WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"frequency_penalty\":2.5}",
         "frequency_penalty"},
        {WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"presence_penalty\":\"0\"}",
         "presence_penalty"},
        {WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"echo\":true}", "echo"},
        {WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"logprobs\":6}", "logprobs"},
        {WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"top_logprobs\":2}",
         "top_logprobs"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"top_logprobs\":2}",
         "top_logprobs"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"logprobs\":true,\"top_logprobs\":21}",
         "top_logprobs"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
         "\"logprobs\":1}",
         "logprobs"},
        /* Found by the fuzzer: a second "prompt" leaked the first. */
        {WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"prompt\":\"b\"}", "prompt"},
        {WEFT_OAI_CHAT,
         "{\"model\":\"m\",\"model\":\"n\",\"messages\":[{\"role\":\"user\","
         "\"content\":\"x\"}]}",
         "model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct weft_oai_req r;
        struct weft_oai_err e;
        int rc = parse(cases[i].kind, cases[i].body, &r, &e);
        if (rc == 0)
            TEST_FAIL_("case %zu accepted: %s", i, cases[i].body);
        ASSERT_EQ_INT(e.status, 400);
        if (strcmp(e.param, cases[i].param) != 0)
            TEST_FAIL_("case %zu: param \"%s\", want \"%s\" (%s)", i, e.param, cases[i].param,
                       e.message);
    }
}

TEST(logprobs_in_both_shapes)
{
    struct weft_oai_req r;
    struct weft_oai_err e;
    ASSERT_OK(parse(WEFT_OAI_CHAT,
                    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                    "\"logprobs\":true,\"top_logprobs\":20}",
                    &r, &e));
    ASSERT_EQ_INT(r.logprobs, 1);
    ASSERT_EQ_INT(r.top_logprobs, 20);
    weft_oai_req_free(&r);
    ASSERT_OK(parse(WEFT_OAI_CHAT,
                    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                    "\"logprobs\":false,\"top_logprobs\":null}",
                    &r, &e));
    ASSERT_EQ_INT(r.logprobs, 0);
    weft_oai_req_free(&r);
    ASSERT_OK(
        parse(WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"logprobs\":3}", &r, &e));
    ASSERT_EQ_INT(r.logprobs, 1);
    ASSERT_EQ_INT(r.top_logprobs, 3);
    weft_oai_req_free(&r);
    ASSERT_OK(
        parse(WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"logprobs\":0}", &r, &e));
    ASSERT_EQ_INT(r.logprobs, 1);
    ASSERT_EQ_INT(r.top_logprobs, 0);
    weft_oai_req_free(&r);
    ASSERT_OK(
        parse(WEFT_OAI_COMPLETION, "{\"model\":\"m\",\"prompt\":\"a\",\"logprobs\":null}", &r, &e));
    ASSERT_EQ_INT(r.logprobs, 0);
    weft_oai_req_free(&r);
}

TEST(malformed_and_deep_json_are_refused)
{
    struct weft_oai_req r;
    struct weft_oai_err e;
    ASSERT_EQ_INT(parse(WEFT_OAI_CHAT, "{\"model\":", &r, &e), WEFT_EPARSE);
    ASSERT_EQ_INT(parse(WEFT_OAI_CHAT, "[1,2]", &r, &e), WEFT_EPARSE);
    char deep[256];
    int n = snprintf(deep, sizeof deep, "{\"model\":\"m\",\"x\":");
    for (int i = 0; i < 20; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    ASSERT_EQ_INT(parse(WEFT_OAI_CHAT, deep, &r, &e), WEFT_EPARSE);
    ASSERT_EQ_INT(e.status, 400);
}

TEST(error_object_has_openai_shape)
{
    struct weft_oai_err e;
    weft_oai_set_err(&e, 404, NULL, "model_not_found", "model", "no %s", "such");
    struct weft_buf b;
    weft_buf_init(&b, 4096);
    ASSERT_EQ_INT(weft_oai_error_json(&e, &b), 0);
    ASSERT_EQ_STR(b.data, "{\"error\":{\"message\":\"no such\",\"type\":\"invalid_request_error\","
                          "\"param\":\"model\",\"code\":\"model_not_found\"}}");
    weft_buf_free(&b);
}

TEST(job_fields)
{
    struct weft_oai_req r;
    struct weft_oai_err e;
    const char *b = "{\"endpoint\":\"/v1/completions\",\"completion_window\":\"2h\","
                    "\"priority\":\"interactive\",\"request\":{\"model\":\"m\",\"prompt\":\"p\"}}";
    ASSERT_EQ_INT(weft_oai_parse_job(&r, b, strlen(b), 1000, &e), 0);
    ASSERT_EQ_INT(r.kind, WEFT_OAI_COMPLETION);
    ASSERT_EQ_INT(r.deadline_ms, 1000 + 2 * 3600 * 1000);
    ASSERT_EQ_INT(r.priority, WEFT_OAI_INTERACTIVE);
    weft_oai_req_free(&r);
    b = "{\"deadline\":5,\"request\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"x\"}]}}";
    ASSERT_EQ_INT(weft_oai_parse_job(&r, b, strlen(b), 10000, &e), WEFT_EINVAL);
    ASSERT_EQ_STR(e.param, "deadline");
    b = "{\"request\":{\"model\":\"m\",\"prompt\":\"p\"},\"endpoint\":\"/v1/embeddings\"}";
    ASSERT_EQ_INT(weft_oai_parse_job(&r, b, strlen(b), 0, &e), WEFT_EINVAL);
    ASSERT_EQ_STR(e.param, "endpoint");
    b = "{\"request\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]},"
        "\"completion_window\":\"24x\"}";
    ASSERT_EQ_INT(weft_oai_parse_job(&r, b, strlen(b), 0, &e), WEFT_EINVAL);
    b = "{\"request\":{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}";
    ASSERT_EQ_INT(weft_oai_parse_job(&r, b, strlen(b), 0, &e), 0);
    ASSERT_EQ_INT(r.priority, WEFT_OAI_DEFERRABLE);
    ASSERT_EQ_INT(r.deadline_ms, 0);
    weft_oai_req_free(&r);
}

/* A developer's body is one JSON text as RFC 8259 has it: cJSON alone let
 * each of these through (issue 17, finding 8), and an invalid model name
 * came back in the 404. */
TEST(only_one_strict_json_text_is_accepted)
{
    struct weft_oai_req r;
    struct weft_oai_err e;
    static const char *bad[] = {
        "{\"model\":\"m\",\"prompt\":\"p\"} trailing",
        "{\"model\":\"m\",\"prompt\":\"p\"}{\"model\":\"m\",\"prompt\":\"p\"}",
        "\xef\xbb\xbf{\"model\":\"m\",\"prompt\":\"p\"}",
        "{\"model\":\"m\xff\",\"prompt\":\"p\"}",
        "{\"model\":\"m\xc0\xaf\",\"prompt\":\"p\"}",     /* overlong '/' */
        "{\"model\":\"m\xed\xa0\x80\",\"prompt\":\"p\"}", /* a surrogate */
        "{\"model\":\"m\",\"prompt\":\"p\xe2\x82\"}",     /* cut short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(WEFT_OAI_COMPLETION, bad[i], &r, &e) != WEFT_EPARSE)
            TEST_FAIL_("body %zu accepted", i);
        ASSERT_EQ_INT(e.status, 400);
    }
    /* a NUL inside the body (strlen would stop there) */
    static const char nul[] = "{\"model\":\"m\",\"prompt\":\"p\"}\0{}";
    ASSERT_EQ_INT(weft_oai_parse(&r, WEFT_OAI_COMPLETION, nul, sizeof nul - 1, &e), WEFT_EPARSE);
    /* whitespace around the object and real UTF-8 are fine */
    ASSERT_OK(parse(WEFT_OAI_COMPLETION, " \r\n{\"model\":\"m\",\"prompt\":\"\xe2\x82\xac\"}\n\t ",
                    &r, &e));
    weft_oai_req_free(&r);
}
