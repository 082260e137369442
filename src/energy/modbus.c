/* Modbus TCP through libmodbus, and SunSpec discovery and reads on top.
 * libmodbus reports errors through errno (its own codes above
 * MODBUS_ENOBASE included); they are translated here and go no further. */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"
#include "weft/sunspec.h"

struct weft_modbus {
    modbus_t *ctx;
    int unit; /* the unit id set on ctx now */
    char where[160];
};

static int mb_err(struct weft_modbus *m, const char *what, char *err, size_t errcap)
{
    int e = errno;
    snprintf(err, errcap, "%s: %s: %s", m ? m->where : "modbus", what, modbus_strerror(e));
    if (e == ETIMEDOUT)
        return WEFT_ETIMEDOUT;
    if (e == ECONNREFUSED || e == ECONNRESET || e == EPIPE || e == EHOSTUNREACH)
        return weft_err_from_errno(e);
    return WEFT_EMODBUS;
}

/* Sets the timeout and unit on m->ctx and connects; frees m on failure. */
static int finish_open(struct weft_modbus *m, int unit, int timeout_ms, struct weft_modbus **out,
                       char *err, size_t errcap)
{
    if (m->ctx == NULL) {
        int rc = mb_err(m, "cannot create a context", err, errcap);
        free(m);
        return rc;
    }
    modbus_set_response_timeout(m->ctx, (uint32_t)(timeout_ms / 1000),
                                (uint32_t)(timeout_ms % 1000) * 1000);
    if (modbus_set_slave(m->ctx, unit) < 0 || modbus_connect(m->ctx) < 0) {
        int rc = mb_err(m, "cannot connect", err, errcap);
        modbus_free(m->ctx);
        free(m);
        return rc;
    }
    m->unit = unit;
    *out = m;
    return 0;
}

int weft_modbus_open_tcp(const char *host, int port, int unit, int timeout_ms,
                         struct weft_modbus **out, char *err, size_t errcap)
{
    struct weft_modbus *m = calloc(1, sizeof *m);
    if (m == NULL)
        return WEFT_ENOMEM;
    snprintf(m->where, sizeof m->where, "tcp://%s:%d unit %d", host, port, unit);
    m->ctx = modbus_new_tcp(host, port);
    return finish_open(m, unit, timeout_ms, out, err, errcap);
}

int weft_modbus_open_rtu(const char *device, int baud, char parity, int data_bits, int stop_bits,
                         int unit, int timeout_ms, struct weft_modbus **out, char *err,
                         size_t errcap)
{
    struct weft_modbus *m = calloc(1, sizeof *m);
    if (m == NULL)
        return WEFT_ENOMEM;
    snprintf(m->where, sizeof m->where, "rtu://%s (%d %d%c%d) unit %d", device, baud, data_bits,
             parity, stop_bits, unit);
    m->ctx = modbus_new_rtu(device, baud, parity, data_bits, stop_bits);
    return finish_open(m, unit, timeout_ms, out, err, errcap);
}

