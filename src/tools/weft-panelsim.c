/* weft-panelsim: a home's inverter, meter and battery as one SunSpec
 * Modbus TCP device, driven by a day profile, so Weft can be tried (and
 * tested) without a real inverter.
 *
 * Holding registers (0-based):
 *   40000  "SunS"
 *   40002  model 1   common (Mn "Weft", Md "panelsim")
 *   40070  model 103 inverter: W = PV power, DCW = PV power
 *   40122  model 203 meter: W = grid power, + import / - export
 *   40229  model 124 storage: ChaState = SoC (SF -1), ChaSt
 *   40255  model 802 battery: SoC (SF -1), W = + charge / - discharge, ChaSt
 *   40319  end of the model chain (0xFFFF, 0)
 *   40500  written by the node: its compute draw in W (feeds back into the
 *          home's balance: grid and battery move as a real home's would)
 *   40501  fault mode, writable at run time: 0 none, 1 silent (stop
 *          answering), 2 drop (close every connection), 3 sentinels (all
 *          measurements "not implemented"), 4 bad scale factors
 *   40502  PV scale in percent, writable at run time (100 at start): a
 *          passing cloud is a write of 10, the sun back a write of 100
 *
 * Time runs --speed times faster than the wall clock (1440: a day a
 * minute) from --start, or from the profile's first day plus --day N.
 * Without a measured profile, --clear-sky LAT,LON makes one: this year of
 * the site's clear-sky PV under a steady house load, starting now (or at
 * --day) in the site's solar time.
 */
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <sys/signalfd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weft/clearsky.h"
#include "weft/cli.h"
#include "weft/energy_sim.h"
#include "weft/error.h"
#include "weft/time.h"
#include "weft/version.h"

static const char usage[] =
    "usage: weft-panelsim (--profile FILE.csv | --clear-sky LAT,LON [--load-w 500] [--tilt 30]\n"
    "                     [--azimuth A]) [--port 5020] [--bind 127.0.0.1] [--speed S]\n"
    "                     [--day N] [--pv-kwp K] [--profile-kwp P] [--battery-kwh B]\n"
    "                     [--battery-kw W] [--battery-eff 0.9] [--battery-standby-w 0]\n"
    "                     [--soc PCT] [--fault "
    "none|silent|drop|sentinels|bad-sf]\n"
    "                     [--load-col GC] [--pv-col GG] [--status-every-s S]\n"
    "                     [--layout sunspec|victron]\n"
    "       weft-panelsim --version | --help\n"
    "\n"
    "Serves SunSpec models 1, 103, 203, 124 and 802 (or, with --layout victron,\n"
    "a Victron GX's system registers 808-850) over Modbus TCP from a day profile\n"
    "with a self-consumption battery. The node writes its compute draw (W) to\n"
    "register 40500; 40501 selects a fault mode and 40502 scales PV (%) at run\n"
    "time, in both layouts. --port 0 picks a free port; the line \"serving ... on\n"
    "HOST:PORT\" on stderr says which. --day is days from the profile's first slot\n"
    "(30.5: noon of day 31) or a local date, 2012-01-15 or 2012-01-15T12:00.\n"
    "PV is scaled by --pv-kwp K / --profile-kwp P;\n"
    "P defaults to 1 (K a plain multiplier); the Ausgrid customer 12 array is 1.04 kWp.\n"
    "--clear-sky LAT,LON serves a cloudless year at that site instead (this year, in\n"
    "solar time): a K kWp array (default 5) at --tilt degrees facing --azimuth (0\n"
    "south, 180 north; default: the equator), under a house load of --load-w W; it\n"
    "starts now, or at --day (days from 1 January, or a date of this year).\n";

/* --clear-sky LAT,LON: this year's clear sky over the site, in its solar
 * time (UTC plus longitude / 15 hours, rounded: the simulated clock is the
 * home's); *now_day: where now falls in it, in days. */
