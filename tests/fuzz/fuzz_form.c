/* libFuzzer target: multipart/form-data bodies (weft_form_parse), the
 * first input line the Content-Type, the rest the body. Promises: no crash
 * or leak; a parsed form has at most WEFT_FORM_MAX_PARTS parts, each
 * named, its bytes NUL-terminated at their length; a refused one says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    weft_form_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    if (!nl || nl - s > 1000)
        return 0;
    char ct[1001];
    memcpy(ct, s, (size_t)(nl - s));
    ct[nl - s] = '\0';
    if (strlen(ct) != (size_t)(nl - s))
        return 0; /* a header value holds no NUL */
    const char *body = nl + 1;
    size_t len = size - (size_t)(body - s);
    struct weft_form f;
    char err[160];
    err[0] = '\0';
    if (weft_form_parse(&f, ct, body, len, err, sizeof err) != 0) {
        if (!err[0] || f.n != 0)
            abort();
        return 0;
    }
    if (f.n < 0 || f.n > WEFT_FORM_MAX_PARTS)
        abort();
    for (int i = 0; i < f.n; i++)
        if (!f.parts[i].name[0] || !f.parts[i].data || f.parts[i].data[f.parts[i].len] != '\0' ||
            f.parts[i].len > len)
            abort();
    weft_form_free(&f);
    return 0;
}
