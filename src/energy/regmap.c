/* Register maps: the Victron GX preset, custom maps from config, and
 * reading either; see include/weft/regmap.h. */
#include "weft/regmap.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "weft/error.h"
#include "weft/sunspec.h"

static const char *const qnames[WEFT_Q_COUNT] = {"pv", "load", "grid", "battery", "soc"};

const char *weft_quantity_name(enum weft_quantity_id q)
{
    return (unsigned)q < WEFT_Q_COUNT ? qnames[q] : "?";
}

int weft_reg_words(enum weft_reg_type t)
{
    return t == WEFT_REG_INT16 || t == WEFT_REG_UINT16 ? 1 : 2;
}

double weft_reg_decode(const uint16_t *w, enum weft_reg_type t, int swap_words)
{
    uint32_t u32 = swap_words ? ((uint32_t)w[1] << 16 | w[0]) : ((uint32_t)w[0] << 16 | w[1]);
    switch (t) {
    case WEFT_REG_INT16:
        return w[0] == 0x8000 ? NAN : (double)(int16_t)w[0];
    case WEFT_REG_UINT16:
        return w[0] == 0xFFFF ? NAN : (double)w[0];
    case WEFT_REG_INT32:
        return u32 == 0x80000000u ? NAN : (double)(int32_t)u32;
    case WEFT_REG_UINT32:
        return u32 == 0xFFFFFFFFu ? NAN : (double)u32;
    case WEFT_REG_FLOAT32: {
        float f;
        memcpy(&f, &u32, sizeof f);
        return isfinite(f) ? (double)f : NAN;
    }
    }
    return NAN;
}

static void term(struct weft_reg_quantity *q, int unit, uint16_t addr, enum weft_reg_type t,
                 double scale)
{
    q->t[q->n++] = (struct weft_reg_term){unit, WEFT_REG_HOLDING, addr, t, 0, scale};
}

void weft_regmap_victron(struct weft_regmap *m)
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < WEFT_Q_COUNT; i++)
        m->q[i].sign = 1;
    /* com.victronenergy.system, unit 100 (Victron's CCGX Modbus-TCP list).
     * PV: AC-coupled on the output (808-810) and input (811-813), and
     * DC-coupled (850). */
    for (uint16_t a = 808; a <= 813; a++)
        term(&m->q[WEFT_Q_PV], 100, a, WEFT_REG_UINT16, 1);
    term(&m->q[WEFT_Q_PV], 100, 850, WEFT_REG_UINT16, 1);
    for (uint16_t a = 817; a <= 819; a++)
        term(&m->q[WEFT_Q_LOAD], 100, a, WEFT_REG_UINT16, 1);
    /* Grid L1-L3, + import (Victron's own convention, which is Weft's). */
    for (uint16_t a = 820; a <= 822; a++)
        term(&m->q[WEFT_Q_GRID], 100, a, WEFT_REG_INT16, 1);
    term(&m->q[WEFT_Q_BATTERY], 100, 842, WEFT_REG_INT16, 1); /* + charge */
    term(&m->q[WEFT_Q_SOC], 100, 843, WEFT_REG_UINT16, 1);
}

/* Registers already fetched for one (unit, function): [lo, lo + n). */
struct span {
    int unit, fn;
    uint32_t lo;
    int n;
    uint16_t r[125];
    int ok;
};

