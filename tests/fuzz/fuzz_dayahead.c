/* libFuzzer target: day-ahead forecast responses. The first byte picks the
 * format; the rest is the response. Promises: no crash or read past the
 * text; on success every quarter hour is finite and >= 0 and the forecast
 * spans at most WEFT_DA_MAX_SLOTS; on failure nothing is left behind and
 * the error says something. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/dayahead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static struct weft_dayahead d; /* 3 KB: off the fuzzer's stack */
    char err[256] = "";
    enum weft_da_format fmt = data[0] & 1 ? WEFT_DA_FORECAST_SOLAR : WEFT_DA_OPEN_METEO;
    int rc = weft_dayahead_parse((const char *)data + 1, size - 1, fmt, 5.1, &d, err, sizeof err);
    if (rc < 0) {
        if (d.n != 0 || err[0] == '\0')
            abort();
        return 0;
    }
    if (d.n < 0 || d.n > WEFT_DA_MAX_SLOTS)
        abort();
    for (int i = 0; i < d.n; i++)
        if (!isfinite(d.pv_w[i]) || d.pv_w[i] < 0)
            abort();
    return 0;
}