static int clear_sky_profile(const char *spec, double kwp, double tilt, double azimuth,
                             double load_w, struct weft_profile *out, double *now_day, char *err,
                             size_t errcap)
{
    char *end;
    struct weft_site site = {.tilt = tilt, .kwp = kwp > 0 ? kwp : 5};
    site.latitude = strtod(spec, &end);
    if (end == spec || *end != ',') {
        snprintf(err, errcap, "--clear-sky %s: expected LAT,LON in degrees", spec);
        return WEFT_EINVAL;
    }
    const char *lon = end + 1;
    site.longitude = strtod(lon, &end);
    if (end == lon || *end != '\0' || !(site.latitude >= -90 && site.latitude <= 90) ||
        !(site.longitude >= -180 && site.longitude <= 180)) {
        snprintf(err, errcap, "--clear-sky %s: expected LAT,LON in degrees", spec);
        return WEFT_EINVAL;
    }
    site.azimuth = !isnan(azimuth) ? azimuth : site.latitude >= 0 ? 0 : 180;
    site.utc_offset_s = (int)lround(site.longitude / 15) * 3600;
    time_t now = (time_t)(weft_wall_ms() / 1000) + site.utc_offset_s;
    struct tm tm;
    gmtime_r(&now, &tm);
    int64_t y = tm.tm_year + 1900;
    /* 1 January of this year, as if UTC (days_from_civil for 1 January). */
    int64_t era = (y - 1) / 400, yoe = (y - 1) - era * 400;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + 306 - 719468;
    int rc = weft_profile_clearsky(&site, days * 86400, 366, load_w, out);
    *now_day = (double)((int64_t)now - days * 86400) / 86400.0;
    if (rc)
        snprintf(err, errcap, "--clear-sky %s: %s", spec,
                 rc == WEFT_EINVAL ? "a site, load or array out of range" : weft_strerror(rc));
    return rc;
}

/* One register table from address 0, so both layouts and the control
 * registers live in it. */
enum { BASE = 40000, NREGS = 40600, R_COMPUTE = 40500, R_FAULT = 40501, R_PV_SCALE = 40502 };
/* Victron GX system registers (unit 100 on a real GX; any unit here). */
enum {
    V_PV_OUT_L1 = 808,
    V_LOAD_L1 = 817,
    V_GRID_L1 = 820,
    V_BATT_V = 840,
    V_BATT_A = 841,
    V_BATT_W = 842,
    V_SOC = 843,
    V_BATT_STATE = 844,
    V_PV_DC = 850
};
enum { M1 = 40002, M103 = 40070, M203 = 40122, M124 = 40229, M802 = 40255, MEND = 40319 };
enum { F_NONE, F_SILENT, F_DROP, F_SENTINELS, F_BADSF };

struct sim {
    struct weft_profile prof;
    struct weft_battery_model batt;
    double speed, t0_sim, sim_t;
    uint64_t t0_ms, last_ms;
    modbus_mapping_t *mb;
    double pv, load, grid, bw, compute;
    int victron;
};

static uint16_t *reg(struct sim *s, int addr)
{
    return &s->mb->tab_registers[addr];
}

static void put_str(struct sim *s, int addr, const char *text, int nregs)
{
    for (int i = 0; i < nregs; i++) {
        size_t k = (size_t)i * 2, n = strlen(text);
        uint8_t hi = k < n ? (uint8_t)text[k] : 0, lo = k + 1 < n ? (uint8_t)text[k + 1] : 0;
        *reg(s, addr + i) = (uint16_t)(hi << 8 | lo);
    }
}

static void layout(struct sim *s)
{
    *reg(s, BASE) = 0x5375;
    *reg(s, BASE + 1) = 0x6E53;
    *reg(s, M1) = 1;
    *reg(s, M1 + 1) = 66;
    put_str(s, M1 + 2, "Weft", 16);
    put_str(s, M1 + 18, "panelsim", 16);
    put_str(s, M1 + 42, "0.1", 8);
    put_str(s, M1 + 50, "SIM-0001", 16);
    *reg(s, M1 + 66) = 1;
    *reg(s, M103) = 103;
    *reg(s, M103 + 1) = 50;
    *reg(s, M203) = 203;
    *reg(s, M203 + 1) = 105;
    *reg(s, M124) = 124;
    *reg(s, M124 + 1) = 24;
    *reg(s, M802) = 802;
    *reg(s, M802 + 1) = 62;
    *reg(s, MEND) = 0xFFFF;
    *reg(s, MEND + 1) = 0;
}

/* Value and scale factor for an int16 power: SF 0 up to 32 kW, then 1. */
static void put_w(struct sim *s, int addr, int sf_addr, double w)
{
    int sf = fabs(w) > 32000 ? 1 : 0;
    *reg(s, addr) = (uint16_t)(int16_t)lrint(sf ? w / 10 : w);
    *reg(s, sf_addr) = (uint16_t)sf;
}

