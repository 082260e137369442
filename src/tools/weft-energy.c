/* weft-energy: replay a measured PV/load profile through the policy (and,
 * with the Modbus readers, read a device). Results are JSON on stdout. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/cli.h"
#include "weft/energy.h"
#include "weft/energy_config.h"
#include "weft/clearsky.h"
#include "weft/energy_sim.h"
#include "weft/error.h"
#include "weft/plot.h"
#include "weft/regmap.h"
#include "weft/sunspec.h"
#include "weft/time.h"
#include "weft/version.h"

static const char usage[] =
    "usage: weft-energy read --modbus tcp://HOST:PORT|rtu:///dev/TTY[?baud=N...] [--unit N]\n"
    "                        [--layout sunspec|victron|MAP.json] [--timeout-ms MS]\n"
    "       weft-energy replay --profile FILE.csv [--pv-kwp K] [--profile-kwp P]\n"
    "                          [--battery-kwh B] [--battery-kw W] [--battery-eff 0.9]\n"
    "                          [--battery-standby-w 0] [--gpu-max-w W] [--gpu-min-w W]\n"
    "                          [--policy weft|naive|always|all] [--poll-s S]\n"
    "                          [--oracle dp|lp] [--oracle-bin-s 300]\n"
    "                          [--forecast history|true|off]\n"
    "                          [--forecast-file DAYAHEAD.csv [--forecast-col GG]]\n"
    "                          [--site LAT,LON,TILT,AZIMUTH,UTC_OFFSET_H]\n"
    "                          [--load-col GC] [--pv-col GG] [--config policy.json]\n"
    "                          [--svg FILE.svg [--from DAY] [--days 7]]\n"
    "       weft-energy --version | --help\n"
    "\n"
    "read discovers a SunSpec device (\"SunS\" at 40000, 0 or 50000), walks its\n"
    "model chain and prints the models and the values Weft uses as JSON, in the\n"
    "device's own signs (null: not implemented or missing). With --layout victron\n"
    "(a Victron GX, unit 100) or a register map file it prints pv_w, load_w,\n"
    "grid_w (+ import), battery_w (+ charge) and soc_pct in Weft's signs.\n"
    "\n"
    "replay runs the policy over the profile with work always queued, once with\n"
    "compute and once without, and prints one JSON object: days, compute_wh,\n"
    "grid_import_for_compute_wh, compute_from_surplus_share, oracle_wh (the most\n"
    "compute without extra import) and oracle_share, export_window_wh and\n"
    "export_window_share (the old per-day figure; not a bound), switches (and\n"
    "switches_per_day). PV is scaled by\n"
    "K / P: the profile's own array is P kWp. P defaults to 1, which makes K a plain\n"
    "multiplier; for the Ausgrid customer 12 data (a 1.04 kWp array) pass\n"
    "--profile-kwp 1.04.\n"
    "The battery defaults to no battery; --battery-kw defaults to half the kWh;\n"
    "--battery-eff is its round-trip efficiency.\n"
    "--svg draws PV, load, compute, grid and the battery's charge over --days from\n"
    "--from (days from the profile's start, or a local date), and adds the same\n"
    "series to the JSON under \"series\".\n";

struct replay_args {
    const char *profile, *load_col, *pv_col, *policy, *config, *forecast_file, *forecast_col, *site;
    const char *svg, *from;
    double pv_kwp, profile_kwp, battery_kwh, battery_kw, battery_eff, battery_standby, gpu_max,
        gpu_min, days;
    int poll_s, oracle_bin_s, forecast, oracle;
};

static cJSON *result_json(const struct weft_replay_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "days", r->days);
    cJSON_AddNumberToObject(o, "compute_wh", r->compute_wh);
    cJSON_AddNumberToObject(o, "grid_import_for_compute_wh", r->grid_import_for_compute_wh);
    cJSON_AddNumberToObject(o, "compute_from_surplus_share", r->compute_from_surplus_share);
    cJSON_AddNumberToObject(o, "oracle_wh", r->oracle_wh);
    cJSON_AddNumberToObject(o, "oracle_share", r->oracle_share);
    cJSON_AddNumberToObject(o, "always_free_wh", r->always_free_wh);
    cJSON_AddNumberToObject(o, "export_window_wh", r->export_window_wh);
    cJSON_AddNumberToObject(o, "export_window_share", r->export_window_share);
    cJSON *ms = cJSON_AddArrayToObject(o, "months");
    for (int i = 0; i < r->n_months; i++) {
        const struct weft_replay_month *m = &r->months[i];
        cJSON *x = cJSON_CreateObject();
        char ym[16];
        snprintf(ym, sizeof ym, "%04d-%02d", m->year, m->month);
        cJSON_AddStringToObject(x, "month", ym);
        cJSON_AddNumberToObject(x, "days", m->days);
        cJSON_AddNumberToObject(x, "compute_wh", m->compute_wh);
        cJSON_AddNumberToObject(x, "grid_import_for_compute_wh", m->grid_import_for_compute_wh);
        cJSON_AddNumberToObject(x, "compute_from_surplus_share", m->compute_from_surplus_share);
        cJSON_AddNumberToObject(x, "oracle_wh", m->oracle_wh);
        cJSON_AddNumberToObject(x, "oracle_share", m->oracle_share);
        cJSON_AddNumberToObject(x, "switches", (double)m->switches);
        cJSON_AddItemToArray(ms, x);
    }
    cJSON_AddNumberToObject(o, "switches", (double)r->switches);
    cJSON_AddNumberToObject(o, "switches_per_day", r->days > 0 ? r->switches / r->days : 0);
    cJSON_AddNumberToObject(o, "import_with_compute_wh", r->import_with_wh);
    cJSON_AddNumberToObject(o, "import_without_compute_wh", r->import_without_wh);
    cJSON_AddNumberToObject(o, "export_with_compute_wh", r->export_with_wh);
    cJSON_AddNumberToObject(o, "export_without_compute_wh", r->export_without_wh);
    return o;
}

/* --svg: the picture in path, and the same series in the JSON (under
 * "series", rounded to 0.1) so a reader can check one against the other. */
