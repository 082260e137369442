/* The node API's messages. What a node reads from the scheduler. The job assignment: every field of
 * the body the scheduler sends (src/sched/core.c, assignment_json), and
 * what is refused, with the job id kept whenever it is usable so the node
 * can answer for it. The hello and heartbeat replies: bounds and defaults. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "weft/error.h"
#include "weft/nodemsg.h"

static int parse(const char *body, struct weft_assignment *a, char *err, size_t errcap)
{
    return weft_assignment_parse(body, strlen(body), a, err, errcap);
}

TEST(assignment_with_every_field)
{
    struct weft_assignment a;
    char why[160];
    ASSERT_EQ_INT(
        parse("{\"job\":\"chatcmpl-0a1b\",\"model\":\"stories260K\",\"prompt\":\"<s>hi\","
              "\"tokens\":[12,0,2147483647],\"max_tokens\":3,\"temperature\":0,"
              "\"top_p\":0.5,\"seed\":\"18446744073709551615\",\"stop\":[\"\\n\\n\",\"E\"],"
              "\"attempt\":2,\"presence_penalty\":-2,\"frequency_penalty\":0.25}",
              &a, why, sizeof why),
        0);
    ASSERT_EQ_STR(a.job, "chatcmpl-0a1b");
    ASSERT_EQ_STR(a.model, "stories260K");
    ASSERT_EQ_STR(a.prompt, "<s>hi");
    ASSERT_EQ_INT(a.n_resume, 3);
    ASSERT_EQ_INT(a.resume[2], 2147483647);
    ASSERT_EQ_INT(a.max_tokens, 3);
    ASSERT(a.temperature == 0 && a.top_p == 0.5);
    ASSERT(a.presence_penalty == -2 && a.frequency_penalty == 0.25);
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
    ASSERT(a.presence_penalty == 0 && a.frequency_penalty == 0);
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

/* ---- round trips: what a writer writes, its parser reads back ----------- */

static void written(int rc, const struct weft_buf *b)
{
    ASSERT_OK(rc);
    ASSERT_NOT_NULL(b->data);
}

TEST(hello_round_trip)
{
    struct weft_hello h, back;
    memset(&h, 0, sizeof h);
    snprintf(h.models[0].name, sizeof h.models[0].name, "stories260K");
    h.models[0].tpl = WEFT_TPL_RAW;
    snprintf(h.models[1].name, sizeof h.models[1].name, "qwen \"2.5\" \xc3\xa9");
    h.models[1].tpl = WEFT_TPL_CHATML;
    h.n_models = 2;
    h.max_concurrency = 7;
    snprintf(h.hardware, sizeof h.hardware, "CUDA, 1 GPU\n");
    struct weft_buf b;
    weft_buf_init(&b, 1 << 16);
    written(weft_hello_write(&h, &b), &b);
    char err[160];
    ASSERT_OK(weft_hello_parse(b.data, b.len, &back, err, sizeof err));
    ASSERT_EQ_INT(memcmp(&h, &back, sizeof h), 0);
    weft_buf_free(&b);
}

TEST(hello_reply_round_trip)
{
    struct weft_hello_reply r = {.heartbeat_ms = 300, .lease_ms = 900}, back;
    snprintf(r.node, sizeof r.node, "home-a");
    struct weft_buf b;
    weft_buf_init(&b, 1 << 16);
    written(weft_hello_reply_write(&r, &b), &b);
    char err[160];
    ASSERT_OK(weft_hello_reply_parse(b.data, b.len, &back, err, sizeof err));
    ASSERT_EQ_STR(back.node, "home-a");
    ASSERT_EQ_INT(back.heartbeat_ms, 300);
    ASSERT_EQ_INT(back.lease_ms, 900);
    weft_buf_free(&b);
}

