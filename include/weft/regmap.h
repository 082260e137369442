/* Register maps: where a device keeps each quantity Weft needs, for
 * devices that are not SunSpec: the Victron GX layout (a preset) and
 * custom maps from config.
 *
 * A quantity is the sum of up to WEFT_REGMAP_TERMS registers (a
 * three-phase meter is three), each with its unit id, function (holding
 * or input), 0-based address, type, word order and scale; then the map's
 * sign turns the device's convention into Weft's (grid + import, battery
 * + charge). A term reading a not-implemented sentinel (int16 0x8000,
 * uint16 0xFFFF, int32 0x80000000, uint32 0xFFFFFFFF, float32 NaN) makes
 * its quantity missing (NAN), never 0; so does a SoC outside 0..100.
 *
 * Ownership: plain structs, the caller's. Thread-safety: reentrant; a
 * struct weft_modbus is used by one thread at a time.
 */
#ifndef WEFT_REGMAP_H
#define WEFT_REGMAP_H

#include <stddef.h>
#include <stdint.h>

#include "weft/config.h"

struct weft_modbus;

enum weft_reg_type {
    WEFT_REG_INT16,
    WEFT_REG_UINT16,
    WEFT_REG_INT32,
    WEFT_REG_UINT32,
    WEFT_REG_FLOAT32
};

enum weft_reg_fn { WEFT_REG_HOLDING = 3, WEFT_REG_INPUT = 4 };

struct weft_reg_term {
    int unit;
    enum weft_reg_fn fn;
    uint16_t addr;
    enum weft_reg_type type;
    int swap_words; /* 32-bit values with the low word first */
    double scale;
};

#define WEFT_REGMAP_TERMS 8

struct weft_reg_quantity {
    int n; /* 0: the device does not report it */
    struct weft_reg_term t[WEFT_REGMAP_TERMS];
    double sign;
};

enum weft_quantity_id {
    WEFT_Q_PV,
    WEFT_Q_LOAD,
    WEFT_Q_GRID,
    WEFT_Q_BATTERY,
    WEFT_Q_SOC,
    WEFT_Q_COUNT
};

struct weft_regmap {
    struct weft_reg_quantity q[WEFT_Q_COUNT];
};

/* What a map read returns, in Weft's signs: W, and SoC in %. NAN when the
 * device does not report it or reported a sentinel. */
struct weft_energy_sample {
    double v[WEFT_Q_COUNT];
};

/* "pv", "load", "grid", "battery", "soc". */
const char *weft_quantity_name(enum weft_quantity_id q);

/* Words a type takes (1 or 2). */
int weft_reg_words(enum weft_reg_type t);

/* One value from its words, before scale; NAN for a sentinel. */
double weft_reg_decode(const uint16_t *w, enum weft_reg_type t, int swap_words);

/* The Victron GX (Venus OS) system registers on unit 100: PV 808-813 and
 * 850 (DC), consumption 817-819, grid 820-822 (+ import), battery power
 * 842 (+ charge) and SoC 843. */
void weft_regmap_victron(struct weft_regmap *m);

/* Reads every quantity of the map: registers of one unit and function are
 * read in one request when they fit in 125, else one by one. */
int weft_regmap_read(struct weft_modbus *mb, const struct weft_regmap *map,
                     struct weft_energy_sample *out, char *err, size_t errcap);

/* ---- custom maps from config ----------------------------------------- */

struct weft_regmap_quantity_cfg {
    char type[12]; /* int16 | uint16 | int32 | uint32 | float32; "" = not reported */
    int unit;
    char function[12];   /* holding | input */
    int address;         /* 0-based */
    char word_order[12]; /* high_first | low_first */
    double scale;
    int sign; /* 1 or -1: turns the device's sign into Weft's */
};

struct weft_regmap_cfg {
    struct weft_regmap_quantity_cfg pv, load, grid, battery, soc;
};

extern const struct weft_cfg_field weft_regmap_fields[];
/* A file holding only a map (weft-energy read --layout FILE.json). */
extern const struct weft_cfg_field weft_regmap_root;

void weft_regmap_cfg_defaults(struct weft_regmap_cfg *c);

/* Checks and converts; err names the quantity and the field at fault. */
int weft_regmap_from_cfg(const struct weft_regmap_cfg *c, struct weft_regmap *m, char *err,
                         size_t errcap);

#endif /* WEFT_REGMAP_H */