static int fetch(struct weft_modbus *mb, const struct weft_regmap *map, struct span *sp, int *nsp,
                 char *err, size_t errcap)
{
    /* One span per (unit, function) whose registers fit one request. */
    *nsp = 0;
    for (int q = 0; q < WEFT_Q_COUNT; q++) {
        for (int k = 0; k < map->q[q].n; k++) {
            const struct weft_reg_term *t = &map->q[q].t[k];
            uint32_t hi = (uint32_t)t->addr + (uint32_t)weft_reg_words(t->type);
            int found = 0;
            for (int i = 0; i < *nsp && !found; i++) {
                struct span *s = &sp[i];
                if (s->unit != t->unit || (int)s->fn != (int)t->fn)
                    continue;
                uint32_t lo = s->lo < t->addr ? s->lo : t->addr;
                uint32_t top = s->lo + (uint32_t)s->n > hi ? s->lo + (uint32_t)s->n : hi;
                if (top - lo <= 125) {
                    s->lo = lo;
                    s->n = (int)(top - lo);
                    found = 1;
                }
            }
            if (!found) {
                if (*nsp == WEFT_Q_COUNT * WEFT_REGMAP_TERMS)
                    return WEFT_E2BIG;
                sp[*nsp] = (struct span){
                    .unit = t->unit, .fn = t->fn, .lo = t->addr, .n = weft_reg_words(t->type)};
                (*nsp)++;
            }
        }
    }
    for (int i = 0; i < *nsp; i++) {
        int rc =
            weft_modbus_read_fn(mb, sp[i].unit, sp[i].fn, sp[i].lo, sp[i].n, sp[i].r, err, errcap);
        if (rc)
            return rc;
        sp[i].ok = 1;
    }
    return 0;
}

int weft_regmap_read(struct weft_modbus *mb, const struct weft_regmap *map,
                     struct weft_energy_sample *out, char *err, size_t errcap)
{
    static const int max_spans = WEFT_Q_COUNT * WEFT_REGMAP_TERMS;
    struct span sp[WEFT_Q_COUNT * WEFT_REGMAP_TERMS];
    int nsp;
    for (int q = 0; q < WEFT_Q_COUNT; q++)
        out->v[q] = NAN;
    int rc = fetch(mb, map, sp, &nsp, err, errcap);
    if (rc)
        return rc;
    for (int q = 0; q < WEFT_Q_COUNT; q++) {
        const struct weft_reg_quantity *rq = &map->q[q];
        if (rq->n == 0)
            continue;
        double sum = 0;
        for (int k = 0; k < rq->n; k++) {
            const struct weft_reg_term *t = &rq->t[k];
            double v = NAN;
            for (int i = 0; i < nsp && i < max_spans; i++) {
                const struct span *s = &sp[i];
                if (s->unit == t->unit && (int)s->fn == (int)t->fn && t->addr >= s->lo &&
                    t->addr + (uint32_t)weft_reg_words(t->type) <= s->lo + (uint32_t)s->n) {
                    v = weft_reg_decode(&s->r[t->addr - s->lo], t->type, t->swap_words);
                    break;
                }
            }
            sum += v * t->scale;
        }
        double v = sum * rq->sign;
        if (q == WEFT_Q_SOC && !(v >= 0 && v <= 100))
            v = NAN; /* implausible SoC is missing, not clamped */
        out->v[q] = v;
    }
    return 0;
}

/* ---- config ----------------------------------------------------------- */

#define Q struct weft_regmap_quantity_cfg
static const struct weft_cfg_field quantity_fields[] = {
    WEFT_CFG_STRING_F(Q, type, "type", WEFT_CFG_REQUIRED,
                      "int16, uint16, int32, uint32 or float32"),
    WEFT_CFG_INT_F(Q, unit, "unit", 0, 255, 0, "Modbus unit id"),
    WEFT_CFG_STRING_F(Q, function, "function", 0, "holding (03) or input (04)"),
    WEFT_CFG_INT_F(Q, address, "address", 0, 65535, WEFT_CFG_REQUIRED, "0-based register address"),
    WEFT_CFG_STRING_F(Q, word_order, "word_order", 0,
                      "32-bit values: high_first (big-endian words) or low_first"),
    WEFT_CFG_DOUBLE_F(Q, scale, "scale", -1e9, 1e9, 0, "multiplies the raw value (to W or %)"),
    WEFT_CFG_INT_F(Q, sign, "sign", -1, 1, 0,
                   "1, or -1 when the device's sign is the opposite of Weft's"),
    WEFT_CFG_END,
};
#undef Q