TEST(heartbeat_round_trip)
{
    struct weft_heartbeat hb, back;
    memset(&hb, 0, sizeof hb);
    hb.budget_w = 245.5;
    hb.pv_w = 3012;
    hb.load_w = NAN; /* absent: written as nothing, read back as NAN */
    hb.grid_w = -1500.25;
    hb.battery_w = NAN;
    hb.soc = 97;
    hb.compute_w = 87;
    hb.deferrable = 1;
    hb.slots = 3;
    hb.budget_s = 5400;
    snprintf(hb.policy_state, sizeof hb.policy_state, "on");
    snprintf(hb.reason, sizeof hb.reason, "surplus 2 kW \"exported\"");
    for (int i = 0; i < 3; i++) {
        snprintf(hb.jobs[i].id, sizeof hb.jobs[i].id, "cmpl-%d", i);
        hb.jobs[i].tokens = 1000000000000LL / (i + 1);
    }
    hb.n_jobs = 3;
    struct weft_buf b;
    weft_buf_init(&b, 1 << 16);
    written(weft_heartbeat_write(&hb, &b), &b);
    char err[160];
    ASSERT_OK(weft_heartbeat_parse(b.data, b.len, &back, err, sizeof err));
    ASSERT(back.budget_w == hb.budget_w && back.pv_w == hb.pv_w && back.grid_w == hb.grid_w);
    ASSERT(isnan(back.load_w) && isnan(back.battery_w));
    ASSERT(back.soc == hb.soc && back.compute_w == hb.compute_w);
    ASSERT_EQ_INT(back.deferrable, 1);
    ASSERT_EQ_INT(back.interactive, 0);
    ASSERT_EQ_INT(back.slots, 3);
    ASSERT_EQ_INT(back.budget_s, 5400);
    /* Unknown is not sent, and reads back as -1; so do values out of range. */
    struct weft_heartbeat u;
    ASSERT_OK(weft_heartbeat_parse("{\"budget_w\":1}", 14, &u, err, sizeof err));
    ASSERT_EQ_INT(u.budget_s, -1);
    ASSERT_OK(weft_heartbeat_parse("{\"budget_s\":9e9}", 16, &u, err, sizeof err));
    ASSERT_EQ_INT(u.budget_s, -1);
    ASSERT_OK(weft_heartbeat_parse("{\"budget_s\":-5}", 15, &u, err, sizeof err));
    ASSERT_EQ_INT(u.budget_s, -1);
    ASSERT_EQ_STR(back.policy_state, "on");
    ASSERT_EQ_STR(back.reason, hb.reason);
    ASSERT_EQ_INT(back.n_jobs, 3);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_STR(back.jobs[i].id, hb.jobs[i].id);
        ASSERT_EQ_INT(back.jobs[i].tokens, hb.jobs[i].tokens);
    }
    weft_buf_free(&b);
}

TEST(heartbeat_reply_round_trip)
{
    struct weft_heartbeat_reply r, back;
    memset(&r, 0, sizeof r);
    snprintf(r.cancel[0], sizeof r.cancel[0], "chatcmpl-0a");
    snprintf(r.cancel[1], sizeof r.cancel[1], "job-1");
    r.n_cancel = 2;
    r.lease_ms = 6000;
    struct weft_buf b;
    weft_buf_init(&b, 1 << 16);
    written(weft_heartbeat_reply_write(&r, &b), &b);
    char err[160];
    ASSERT_OK(weft_heartbeat_reply_parse(b.data, b.len, &back, err, sizeof err));
    ASSERT_EQ_INT(memcmp(&r, &back, sizeof r), 0);
    weft_buf_free(&b);
}

