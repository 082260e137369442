/* libFuzzer target: what a node reads from the scheduler, every input given
 * to each parser: hello replies, heartbeat replies and job assignments.
 * Promises: no crash or leak; what they accept is inside the documented
 * bounds, a refused assignment leaves either no id or a well-formed one,
 * and what is accepted, written again by its writer, reads back the same. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"

#include "weft/buf.h"
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

/* cJSON prints a double with 15 significant digits when they read back
 * as "equal" within its relative epsilon: a written number may move by an
 * ulp or two. */
static int same(double a, double b)
{
    return a == b || fabs(a - b) <= 4 * DBL_EPSILON * fabs(a);
}

/* Each round trip writes into a fresh buffer; NULL when writing failed. */
static const char *rewrite(int rc, struct weft_buf *b)
{
    if (rc == WEFT_ENOMEM)
        return NULL;
    if (rc != 0 || !b->data)
        abort(); /* a parsed message must be writable */
    return b->data;
}

static void assignment_again(const struct weft_assignment *a)
{
    struct weft_buf b;
    weft_buf_init(&b, 64u << 20);
    const char *txt = rewrite(weft_assignment_write(a, &b), &b);
    struct weft_assignment x;
    char why[160];
    if (txt && weft_assignment_parse(txt, b.len, &x, why, sizeof why) != 0)
        abort();
    if (txt && (strcmp(x.job, a->job) || strcmp(x.model, a->model) || strcmp(x.prompt, a->prompt) ||
                x.n_resume != a->n_resume ||
                memcmp(x.resume, a->resume, (size_t)a->n_resume * sizeof *a->resume) ||
                x.max_tokens != a->max_tokens || !same(x.temperature, a->temperature) ||
                !same(x.top_p, a->top_p) || x.seed != a->seed || x.n_stop != a->n_stop ||
                memcmp(x.stop, a->stop, sizeof x.stop) || x.attempt != a->attempt))
        abort();
    if (txt)
        weft_assignment_free(&x);
    weft_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char why[160];
    struct weft_hello_reply hr;
    if (weft_hello_reply_parse(s, size, &hr, why, sizeof why) == 0 &&
        (hr.heartbeat_ms < 50 || hr.heartbeat_ms > 60000))
        abort();
    if (weft_hello_reply_parse(s, size, &hr, why, sizeof why) == 0) {
        struct weft_buf b;
        weft_buf_init(&b, 1 << 20);
        const char *txt = rewrite(weft_hello_reply_write(&hr, &b), &b);
        struct weft_hello_reply x;
        if (txt && (weft_hello_reply_parse(txt, b.len, &x, why, sizeof why) != 0 ||
                    memcmp(&x, &hr, sizeof x) != 0))
            abort();
        weft_buf_free(&b);
    }
    struct weft_heartbeat_reply hb;
    if (weft_heartbeat_reply_parse(s, size, &hb, why, sizeof why) == 0) {
        if (hb.n_cancel < 0 || hb.n_cancel > WEFT_NODEMSG_MAX_JOBS)
            abort();
        for (int i = 0; i < hb.n_cancel; i++)
            if (!hb.cancel[i][0])
                abort();
        struct weft_buf b;
        weft_buf_init(&b, 1 << 20);
        const char *txt = rewrite(weft_heartbeat_reply_write(&hb, &b), &b);
        struct weft_heartbeat_reply x;
        if (txt && (weft_heartbeat_reply_parse(txt, b.len, &x, why, sizeof why) != 0 ||
                    memcmp(&x, &hb, sizeof x) != 0))
            abort();
        weft_buf_free(&b);
    }
    struct weft_assignment a;
    int rc = weft_assignment_parse(s, size, &a, why, sizeof why);
    if (!id_ok(a.job))
        abort();
    if (rc == 0) {
        if (!a.job[0] || !a.prompt || !a.model[0] || a.max_tokens < 1 ||
            a.max_tokens > WEFT_NODEMSG_MAX_TOKENS || a.n_resume < 0 || a.n_resume > a.max_tokens ||
            !(a.temperature >= 0 && a.temperature <= 2) || !(a.top_p >= 0 && a.top_p <= 1) ||
            a.n_stop < 0 || a.n_stop > WEFT_NODEMSG_MAX_STOP)
            abort();
        for (int i = 0; i < a.n_resume; i++)
            if (a.resume[i] < 0)
                abort();
        for (int i = 0; i < a.n_stop; i++)
            if (!a.stop[i][0] || strlen(a.stop[i]) > WEFT_NODEMSG_STOP_LEN)
                abort();
        assignment_again(&a);
    }
    weft_assignment_free(&a);
    return 0;
}