static int write_svg(const struct weft_series *s, const struct replay_args *a, const char *path,
                     cJSON *root)
{
    double window_wh = 0;
    for (int i = 0; i < s->n; i++)
        window_wh += s->count[i] ? s->v[WEFT_S_COMPUTE][i] * s->bucket_s / 3600 : 0;
    cJSON *js = cJSON_AddObjectToObject(root, "series");
    cJSON_AddNumberToObject(js, "from_s", s->from_s);
    cJSON_AddNumberToObject(js, "span_s", s->span_s);
    cJSON_AddNumberToObject(js, "bucket_s", s->bucket_s);
    for (int k = 0; k < WEFT_S_COUNT; k++) {
        cJSON *arr = cJSON_AddArrayToObject(js, weft_series_name((enum weft_series_kind)k));
        for (int i = 0; i < s->n; i++)
            cJSON_AddItemToArray(arr, s->count[i] ? cJSON_CreateNumber(round(s->v[k][i] * 10) / 10)
                                                  : cJSON_CreateNull());
    }
    char title[400], when[32];
    time_t at = (time_t)s->start_s;
    struct tm tm;
    gmtime_r(&at, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    snprintf(title, sizeof title, "%s policy from %s, %.4g days: %.0f Wh of compute", a->policy,
             when, s->span_s / 86400, window_wh);
    struct weft_buf b;
    weft_buf_init(&b, 64u << 20);
    int rc = weft_series_svg(s, title, &b);
    /* A picture, not a secret: the umask's mode, not weft_file_replace's 0600. */
    FILE *f = rc == 0 ? fopen(path, "we") : NULL;
    int ok = f && fwrite(b.data, 1, b.len, f) == b.len;
    ok = f && fclose(f) == 0 && ok;
    weft_buf_free(&b);
    if (!ok) {
        fprintf(stderr, "weft-energy: --svg %s: %s\n", path,
                rc ? weft_strerror(rc) : strerror(errno));
        return 1;
    }
    return 0;
}

static int cmd_replay(int argc, char **argv)
{
    struct replay_args a = {.load_col = "GC",
                            .pv_col = "GG",
                            .forecast_col = "GG",
                            .policy = "weft",
                            .profile_kwp = 1.0,
                            .battery_kw = -1,
                            .battery_eff = 0.9,
                            .gpu_max = 350,
                            .gpu_min = 100,
                            .poll_s = 10,
                            .oracle_bin_s = WEFT_ORACLE_BIN_S,
                            .days = 7};
    static const char *const forecasts[] = {"history", "true", "off", NULL};
    static const char *const oracles[] = {"dp", "lp", NULL};
    a.forecast = WEFT_REPLAY_FC_OFF;
    const struct weft_opt opts[] = {
        WEFT_OPTS("--profile", &a.profile),
        WEFT_OPTS("--load-col", &a.load_col),
        WEFT_OPTS("--pv-col", &a.pv_col),
        WEFT_OPTS("--policy", &a.policy),
        WEFT_OPTS("--config", &a.config),
        WEFT_OPTN("--pv-kwp", &a.pv_kwp, 0, 1000),
        WEFT_OPTN("--profile-kwp", &a.profile_kwp, 0.001, 1000),
        WEFT_OPTN("--battery-kwh", &a.battery_kwh, 0, 10000),
        WEFT_OPTN("--battery-kw", &a.battery_kw, 0, 10000),
        WEFT_OPTN("--battery-eff", &a.battery_eff, 0.01, 1),
        WEFT_OPTN("--battery-standby-w", &a.battery_standby, 0, 10000),
        WEFT_OPTN("--gpu-max-w", &a.gpu_max, 1, 100000),
        WEFT_OPTN("--gpu-min-w", &a.gpu_min, 0, 100000),
        WEFT_OPTI("--poll-s", &a.poll_s, 1, 3600),
        WEFT_OPTI("--oracle-bin-s", &a.oracle_bin_s, 1, 86400),
        WEFT_OPTC("--forecast", &a.forecast, forecasts),
        WEFT_OPTC("--oracle", &a.oracle, oracles),
        WEFT_OPTS("--forecast-file", &a.forecast_file),
        WEFT_OPTS("--forecast-col", &a.forecast_col),
        WEFT_OPTS("--site", &a.site),
        WEFT_OPTS("--svg", &a.svg),
        WEFT_OPTS("--from", &a.from),
        WEFT_OPTN("--days", &a.days, 0.01, 3660),
        WEFT_OPT_END,
    };
    char err[512];
    if (weft_opts_parse(argc - 2, argv + 2, opts, NULL, 0, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "weft-energy: %s (see --help)\n", err);
        return 2;
    }
    if (a.profile == NULL) {
        fprintf(stderr, "weft-energy: replay needs --profile FILE.csv\n");
        return 2;
    }
    static const char *const names[] = {"weft", "naive", "always"};
    int first = 0, last = 2;
    if (strcmp(a.policy, "all") != 0) {
        for (first = 0; first < 3 && strcmp(names[first], a.policy) != 0; first++)
            ;
        if (first == 3) {
            fprintf(stderr, "weft-energy: --policy: expected weft, naive, always or all\n");
            return 2;
        }
        last = first;
    }
    if (a.svg && first != last) {
        fprintf(stderr, "weft-energy: --svg draws one policy: pick it with --policy\n");
        return 2;
    }
    double scale = a.pv_kwp > 0 ? a.pv_kwp / a.profile_kwp : 1.0;
    struct weft_profile p;
    uint64_t t0 = weft_mono_ns();
    if (weft_profile_load(a.profile, a.load_col, a.pv_col, scale, &p, err, sizeof err) < 0) {
        fprintf(stderr, "weft-energy: %s\n", err);
        return 1;
    }
    struct weft_replay_opts o;
    memset(&o, 0, sizeof o);
    struct weft_policy_config pc;
    weft_policy_config_defaults(&pc);
    pc.max_compute_w = a.gpu_max;
    pc.min_run_w = a.gpu_min;
    /* The simulated battery's size is known exactly; a config may still
     * override it to study a wrong setting. */
    pc.battery_capacity_wh = a.battery_kwh * 1000;
    pc.battery_max_w = a.battery_kw >= 0 ? a.battery_kw * 1000 : a.battery_kwh * 500;
    pc.battery_efficiency = a.battery_eff;
    if (a.config && weft_config_load_file(a.config, &weft_policy_root, &pc, err, sizeof err) < 0) {
        fprintf(stderr, "weft-energy: %s\n", err);
        weft_profile_free(&p);
        return 1;
    }
    weft_policy_from_config(&pc, a.battery_kwh > 0, &o.settings);
    o.battery_wh = a.battery_kwh * 1000;
    o.battery_w = a.battery_kw >= 0 ? a.battery_kw * 1000 : a.battery_kwh * 500;
    o.battery_eff = a.battery_eff;
    o.battery_standby_w = a.battery_standby;
    o.battery_start_soc = 50;
    o.poll_s = a.poll_s;
    o.forecast = (enum weft_replay_forecast)a.forecast;
    struct weft_clearsky *cs = NULL;
    if (a.site) {
        /* The clear-sky layer: LAT,LON,TILT,AZIMUTH,UTC_OFFSET_H, the array
         * as --pv-kwp (or the profile's) says. */
        struct weft_site site = {.kwp = a.pv_kwp > 0 ? a.pv_kwp : a.profile_kwp};
        double off_h;
        int n = -1;
        if (sscanf(a.site, "%lf,%lf,%lf,%lf,%lf%n", &site.latitude, &site.longitude, &site.tilt,
                   &site.azimuth, &off_h, &n) != 5 ||
            a.site[n] != '\0' || !(off_h >= -14 && off_h <= 14)) {
            fprintf(stderr,
                    "weft-energy: --site: expected LAT,LON,TILT,AZIMUTH,UTC_OFFSET_H, "
                    "got \"%s\"\n",
                    a.site);
            weft_profile_free(&p);
            return 2;
        }
        site.utc_offset_s = (int)lround(off_h * 3600);
        cs = malloc(sizeof *cs);
        if (cs == NULL || weft_clearsky_init(cs, &site) != 0) {
            fprintf(stderr, "weft-energy: --site: \"%s\" is out of range\n", a.site);
            free(cs);
            weft_profile_free(&p);
            return 2;
        }
        o.clearsky = cs;
    }
    struct weft_profile fcp = {0};
    if (a.forecast_file) {
        /* Day-ahead PV as the profile's PV: the same kW and scaling. */
        if (weft_profile_load(a.forecast_file, a.forecast_col, a.forecast_col, scale, &fcp, err,
                              sizeof err) < 0) {
            fprintf(stderr, "weft-energy: --forecast-file: %s\n", err);
            weft_profile_free(&p);
            return 1;
        }
        o.forecast = WEFT_REPLAY_FC_FILE;
        o.forecast_pv = &fcp;
    }
    o.settings.plan = o.forecast != WEFT_REPLAY_FC_OFF;

    struct weft_series series;
    memset(&series, 0, sizeof series);
    if (a.svg) {
        double from = 0;
        int src = a.from ? weft_profile_day(&p, a.from, &from, err, sizeof err) : 0;
        if (src == 0)
            src = weft_series_init(&series, &p, from * 86400, a.days * 86400, a.poll_s);
        if (src != 0) {
            fprintf(stderr, "weft-energy: --from: %s\n",
                    a.from && src == WEFT_EINVAL ? err : weft_strerror(src));
            weft_profile_free(&p);
            weft_profile_free(&fcp);
            free(cs);
            return 2;
        }
        o.trace = weft_series_trace;
        o.trace_ud = &series;
    }

    cJSON *root = cJSON_CreateObject();
    struct weft_replay_result oracle; /* the first policy's, for the others */
    for (int k = first; k <= last; k++) {
        o.policy = (enum weft_replay_policy)k;
        struct weft_replay_result r;
        int rc = weft_replay(&p, &o, &r);
        if (rc < 0)
            snprintf(err, sizeof err, "%s", weft_strerror(rc));
        else if (k == first)
            rc = weft_oracle(&p, &o, a.oracle_bin_s, (enum weft_oracle_method)a.oracle, &r, err,
                             sizeof err);
        else
            weft_replay_set_oracle(&r, &oracle);
        if (k == first)
            oracle = r;
        if (rc < 0) {
            fprintf(stderr, "weft-energy: replay failed: %s\n", err);
            weft_series_free(&series);
            cJSON_Delete(root);
            weft_profile_free(&p);
            weft_profile_free(&fcp);
            free(cs);
            return 1;
        }
        cJSON *o1 = result_json(&r);
        if (first == last) {
            cJSON_Delete(root);
            root = o1;
            cJSON_AddStringToObject(root, "policy", names[k]);
        } else {
            cJSON_AddItemToObject(root, names[k], o1);
        }
    }
    int out_rc = 0;
    if (a.svg) {
        weft_series_finish(&series);
        out_rc = write_svg(&series, &a, a.svg, root);
        weft_series_free(&series);
    }
    cJSON_AddNumberToObject(root, "seconds", (double)(weft_mono_ns() - t0) / 1e9);
    char *s = cJSON_Print(root);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(root);
    weft_profile_free(&p);
    weft_profile_free(&fcp);
    free(cs);
    return out_rc;
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isnan(v))
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, v);
}