TEST(assignment_round_trip)
{
    int32_t toks[] = {0, 7, 2147483647};
    struct weft_assignment a, back;
    memset(&a, 0, sizeof a);
    snprintf(a.job, sizeof a.job, "chatcmpl-0a1b");
    snprintf(a.model, sizeof a.model, "stories260K");
    char prompt[] = "<|im_start|>user\n\"hi\"\t\xe2\x98\x80<|im_end|>\n";
    a.prompt = prompt;
    a.resume = toks;
    a.n_resume = 3;
    a.max_tokens = 8192;
    a.temperature = 0.7;
    a.top_p = 0.25;
    a.presence_penalty = 1.5;
    a.frequency_penalty = -0.75;
    a.seed = 18446744073709551615ull;
    snprintf(a.stop[0], sizeof a.stop[0], "\n\n");
    snprintf(a.stop[1], sizeof a.stop[1], "%s",
             "012345678901234567890123456789012345678901234567890123456789012");
    a.n_stop = 2;
    a.attempt = 3;
    uint32_t mk[2][2] = {{0, 17}, {25, 36}}; /* "<|im_start|>user\n", "<|im_end|>\n" */
    a.markup = mk;
    a.n_markup = 2;
    a.logprobs = 1;
    a.top_logprobs = 20;
    struct weft_buf b;
    weft_buf_init(&b, 1 << 16);
    written(weft_assignment_write(&a, &b), &b);
    char err[160];
    ASSERT_OK(weft_assignment_parse(b.data, b.len, &back, err, sizeof err));
    ASSERT_EQ_INT(back.logprobs, 1);
    ASSERT_EQ_INT(back.top_logprobs, 20);
    ASSERT_EQ_STR(back.job, a.job);
    ASSERT_EQ_STR(back.model, a.model);
    ASSERT_EQ_STR(back.prompt, a.prompt);
    ASSERT_EQ_INT(back.n_resume, 3);
    ASSERT_EQ_INT(memcmp(back.resume, toks, sizeof toks), 0);
    ASSERT_EQ_INT(back.max_tokens, 8192);
    ASSERT(back.temperature == 0.7 && back.top_p == 0.25);
    ASSERT(back.presence_penalty == 1.5 && back.frequency_penalty == -0.75);
    ASSERT_EQ_UINT(back.seed, a.seed);
    ASSERT_EQ_INT(back.n_stop, 2);
    ASSERT_EQ_STR(back.stop[0], a.stop[0]);
    ASSERT_EQ_STR(back.stop[1], a.stop[1]);
    ASSERT_EQ_INT(back.attempt, 3);
    ASSERT_EQ_INT(back.n_markup, 2);
    ASSERT_EQ_INT(memcmp(back.markup, mk, sizeof mk), 0);
    weft_assignment_free(&back);
    weft_buf_free(&b);
}

static void event_round_trip(const struct weft_event *ev)
{
    struct weft_buf b;
    weft_buf_init(&b, 1 << 16);
    written(weft_event_write(ev, &b), &b);
    /* One line: the only newline is the last byte. */
    ASSERT(b.len > 1 && b.data[b.len - 1] == '\n');
    ASSERT(memchr(b.data, '\n', b.len - 1) == NULL);
    struct weft_event back;
    ASSERT_OK(weft_event_parse(b.data, b.len - 1, &back));
    ASSERT_EQ_INT(back.kind, ev->kind);
    ASSERT_EQ_STR(back.text, ev->text);
    if (ev->kind == WEFT_EV_TOKEN) {
        ASSERT_EQ_INT(back.i, ev->i);
        ASSERT_EQ_INT(back.id, ev->id);
        ASSERT_EQ_INT(back.has_lp, ev->has_lp);
        ASSERT_EQ_INT(back.n_top, ev->n_top);
        for (int k = -1; ev->has_lp && k < ev->n_top; k++) {
            const struct weft_token_lp *w = k < 0 ? &ev->lp : &ev->top[k];
            const struct weft_token_lp *g = k < 0 ? &back.lp : &back.top[k];
            ASSERT_EQ_INT(g->id, w->id);
            ASSERT(g->logprob == w->logprob); /* a float survives a JSON double */
            ASSERT_EQ_INT(g->n_bytes, w->n_bytes);
            ASSERT_EQ_INT(memcmp(g->bytes, w->bytes, w->n_bytes), 0);
        }
    } else {
        ASSERT_EQ_INT(back.end, ev->end);
        ASSERT_EQ_INT(back.prompt_tokens, ev->prompt_tokens);
        /* An error without a message reads as "error". */
        ASSERT_EQ_STR(back.message, ev->message[0] ? ev->message : "error");
    }
    weft_buf_free(&b);
}