#define M struct weft_regmap_cfg
const struct weft_cfg_field weft_regmap_fields[] = {
    WEFT_CFG_OBJECT_F(M, pv, "pv", quantity_fields, 0, "PV power, W"),
    WEFT_CFG_OBJECT_F(M, load, "load", quantity_fields, 0, "house load, W"),
    WEFT_CFG_OBJECT_F(M, grid, "grid", quantity_fields, 0, "grid power, W, + import"),
    WEFT_CFG_OBJECT_F(M, battery, "battery", quantity_fields, 0, "battery power, W, + charge"),
    WEFT_CFG_OBJECT_F(M, soc, "soc", quantity_fields, 0, "battery state of charge, %"),
    WEFT_CFG_END,
};
#undef M

const struct weft_cfg_field weft_regmap_root =
    WEFT_CFG_ROOT(struct weft_regmap_cfg, weft_regmap_fields, NULL);

static void qdefault(struct weft_regmap_quantity_cfg *q)
{
    memset(q, 0, sizeof *q);
    q->unit = 1;
    snprintf(q->function, sizeof q->function, "holding");
    snprintf(q->word_order, sizeof q->word_order, "high_first");
    q->scale = 1;
    q->sign = 1;
}

void weft_regmap_cfg_defaults(struct weft_regmap_cfg *c)
{
    qdefault(&c->pv);
    qdefault(&c->load);
    qdefault(&c->grid);
    qdefault(&c->battery);
    qdefault(&c->soc);
}

int weft_regmap_from_cfg(const struct weft_regmap_cfg *c, struct weft_regmap *m, char *err,
                         size_t errcap)
{
    static const char *const types[] = {"int16", "uint16", "int32", "uint32", "float32"};
    const struct weft_regmap_quantity_cfg *qs[WEFT_Q_COUNT] = {&c->pv, &c->load, &c->grid,
                                                               &c->battery, &c->soc};
    memset(m, 0, sizeof *m);
    int any = 0;
    for (int i = 0; i < WEFT_Q_COUNT; i++) {
        const struct weft_regmap_quantity_cfg *q = qs[i];
        m->q[i].sign = q->sign == 0 ? 1 : q->sign;
        if (!q->type[0])
            continue;
        int t = -1;
        for (int k = 0; k < 5; k++)
            if (strcmp(q->type, types[k]) == 0)
                t = k;
        const char *what = NULL;
        if (t < 0)
            what = "type must be int16, uint16, int32, uint32 or float32";
        else if (strcmp(q->function, "holding") != 0 && strcmp(q->function, "input") != 0)
            what = "function must be holding or input";
        else if (strcmp(q->word_order, "high_first") != 0 &&
                 strcmp(q->word_order, "low_first") != 0)
            what = "word_order must be high_first or low_first";
        else if (q->sign == 0)
            what = "sign must be 1 or -1";
        else if (q->address + weft_reg_words((enum weft_reg_type)t) > 65536)
            what = "address runs past 65535";
        if (what) {
            snprintf(err, errcap, "%s: %s", qnames[i], what);
            return WEFT_ECONFIG;
        }
        m->q[i].n = 1;
        m->q[i].t[0] = (struct weft_reg_term){
            .unit = q->unit,
            .fn = strcmp(q->function, "input") == 0 ? WEFT_REG_INPUT : WEFT_REG_HOLDING,
            .addr = (uint16_t)q->address,
            .type = (enum weft_reg_type)t,
            .swap_words = strcmp(q->word_order, "low_first") == 0,
            .scale = q->scale,
        };
        any = 1;
    }
    if (!any || m->q[WEFT_Q_GRID].n == 0) {
        snprintf(err, errcap, "grid: a map must at least say where the grid power is");
        return WEFT_ECONFIG;
    }
    return 0;
}