static int read_map(const char *url, struct weft_modbus *m, const struct weft_regmap *map,
                    const char *layout)
{
    char err[512];
    struct weft_energy_sample v;
    int rc = weft_regmap_read(m, map, &v, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "weft-energy: %s\n", err);
        return 1;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "device", url);
    cJSON_AddStringToObject(o, "layout", layout);
    add_num(o, "pv_w", v.v[WEFT_Q_PV]);
    add_num(o, "load_w", v.v[WEFT_Q_LOAD]);
    add_num(o, "grid_w", v.v[WEFT_Q_GRID]);
    add_num(o, "battery_w", v.v[WEFT_Q_BATTERY]);
    add_num(o, "soc_pct", v.v[WEFT_Q_SOC]);
    char *s = cJSON_Print(o);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
    return 0;
}

static int read_sunspec(const char *url, struct weft_modbus *m)
{
    char err[512];
    struct weft_sunspec_map map;
    struct weft_sunspec_values v;
    int rc = weft_sunspec_discover(m, &map, err, sizeof err);
    if (rc == 0)
        rc = weft_sunspec_read(m, &map, &v, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "weft-energy: %s\n", err);
        return 1;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "device", url);
    cJSON_AddStringToObject(o, "layout", "sunspec");
    cJSON_AddNumberToObject(o, "sunspec_base", map.base);
    cJSON *models = cJSON_AddArrayToObject(o, "models");
    for (int i = 0; i < map.n; i++) {
        cJSON *md = cJSON_CreateObject();
        cJSON_AddNumberToObject(md, "id", map.models[i].id);
        cJSON_AddNumberToObject(md, "address", map.models[i].addr);
        cJSON_AddNumberToObject(md, "length", map.models[i].len);
        cJSON_AddItemToArray(models, md);
    }
    cJSON_AddStringToObject(o, "manufacturer", v.manufacturer);
    cJSON_AddStringToObject(o, "model", v.model);
    cJSON_AddStringToObject(o, "serial", v.serial);
    add_num(o, "inverter_ac_w", v.ac_w);
    add_num(o, "inverter_dc_w", v.dc_w);
    add_num(o, "meter_w", v.meter_w);
    add_num(o, "battery_w", v.batt_w);
    add_num(o, "soc_pct", v.soc_pct);
    if (v.cha_st >= 0)
        cJSON_AddNumberToObject(o, "charge_status", v.cha_st);
    else
        cJSON_AddNullToObject(o, "charge_status");
    char *s = cJSON_Print(o);
    if (s)
        printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
    return 0;
}