static int cha_st(double bw, double soc)
{
    if (soc >= 99.95)
        return 5; /* FULL */
    if (soc <= 0.05)
        return 2;                        /* EMPTY */
    return bw > 1 ? 4 : bw < -1 ? 3 : 6; /* CHARGING, DISCHARGING, HOLDING */
}

static uint16_t clamp_u16(double v)
{
    return (uint16_t)(v <= 0 ? 0 : v >= 65534 ? 65534 : lrint(v));
}

static uint16_t clamp_s16(double v)
{
    return (uint16_t)(int16_t)(v <= -32767 ? -32767 : v >= 32767 ? 32767 : lrint(v));
}

/* The Victron layout: all PV as AC-coupled on the output, L1; load and
 * grid on L1 (+ import); battery + charge; SoC in whole percent. */
static void victron_regs(struct sim *s, double soc, int fault)
{
    *reg(s, V_PV_OUT_L1) = clamp_u16(s->pv);
    *reg(s, V_LOAD_L1) = clamp_u16(s->load + s->compute);
    *reg(s, V_GRID_L1) = clamp_s16(s->grid);
    *reg(s, V_BATT_V) = 520; /* 52.0 V */
    *reg(s, V_BATT_A) = clamp_s16(s->bw / 52.0 * 10);
    *reg(s, V_BATT_W) = clamp_s16(s->bw);
    *reg(s, V_SOC) = clamp_u16(soc);
    *reg(s, V_BATT_STATE) = s->bw > 1 ? 1 : s->bw < -1 ? 2 : 0;
    *reg(s, V_PV_DC) = 0;
    if (fault == F_SENTINELS) {
        *reg(s, V_PV_OUT_L1) = 0xFFFF;
        *reg(s, V_GRID_L1) = 0x8000;
        *reg(s, V_BATT_W) = 0x8000;
        *reg(s, V_SOC) = 0xFFFF;
    }
}

