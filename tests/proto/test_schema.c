/* JSON schemas as matchers (schema.c): what each keyword of the subset
 * lets through and stops, the keywords refused by name, the fewest bytes
 * that close a document, and random walks that always end in a whole
 * document when they follow min_close (what the engine's mask does). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "weft/error.h"
#include "weft/schema.h"

static const char person[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"age\"],"
    "\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":5,\"description\":\"who\"},"
    "\"age\":{\"type\":\"integer\"},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]},\"maxItems\":2},"
    "\"pet\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"properties\":{\"kind\":"
    "{\"const\":\"cat\"}},\"required\":[\"kind\"]}]}}}";

static struct weft_schema *compiled(const char *json)
{
    char err[160];
    struct weft_schema *s;
    if (weft_schema_compile(json, strlen(json), &s, err, sizeof err) != 0)
        TEST_FAIL_("compile: %s", err);
    return s;
}

/* 1 when text is a whole document of s, 0 when it dies, -1 when it is
 * alive but not whole. */
static int match(const struct weft_schema *s, const char *text)
{
    struct weft_matcher m;
    weft_matcher_init(&m, s);
    if (!weft_matcher_feed(&m, text, strlen(text)))
        return 0;
    return weft_matcher_done(&m) ? 1 : -1;
}

TEST(an_object_schema_lets_through_what_validates)
{
    struct weft_schema *s = compiled(person);
    ASSERT_EQ_INT(match(s, "{\"name\":\"bob\",\"age\":42,\"tags\":[\"a\",\"b\"]}"), 1);
    ASSERT_EQ_INT(match(s, "{\"name\":\"bob\",\"age\":-7}"), 1);
    ASSERT_EQ_INT(match(s, "{\"name\":\"b\\u00e9\\n\",\"age\":0,\"pet\":null}"), 1);
    ASSERT_EQ_INT(match(s, "{\"name\":\"\xc3\xa9t\xc3\xa9\",\"age\":1,\"pet\":{\"kind\":\"cat\"}}"),
                  1);
    ASSERT_EQ_INT(match(s, "{\"name\":\"bob\",\"age\":4"), -1);
    ASSERT_EQ_INT(match(s, "{\"age\":1}"), 0);                  /* name is required first */
    ASSERT_EQ_INT(match(s, "{\"name\":\"sixsix\""), 0);         /* maxLength 5 */
    ASSERT_EQ_INT(match(s, "{\"name\":\"b\",\"age\":1.5}"), 0); /* an integer */
    ASSERT_EQ_INT(match(s, "{\"name\":\"b\",\"age\":01}"), 0);  /* no leading zero */
    ASSERT_EQ_INT(match(s, "{\"name\":\"b\",\"age\":1,\"tags\":[\"a\",\"b\",\"a\"]}"), 0);
    ASSERT_EQ_INT(match(s, "{\"name\":\"b\",\"age\":1,\"tags\":[\"c\"]}"), 0); /* enum */
    ASSERT_EQ_INT(match(s, "{\"name\":\"b\",\"age\":1,\"pet\":{\"kind\":\"dog\"}}"), 0);
    ASSERT_EQ_INT(match(s, "{\"name\":\"b\",\"age\":1,\"extra\":1}"), 0); /* only listed ones */
    ASSERT_EQ_INT(match(s, "{\"age\":1,\"name\":\"b\"}"), 0);  /* in the schema's order */
    ASSERT_EQ_INT(match(s, "{ \"name\":\"b\",\"age\":1}"), 0); /* compact */
    ASSERT_EQ_INT(match(s, "{\"name\":\"a\x01\"}"), 0);        /* a control character */
    ASSERT_EQ_INT(match(s, "{\"name\":\"\xff\"}"), 0);         /* not UTF-8 */
    ASSERT_EQ_INT(match(s, "{\"name\":\"b\",\"age\":1}x"), 0); /* nothing after */
    weft_schema_free(s);
}

TEST(types_lists_anyof_and_any_objects)
{
    struct weft_schema *s = compiled("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}");
    ASSERT_EQ_INT(match(s, "\"x\""), 1);
    ASSERT_EQ_INT(match(s, "12"), 1);
    ASSERT_EQ_INT(match(s, "true"), 0);
    weft_schema_free(s);
    s = compiled("{\"type\":[\"number\",\"null\"]}");
    ASSERT_EQ_INT(match(s, "-1.5e+3"), 1);
    ASSERT_EQ_INT(match(s, "null"), 1);
    ASSERT_EQ_INT(match(s, "1."), -1);
    weft_schema_free(s);
    s = compiled("{\"enum\":[1,12,\"x\",[1,2],{\"a\":true}]}");
    ASSERT_EQ_INT(match(s, "1"), 1);
    ASSERT_EQ_INT(match(s, "12"), 1);
    ASSERT_EQ_INT(match(s, "[1,2]"), 1);
    ASSERT_EQ_INT(match(s, "{\"a\":true}"), 1);
    ASSERT_EQ_INT(match(s, "13"), 0);
    weft_schema_free(s);
    ASSERT_OK(weft_schema_any_object(&s));
    ASSERT_EQ_INT(match(s, "{\"a\":[1,{\"b\":null}],\"c\":\"d\",\"e\":{}}"), 1);
    ASSERT_EQ_INT(match(s, "{}"), 1);
    ASSERT_EQ_INT(match(s, "[1]"), 0); /* an object at the top */
    ASSERT_EQ_INT(match(s, "{\"a\":}"), 0);
    ASSERT_EQ_INT(match(s, "{\"a\":[1,]}"), 0);
    weft_schema_free(s);
}

