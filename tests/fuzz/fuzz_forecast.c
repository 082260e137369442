/* libFuzzer target: the kept history (weft_forecast_load). The input is
 * laid over a valid saved history at an offset its first two bytes give,
 * so the mutations land inside the checks rather than at the size test.
 * Promises: no crash; a refused file leaves no days; an accepted one only
 * finite, non-negative watts and days at their own ring index. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/forecast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct weft_forecast f;
    static unsigned char img[WEFT_FC_STATE_BYTES];
    static int made;
    if (!made) {
        weft_forecast_init(&f);
        for (int64_t t = 86400; t < 4 * 86400; t += 300)
            weft_forecast_observe(&f, t, (double)(t % 86400) / 50, 250);
        weft_forecast_save(&f, img);
        made = 1;
    }
    unsigned char *buf = malloc(WEFT_FC_STATE_BYTES);
    if (buf == NULL || size < 2) {
        free(buf);
        return 0;
    }
    memcpy(buf, img, WEFT_FC_STATE_BYTES);
    size_t at = ((size_t)data[0] << 8 | data[1]) % WEFT_FC_STATE_BYTES, n = size - 2;
    if (n > WEFT_FC_STATE_BYTES - at)
        n = WEFT_FC_STATE_BYTES - at;
    memcpy(buf + at, data + 2, n);
    size_t len = data[0] == 0xff ? n : WEFT_FC_STATE_BYTES; /* sometimes a wrong size */
    struct weft_forecast g;
    weft_forecast_init(&g);
    int rc = weft_forecast_load(&g, buf, len);
    free(buf);
    if (rc < 0) {
        if (weft_forecast_days(&g) != 0)
            abort();
        return 0;
    }
    for (int d = 0; d < WEFT_FC_DAYS; d++) {
        if (g.day[d] != -1 && (g.day[d] < 0 || g.day[d] % WEFT_FC_DAYS != d))
            abort();
        for (int k = 0; k < WEFT_FC_SLOTS; k++)
            if (!(g.pv[d][k] >= 0) || !(g.load[d][k] >= 0) || !isfinite(g.pv[d][k]))
                abort();
    }
    return 0;
}