/* Advances the home to now and writes its state into the registers. */
static void tick(struct sim *s)
{
    uint64_t now = weft_mono_ms();
    double dt = (double)(now - s->last_ms) / 1000.0 * s->speed;
    s->last_ms = now;
    s->sim_t = s->t0_sim + (double)(now - s->t0_ms) / 1000.0 * s->speed;
    double total = weft_profile_seconds(&s->prof);
    double t = fmod(s->sim_t, total); /* the profile repeats */
    weft_profile_at(&s->prof, t, &s->load, &s->pv);
    s->pv *= *reg(s, R_PV_SCALE) / 100.0;
    s->compute = *reg(s, R_COMPUTE);
    if (dt > 0)
        weft_battery_step(&s->batt, s->pv - s->load - s->compute, dt, &s->grid, &s->bw);
    double soc = weft_battery_soc(&s->batt);
    int fault = *reg(s, R_FAULT);

    put_w(s, M103 + 2 + 12, M103 + 2 + 13, s->pv);   /* W, W_SF */
    put_w(s, M103 + 2 + 29, M103 + 2 + 30, s->pv);   /* DCW, DCW_SF */
    *reg(s, M103 + 2 + 36) = s->pv > 1 ? 4 : 2;      /* St: MPPT or sleeping */
    put_w(s, M203 + 2 + 16, M203 + 2 + 20, s->grid); /* W, W_SF */
    *reg(s, M124 + 2 + 6) = (uint16_t)lrint(soc * 10);
    *reg(s, M124 + 2 + 20) = (uint16_t)(int16_t)-1; /* ChaState_SF */
    *reg(s, M124 + 2 + 9) = (uint16_t)cha_st(s->bw, soc);
    *reg(s, M802 + 2 + 1) = (uint16_t)lrint(fmin(s->batt.capacity_wh, 65535)); /* WHRtg */
    *reg(s, M802 + 2 + 9) = (uint16_t)lrint(soc * 10);
    *reg(s, M802 + 2 + 54) = (uint16_t)(int16_t)-1; /* SoC_SF */
    put_w(s, M802 + 2 + 45, M802 + 2 + 61, s->bw);
    *reg(s, M802 + 2 + 14) = (uint16_t)cha_st(s->bw, soc);

    if (fault == F_SENTINELS) {
        int16_t na = INT16_MIN;
        *reg(s, M103 + 2 + 12) = (uint16_t)na;
        *reg(s, M103 + 2 + 29) = (uint16_t)na;
        *reg(s, M203 + 2 + 16) = (uint16_t)na;
        *reg(s, M124 + 2 + 6) = 0xFFFF;
        *reg(s, M802 + 2 + 9) = 0xFFFF;
        *reg(s, M802 + 2 + 45) = (uint16_t)na;
    } else if (fault == F_BADSF) {
        *reg(s, M103 + 2 + 13) = 0x7FFF;
        *reg(s, M203 + 2 + 20) = 0x7FFF;
        *reg(s, M124 + 2 + 20) = 0x7FFF;
        *reg(s, M802 + 2 + 54) = 0x7FFF;
        *reg(s, M802 + 2 + 61) = 0x7FFF;
    }
    if (s->victron)
        victron_regs(s, soc, fault);
}

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-panelsim", usage))
        return 0;
    const char *profile = NULL, *bind_addr = "127.0.0.1", *load_col = "GC", *pv_col = "GG";
    int port = 5020, layout_ix = 0, fault = F_NONE;
    const char *day_spec = NULL;
    double speed = 1, day = 0, pv_kwp = 0, profile_kwp = 1, bkwh = 10, bkw = -1, beff = 0.9,
           bstandby = 0;
    double soc = 50, status_s = 0, load_w = 500, tilt = 30, azimuth = NAN;
    const char *clear_sky = NULL;
    static const char *const layouts[] = {"sunspec", "victron", NULL};
    static const char *const faults[] = {"none", "silent", "drop", "sentinels", "bad-sf", NULL};
    const struct weft_opt opts[] = {
        WEFT_OPTS("--profile", &profile),
        WEFT_OPTS("--clear-sky", &clear_sky),
        WEFT_OPTN("--load-w", &load_w, 0, 100000),
        WEFT_OPTN("--tilt", &tilt, 0, 90),
        WEFT_OPTN("--azimuth", &azimuth, -180, 360),
        WEFT_OPTS("--bind", &bind_addr),
        WEFT_OPTS("--load-col", &load_col),
        WEFT_OPTS("--pv-col", &pv_col),
        WEFT_OPTI("--port", &port, 0, 65535),
        WEFT_OPTN("--speed", &speed, 0.001, 1e6),
        WEFT_OPTS("--day", &day_spec),
        WEFT_OPTN("--pv-kwp", &pv_kwp, 0, 1000),
        WEFT_OPTN("--profile-kwp", &profile_kwp, 0.001, 1000),
        WEFT_OPTN("--battery-kwh", &bkwh, 0, 65),
        WEFT_OPTN("--battery-kw", &bkw, 0, 1000),
        WEFT_OPTN("--battery-eff", &beff, 0.01, 1),
        WEFT_OPTN("--battery-standby-w", &bstandby, 0, 1000),
        WEFT_OPTN("--soc", &soc, 0, 100),
        WEFT_OPTN("--status-every-s", &status_s, 0, 86400),
        WEFT_OPTC("--layout", &layout_ix, layouts),
        WEFT_OPTC("--fault", &fault, faults),
        WEFT_OPT_END,
    };
    char err[512];
    if (weft_opts_parse(argc - 1, argv + 1, opts, NULL, 0, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "weft-panelsim: %s (see --help)\n", err);
        return 2;
    }
    int victron = layout_ix == 1;
    if ((profile == NULL) == (clear_sky == NULL)) {
        fprintf(stderr, "weft-panelsim: one of --profile FILE.csv or --clear-sky LAT,LON is "
                        "required\n");
        return 2;
    }

    struct sim s;
    memset(&s, 0, sizeof s);
    s.victron = victron;
    double scale = pv_kwp > 0 ? pv_kwp / profile_kwp : 1;
    if (clear_sky) {
        if (clear_sky_profile(clear_sky, pv_kwp, tilt, azimuth, load_w, &s.prof, &day, err,
                              sizeof err) != 0) {
            fprintf(stderr, "weft-panelsim: %s\n", err);
            return 2;
        }
    } else if (weft_profile_load(profile, load_col, pv_col, scale, &s.prof, err, sizeof err) < 0) {
        fprintf(stderr, "weft-panelsim: %s\n", err);
        return 1;
    }
    if (day_spec && weft_profile_day(&s.prof, day_spec, &day, err, sizeof err) != 0) {
        fprintf(stderr, "weft-panelsim: --%s\n", err);
        weft_profile_free(&s.prof);
        return 2;
    }
    double bw = bkw >= 0 ? bkw * 1000 : bkwh * 500;
    s.batt = (struct weft_battery_model){.capacity_wh = bkwh * 1000,
                                         .max_charge_w = bw,
                                         .max_discharge_w = bw,
                                         .efficiency = beff,
                                         .standby_w = bstandby,
                                         .energy_wh = bkwh * 10 * soc};
    s.speed = speed;
    s.t0_sim = day * 86400;
    s.t0_ms = s.last_ms = weft_mono_ms();
    s.mb = modbus_mapping_new_start_address(0, 0, 0, 0, 0, NREGS, 0, 0);
    modbus_t *ctx = modbus_new_tcp(bind_addr, port);
    if (s.mb == NULL || ctx == NULL) {
        fprintf(stderr, "weft-panelsim: cannot set up Modbus: %s\n", modbus_strerror(errno));
        return 1;
    }
    if (!s.victron)
        layout(&s); /* SunSpec; a Victron GX has no "SunS" marker */
    *reg(&s, R_FAULT) = (uint16_t)fault;
    *reg(&s, R_PV_SCALE) = 100;
    tick(&s);
    int lfd = modbus_tcp_listen(ctx, 16);
    if (lfd < 0) {
        fprintf(stderr, "weft-panelsim: cannot listen on %s:%d: %s\n", bind_addr, port,
                modbus_strerror(errno));
        return 1;
    }
    /* SIGINT and SIGTERM arrive as a readable fd in the same select() as the
     * clients: no asynchronous handler, no global flag, and sanitizers that
     * defer handlers around blocking calls cannot lose them. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_sigs;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_sigs, NULL);
    int sfd = signalfd(-1, &stop_sigs, SFD_CLOEXEC);
    if (sfd < 0) {
        fprintf(stderr, "weft-panelsim: signalfd: %s\n", strerror(errno));
        return 1;
    }
    /* Port 0 picks a free one: say which, so a script that starts us need
     * not guess one that another process may take first. */
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(lfd, (struct sockaddr *)&bound, &blen) == 0)
        port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    fprintf(stderr, "weft-panelsim: serving %s on %s:%d (speed %gx)\n",
            s.victron ? "Victron GX registers" : "SunSpec", bind_addr, port, speed);

    fd_set all;
    FD_ZERO(&all);
    FD_SET(lfd, &all);
    FD_SET(sfd, &all);
    int maxfd = lfd > sfd ? lfd : sfd;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    uint64_t last_status = 0;
    int stopping = 0;
    while (!stopping) {
        fd_set rd = all;
        struct timeval tv = {0, 200000};
        int n = select(maxfd + 1, &rd, NULL, NULL, &tv);
        if (n < 0 && errno != EINTR)
            break;
        if (status_s > 0 && weft_mono_ms() - last_status >= status_s * 1000) {
            tick(&s);
            last_status = weft_mono_ms();
            printf("t=%.0f pv=%.0f load=%.0f compute=%.0f grid=%.0f battery=%.0f soc=%.1f\n",
                   s.sim_t, s.pv, s.load, s.compute, s.grid, s.bw, weft_battery_soc(&s.batt));
            fflush(stdout);
        }
        if (n <= 0)
            continue;
        for (int fd = 0; fd <= maxfd; fd++) {
            if (!FD_ISSET(fd, &rd))
                continue;
            if (fd == sfd) {
                stopping = 1;
                break;
            }
            if (fd == lfd) {
                int c = accept(lfd, NULL, NULL);
                if (c < 0)
                    continue;
                if (c >= FD_SETSIZE || *reg(&s, R_FAULT) == F_DROP) {
                    close(c);
                    continue;
                }
                FD_SET(c, &all);
                if (c > maxfd)
                    maxfd = c;
                continue;
            }
            modbus_set_socket(ctx, fd);
            int rc = modbus_receive(ctx, query);
            int mode = *reg(&s, R_FAULT);
            if (rc > 0 && mode == F_SILENT)
                continue; /* read the request, never answer */
            if (rc > 0 && mode != F_DROP) {
                tick(&s);
                modbus_reply(ctx, query, rc, s.mb);
                tick(&s); /* a write to 40500-40502 takes effect at once */
                continue;
            }
            if (rc == 0)
                continue; /* a request for another unit, ignored */
            close(fd);
            FD_CLR(fd, &all);
        }
    }
    for (int fd = 0; fd <= maxfd; fd++)
        if (FD_ISSET(fd, &all))
            close(fd); /* the listener and the signalfd included */
    modbus_mapping_free(s.mb);
    modbus_free(ctx);
    weft_profile_free(&s.prof);
    fprintf(stderr, "weft-panelsim: stopped\n");
    return 0;
}
