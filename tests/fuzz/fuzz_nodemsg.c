/* libFuzzer target: the node API's messages a scheduler reads (hello,
 * heartbeat, token stream events). The first byte picks the parser.
 * Promises: no crash or leak; parsed values inside their documented
 * bounds; what is accepted, written again by its writer, reads back the
 * same. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/buf.h"
#include "weft/error.h"
#include "weft/nodemsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* cJSON prints a double with 15 significant digits when they read back
 * as "equal" within its relative epsilon, so a written number may move by
 * an ulp or two. */
static int same(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b || fabs(a - b) <= 4 * DBL_EPSILON * fabs(a);
}

/* The written form of a parsed message, or NULL when memory ran out. */
static const char *rewrite(int rc, struct weft_buf *b)
{
    if (rc == WEFT_ENOMEM)
        return NULL;
    if (rc != 0 || !b->data)
        abort();
    return b->data;
}

static void hello(const char *s, size_t n)
{
    struct weft_hello h, x;
    char why[160];
    if (weft_hello_parse(s, n, &h, why, sizeof why) != 0)
        return;
    if (h.n_models > WEFT_NODEMSG_MAX_MODELS || h.max_concurrency < 1 || h.max_concurrency > 64)
        abort();
    struct weft_buf b;
    weft_buf_init(&b, 1 << 20);
    const char *txt = rewrite(weft_hello_write(&h, &b), &b);
    if (txt &&
        (weft_hello_parse(txt, b.len, &x, why, sizeof why) != 0 || memcmp(&x, &h, sizeof x) != 0))
        abort();
    weft_buf_free(&b);
}

static void heartbeat(const char *s, size_t n)
{
    struct weft_heartbeat hb, x;
    char why[160];
    if (weft_heartbeat_parse(s, n, &hb, why, sizeof why) != 0)
        return;
    if (hb.budget_w < 0 || !isfinite(hb.budget_w) || hb.n_jobs > WEFT_NODEMSG_MAX_JOBS)
        abort();
    struct weft_buf b;
    weft_buf_init(&b, 1 << 20);
    const char *txt = rewrite(weft_heartbeat_write(&hb, &b), &b);
    if (txt) {
        if (weft_heartbeat_parse(txt, b.len, &x, why, sizeof why) != 0 ||
            !same(x.budget_w, hb.budget_w) || !same(x.pv_w, hb.pv_w) ||
            !same(x.load_w, hb.load_w) || !same(x.grid_w, hb.grid_w) ||
            !same(x.battery_w, hb.battery_w) || !same(x.soc, hb.soc) ||
            !same(x.compute_w, hb.compute_w) || x.deferrable != hb.deferrable ||
            x.interactive != hb.interactive || strcmp(x.policy_state, hb.policy_state) ||
            strcmp(x.reason, hb.reason) || x.n_jobs != hb.n_jobs ||
            memcmp(x.jobs, hb.jobs, sizeof x.jobs))
            abort();
    }
    weft_buf_free(&b);
}

static void event(const char *s, size_t n)
{
    struct weft_event ev, x;
    if (weft_event_parse(s, n, &ev) != 0)
        return;
    if (ev.kind == WEFT_EV_TOKEN && (ev.i < 0 || ev.id < 0))
        abort();
    struct weft_buf b;
    weft_buf_init(&b, 1 << 20);
    const char *txt = rewrite(weft_event_write(&ev, &b), &b);
    if (txt) {
        if (b.data[b.len - 1] != '\n' || memchr(b.data, '\n', b.len - 1) ||
            weft_event_parse(txt, b.len - 1, &x) != 0 || x.kind != ev.kind ||
            strcmp(x.text, ev.text) != 0)
            abort();
        if (ev.kind == WEFT_EV_TOKEN ? x.i != ev.i || x.id != ev.id
                                     : x.end != ev.end || x.prompt_tokens != ev.prompt_tokens ||
                                           strcmp(x.message, ev.message) != 0)
            abort();
        /* Log-probabilities read back as written, alone too (how the
         * scheduler keeps and journals them). */
        if (x.has_lp != ev.has_lp || x.n_top != ev.n_top || x.lp.n_bytes != ev.lp.n_bytes ||
            memcmp(x.lp.bytes, ev.lp.bytes, ev.lp.n_bytes) != 0)
            abort();
        if (ev.has_lp) {
            weft_buf_reset(&b);
            if (weft_event_lp_write(&ev, &b) == 0 && (weft_event_lp_parse(b.data, b.len, &x) != 0 ||
                                                      x.n_top != ev.n_top || x.lp.id != ev.id))
                abort();
        }
    }
    weft_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        hello(s, n);
        break;
    case 1:
        heartbeat(s, n);
        break;
    default:
        event(s, n);
        break;
    }
    return 0;
}
