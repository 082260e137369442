/* libFuzzer target: the node API's messages (hello, heartbeat, token
 * stream events). The first byte picks the parser. Promises: no crash or
 * leak; parsed values inside their documented bounds. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/nodemsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    char why[160];
    switch (data[0] % 3) {
    case 0: {
        struct weft_hello h;
        if (weft_hello_parse(s, n, &h, why, sizeof why) == 0 &&
            (h.n_models > WEFT_NODEMSG_MAX_MODELS || h.max_concurrency < 1 ||
             h.max_concurrency > 64))
            abort();
        break;
    }
    case 1: {
        struct weft_heartbeat hb;
        if (weft_heartbeat_parse(s, n, &hb, why, sizeof why) == 0 &&
            (hb.budget_w < 0 || !isfinite(hb.budget_w) || hb.n_jobs > WEFT_NODEMSG_MAX_JOBS))
            abort();
        break;
    }
    default: {
        struct weft_event ev;
        if (weft_event_parse(s, n, &ev) == 0 && ev.kind == WEFT_EV_TOKEN && (ev.i < 0 || ev.id < 0))
            abort();
        break;
    }
    }
    return 0;
}
