/* libFuzzer target: the HTTP/1.1 request parser. The first byte picks how
 * the rest is cut into feeds (as TCP would), so splits land everywhere.
 * Promises: no read outside the input, no leak, the parser never stalls
 * (each feed either uses bytes, completes a request or errors), and every
 * completed request has a method, a path and a query string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct held {
    struct weft_http_req *reqs[64];
    int n;
};

static int on_headers(void *ud, struct weft_http_req *req)
{
    struct held *h = ud;
    if (h->n == 64)
        return 503;
    h->reqs[h->n++] = req;
    return 0;
}

static void on_complete(void *ud, struct weft_http_req *req)
{
    (void)ud;
    if (!req->method || !req->path || !req->query || !req->target)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    static const struct weft_http_parse_cb cb = {.on_headers = on_headers,
                                                 .on_complete = on_complete};
    struct weft_http_limits lim;
    weft_http_limits_default(&lim);
    lim.max_header_bytes = 2048;
    lim.max_body_bytes = 4096;
    struct held h = {.n = 0};
    struct weft_http_parse ps;
    weft_http_parse_init(&ps, &lim, &cb, &h);
    size_t off = 0;
    while (off < size && !ps.error_status) {
        size_t n = size - off < step ? size - off : step;
        size_t used = weft_http_parse_feed(&ps, (const char *)data + off, n);
        off += used;
        if (ps.complete)
            weft_http_parse_next(&ps);
        else if (used == 0 && !ps.error_status)
            abort(); /* stalled */
    }
    weft_http_parse_free(&ps);
    for (int i = 0; i < h.n; i++)
        weft_http_req_free(h.reqs[i]);
    return 0;
}