/* "rtu:///dev/ttyUSB0?baud=9600&parity=N&data=8&stop=1" */
static int open_rtu_url(const char *url, int unit, int timeout_ms, struct weft_modbus **out,
                        char *err, size_t errcap)
{
    char dev[256];
    const char *p = url + 6;
    size_t n = strcspn(p, "?");
    if (n == 0 || n >= sizeof dev) {
        snprintf(err, errcap, "%s: expected rtu:///dev/DEVICE[?baud=N&parity=N|E|O&data=8&stop=1]",
                 url);
        return WEFT_EINVAL;
    }
    memcpy(dev, p, n);
    dev[n] = '\0';
    long baud = 9600, data = 8, stop = 1;
    char parity = 'N';
    for (const char *q = p[n] == '?' ? p + n + 1 : ""; *q;) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        char kv[64];
        if (len >= sizeof kv) {
            snprintf(err, errcap, "%s: option too long", url);
            return WEFT_EINVAL;
        }
        memcpy(kv, q, len);
        kv[len] = '\0';
        char *eq = strchr(kv, '='), *end = NULL;
        long v = eq ? strtol(eq + 1, &end, 10) : 0;
        if (eq && strncmp(kv, "parity=", 7) == 0 && strlen(eq + 1) == 1 && strchr("NEO", eq[1])) {
            parity = eq[1];
        } else if (eq && end && !*end && strncmp(kv, "baud=", 5) == 0 && v >= 300 && v <= 4000000) {
            baud = v;
        } else if (eq && end && !*end && strncmp(kv, "data=", 5) == 0 && v >= 5 && v <= 8) {
            data = v;
        } else if (eq && end && !*end && strncmp(kv, "stop=", 5) == 0 && (v == 1 || v == 2)) {
            stop = v;
        } else {
            snprintf(err, errcap, "%s: bad option \"%s\" (baud, parity N|E|O, data 5-8, stop 1|2)",
                     url, kv);
            return WEFT_EINVAL;
        }
        q += len + (amp ? 1 : 0);
    }
    return weft_modbus_open_rtu(dev, (int)baud, parity, (int)data, (int)stop, unit, timeout_ms, out,
                                err, errcap);
}

int weft_modbus_open_url(const char *url, int unit, int timeout_ms, struct weft_modbus **out,
                         char *err, size_t errcap)
{
    if (strncmp(url, "rtu://", 6) == 0)
        return open_rtu_url(url, unit, timeout_ms, out, err, errcap);
    char host[256];
    int n = 0;
    if (strncmp(url, "tcp://", 6) != 0 || sscanf(url, "tcp://%255[^:/]%n", host, &n) != 1) {
        snprintf(err, errcap, "%s: expected tcp://HOST:PORT or rtu:///dev/DEVICE?baud=N", url);
        return WEFT_EINVAL;
    }
    long port = 502;
    if (url[n] == ':') {
        char *end;
        port = strtol(url + n + 1, &end, 10);
        if (*end || port < 1 || port > 65535) {
            snprintf(err, errcap, "%s: bad port", url);
            return WEFT_EINVAL;
        }
    } else if (url[n] != '\0') {
        snprintf(err, errcap, "%s: expected tcp://HOST:PORT", url);
        return WEFT_EINVAL;
    }
    return weft_modbus_open_tcp(host, (int)port, unit, timeout_ms, out, err, errcap);
}

int weft_modbus_read_fn(struct weft_modbus *m, int unit, int fn, uint32_t addr, int n,
                        uint16_t *out, char *err, size_t errcap)
{
    if (n <= 0 || n > MODBUS_MAX_READ_REGISTERS || addr + (uint32_t)n > 65536 ||
        (fn != 3 && fn != 4) || unit < 0 || unit > 255)
        return WEFT_EINVAL;
    if (unit != m->unit) {
        if (modbus_set_slave(m->ctx, unit) < 0)
            return mb_err(m, "setting the unit id", err, errcap);
        m->unit = unit;
    }
    int got = fn == 3 ? modbus_read_registers(m->ctx, (int)addr, n, out)
                      : modbus_read_input_registers(m->ctx, (int)addr, n, out);
    if (got < 0) {
        char what[80];
        snprintf(what, sizeof what, "unit %d: reading %d %s registers at %u", unit, n,
                 fn == 3 ? "holding" : "input", addr);
        return mb_err(m, what, err, errcap);
    }
    if (got != n) {
        snprintf(err, errcap, "%s: asked for %d registers at %u, got %d", m->where, n, addr, got);
        return WEFT_EMODBUS;
    }
    return 0;
}

void weft_modbus_close(struct weft_modbus *m)
{
    if (m == NULL)
        return;
    modbus_close(m->ctx);
    modbus_free(m->ctx);
    free(m);
}

