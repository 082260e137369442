/* libFuzzer target: what a node reads from the scheduler, every input given
 * to each parser: hello replies, heartbeat replies and job assignments.
 * Promises: no crash or leak; what they accept is inside the documented
 * bounds, and a refused assignment leaves either no id or a well-formed one. */
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
    const char *s = (const char *)data;
    char why[160];
    struct weft_hello_reply hr;
    if (weft_hello_reply_parse(s, size, &hr, why, sizeof why) == 0 &&
        (hr.heartbeat_ms < 50 || hr.heartbeat_ms > 60000))
        abort();
    struct weft_heartbeat_reply hb;
    if (weft_heartbeat_reply_parse(s, size, &hb, why, sizeof why) == 0) {
        if (hb.n_cancel < 0 || hb.n_cancel > WEFT_NODEMSG_MAX_JOBS)
            abort();
        for (int i = 0; i < hb.n_cancel; i++)
            if (!hb.cancel[i][0])
                abort();
    }
    struct weft_assignment a;
    int rc = weft_assignment_parse(s, size, &a, why, sizeof why);
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
