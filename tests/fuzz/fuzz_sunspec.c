/* libFuzzer target: SunSpec register-block decoding. The first two bytes
 * pick the model id (folded onto the models Weft decodes most of the
 * time), the rest are registers. Promises: no read past the block, every
 * value finite or NAN, SoC never outside what 16 bits and a sane scale can
 * say. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/sunspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t ids[] = {1,   101, 102, 103, 111, 112, 113, 160, 201,
                                   202, 203, 204, 211, 212, 213, 214, 124, 802};
    if (size < 2)
        return 0;
    uint16_t id = (uint16_t)(data[0] << 8 | data[1]);
    if (id < 0x8000)
        id = ids[id % (sizeof ids / sizeof ids[0])];
    size_t n = (size - 2) / 2;
    uint16_t *r = malloc((n ? n : 1) * sizeof *r);
    if (r == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        r[i] = (uint16_t)(data[2 + 2 * i] << 8 | data[3 + 2 * i]);
    struct weft_sunspec_values v;
    weft_sunspec_values_init(&v);
    weft_sunspec_decode(id, r, n, &v);
    free(r);
    double all[] = {v.ac_w, v.dc_w, v.meter_w, v.soc_pct, v.batt_w};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (isinf(all[i]))
            abort();
    if (memchr(v.manufacturer, 0, sizeof v.manufacturer) == NULL)
        abort();
    return 0;
}
