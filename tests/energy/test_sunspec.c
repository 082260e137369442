/* SunSpec decoding on hand-made register blocks: offsets, scale factors,
 * sentinels meaning "missing" (never 0), garbage scale factors, and short
 * blocks refused. */
#include <math.h>

#include "harness.h"
#include "weft/error.h"
#include "weft/sunspec.h"

static struct weft_sunspec_values v;

TEST(inverter_103_power_with_scale_factors)
{
    uint16_t r[50];
    memset(r, 0, sizeof r);
    r[12] = 12345;          /* W */
    r[13] = (uint16_t)-1;   /* W_SF: x0.1 */
    r[29] = (uint16_t)-250; /* DCW */
    r[30] = 1;              /* DCW_SF: x10 */
    weft_sunspec_values_init(&v);
    ASSERT_EQ_INT(weft_sunspec_decode(103, r, 50, &v), 1);
    ASSERT_NEAR(v.ac_w, 1234.5, 1e-9);
    ASSERT_NEAR(v.dc_w, -2500, 1e-9);
}

TEST(sentinels_mean_missing_not_zero)
{
    uint16_t r[105];
    memset(r, 0, sizeof r);
    r[12] = 0x8000; /* int16 not implemented */
    weft_sunspec_values_init(&v);
    weft_sunspec_decode(103, r, 50, &v);
    ASSERT(isnan(v.ac_w));
    r[16] = 500;
    r[20] = 0x8000; /* SF not implemented */
    weft_sunspec_decode(203, r, 105, &v);
    ASSERT(isnan(v.meter_w));
    uint16_t b[62];
    memset(b, 0, sizeof b);
    b[9] = 0xFFFF; /* uint16 not implemented */
    b[45] = 100;
    weft_sunspec_decode(802, b, 62, &v);
    ASSERT(isnan(v.soc_pct));
    ASSERT_NEAR(v.batt_w, 100, 0);
}

TEST(garbage_scale_factors_make_values_missing)
{
    uint16_t r[105];
    memset(r, 0, sizeof r);
    r[16] = 700;
    r[20] = 0x7FFF; /* +32767: no meter scales by 10^32767 */
    weft_sunspec_values_init(&v);
    weft_sunspec_decode(203, r, 105, &v);
    ASSERT(isnan(v.meter_w));
    r[20] = (uint16_t)-11;
    weft_sunspec_decode(203, r, 105, &v);
    ASSERT(isnan(v.meter_w));
    r[20] = (uint16_t)-2;
    weft_sunspec_decode(203, r, 105, &v);
    ASSERT_NEAR(v.meter_w, 7, 1e-12);
}

TEST(float_models_and_nan_sentinel)
{
    uint16_t r[124];
    memset(r, 0, sizeof r);
    float w = -1500.5f, nanf_ = NAN;
    uint32_t u;
    memcpy(&u, &w, 4);
    r[26] = (uint16_t)(u >> 16); /* 213 W: big-endian word order */
    r[27] = (uint16_t)u;
    weft_sunspec_values_init(&v);
    ASSERT_EQ_INT(weft_sunspec_decode(213, r, 124, &v), 1);
    ASSERT_NEAR(v.meter_w, -1500.5, 0);
    memcpy(&u, &nanf_, 4);
    r[20] = (uint16_t)(u >> 16);
    r[21] = (uint16_t)u;
    ASSERT_EQ_INT(weft_sunspec_decode(113, r, 60, &v), 1);
    ASSERT(isnan(v.ac_w));
}

TEST(mppt_160_sums_modules)
{
    uint16_t r[8 + 3 * 20];
    memset(r, 0, sizeof r);
    r[2] = (uint16_t)-1; /* DCW_SF */
    r[6] = 3;            /* N modules */
    r[8 + 0 * 20 + 11] = 1000;
    r[8 + 1 * 20 + 11] = 0xFFFF; /* one module not reporting */
    r[8 + 2 * 20 + 11] = 2500;
    weft_sunspec_values_init(&v);
    ASSERT_EQ_INT(weft_sunspec_decode(160, r, sizeof r / 2, &v), 1);
    ASSERT_NEAR(v.dc_w, 350, 1e-9);
    r[6] = 4; /* claims more modules than the block holds */
    ASSERT_EQ_INT(weft_sunspec_decode(160, r, sizeof r / 2, &v), WEFT_EPARSE);
}

TEST(storage_124_and_battery_802)
{
    uint16_t s[24], b[62];
    memset(s, 0, sizeof s);
    memset(b, 0, sizeof b);
    s[6] = 655;           /* ChaState */
    s[20] = (uint16_t)-1; /* ChaState_SF */
    s[9] = 4;             /* CHARGING */
    weft_sunspec_values_init(&v);
    weft_sunspec_decode(124, s, 24, &v);
    ASSERT_NEAR(v.soc_pct, 65.5, 1e-9);
    ASSERT_EQ_INT(v.cha_st, 4);
    b[9] = 70;
    b[54] = 0;
    b[45] = (uint16_t)-300;
    b[61] = 1;
    b[14] = 3;
    weft_sunspec_decode(802, b, 62, &v); /* 802 wins over 124 */
    ASSERT_NEAR(v.soc_pct, 70, 0);
    ASSERT_NEAR(v.batt_w, -3000, 0);
    ASSERT_EQ_INT(v.cha_st, 3);
    weft_sunspec_decode(124, s, 24, &v); /* and is not overwritten by it */
    ASSERT_NEAR(v.soc_pct, 70, 0);
}

TEST(common_model_strings)
{
    uint16_t r[66];
    memset(r, 0, sizeof r);
    r[0] = 'W' << 8 | 'e';
    r[1] = 'f' << 8 | 't';
    r[16] = 'p' << 8 | 's';
    r[48] = 'S' << 8 | 'N';
    r[49] = '1' << 8 | 0x07; /* an unprintable byte ends the string */
    weft_sunspec_values_init(&v);
    ASSERT_EQ_INT(weft_sunspec_decode(1, r, 66, &v), 1);
    ASSERT_EQ_STR(v.manufacturer, "Weft");
    ASSERT_EQ_STR(v.model, "ps");
    ASSERT_EQ_STR(v.serial, "SN1");
}

TEST(short_blocks_and_unknown_models)
{
    uint16_t r[8] = {0};
    weft_sunspec_values_init(&v);
    ASSERT_EQ_INT(weft_sunspec_decode(103, r, 8, &v), WEFT_EPARSE);
    ASSERT_EQ_INT(weft_sunspec_decode(802, r, 8, &v), WEFT_EPARSE);
    ASSERT_EQ_INT(weft_sunspec_decode(64110, r, 8, &v), 0);
    ASSERT(weft_sunspec_known(203));
    ASSERT(!weft_sunspec_known(701));
}
