/* Register maps: decoding every type and word order, sentinels as
 * missing, the Victron preset, and custom maps checked field by field. */
#include <math.h>

#include "harness.h"
#include "weft/error.h"
#include "weft/regmap.h"

TEST(decodes_types_and_word_orders)
{
    uint16_t w[2];
    w[0] = 0xFF38; /* -200 */
    ASSERT(weft_reg_decode(w, WEFT_REG_INT16, 0) == -200);
    ASSERT(weft_reg_decode(w, WEFT_REG_UINT16, 0) == 65336);
    w[0] = 0x0001;
    w[1] = 0x86A0; /* 100000, high word first */
    ASSERT(weft_reg_decode(w, WEFT_REG_UINT32, 0) == 100000);
    ASSERT(weft_reg_decode(w, WEFT_REG_INT32, 0) == 100000);
    ASSERT(weft_reg_decode(w, WEFT_REG_UINT32, 1) == (double)0x86A00001u);
    w[0] = 0xFFFE;
    w[1] = 0x7960; /* -100000 */
    ASSERT(weft_reg_decode(w, WEFT_REG_INT32, 0) == -100000);
    w[0] = 0x4129; /* 10.59375f: 0x41298000 */
    w[1] = 0x8000;
    ASSERT(weft_reg_decode(w, WEFT_REG_FLOAT32, 0) == 10.59375);
    uint16_t sw[2] = {0x8000, 0x4129};
    ASSERT(weft_reg_decode(sw, WEFT_REG_FLOAT32, 1) == 10.59375);
}

TEST(sentinels_are_missing_not_zero)
{
    uint16_t a[2] = {0x8000, 0};
    ASSERT(isnan(weft_reg_decode(a, WEFT_REG_INT16, 0)));
    uint16_t b[2] = {0xFFFF, 0xFFFF};
    ASSERT(isnan(weft_reg_decode(b, WEFT_REG_UINT16, 0)));
    ASSERT(isnan(weft_reg_decode(b, WEFT_REG_UINT32, 0)));
    uint16_t c[2] = {0x8000, 0x0000};
    ASSERT(isnan(weft_reg_decode(c, WEFT_REG_INT32, 0)));
    uint16_t nan[2] = {0x7FC0, 0x0000};
    ASSERT(isnan(weft_reg_decode(nan, WEFT_REG_FLOAT32, 0)));
    uint16_t inf[2] = {0x7F80, 0x0000};
    ASSERT(isnan(weft_reg_decode(inf, WEFT_REG_FLOAT32, 0)));
}

TEST(victron_preset)
{
    struct weft_regmap m;
    weft_regmap_victron(&m);
    ASSERT_EQ_INT(m.q[WEFT_Q_PV].n, 7);
    ASSERT_EQ_INT(m.q[WEFT_Q_PV].t[6].addr, 850);
    ASSERT_EQ_INT(m.q[WEFT_Q_GRID].n, 3);
    ASSERT_EQ_INT(m.q[WEFT_Q_GRID].t[0].addr, 820);
    ASSERT_EQ_INT(m.q[WEFT_Q_GRID].t[0].type, WEFT_REG_INT16);
    ASSERT_EQ_INT(m.q[WEFT_Q_BATTERY].t[0].addr, 842);
    ASSERT_EQ_INT(m.q[WEFT_Q_SOC].t[0].addr, 843);
    for (int q = 0; q < WEFT_Q_COUNT; q++)
        for (int k = 0; k < m.q[q].n; k++)
            ASSERT_EQ_INT(m.q[q].t[k].unit, 100);
}

TEST(custom_maps_are_checked)
{
    struct weft_regmap_cfg c;
    struct weft_regmap m;
    char err[200];
    weft_regmap_cfg_defaults(&c);
    ASSERT_EQ_INT(weft_regmap_from_cfg(&c, &m, err, sizeof err), WEFT_ECONFIG);
    ASSERT(strstr(err, "grid") != NULL);
    snprintf(c.grid.type, sizeof c.grid.type, "int32");
    c.grid.address = 30775;
    c.grid.sign = -1;
    snprintf(c.grid.word_order, sizeof c.grid.word_order, "low_first");
    snprintf(c.grid.function, sizeof c.grid.function, "input");
    ASSERT_EQ_INT(weft_regmap_from_cfg(&c, &m, err, sizeof err), 0);
    ASSERT_EQ_INT(m.q[WEFT_Q_GRID].n, 1);
    ASSERT_EQ_INT(m.q[WEFT_Q_GRID].t[0].fn, WEFT_REG_INPUT);
    ASSERT_EQ_INT(m.q[WEFT_Q_GRID].t[0].swap_words, 1);
    ASSERT(m.q[WEFT_Q_GRID].sign == -1);
    ASSERT_EQ_INT(m.q[WEFT_Q_PV].n, 0);
    snprintf(c.soc.type, sizeof c.soc.type, "int24");
    ASSERT_EQ_INT(weft_regmap_from_cfg(&c, &m, err, sizeof err), WEFT_ECONFIG);
    ASSERT(strstr(err, "soc: type") != NULL);
    snprintf(c.soc.type, sizeof c.soc.type, "uint16");
    snprintf(c.soc.function, sizeof c.soc.function, "coil");
    ASSERT_EQ_INT(weft_regmap_from_cfg(&c, &m, err, sizeof err), WEFT_ECONFIG);
    ASSERT(strstr(err, "soc: function") != NULL);
    snprintf(c.soc.function, sizeof c.soc.function, "holding");
    snprintf(c.grid.type, sizeof c.grid.type, "uint32");
    c.grid.address = 65535;
    ASSERT_EQ_INT(weft_regmap_from_cfg(&c, &m, err, sizeof err), WEFT_ECONFIG);
    ASSERT(strstr(err, "past 65535") != NULL);
}
