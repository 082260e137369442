/* libFuzzer target: the job assignment a node receives from the scheduler
 * (weft_assignment_parse). Promises: no crash or leak; what it accepts is
 * inside the documented bounds, and a refused body leaves either no id or a
 * well-formed one. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/nodemsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n >= 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", s[i]))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct weft_assignment a;
    char why[160];
    int rc = weft_assignment_parse((const char *)data, size, &a, why, sizeof why);
    if (!id_ok(a.job))
        abort();
    if (rc == 0) {
        if (!a.job[0] || !a.prompt || !a.model[0] || a.max_tokens < 1 ||
            a.max_tokens > WEFT_OAI_MAX_TOKENS || a.n_resume < 0 || a.n_resume > a.max_tokens ||
            !(a.temperature >= 0 && a.temperature <= 2) || !(a.top_p >= 0 && a.top_p <= 1) ||
            a.n_stop < 0 || a.n_stop > WEFT_OAI_MAX_STOP)
            abort();
        for (int i = 0; i < a.n_resume; i++)
            if (a.resume[i] < 0)
                abort();
        for (int i = 0; i < a.n_stop; i++)
            if (!a.stop[i][0] || strlen(a.stop[i]) > WEFT_OAI_STOP_MAX_LEN)
                abort();
    }
    weft_assignment_free(&a);
    return 0;
}
