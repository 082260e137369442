/* SunSpec: decoding the register blocks of the models a node needs, and
 * reading a device over Modbus (libmodbus, TCP).
 *
 * Decoding is pure: a model's registers in, values out. Every value goes
 * through its scale factor (value x 10^SF, the SF read in the same block),
 * and the not-implemented sentinels (int16 0x8000, uint16 0xFFFF, int32
 * 0x80000000, uint32 0xFFFFFFFF, float32 NaN, SF 0x8000) mean "missing":
 * NAN, never 0. A scale factor outside -10..10 is garbage and makes its
 * values missing too.
 *
 * Models decoded: 1 (common), 101-103 and 111-113 (inverter W, DC W),
 * 160 (MPPT DC W summed), 201-204 and 211-214 (meter W), 124 (storage
 * ChaState, ChaSt), 802 (battery SoC, W, ChaSt). Others are listed by the
 * discovery but not decoded.
 */
#ifndef WEFT_SUNSPEC_H
#define WEFT_SUNSPEC_H

#include <stddef.h>
#include <stdint.h>

#define WEFT_SUNSPEC_MARKER0    0x5375 /* "Su" */
#define WEFT_SUNSPEC_MARKER1    0x6E53 /* "nS" */
#define WEFT_SUNSPEC_END        0xFFFF
#define WEFT_SUNSPEC_MAX_MODELS 32

/* What a device reports, in the device's own signs. NAN: not reported. */
struct weft_sunspec_values {
    double ac_w;    /* inverter AC output */
    double dc_w;    /* inverter DC input, or the MPPT sum */
    double meter_w; /* meter total real power */
    double soc_pct; /* 802 SoC, else 124 ChaState */
    double batt_w;  /* 802 battery power */
    int cha_st;     /* 124/802 charge status enumeration; -1 absent */
    char manufacturer[33], model[33], serial[33];
};

void weft_sunspec_values_init(struct weft_sunspec_values *v);

/* 1 when weft_sunspec_decode() reads this model. */
int weft_sunspec_known(uint16_t model_id);

/* Decodes one model: regs holds the n registers after its ID and L.
 * Returns 1 when the model was decoded, 0 when it is not one Weft reads,
 * WEFT_EPARSE when n is shorter than the model's fixed part. */
int weft_sunspec_decode(uint16_t model_id, const uint16_t *regs, size_t n,
                        struct weft_sunspec_values *v);

/* One model found by discovery: its ID, length and register address of
 * its ID. */
struct weft_sunspec_model {
    uint16_t id, len;
    uint32_t addr;
};

struct weft_sunspec_map {
    uint32_t base; /* where "SunS" was found */
    int n;
    struct weft_sunspec_model models[WEFT_SUNSPEC_MAX_MODELS];
};

struct weft_modbus; /* a connection; see below */

/* Opens Modbus TCP to host:port for unit id `unit`, with a per-request
 * timeout. Errors (and the messages in err) come from libmodbus's errno,
 * translated here. */
int weft_modbus_open_tcp(const char *host, int port, int unit, int timeout_ms,
                         struct weft_modbus **out, char *err, size_t errcap);
/* Modbus RTU on a serial device ("/dev/ttyUSB0", 9600, 'N', 8, 1). */
int weft_modbus_open_rtu(const char *device, int baud, char parity, int data_bits, int stop_bits,
                         int unit, int timeout_ms, struct weft_modbus **out, char *err,
                         size_t errcap);
/* tcp://HOST[:PORT] (502 by default) or
 * rtu:///dev/DEVICE[?baud=9600&parity=N&data=8&stop=1]. */
int weft_modbus_open_url(const char *url, int unit, int timeout_ms, struct weft_modbus **out,
                         char *err, size_t errcap);
void weft_modbus_close(struct weft_modbus *m);
/* Reads n registers (n <= 125) of unit `unit` with function 3 (holding)
 * or 4 (input). */
int weft_modbus_read_fn(struct weft_modbus *m, int unit, int fn, uint32_t addr, int n,
                        uint16_t *out, char *err, size_t errcap);
/* Reads n holding registers (n <= 125) at 0-based address addr. */
int weft_modbus_read(struct weft_modbus *m, uint32_t addr, int n, uint16_t *out, char *err,
                     size_t errcap);

/* Writes one holding register (function 06). */
int weft_modbus_write(struct weft_modbus *m, uint32_t addr, uint16_t value, char *err,
                      size_t errcap);

/* Looks for "SunS" at 40000, 0 and 50000 and walks the model chain (ID, L;
 * next at addr + L + 2; end at 0xFFFF), bounded by WEFT_SUNSPEC_MAX_MODELS
 * and the 16-bit address space. */
int weft_sunspec_discover(struct weft_modbus *m, struct weft_sunspec_map *map, char *err,
                          size_t errcap);

/* Reads every decodable model of the map, each model's block in as few
 * reads as the 125-register limit allows, so a scale factor always comes
 * from the same read as its value when the block fits in one. */
int weft_sunspec_read(struct weft_modbus *m, const struct weft_sunspec_map *map,
                      struct weft_sunspec_values *v, char *err, size_t errcap);

#endif /* WEFT_SUNSPEC_H */
