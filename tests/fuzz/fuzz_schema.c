/* libFuzzer target: JSON schemas and documents (schema.c), the first
 * line a schema, the rest a text fed byte by byte. Promises: no crash or
 * leak; a refused schema says why; while the matcher lives min_close is
 * finite, 0 exactly when the text may end there as a whole document, and
 * a whole document parses as JSON. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    if (!nl)
        return 0;
    struct weft_schema *sc;
    char err[160];
    err[0] = '\0';
    int any = nl == s; /* an empty first line: any object */
    if (any ? weft_schema_any_object(&sc) != 0
            : weft_schema_compile(s, (size_t)(nl - s), &sc, err, sizeof err) != 0) {
        if (!any && !err[0])
            abort();
        return 0;
    }
    struct weft_matcher *mp = malloc(sizeof *mp); /* large: off the stack */
    if (!mp) {
        weft_schema_free(sc);
        return 0;
    }
    weft_matcher_init(mp, sc);
    const char *text = nl + 1;
    size_t n = size - (size_t)(text - s), fed = 0;
    for (; fed < n; fed++) {
        if (!weft_matcher_feed(mp, text + fed, 1))
            break;
        int close = weft_matcher_min_close(mp);
        if (close < 0 || close > 1 << 28 || (close == 0) != weft_matcher_done(mp))
            abort();
    }
    if (fed == n && weft_matcher_done(mp)) {
        cJSON *j = cJSON_ParseWithLength(text, n);
        if (!j)
            abort();
        cJSON_Delete(j);
    }
    free(mp);
    weft_schema_free(sc);
    return 0;
}