TEST(events_round_trip)
{
    struct weft_event ev;
    memset(&ev, 0, sizeof ev);
    weft_event_token(&ev, 0, 0, "", 0);
    event_round_trip(&ev);
    weft_event_token(&ev, 1000000000, 2147483647, " \"quoted\"\n\\ \xe4\xb8\x96", 16);
    event_round_trip(&ev);
    /* With log-probabilities: bytes that are not UTF-8 on their own, the
     * longest piece, and every alternative. */
    weft_event_token(&ev, 3, 77, "", 0);
    ev.has_lp = 1;
    ev.lp = (struct weft_token_lp){.id = 77, .logprob = -0.125f, .n_bytes = 2, .bytes = "\xe4\xb8"};
    ev.n_top = WEFT_NODEMSG_MAX_TOP;
    for (int k = 0; k < ev.n_top; k++) {
        ev.top[k].id = k * 1000;
        ev.top[k].logprob = -(float)k / 3.0f;
        ev.top[k].n_bytes = (uint8_t)(k == 5 ? WEFT_NODEMSG_PIECE_MAX : k % 4);
        memset(ev.top[k].bytes, k == 7 ? 0 : 0xff - k, sizeof ev.top[k].bytes);
    }
    event_round_trip(&ev);
    struct weft_event bad;
    static const char *const refused[] = {
        "{\"i\":0,\"id\":1,\"text\":\"\",\"lp\":0.5,\"b\":\"\"}",  /* above probability 1 */
        "{\"i\":0,\"id\":1,\"text\":\"\",\"lp\":-1,\"b\":\"a\"}",  /* half a byte */
        "{\"i\":0,\"id\":1,\"text\":\"\",\"lp\":-1,\"b\":\"zz\"}", /* not hex */
        "{\"i\":0,\"id\":1,\"text\":\"\",\"lp\":-1}",              /* no bytes */
        "{\"i\":0,\"id\":1,\"text\":\"\",\"lp\":-1,\"b\":\"\",\"top\":[[1,-1]]}",
    };
    for (size_t k = 0; k < sizeof refused / sizeof *refused; k++)
        ASSERT_ERR(weft_event_parse(refused[k], strlen(refused[k]), &bad), WEFT_EPARSE);
    const char ok[] =
        "{\"i\":0,\"id\":1,\"text\":\"\",\"lp\":-1,\"b\":\"\",\"top\":[[1,-1,\"0a\"]]}";
    ASSERT_OK(weft_event_parse(ok, strlen(ok), &bad));
    ASSERT_EQ_INT(bad.n_top, 1);
    ASSERT_EQ_INT(bad.top[0].bytes[0], '\n');
    static const enum weft_event_end ends[] = {WEFT_END_STOP, WEFT_END_LENGTH, WEFT_END_YIELD,
                                               WEFT_END_ERROR};
    for (int i = 0; i < 4; i++) {
        weft_event_end(&ev, ends[i], i == 0 ? -1 : 12, i == 3 ? "engine: out of memory" : NULL,
                       i == 1 ? " tail\n" : NULL);
        event_round_trip(&ev);
    }
    /* The yield a node sends when its budget went away on the way. */
    struct weft_buf b;
    weft_buf_init(&b, 1 << 16);
    weft_event_end(&ev, WEFT_END_YIELD, -1, NULL, NULL);
    written(weft_event_write(&ev, &b), &b);
    ASSERT_EQ_STR(b.data, "{\"end\":\"yield\"}\n");
    weft_buf_free(&b);
}

TEST(writers_stop_at_the_bound)
{
    struct weft_event ev;
    weft_event_token(&ev, 3, 4, "far too long for eight bytes", 28);
    struct weft_buf b;
    weft_buf_init(&b, 8);
    ASSERT_ERR(weft_event_write(&ev, &b), WEFT_E2BIG);
    ASSERT_EQ_INT(b.len, 0);
    weft_buf_free(&b);
}

/* Markup spans must lie inside the prompt, in order, without overlap. */
TEST(assignment_markup_is_checked)
{
    static const char *const bad[] = {
        "[[0,3],[2,4]]", /* overlap */
        "[[3,1]]",       /* end before start */
        "[[0,99]]",      /* past the prompt */
        "[[1]]",         /* not a pair */
        "[[0.5,2]]",     /* not whole */
        "7",             /* not an array */
    };
    char body[512], why[160];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"hello\",\"tokens\":[],"
                 "\"max_tokens\":3,\"seed\":\"1\",\"markup\":%s}",
                 bad[i]);
        struct weft_assignment a;
        int rc = parse(body, &a, why, sizeof why);
        if (rc == 0)
            TEST_FAIL_("accepted markup %s", bad[i]);
        ASSERT_CONTAINS(why, "markup");
        weft_assignment_free(&a);
    }
    struct weft_assignment a;
    ASSERT_OK(parse("{\"job\":\"j\",\"model\":\"m\",\"prompt\":\"hello\",\"tokens\":[],"
                    "\"max_tokens\":3,\"seed\":\"1\",\"markup\":[[0,2],[2,5]]}",
                    &a, why, sizeof why));
    ASSERT_EQ_INT(a.n_markup, 2);
    weft_assignment_free(&a);
}