int weft_modbus_read(struct weft_modbus *m, uint32_t addr, int n, uint16_t *out, char *err,
                     size_t errcap)
{
    if (n <= 0 || n > MODBUS_MAX_READ_REGISTERS || addr + (uint32_t)n > 65536)
        return WEFT_EINVAL;
    int got = modbus_read_registers(m->ctx, (int)addr, n, out);
    if (got < 0) {
        char what[64];
        snprintf(what, sizeof what, "reading %d registers at %u", n, addr);
        return mb_err(m, what, err, errcap);
    }
    if (got != n) {
        snprintf(err, errcap, "%s: asked for %d registers at %u, got %d", m->where, n, addr, got);
        return WEFT_EMODBUS;
    }
    return 0;
}

int weft_modbus_write(struct weft_modbus *m, uint32_t addr, uint16_t value, char *err,
                      size_t errcap)
{
    if (addr > 65535)
        return WEFT_EINVAL;
    if (modbus_write_register(m->ctx, (int)addr, value) != 1) {
        char what[64];
        snprintf(what, sizeof what, "writing register %u", addr);
        return mb_err(m, what, err, errcap);
    }
    return 0;
}

int weft_sunspec_discover(struct weft_modbus *m, struct weft_sunspec_map *map, char *err,
                          size_t errcap)
{
    static const uint32_t bases[] = {40000, 0, 50000};
    memset(map, 0, sizeof *map);
    uint16_t r[2];
    int found = 0, rc = 0;
    for (size_t i = 0; i < sizeof bases / sizeof bases[0] && !found; i++) {
        rc = weft_modbus_read(m, bases[i], 2, r, err, errcap);
        if (rc == 0 && r[0] == WEFT_SUNSPEC_MARKER0 && r[1] == WEFT_SUNSPEC_MARKER1) {
            map->base = bases[i];
            found = 1;
        } else if (rc == WEFT_ETIMEDOUT || rc == WEFT_ECONNRESET || rc == WEFT_EPIPE) {
            return rc; /* the device is gone, not merely without SunSpec here */
        }
    }
    if (!found) {
        snprintf(err, errcap, "%s: no SunSpec marker \"SunS\" at 40000, 0 or 50000", m->where);
        return WEFT_ENODEV;
    }
    uint32_t addr = map->base + 2;
    while (map->n < WEFT_SUNSPEC_MAX_MODELS && addr + 2 <= 65536) {
        if ((rc = weft_modbus_read(m, addr, 2, r, err, errcap)) < 0)
            return rc;
        if (r[0] == WEFT_SUNSPEC_END)
            return 0;
        map->models[map->n++] = (struct weft_sunspec_model){r[0], r[1], addr};
        addr += (uint32_t)r[1] + 2;
    }
    snprintf(err, errcap, "%s: model chain from %u has no end marker within %d models", m->where,
             map->base, WEFT_SUNSPEC_MAX_MODELS);
    return WEFT_EPARSE;
}

int weft_sunspec_read(struct weft_modbus *m, const struct weft_sunspec_map *map,
                      struct weft_sunspec_values *v, char *err, size_t errcap)
{
    weft_sunspec_values_init(v);
    uint16_t regs[65536 / 8];
    for (int i = 0; i < map->n; i++) {
        const struct weft_sunspec_model *md = &map->models[i];
        if (!weft_sunspec_known(md->id))
            continue; /* not read at all */
        size_t len =
            md->len < sizeof regs / sizeof regs[0] ? md->len : sizeof regs / sizeof regs[0];
        for (size_t o = 0; o < len; o += MODBUS_MAX_READ_REGISTERS) {
            int k =
                (int)(len - o < MODBUS_MAX_READ_REGISTERS ? len - o : MODBUS_MAX_READ_REGISTERS);
            int rc = weft_modbus_read(m, md->addr + 2 + (uint32_t)o, k, regs + o, err, errcap);
            if (rc < 0)
                return rc;
        }
        int rc = weft_sunspec_decode(md->id, regs, len, v);
        if (rc < 0) {
            snprintf(err, errcap, "%s: model %u at %u: length %u is too short", m->where, md->id,
                     md->addr, md->len);
            return rc;
        }
    }
    return 0;
}
