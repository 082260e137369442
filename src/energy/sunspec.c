/* SunSpec register decoding: offsets from the SunSpec model definitions,
 * every value with its scale factor and sentinel checks. Pure; the Modbus
 * side is in modbus.c. */
#include <math.h>
#include <string.h>

#include "weft/error.h"
#include "weft/sunspec.h"

void weft_sunspec_values_init(struct weft_sunspec_values *v)
{
    memset(v, 0, sizeof *v);
    v->ac_w = v->dc_w = v->meter_w = v->soc_pct = v->batt_w = NAN;
    v->cha_st = -1;
}

/* 10^sf for a SunSpec scale factor; NAN for "not implemented" and for
 * garbage outside -10..10 (a misread register, not a real scale). */
static double scale(uint16_t raw)
{
    int16_t sf = (int16_t)raw;
    if (raw == 0x8000 || sf < -10 || sf > 10)
        return NAN;
    double p = 1;
    for (int i = 0; i < (sf < 0 ? -sf : sf); i++)
        p *= 10;
    return sf < 0 ? 1 / p : p;
}

static double i16(uint16_t raw, uint16_t sf)
{
    return raw == 0x8000 ? NAN : (int16_t)raw * scale(sf);
}

static double u16(uint16_t raw, uint16_t sf)
{
    return raw == 0xFFFF ? NAN : raw * scale(sf);
}

/* float32 over two registers, big-endian word order as SunSpec defines. */
static double f32(const uint16_t *r)
{
    uint32_t u = ((uint32_t)r[0] << 16) | r[1];
    float f;
    memcpy(&f, &u, sizeof f);
    return isfinite(f) ? f : NAN;
}

static void str(char *dst, size_t cap, const uint16_t *r, int nregs)
{
    size_t o = 0;
    for (int i = 0; i < nregs && o + 2 < cap; i++) {
        char c[2] = {(char)(r[i] >> 8), (char)(r[i] & 0xff)};
        for (int k = 0; k < 2; k++)
            dst[o++] = c[k] >= 0x20 && c[k] < 0x7f ? c[k] : '\0';
    }
    /* Strings are NUL-padded: an unprintable byte became NUL above, so
     * the string ends at the first of either. */
    dst[o] = '\0';
}

int weft_sunspec_known(uint16_t id)
{
    return id == 1 || (id >= 101 && id <= 103) || (id >= 111 && id <= 113) || id == 160 ||
           (id >= 201 && id <= 204) || (id >= 211 && id <= 214) || id == 124 || id == 802;
}

int weft_sunspec_decode(uint16_t id, const uint16_t *r, size_t n, struct weft_sunspec_values *v)
{
    switch (id) {
    case 1:
        if (n < 64)
            return WEFT_EPARSE;
        str(v->manufacturer, sizeof v->manufacturer, r, 16);
        str(v->model, sizeof v->model, r + 16, 16);
        str(v->serial, sizeof v->serial, r + 48, 16);
        return 1;
    case 101:
    case 102:
    case 103:
        if (n < 31)
            return WEFT_EPARSE;
        v->ac_w = i16(r[12], r[13]);
        v->dc_w = i16(r[29], r[30]);
        return 1;
    case 111:
    case 112:
    case 113:
        if (n < 38)
            return WEFT_EPARSE;
        v->ac_w = f32(r + 20);
        v->dc_w = f32(r + 36);
        return 1;
    case 160: {
        /* Fixed part (8 registers), then N modules of 20: DCW at +11. */
        if (n < 8)
            return WEFT_EPARSE;
        double sf = scale(r[2]);
        int modules = r[6] == 0xFFFF ? 0 : r[6];
        if (8 + (size_t)modules * 20 > n)
            return WEFT_EPARSE;
        double sum = 0;
        int any = 0;
        for (int i = 0; i < modules; i++) {
            uint16_t w = r[8 + i * 20 + 11];
            if (w == 0xFFFF)
                continue;
            sum += w;
            any = 1;
        }
        v->dc_w = any ? sum * sf : NAN;
        return 1;
    }
    case 201:
    case 202:
    case 203:
    case 204:
        if (n < 21)
            return WEFT_EPARSE;
        v->meter_w = i16(r[16], r[20]);
        return 1;
    case 211:
    case 212:
    case 213:
    case 214:
        if (n < 28)
            return WEFT_EPARSE;
        v->meter_w = f32(r + 26);
        return 1;
    case 124:
        if (n < 24)
            return WEFT_EPARSE;
        if (isnan(v->soc_pct)) /* 802's SoC, when present, is preferred */
            v->soc_pct = u16(r[6], r[20]);
        if (v->cha_st < 0 && r[9] != 0xFFFF)
            v->cha_st = r[9];
        return 1;
    case 802:
        if (n < 62)
            return WEFT_EPARSE;
        v->soc_pct = u16(r[9], r[54]);
        v->batt_w = i16(r[45], r[61]);
        if (r[14] != 0xFFFF)
            v->cha_st = r[14];
        return 1;
    default:
        return 0;
    }
}
