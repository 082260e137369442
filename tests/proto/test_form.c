/* multipart/form-data through GMime: the parts a browser, curl or the
 * openai client send (quoted and RFC 2231 parameters, base64 parts, bytes
 * kept as sent), and what is refused. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "weft/error.h"
#include "weft/form.h"

static int parse(struct weft_form *f, const char *ct, const char *body, size_t len, char *err)
{
    weft_form_init();
    return weft_form_parse(f, ct, body, len, err, 160);
}

TEST(fields_and_a_file_keep_their_bytes)
{
    static const char body[] =
        "--b0\r\n"
        "Content-Disposition: form-data; name=\"purpose\"\r\n\r\n"
        "batch\r\n"
        "--b0\r\n"
        "Content-Disposition: form-data; name=\"file\"; filename=\"a b.jsonl\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
        "{\"x\":1}\r\n\n\0\xff--b0x\r\n"
        "\r\n--b0--\r\n";
    struct weft_form f;
    char err[160];
    ASSERT_EQ_INT(parse(&f, "multipart/form-data; boundary=b0", body, sizeof body - 1, err), 0);
    ASSERT_EQ_INT(f.n, 2);
    ASSERT_EQ_STR(weft_form_get(&f, "purpose")->data, "batch");
    const struct weft_form_part *p = weft_form_get(&f, "file");
    ASSERT_NOT_NULL(p);
    ASSERT_EQ_STR(p->filename, "a b.jsonl");
    static const char want[] = "{\"x\":1}\r\n\n\0\xff--b0x\r\n";
    ASSERT_EQ_INT(p->len, sizeof want - 1);
    ASSERT(memcmp(p->data, want, sizeof want - 1) == 0);
    ASSERT_NULL(weft_form_get(&f, "other"));
    weft_form_free(&f);
}

TEST(base64_parts_and_rfc2231_names_are_decoded)
{
    static const char body[] = "--q r\r\n"
                               "Content-Disposition: form-data; name=\"file\"; "
                               "filename*=UTF-8''b%C3%A9.jsonl\r\n"
                               "Content-Transfer-Encoding: base64\r\n\r\n"
                               "eyJhIjoxfQo=\r\n"
                               "--q r--\r\n";
    struct weft_form f;
    char err[160];
    ASSERT_EQ_INT(parse(&f, "multipart/form-data; boundary=\"q r\"", body, sizeof body - 1, err),
                  0);
    ASSERT_EQ_INT(f.n, 1);
    ASSERT_EQ_STR(f.parts[0].filename, "b\xc3\xa9.jsonl");
    ASSERT_EQ_STR(f.parts[0].data, "{\"a\":1}\n");
    weft_form_free(&f);
}

TEST(what_is_not_a_form_is_refused_with_a_reason)
{
    struct weft_form f;
    char err[160];
    ASSERT_EQ_INT(parse(&f, "application/json", "{}", 2, err), WEFT_EPARSE);
    ASSERT_CONTAINS(err, "multipart/form-data");
    ASSERT_EQ_INT(parse(&f, NULL, "", 0, err), WEFT_EPARSE);
    ASSERT_EQ_INT(parse(&f, "multipart/form-data", "--x\r\n", 5, err), WEFT_EPARSE);
    ASSERT_CONTAINS(err, "boundary");
    static const char noname[] = "--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--\r\n";
    ASSERT_EQ_INT(parse(&f, "multipart/form-data; boundary=b", noname, sizeof noname - 1, err),
                  WEFT_EPARSE);
    ASSERT_CONTAINS(err, "name");
    ASSERT_EQ_INT(f.n, 0);
    char many[4096];
    size_t used = 0;
    for (int i = 0; i <= WEFT_FORM_MAX_PARTS; i++)
        used +=
            (size_t)snprintf(many + used, sizeof many - used,
                             "--b\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i);
    snprintf(many + used, sizeof many - used, "--b--\r\n");
    ASSERT_EQ_INT(parse(&f, "multipart/form-data; boundary=b", many, strlen(many), err),
                  WEFT_ELIMIT);
    ASSERT_EQ_INT(f.n, 0);
}
