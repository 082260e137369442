/* What a node reads from the scheduler. The job assignment: every field of
 * the body the scheduler sends (src/sched/core.c, assignment_json), and
 * what is refused, with the job id kept whenever it is usable so the node
 * can answer for it. The hello and heartbeat replies: bounds and defaults. */
#include <string.h>

#include "harness.h"
#include "weft/error.h"
#include "weft/nodemsg.h"

static int parse(const char *body, struct weft_assignment *a, char *why, size_t cap)
{
    return weft_assignment_parse(body, strlen(body), a, why, cap);
}

TEST(assignment_with_every_field)
{
    struct weft_assignment a;
    char why[160];
    ASSERT_EQ_INT(
        parse("{\"job\":\"chatcmpl-0a1b\",\"model\":\"stories260K\",\"prompt\":\"<s>hi\","
              "\"tokens\":[12,0,2147483647],\"max_tokens\":3,\"temperature\":0,"
              "\"top_p\":0.5,\"seed\":\"18446744073709551615\",\"stop\":[\"\\n\\n\",\"E\"],"
              "\"attempt\":2}",
              &a, why, sizeof why),
        0);
    ASSERT_EQ_STR(a.job, "chatcmpl-0a1b");
    ASSERT_EQ_STR(a.model, "stories260K");
    ASSERT_EQ_STR(a.prompt, "<s>hi");
    ASSERT_EQ_INT(a.n_resume, 3);
    ASSERT_EQ_INT(a.resume[2], 2147483647);
    ASSERT_EQ_INT(a.max_tokens, 3);
    ASSERT(a.temperature == 0 && a.top_p == 0.5);
    ASSERT_EQ_UINT(a.seed, 18446744073709551615ull);
    ASSERT_EQ_INT(a.n_stop, 2);
    ASSERT_EQ_STR(a.stop[0], "\n\n");
    weft_assignment_free(&a);
}

TEST(assignment_defaults)
{
    struct weft_assignment a;
    char why[160];
    ASSERT_EQ_INT(parse("{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[],"
                        "\"max_tokens\":1,\"seed\":\"0\"}",
                        &a, why, sizeof why),
                  0);
    ASSERT(a.temperature == 1 && a.top_p == 1);
    ASSERT_EQ_INT(a.n_stop, 0);
    ASSERT_EQ_INT(a.n_resume, 0);
    weft_assignment_free(&a);
}

TEST(assignment_refusals)
{
    static const struct {
        const char *body, *why, *job;
    } cases[] = {
        {"[]", "JSON object", ""},
        {"{\"job\":\"../etc\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[],\"max_tokens\":1,"
         "\"seed\":\"1\"}",
         "job must be", ""},
        {"{\"job\":\"j 1\",\"model\":\"m\"}", "job must be", ""},
        {"{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[],\"max_tokens\":1e300,"
         "\"seed\":\"1\"}",
         "max_tokens", "j"},
        {"{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[],\"max_tokens\":0,"
         "\"seed\":\"1\"}",
         "max_tokens", "j"},
        {"{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[1,2],\"max_tokens\":1,"
         "\"seed\":\"1\"}",
         "tokens", "j"},
        {"{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[-1],\"max_tokens\":5,"
         "\"seed\":\"1\"}",
         "tokens", "j"},
        {"{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[1.5],\"max_tokens\":5,"
         "\"seed\":\"1\"}",
         "tokens", "j"},
        {"{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[],\"max_tokens\":5,"
         "\"seed\":\"18446744073709551616\"}",
         "seed", "j"},
        {"{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[],\"max_tokens\":5,"
         "\"seed\":\"-1\"}",
         "seed", "j"},
        {"{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[],\"max_tokens\":5,"
         "\"seed\":\"1\",\"temperature\":3}",
         "temperature", "j"},
        {"{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[],\"max_tokens\":5,"
         "\"seed\":\"1\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
         "stop", "j"},
        {"{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"\",\"tokens\":[],\"max_tokens\":5,"
         "\"seed\":\"1\",\"stop\":[\"0123456789012345678901234567890123456789012345678901234567890"
         "123\"]}",
         "stop", "j"},
        {"{\"job\":\"j\",\"model\":\"\",\"prompt\":\"\",\"tokens\":[],\"max_tokens\":5,"
         "\"seed\":\"1\"}",
         "model", "j"},
        {"{\"job\":\"j\",\"model\":\"m\",\"tokens\":[],\"max_tokens\":5,\"seed\":\"1\"}", "prompt",
         "j"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct weft_assignment a;
        char why[160] = "";
        ASSERT_EQ_INT(parse(cases[i].body, &a, why, sizeof why), WEFT_EPARSE);
        ASSERT_CONTAINS(why, cases[i].why);
        ASSERT_EQ_STR(a.job, cases[i].job);
        weft_assignment_free(&a);
    }
}

TEST(hello_reply_heartbeat_is_clamped)
{
    static const struct {
        const char *body;
        int ms;
    } cases[] = {
        {"{\"heartbeat_ms\":300}", 300},     {"{\"heartbeat_ms\":10}", 50},
        {"{\"heartbeat_ms\":1e300}", 60000}, {"{\"heartbeat_ms\":-1e300}", 50},
        {"{\"heartbeat_ms\":\"x\"}", 2000},  {"{}", 2000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct weft_hello_reply r;
        char why[160];
        ASSERT_EQ_INT(
            weft_hello_reply_parse(cases[i].body, strlen(cases[i].body), &r, why, sizeof why), 0);
        ASSERT_EQ_INT(r.heartbeat_ms, cases[i].ms);
    }
    struct weft_hello_reply r;
    char why[160];
    ASSERT_EQ_INT(weft_hello_reply_parse("[1]", 3, &r, why, sizeof why), WEFT_EPARSE);
    ASSERT_CONTAINS(why, "JSON object");
}

TEST(heartbeat_reply_cancels)
{
    const char *body = "{\"lease_ms\":6000,\"cancel\":[\"cmpl-1\",7,\"\",null,\"chatcmpl-2\"]}";
    struct weft_heartbeat_reply r;
    char why[160];
    ASSERT_EQ_INT(weft_heartbeat_reply_parse(body, strlen(body), &r, why, sizeof why), 0);
    ASSERT_EQ_INT(r.n_cancel, 2);
    ASSERT_EQ_STR(r.cancel[0], "cmpl-1");
    ASSERT_EQ_STR(r.cancel[1], "chatcmpl-2");
    ASSERT_EQ_INT(weft_heartbeat_reply_parse("nope", 4, &r, why, sizeof why), WEFT_EPARSE);
    ASSERT_EQ_INT(r.n_cancel, 0);
}