static int cmd_read(int argc, char **argv)
{
    const char *url = NULL, *layout = "sunspec";
    int unit = -1, timeout = 2000;
    const struct weft_opt opts[] = {
        WEFT_OPTS("--modbus", &url),
        WEFT_OPTI("--unit", &unit, 0, 255),
        WEFT_OPTI("--timeout-ms", &timeout, 1, 60000),
        WEFT_OPTS("--layout", &layout),
        WEFT_OPT_END,
    };
    char err[WEFT_CONFIG_ERR_MAX];
    if (weft_opts_parse(argc - 2, argv + 2, opts, NULL, 0, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "weft-energy: %s (see --help)\n", err);
        return 2;
    }
    if (url == NULL) {
        fprintf(stderr, "weft-energy: read needs --modbus tcp://HOST:PORT or rtu:///dev/DEVICE\n");
        return 2;
    }
    /* The layout first: a bad map file is an error before any I/O. */
    struct weft_regmap map;
    int is_sunspec = strcmp(layout, "sunspec") == 0;
    if (strcmp(layout, "victron") == 0) {
        weft_regmap_victron(&map);
        if (unit >= 0)
            for (int q = 0; q < WEFT_Q_COUNT; q++)
                for (int k = 0; k < map.q[q].n; k++)
                    map.q[q].t[k].unit = unit;
    } else if (!is_sunspec) {
        struct weft_regmap_cfg mc;
        weft_regmap_cfg_defaults(&mc);
        if (weft_config_load_file(layout, &weft_regmap_root, &mc, err, sizeof err) != 0 ||
            weft_regmap_from_cfg(&mc, &map, err, sizeof err) != 0) {
            fprintf(stderr, "weft-energy: %s%s%s\n", strstr(err, layout) ? "" : layout,
                    strstr(err, layout) ? "" : ": ", err);
            return 2;
        }
    }
    struct weft_modbus *m;
    int rc = weft_modbus_open_url(url,
                                  unit >= 0    ? unit
                                  : is_sunspec ? 1
                                               : 100,
                                  timeout, &m, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "weft-energy: %s\n", err);
        return rc == WEFT_EINVAL ? 2 : 1;
    }
    rc = is_sunspec ? read_sunspec(url, m) : read_map(url, m, &map, layout);
    weft_modbus_close(m);
    return rc;
}

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-energy", usage))
        return 0;
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return cmd_replay(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "read") == 0)
        return cmd_read(argc, argv);
    fputs(usage, stderr);
    return 2;
}