TEST(keywords_outside_the_subset_are_refused_by_name)
{
    static const struct {
        const char *schema, *says;
    } cases[] = {
        {"{\"type\":\"string\",\"pattern\":\"^a\"}", "'pattern'"},
        {"{\"$ref\":\"#/$defs/x\"}", "'$ref'"},
        {"{\"type\":\"string\",\"format\":\"date\"}", "'format'"},
        {"{\"type\":\"integer\",\"minimum\":3}", "'minimum'"},
        {"{\"oneOf\":[{\"type\":\"string\"}]}", "'oneOf'"},
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"b\"]}",
         "'b'"},
        {"{\"type\":\"tuple\"}", "'tuple'"},
        {"{\"type\":\"array\"}", "'items'"},
        {"{\"type\":\"string\",\"minLength\":5,\"maxLength\":2}", "'maxLength'"},
        {"[1]", "object"},
        {"{\"type\":\"object\",", "JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[160];
        struct weft_schema *s;
        ASSERT_ERR(
            weft_schema_compile(cases[i].schema, strlen(cases[i].schema), &s, err, sizeof err),
            WEFT_EINVAL);
        ASSERT_CONTAINS(err, cases[i].says);
    }
}

TEST(min_close_counts_the_fewest_bytes_to_a_whole_document)
{
    struct weft_schema *s = compiled(person);
    struct weft_matcher m;
    weft_matcher_init(&m, s);
    /* {"name":"","age":0} */
    ASSERT_EQ_INT(weft_matcher_min_close(&m), 19);
    ASSERT(weft_matcher_feed(&m, "{\"name\":\"b", 10));
    /* ","age":0} */
    ASSERT_EQ_INT(weft_matcher_min_close(&m), 10);
    ASSERT(weft_matcher_feed(&m, "\",\"age\":0}", 10));
    ASSERT(weft_matcher_done(&m));
    ASSERT_EQ_INT(weft_matcher_min_close(&m), 0);
    weft_schema_free(s);
}

/* A walk over bytes that picks among those the matcher allows, closing
 * when its budget is down to min_close, as the engine does with tokens. */
static void walk(const struct weft_schema *s, uint64_t seed, int budget)
{
    struct weft_matcher m, t;
    weft_matcher_init(&m, s);
    char doc[4096];
    int n = 0;
    while (!(weft_matcher_done(&m) && (seed >> 7) % 3 == 0)) {
        unsigned char ok[256];
        int n_ok = 0;
        for (int c = 1; c < 256; c++) {
            weft_matcher_copy(&t, &m);
            char b = (char)c;
            if (weft_matcher_feed(&t, &b, 1) && weft_matcher_min_close(&t) <= budget - n - 1)
                ok[n_ok++] = (unsigned char)c;
        }
        if (n_ok == 0)
            break;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned char c = ok[(seed >> 33) % (uint64_t)n_ok];
        doc[n++] = (char)c;
        char b = (char)c;
        ASSERT(weft_matcher_feed(&m, &b, 1));
        ASSERT(n <= budget);
    }
    doc[n] = '\0';
    if (!weft_matcher_done(&m))
        TEST_FAIL_("seed %llu: stuck at '%s'", (unsigned long long)seed, doc);
    cJSON *j = cJSON_Parse(doc);
    if (!j)
        TEST_FAIL_("seed %llu: not JSON: '%s'", (unsigned long long)seed, doc);
    cJSON_Delete(j);
}

TEST(walks_that_follow_min_close_end_whole_and_in_budget)
{
    struct weft_schema *s = compiled(person);
    for (uint64_t seed = 1; seed <= 200; seed++)
        walk(s, seed * 0x9e3779b97f4a7c15ull, 19 + (int)(seed % 40));
    weft_schema_free(s);
    ASSERT_OK(weft_schema_any_object(&s));
    for (uint64_t seed = 1; seed <= 200; seed++)
        walk(s, seed * 0x9e3779b97f4a7c15ull, 2 + (int)(seed % 60));
    weft_schema_free(s);
}

TEST(a_wrapped_document_has_its_prefix_and_suffix)
{
    struct weft_schema *s = compiled("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":"
                                     "\"integer\"}},\"required\":[\"n\"]}");
    ASSERT_OK(weft_schema_wrap(s, "<tool_call>\n", "\n</tool_call>"));
    ASSERT_EQ_INT(match(s, "<tool_call>\n{\"n\":12}\n</tool_call>"), 1);
    ASSERT_EQ_INT(match(s, "<tool_call>\n{\"n\":12}"), -1);
    ASSERT_EQ_INT(match(s, "{\"n\":12}"), 0);
    ASSERT_EQ_INT(match(s, "<tool_call>\n{\"n\":12}\n</tool_call>x"), 0);
    struct weft_matcher m;
    weft_matcher_init(&m, s);
    /* <tool_call>\n{"n":0}\n</tool_call> */
    ASSERT_EQ_INT(weft_matcher_min_close(&m), 12 + 7 + 13);
    ASSERT(weft_matcher_feed(&m, "<tool_call>\n{\"n\":4", 18));
    ASSERT_EQ_INT(weft_matcher_min_close(&m), 1 + 13);
    ASSERT(!weft_matcher_done(&m));
    ASSERT(weft_matcher_feed(&m, "}\n</tool_call>", 14));
    ASSERT(weft_matcher_done(&m));
    ASSERT_ERR(
        weft_schema_wrap(
            s, "0123456789012345678901234567890123456789012345678901234567890123456789", NULL),
        WEFT_EINVAL);
    weft_schema_free(s);
}