/* A node's token text goes into the clients' JSON, which must be UTF-8:
 * an event that is not well-formed is refused (the scheduler then treats
 * the stream as broken), and an error message too long is cut at a
 * character, not inside one. */
TEST(events_must_be_utf8)
{
    struct weft_event ev;
    static const char *bad[] = {
        "{\"i\":0,\"id\":5,\"text\":\"\xba\"}", "{\"i\":0,\"id\":5,\"text\":\"ok \xe2\x82\"}",
        "{\"i\":0,\"id\":5,\"text\":\"\xed\xa0\x80\"}", "{\"end\":\"stop\",\"text\":\"\xc0\xaf\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_ERR(weft_event_parse(bad[i], strlen(bad[i]), &ev), WEFT_EPARSE);
    const char *good = "{\"i\":0,\"id\":5,\"text\":\"\xe2\x82\xac \xf0\x9f\xa6\x99\"}";
    ASSERT_OK(weft_event_parse(good, strlen(good), &ev));
    ASSERT_EQ_STR(ev.text, "\xe2\x82\xac \xf0\x9f\xa6\x99");
    const char *msg = "{\"end\":\"error\",\"message\":\"bad \xff byte\"}";
    ASSERT_ERR(weft_event_parse(msg, strlen(msg), &ev), WEFT_EPARSE);
    /* 200 two-byte characters: cut at a character, not inside one */
    char line[600];
    size_t o = (size_t)snprintf(line, sizeof line, "{\"end\":\"error\",\"message\":\"");
    for (int i = 0; i < 200; i++)
        o += (size_t)snprintf(line + o, sizeof line - o, "\xc3\xa9");
    snprintf(line + o, sizeof line - o, "\"}");
    ASSERT_OK(weft_event_parse(line, strlen(line), &ev));
    ASSERT(strlen(ev.message) % 2 == 0 && strlen(ev.message) >= sizeof ev.message - 2);
}

/* Every node message must be UTF-8 as a whole: a model name, a hardware
 * string or a reason with a bad byte would reach /v1/models, the admin
 * routes or a client's JSON (issue 17, finding 3). */
TEST(node_messages_must_be_utf8)
{
    char err[160];
    struct weft_hello h;
    const char *hello = "{\"models\":[{\"name\":\"gpt\xff\"}],\"max_concurrency\":1}";
    ASSERT_ERR(weft_hello_parse(hello, strlen(hello), &h, err, sizeof err), WEFT_EPARSE);
    ASSERT_CONTAINS(err, "UTF-8");
    const char *hw = "{\"models\":[{\"name\":\"m\"}],\"hardware\":\"RTX \xc0\xaf\"}";
    ASSERT_ERR(weft_hello_parse(hw, strlen(hw), &h, err, sizeof err), WEFT_EPARSE);
    struct weft_heartbeat hb;
    const char *beat = "{\"budget_w\":1,\"reason\":\"sun \xed\xa0\x80\"}";
    ASSERT_ERR(weft_heartbeat_parse(beat, strlen(beat), &hb, err, sizeof err), WEFT_EPARSE);
    /* a long hardware string is cut at a character */
    char line[400];
    size_t o = (size_t)snprintf(line, sizeof line, "{\"models\":[],\"hardware\":\"");
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(line + o, sizeof line - o, "\xe2\x82\xac");
    snprintf(line + o, sizeof line - o, "\"}");
    ASSERT_OK(weft_hello_parse(line, strlen(line), &h, err, sizeof err));
    ASSERT(strlen(h.hardware) % 3 == 0 && strlen(h.hardware) >= sizeof h.hardware - 3);
}
