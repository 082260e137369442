/* weftctl: the operator's and developer's command line for a scheduler.
 *
 * Keys and node enrollment work on the scheduler's store directly (the
 * operator runs them on the scheduler's host, or anywhere that reaches a
 * shared PostgreSQL store; SQLite's WAL lets them run beside a live
 * scheduler). Everything else talks to the scheduler's API
 * over HTTPS with libcurl. */
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "weft/buf.h"
#include "weft/cli.h"
#include "weft/error.h"
#include "weft/file.h"
#include "weft/infer.h"
#include "weft/regmap.h"
#include "weft/store.h"
#include "weft/sunspec.h"
#include "weft/tls.h"
#include "weft/time.h"
#include "weft/version.h"

static const char usage[] =
    "usage: weftctl [--state-dir DIR] keys create NAME [--rate N] [--concurrency N] [--admin]\n"
    "                                  (defaults: 600 requests/min, 16 in flight; 0: no limit)\n"
    "       weftctl [--state-dir DIR] keys list | keys revoke ID|NAME\n"
    "       weftctl [--state-dir DIR] nodes enroll NAME [--max-budget-w W] [--max-slots N]\n"
    "                                  [--models A,B]   (what the node may claim)\n"
    "       weftctl [--state-dir DIR] nodes revoke NAME | nodes enrolled\n"
    "       weftctl [--state-dir DIR] nodes trust NAME --reset   lift a quarantine\n"
    "       weftctl [API] nodes                      live nodes (admin key)\n"
    "       weftctl [--state-dir DIR] store migrate --to postgresql://...   SQLite to PostgreSQL\n"
    "       weftctl [--state-dir DIR] region init [--listen A] [--port N] [--tls-cert PEM\n"
    "                                  --tls-key PEM] [--url U]   a first scheduler's setup\n"
    "       weftctl [API] jobs list [--limit N] | jobs show ID | jobs cancel ID\n"
    "       weftctl node status [--status-url http://127.0.0.1:9464] [--json]\n"
    "       weftctl node page [--node-dir /var/lib/weftd] [--status-url http://127.0.0.1:9464]\n"
    "                     the homeowner's page, with the control secret in its link\n"
    "       weftctl node init [--out weftd.json] [--scheduler URL] [--token T] [--ca PEM]\n"
    "                     [--modbus tcp://HOST:502] [--layout sunspec|victron] [--unit N]\n"
    "                     [--reserve-soc PCT] [--quiet-hours HH:MM-HH:MM] [--model A,B]\n"
    "                     [--state-dir DIR] [--export-negative y|n] [--yes]\n"
    "                     asks for what is not given, reads the inverter, writes the config\n"
    "       weftctl [API] submit --model M (--prompt TEXT | --message TEXT)\n"
    "                     [--max-tokens N] [--window 24h] [--priority deferrable|interactive]\n"
    "                     [--idempotency-key K]\n"
    "\n"
    "API: --url https://HOST:PORT (or $WEFT_URL), --key KEY (or $WEFT_API_KEY),\n"
    "     --cacert PEM (or $WEFT_CACERT) for a private or development certificate.\n"
    "--state-dir is the scheduler's (default /var/lib/weft-scheduler); --store URI (or\n"
    "$WEFT_STORE) names a shared PostgreSQL store instead (postgresql://...).\n";

struct opts {
    const char *state_dir;
    const char *store; /* a PostgreSQL URI or SQLite path, else state_dir/weft.db */
    const char *url;
    const char *key;
    const char *cacert;
};

/* ---- store commands ------------------------------------------------------- */

static int open_store(const struct opts *o, struct weft_store **st)
{
    char path[1024], err[512];
    if (o->store && o->store[0])
        snprintf(path, sizeof path, "%s", o->store);
    else
        snprintf(path, sizeof path, "%s/weft.db", o->state_dir);
    int rc = weft_store_open(st, path, err, sizeof err);
    if (rc)
        fprintf(stderr, "weftctl: %s\n", err);
    return rc;
}

static void print_key(const struct weft_key_info *k, void *ud)
{
    (void)ud;
    char when[32];
    time_t t = (time_t)(k->created_ms / 1000);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", gmtime(&t));
    printf("%-14s %-20s %s  rate=%d/min  concurrency=%d%s%s\n", k->id, k->name, when,
           k->rate_per_min, k->max_concurrent, k->admin ? "  admin" : "",
           k->revoked ? "  REVOKED" : "");
}

static void print_node(const char *name, int64_t created_ms, int revoked, void *ud)
{
    struct weft_store *st = ud;
    char when[32];
    time_t t = (time_t)(created_ms / 1000);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", gmtime(&t));
    printf("%-24s enrolled %s%s", name, when, revoked ? "  REVOKED" : "");
    /* Its verified results, when the scheduler checked any. */
    int ok, bad, q;
    char why[256];
    if (weft_store_node_trust_get(st, name, &ok, &bad, &q, why, sizeof why) == 0) {
        printf("  checks %d right, %d wrong", ok, bad);
        if (q)
            printf("  QUARANTINED: %s", why);
    }
    printf("\n");
}

/* A command's own options and its positional arguments (exactly want of
 * them): 0, or 2 after saying what is wrong. */
static int args(int argc, char **argv, const struct weft_opt *opts, const char **pos, int want)
{
    char err[256];
    int n = 0;
    if (weft_opts_parse(argc, argv, opts, pos, want, &n, err, sizeof err) != 0) {
        fprintf(stderr, "weftctl: %s (see --help)\n", err);
        return 2;
    }
    if (n != want) {
        fputs(usage, stderr);
        return 2;
    }
    return 0;
}

static const struct weft_opt no_options[] = {WEFT_OPT_END};

static int cmd_keys(const struct opts *o, int argc, char **argv)
{
    struct weft_store *st;
    if (argc < 1)
        return fputs(usage, stderr), 2;
    if (open_store(o, &st))
        return 1;
    int rc = 0;
    const char *pos[1];
    if (strcmp(argv[0], "create") == 0) {
        int rate = 600, conc = 16, admin = 0;
        const struct weft_opt opts[] = {
            WEFT_OPTI("--rate", &rate, 0, 1000000),
            WEFT_OPTI("--concurrency", &conc, 0, 100000),
            WEFT_OPTF("--admin", &admin),
            WEFT_OPT_END,
        };
        rc = args(argc - 1, argv + 1, opts, pos, 1);
        char key[WEFT_SECRET_MAX];
        struct weft_key_info info;
        if (rc == 0 && (rc = weft_store_key_create(st, pos[0], rate, conc, admin, key, &info))) {
            fprintf(stderr, "weftctl: cannot create key: %s\n", weft_strerror(rc));
            rc = 1;
        } else if (rc == 0) {
            /* The secret on stdout alone, so scripts can capture it. */
            printf("%s\n", key);
            fprintf(stderr, "weftctl: key %s (%s) created; this is the only time it is shown\n",
                    info.id, info.name);
        }
    } else if (strcmp(argv[0], "list") == 0) {
        if ((rc = args(argc - 1, argv + 1, no_options, pos, 0)) == 0)
            weft_store_key_list(st, print_key, NULL);
    } else if (strcmp(argv[0], "revoke") == 0) {
        if ((rc = args(argc - 1, argv + 1, no_options, pos, 1)) == 0) {
            rc = weft_store_key_revoke(st, pos[0]);
            if (rc)
                fprintf(stderr, "weftctl: %s: %s\n", pos[0],
                        rc == WEFT_ENOENT ? "no such key" : weft_strerror(rc));
            rc = rc ? 1 : 0;
        }
    } else {
        fputs(usage, stderr);
        rc = 2;
    }
    weft_store_close(st);
    return rc;
}

/* ---- node init: a homeowner's guided setup ---------------------------- */

/* One answer: the flag's value, else (unless --yes) a line read after the
 * question, else def. Returns NULL when none came and none is allowed. */
static const char *ask(const char *flag, const char *question, const char *def, int yes, char *buf,
                       size_t cap)
{
    if (flag && flag[0])
        return flag;
    if (yes)
        return def;
    int show = def && def[0];
    fprintf(stderr, "%s%s%s%s: ", question, show ? " [" : "", show ? def : "", show ? "]" : "");
    if (!fgets(buf, (int)cap, stdin))
        return def;
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf[0] ? buf : def;
}

/* What the device reads now, with its signs said in words; *grid and
 * *pv for the sign check. 0, or 1 with the reason printed. */
static int probe(const char *url, const char *layout, int unit, double *pv, double *grid)
{
    char err[512];
    struct weft_modbus *m;
    int sunspec = strcmp(layout, "sunspec") == 0;
    /* A device refusing the connection may be starting (an inverter's
     * Modbus after a reboot, a simulator just launched): a few seconds'
     * grace, said once, before giving up. */
    int orc;
    for (int tries = 0;; tries++) {
        orc = weft_modbus_open_url(url,
                                   unit >= 0 ? unit
                                   : sunspec ? 1
                                             : 100,
                                   2000, &m, err, sizeof err);
        if (orc != WEFT_ECONNREFUSED || tries == 10)
            break;
        if (tries == 0)
            fprintf(stderr, "%s refuses the connection; trying again for 5 s\n", url);
        weft_sleep_ms(500);
    }
    if (orc < 0) {
        fprintf(stderr, "weftctl: %s\n", err);
        return 1;
    }
    double load = NAN, batt = NAN, soc = NAN;
    int rc;
    if (sunspec) {
        struct weft_sunspec_map map;
        struct weft_sunspec_values v;
        rc = weft_sunspec_discover(m, &map, err, sizeof err);
        if (rc == 0)
            rc = weft_sunspec_read(m, &map, &v, err, sizeof err);
        if (rc == 0) {
            fprintf(stderr, "found a SunSpec device: %s %s (serial %s)\n", v.manufacturer, v.model,
                    v.serial);
            *pv = v.ac_w;
            *grid = v.meter_w;
            batt = v.batt_w;
            soc = v.soc_pct;
        }
    } else {
        struct weft_regmap map;
        struct weft_energy_sample v;
        weft_regmap_victron(&map);
        for (int q = 0; unit >= 0 && q < WEFT_Q_COUNT; q++)
            for (int k = 0; k < map.q[q].n; k++)
                map.q[q].t[k].unit = unit;
        rc = weft_regmap_read(m, &map, &v, err, sizeof err);
        if (rc >= 0) {
            rc = 0;
            fprintf(stderr, "found a Victron GX\n");
            *pv = v.v[WEFT_Q_PV];
            *grid = v.v[WEFT_Q_GRID];
            load = v.v[WEFT_Q_LOAD];
            batt = v.v[WEFT_Q_BATTERY];
            soc = v.v[WEFT_Q_SOC];
        }
    }
    weft_modbus_close(m);
    if (rc != 0) {
        fprintf(stderr, "weftctl: %s: %s\n", url, err);
        return 1;
    }
    fprintf(stderr, "  PV now:       %.0f W\n", *pv);
    if (!isnan(load))
        fprintf(stderr, "  house load:   %.0f W\n", load);
    fprintf(stderr, "  grid:         %.0f W (%s)\n", *grid,
            *grid < 0   ? "negative: exporting, as read"
            : *grid > 0 ? "positive: importing, as read"
                        : "zero: neither importing nor exporting now");
    if (!isnan(batt))
        fprintf(stderr, "  battery:      %.0f W (%s)\n", batt,
                batt > 0   ? "positive: charging, as read"
                : batt < 0 ? "negative: discharging, as read"
                           : "zero: idle now");
    if (!isnan(soc))
        fprintf(stderr, "  charge:       %.0f %%\n", soc);
    return 0;
}

/* node init: asks for (or takes from flags) what a home's weftd needs,
 * reads the inverter to show what it sees, checks the grid's sign with
 * the homeowner, sizes the models, and writes the config. */
static int cmd_node_init(int argc, char **argv)
{
    const char *out = "/etc/weft/weftd.json", *sched = NULL, *token = NULL, *ca = NULL;
    const char *modbus = NULL, *layout = NULL, *reserve = NULL, *quiet = NULL, *state = NULL;
    const char *model = NULL, *export_neg = NULL, *pos[1];
    int unit = -1, yes = 0;
    const struct weft_opt opts[] = {
        WEFT_OPTS("--out", &out),           WEFT_OPTS("--scheduler", &sched),
        WEFT_OPTS("--token", &token),       WEFT_OPTS("--ca", &ca),
        WEFT_OPTS("--modbus", &modbus),     WEFT_OPTS("--layout", &layout),
        WEFT_OPTI("--unit", &unit, 0, 255), WEFT_OPTS("--reserve-soc", &reserve),
        WEFT_OPTS("--quiet-hours", &quiet), WEFT_OPTS("--model", &model),
        WEFT_OPTS("--state-dir", &state),   WEFT_OPTS("--export-negative", &export_neg),
        WEFT_OPTF("--yes", &yes),           WEFT_OPT_END,
    };
    if (args(argc, argv, opts, pos, 0))
        return 2;
    char b1[512], b2[256], b3[512], b4[64], b5[64], b6[32], b7[1024], b8[16], b9[512];
    sched = ask(sched, "scheduler URL (https://HOST:PORT)", NULL, yes, b1, sizeof b1);
    token = ask(token, "enrollment token (weftctl nodes enroll NAME, on the scheduler)", NULL, yes,
                b2, sizeof b2);
    modbus = ask(modbus, "inverter or GX address (tcp://HOST:502)", NULL, yes, b3, sizeof b3);
    if (!sched || !token || !modbus) {
        fprintf(stderr, "weftctl: node init needs %s (a flag, or an answer)\n",
                !sched   ? "--scheduler"
                : !token ? "--token"
                         : "--modbus");
        return 2;
    }
    layout = ask(layout, "layout (sunspec or victron)", "sunspec", yes, b4, sizeof b4);
    if (strcmp(layout, "sunspec") != 0 && strcmp(layout, "victron") != 0) {
        fprintf(stderr, "weftctl: --layout is sunspec or victron, not %s\n", layout);
        return 2;
    }
    double pv = 0, grid = 0;
    if (probe(modbus, layout, unit, &pv, &grid))
        return 1;
    /* The one sign a home's meter can get backwards, and the policy hangs
     * on it: export must read negative. */
    export_neg = ask(export_neg,
                     "while the sun shines and the house exports, does grid read negative? (y/n)",
                     "y", yes, b8, sizeof b8);
    int grid_sign = export_neg[0] == 'n' || export_neg[0] == 'N' ? -1 : 1;
    if (grid_sign < 0)
        fprintf(stderr, "  weftd will flip the grid reading (energy.grid_sign -1)\n");
    reserve = ask(reserve, "battery reserve, % weftd never draws below", "20", yes, b5, sizeof b5);
    char *end;
    double res = strtod(reserve, &end);
    if (*end || end == reserve || res < 0 || res > 100) {
        fprintf(stderr, "weftctl: --reserve-soc is a percentage, not %s\n", reserve);
        return 2;
    }
    quiet = ask(quiet, "quiet hours, HH:MM-HH:MM (empty: none)", "", yes, b6, sizeof b6);
    char qs[8] = "", qe[8] = "";
    if (quiet[0] &&
        (sscanf(quiet, "%5[0-9:]-%5[0-9:]", qs, qe) != 2 || strlen(qs) != 5 || strlen(qe) != 5)) {
        fprintf(stderr, "weftctl: --quiet-hours is HH:MM-HH:MM, not %s\n", quiet);
        return 2;
    }
    model = ask(model, "model file(s), comma-separated GGUF paths (empty: none yet)", "", yes, b7,
                sizeof b7);
    state = ask(state, "state directory", "/var/lib/weftd", yes, b9, sizeof b9);
    cJSON *c = cJSON_CreateObject();
    cJSON *s = cJSON_AddObjectToObject(c, "scheduler");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(s, "urls"), cJSON_CreateString(sched));
    cJSON_AddStringToObject(s, "token", token);
    if (ca && ca[0])
        cJSON_AddStringToObject(s, "ca_file", ca);
    cJSON *models = cJSON_AddArrayToObject(c, "models");
    char list[1024];
    snprintf(list, sizeof list, "%s", model);
    int rc = 0;
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p && rc == 0;
         p = strtok_r(NULL, ",", &save)) {
        struct weft_model_opts mo = {.backend = WEFT_BACKEND_CPU, .n_threads = 1, .mapped = 1};
        struct weft_model *wm;
        char err[512];
        if (weft_model_load(p, &mo, &wm, err, sizeof err) != 0) {
            fprintf(stderr, "weftctl: %s\n", err);
            rc = 1;
            break;
        }
        struct stat sb;
        double file_mib = stat(p, &sb) == 0 ? (double)sb.st_size / (1 << 20) : 0;
        fprintf(stderr, "  %s: %.1f MiB of weights, and %.1f MiB for each job it runs at once\n", p,
                file_mib, (double)weft_session_bytes(wm, 0) / (1 << 20));
        weft_model_free(wm);
        cJSON *one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "path", p);
        cJSON_AddItemToArray(models, one);
    }
    cJSON *e = cJSON_AddObjectToObject(c, "energy");
    cJSON_AddStringToObject(e, "modbus", modbus);
    cJSON_AddStringToObject(e, "layout", layout);
    if (unit >= 0)
        cJSON_AddNumberToObject(e, "unit", unit);
    if (grid_sign < 0)
        cJSON_AddNumberToObject(e, "grid_sign", -1);
    cJSON *pol = cJSON_AddObjectToObject(c, "policy");
    cJSON_AddNumberToObject(pol, "reserve_soc", res);
    if (qs[0]) {
        cJSON *w = cJSON_CreateObject();
        cJSON_AddStringToObject(w, "start", qs);
        cJSON_AddStringToObject(w, "end", qe);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(pol, "quiet_hours"), w);
    }
    cJSON_AddStringToObject(c, "state_dir", state);
    char *txt = rc == 0 ? cJSON_Print(c) : NULL;
    cJSON_Delete(c);
    if (rc)
        return rc;
    rc = txt ? weft_file_replace(out, txt, strlen(txt)) : WEFT_ENOMEM;
    free(txt);
    if (rc) {
        fprintf(stderr, "weftctl: %s: %s\n", out, weft_strerror(rc));
        return 1;
    }
    printf("%s\n", out);
    fprintf(stderr, "wrote %s; check it with: weftd --check-config %s\n", out, out);
    return 0;
}

/* region init: a scheduler's first state, for an operator trying Weft or
 * starting a region. Makes the state directory, TLS material for a trial
 * (or takes real certificates), the first admin and developer keys and a
 * config file, then prints how to start the scheduler, enroll a home and
 * call the API, as lines that work when pasted. A store that has keys
 * already is left alone. */
static int cmd_region(const struct opts *o, int argc, char **argv)
{
    const char *listen = "127.0.0.1", *cert = NULL, *key = NULL, *url = NULL, *pos[1];
    int port = 8443;
    const struct weft_opt opts[] = {
        WEFT_OPTS("--listen", &listen), WEFT_OPTI("--port", &port, 1, 65535),
        WEFT_OPTS("--tls-cert", &cert), WEFT_OPTS("--tls-key", &key),
        WEFT_OPTS("--url", &url),       WEFT_OPT_END,
    };
    if (argc < 1 || strcmp(argv[0], "init") != 0 || args(argc - 1, argv + 1, opts, pos, 0) ||
        (!cert) != (!key)) {
        fprintf(stderr, "usage: weftctl [--state-dir DIR | --store URI] region init [--listen "
                        "ADDR] [--port N]\n"
                        "       [--tls-cert PEM --tls-key PEM] [--url https://HOST:PORT]\n");
        return 2;
    }
    const char *dir = o->state_dir;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "weftctl: %s: cannot create: %s\n", dir, strerror(errno));
        return 1;
    }
    struct weft_store *st;
    if (open_store(o, &st))
        return 1;
    int keys = weft_store_key_count(st);
    if (keys != 0) {
        fprintf(stderr,
                "weftctl: the store has %d keys already: this region is set up (see "
                "weftctl keys list)\n",
                keys < 0 ? 0 : keys);
        weft_store_close(st);
        return 1;
    }
    char cert_path[600], key_path[600], err[512];
    if (cert) {
        snprintf(cert_path, sizeof cert_path, "%s", cert);
        snprintf(key_path, sizeof key_path, "%s", key);
    } else {
        snprintf(cert_path, sizeof cert_path, "%s/dev-cert.pem", dir);
        snprintf(key_path, sizeof key_path, "%s/dev-key.pem", dir);
        if (weft_tls_make_dev_cert(cert_path, key_path, err, sizeof err) != 0) {
            fprintf(stderr, "weftctl: %s\n", err);
            weft_store_close(st);
            return 1;
        }
    }
    char admin[WEFT_SECRET_MAX], dev[WEFT_SECRET_MAX];
    struct weft_key_info info;
    int rc = weft_store_key_create(st, "admin", 0, 0, 1, admin, &info);
    if (rc == 0)
        rc = weft_store_key_create(st, "developer", 600, 16, 0, dev, &info);
    weft_store_close(st);
    if (rc) {
        fprintf(stderr, "weftctl: cannot create the first keys: %s\n", weft_strerror(rc));
        return 1;
    }
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "listen", listen);
    cJSON_AddNumberToObject(c, "port", port);
    cJSON_AddStringToObject(c, "state_dir", dir);
    if (o->store && o->store[0])
        cJSON_AddStringToObject(c, "store", o->store);
    cJSON_AddStringToObject(c, "tls_cert", cert_path);
    cJSON_AddStringToObject(c, "tls_key", key_path);
    char *txt = cJSON_Print(c);
    cJSON_Delete(c);
    char conf[700];
    snprintf(conf, sizeof conf, "%s/weft-scheduler.json", dir);
    rc = txt ? weft_file_replace(conf, txt, strlen(txt)) : WEFT_ENOMEM;
    free(txt);
    if (rc) {
        fprintf(stderr, "weftctl: %s: %s\n", conf, weft_strerror(rc));
        return 1;
    }
    char base[300];
    if (url)
        snprintf(base, sizeof base, "%s", url);
    else
        snprintf(base, sizeof base, "https://%s:%d",
                 strcmp(listen, "0.0.0.0") == 0 || strcmp(listen, "::") == 0 ? "127.0.0.1" : listen,
                 port);
    const char *ca = cert ? "" : cert_path;
    printf("A region's first scheduler, in %s:\n\n", dir);
    printf("  config:         %s\n", conf);
    printf("  admin key:      %s\n", admin);
    printf("  developer key:  %s\n", dev);
    printf("  (each shown this once; the store keeps only their hashes)\n\n");
    printf("Start the scheduler:\n  weft-scheduler --config %s\n\n", conf);
    printf("Enroll a home (its token goes in weftd.json's scheduler.token):\n"
           "  weftctl --state-dir %s nodes enroll roof-1\n\n",
           dir);
    printf("Call the API:\n");
    if (ca[0])
        printf("  curl --cacert %s -H \"Authorization: Bearer %s\" %s/v1/models\n", ca, dev, base);
    else
        printf("  curl -H \"Authorization: Bearer %s\" %s/v1/models\n", dev, base);
    printf(
        "  %s%s%snode --input-type=module -e \"import OpenAI from 'openai'; const c = new "
        "OpenAI({baseURL: '%s/v1', apiKey: '%s'}); console.log((await c.models.list()).data)\"\n",
        ca[0] ? "NODE_EXTRA_CA_CERTS=" : "", ca, ca[0] ? " " : "", base, dev);
    printf("    (in a directory where `npm install openai` was run)\n\n");
    printf("Watch the region (the admin key after '#' stays in the browser):\n  %s/ui#key=%s\n",
           base, admin);
    return 0;
}

/* store migrate --to URI: the SQLite store (--state-dir or --store) into
 * a PostgreSQL one. */
static int cmd_store(const struct opts *o, int argc, char **argv)
{
    const char *to = NULL, *pos[1];
    const struct weft_opt opts[] = {WEFT_OPTS("--to", &to), WEFT_OPT_END};
    if (argc < 1 || strcmp(argv[0], "migrate") != 0 || args(argc - 1, argv + 1, opts, pos, 0) ||
        !to || !weft_store_is_pg(to)) {
        fprintf(stderr, "usage: weftctl [--state-dir DIR | --store PATH] store migrate --to "
                        "postgresql://...\n");
        return 2;
    }
    struct weft_store *from, *dst;
    if (open_store(o, &from))
        return 1;
    if (strcmp(weft_store_kind(from), "sqlite") != 0) {
        fprintf(stderr, "weftctl: the store to migrate from is not a SQLite one\n");
        weft_store_close(from);
        return 1;
    }
    char err[512];
    if (weft_store_open(&dst, to, err, sizeof err) != 0) {
        fprintf(stderr, "weftctl: %s\n", err);
        weft_store_close(from);
        return 1;
    }
    struct weft_migrate_counts n;
    int rc = weft_store_migrate(from, dst, &n, err, sizeof err);
    if (rc)
        fprintf(stderr, "weftctl: %s\n", err);
    else
        printf("copied %d keys, %d nodes, %d node limits, %d jobs, %d files, %d batches (%d rows "
               "were there already)\n",
               n.keys, n.nodes, n.limits, n.jobs, n.files, n.batches, n.skipped);
    weft_store_close(dst);
    weft_store_close(from);
    return rc ? 1 : 0;
}

static int cmd_nodes_store(const struct opts *o, int argc, char **argv)
{
    struct weft_store *st;
    if (open_store(o, &st))
        return 1;
    int rc = 0;
    const char *pos[1];
    int want = strcmp(argv[0], "enrolled") == 0 ? 0 : 1;
    struct weft_node_limits lim;
    memset(&lim, 0, sizeof lim);
    const char *models = "";
    const struct weft_opt enroll_opts[] = {
        WEFT_OPTN("--max-budget-w", &lim.max_budget_w, 0, 1e7),
        WEFT_OPTI("--max-slots", &lim.max_slots, 0, 64),
        WEFT_OPTS("--models", &models),
        WEFT_OPT_END,
    };
    int enroll = strcmp(argv[0], "enroll") == 0;
    int reset = 0;
    const struct weft_opt trust_opts[] = {WEFT_OPTF("--reset", &reset), WEFT_OPT_END};
    int trust = strcmp(argv[0], "trust") == 0;
    if ((rc = args(argc - 1, argv + 1,
                   enroll  ? enroll_opts
                   : trust ? trust_opts
                           : no_options,
                   pos, want)) != 0) {
    } else if (trust && !reset) {
        fprintf(stderr, "weftctl: nodes trust NAME --reset: say --reset to lift a quarantine\n");
        rc = 2;
    } else if (enroll && strlen(models) >= sizeof lim.models) {
        fprintf(stderr, "weftctl: --models: longer than %zu bytes\n", sizeof lim.models - 1);
        rc = 2;
    } else if (enroll) {
        char tok[WEFT_SECRET_MAX];
        snprintf(lim.models, sizeof lim.models, "%s", models);
        /* A new enrollment replaces the token and the limits both. */
        if ((rc = weft_store_node_enroll(st, pos[0], tok)) != 0 ||
            (rc = weft_store_node_limits_set(st, pos[0], &lim)) != 0) {
            fprintf(stderr, "weftctl: cannot enroll: %s\n", weft_strerror(rc));
            rc = 1;
        } else {
            printf("%s\n", tok);
            fprintf(stderr, "weftctl: node %s enrolled; put this token in its weftd.json\n",
                    pos[0]);
        }
    } else if (strcmp(argv[0], "revoke") == 0) {
        rc = weft_store_node_revoke(st, pos[0]) ? 1 : 0;
        if (rc)
            fprintf(stderr, "weftctl: %s: no such node\n", pos[0]);
    } else if (strcmp(argv[0], "trust") == 0) {
        /* An operator's reset: the checks start again and the quarantine
         * ends (the scheduler reads it within seconds). */
        rc = weft_store_node_trust_set(st, pos[0], 0, 0, 0, "") ? 1 : 0;
        if (rc)
            fprintf(stderr, "weftctl: cannot reset %s's trust\n", pos[0]);
        else
            fprintf(stderr, "weftctl: node %s: trust reset, quarantine lifted\n", pos[0]);
    } else {
        weft_store_node_list(st, print_node, st);
    }
    weft_store_close(st);
    return rc;
}

/* ---- API commands ----------------------------------------------------------- */

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    return weft_buf_append(ud, p, sz * n) == 0 ? sz * n : 0;
}

/* One API call; prints the JSON answer (pretty) and returns 0 on 2xx. */
static int api(const struct opts *o, const char *method, const char *path, const char *body,
               const char *idem, cJSON **out)
{
    if (!o->url || !o->key) {
        fprintf(stderr, "weftctl: set --url and --key (or WEFT_URL and WEFT_API_KEY)\n");
        return 2;
    }
    CURL *c = curl_easy_init();
    if (!c)
        return 1;
    char url[1024], auth[160], idh[200];
    snprintf(url, sizeof url, "%s%s", o->url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->key);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    if (idem) {
        snprintf(idh, sizeof idh, "Idempotency-Key: %s", idem);
        h = curl_slist_append(h, idh);
    }
    struct weft_buf resp;
    weft_buf_init(&resp, 64u << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (o->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        fprintf(stderr, "weftctl: %s: %s\n", url, curl_easy_strerror(cc));
        weft_buf_free(&resp);
        return 1;
    }
    cJSON *j = cJSON_ParseWithLength(resp.data ? resp.data : "", resp.len);
    weft_buf_free(&resp);
    if (status < 200 || status >= 300) {
        const cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "message");
        fprintf(stderr, "weftctl: HTTP %ld: %s\n", status,
                cJSON_IsString(e) ? e->valuestring : "no error message");
        cJSON_Delete(j);
        return 1;
    }
    *out = j;
    return 0;
}

static int print_json(cJSON *j)
{
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    if (!s)
        return 1;
    puts(s);
    free(s);
    return 0;
}

static int cmd_jobs(const struct opts *o, int argc, char **argv)
{
    cJSON *j = NULL;
    char path[256];
    const char *pos[1];
    if (argc >= 1 && strcmp(argv[0], "list") == 0) {
        int limit = 20;
        const struct weft_opt opts[] = {WEFT_OPTI("--limit", &limit, 1, 100), WEFT_OPT_END};
        if (args(argc - 1, argv + 1, opts, pos, 0))
            return 2;
        snprintf(path, sizeof path, "/v1/jobs?limit=%d", limit);
        if (api(o, "GET", path, NULL, NULL, &j))
            return 1;
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "data"))
        {
            printf("%-28s %-10s %-12s %s\n", cJSON_GetObjectItem(it, "id")->valuestring,
                   cJSON_GetObjectItem(it, "status")->valuestring,
                   cJSON_GetObjectItem(it, "priority")->valuestring,
                   cJSON_GetObjectItem(it, "endpoint")->valuestring);
        }
        cJSON_Delete(j);
        return 0;
    }
    if (argc >= 1 && (strcmp(argv[0], "show") == 0 || strcmp(argv[0], "cancel") == 0)) {
        if (args(argc - 1, argv + 1, no_options, pos, 1))
            return 2;
        if (strlen(pos[0]) > 64 || strchr(pos[0], '/') || strchr(pos[0], '?')) {
            fprintf(stderr, "weftctl: not a job id: %s\n", pos[0]);
            return 2;
        }
        snprintf(path, sizeof path, "/v1/jobs/%s", pos[0]);
        if (api(o, strcmp(argv[0], "show") == 0 ? "GET" : "DELETE", path, NULL, NULL, &j))
            return 1;
        return print_json(j);
    }
    fputs(usage, stderr);
    return 2;
}

static int cmd_submit(const struct opts *o, int argc, char **argv)
{
    const char *model = NULL, *prompt = NULL, *message = NULL, *window = "24h",
               *priority = "deferrable", *idem = NULL;
    int max_tokens = 256;
    const struct weft_opt opts[] = {
        WEFT_OPTS("--model", &model),
        WEFT_OPTS("--prompt", &prompt),
        WEFT_OPTS("--message", &message),
        WEFT_OPTS("--window", &window),
        WEFT_OPTS("--priority", &priority),
        WEFT_OPTS("--idempotency-key", &idem),
        WEFT_OPTI("--max-tokens", &max_tokens, 1, 8192),
        WEFT_OPT_END,
    };
    const char *pos[1];
    if (args(argc, argv, opts, pos, 0))
        return 2;
    if (!model || (!prompt == !message)) {
        fprintf(stderr, "weftctl: submit needs --model and one of --prompt or --message\n");
        return 2;
    }
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "endpoint", prompt ? "/v1/completions" : "/v1/chat/completions");
    cJSON_AddStringToObject(b, "completion_window", window);
    cJSON_AddStringToObject(b, "priority", priority);
    cJSON *r = cJSON_AddObjectToObject(b, "request");
    cJSON_AddStringToObject(r, "model", model);
    cJSON_AddNumberToObject(r, "max_tokens", max_tokens);
    if (prompt) {
        cJSON_AddStringToObject(r, "prompt", prompt);
    } else {
        cJSON *msgs = cJSON_AddArrayToObject(r, "messages");
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "user");
        cJSON_AddStringToObject(m, "content", message);
        cJSON_AddItemToArray(msgs, m);
    }
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    cJSON *j = NULL;
    int rc = body ? api(o, "POST", "/v1/jobs", body, idem, &j) : 1;
    free(body);
    return rc ? rc : print_json(j);
}

static int cmd_nodes_live(const struct opts *o)
{
    cJSON *j = NULL;
    if (api(o, "GET", "/v1/admin/nodes", NULL, NULL, &j))
        return 1;
    printf("%-20s %-5s %7s %8s %-8s %s\n", "NODE", "STATE", "RUNNING", "BUDGET_W", "POLICY",
           "MODELS");
    const cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItem(j, "data"))
    {
        char models[256] = "";
        const cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItem(n, "models"))
        {
            size_t l = strlen(models);
            snprintf(models + l, sizeof models - l, "%s%s", l ? "," : "", m->valuestring);
        }
        printf("%-20s %-5s %3d/%-3d %8.0f %-8s %s\n", cJSON_GetObjectItem(n, "name")->valuestring,
               cJSON_GetObjectItem(n, "state")->valuestring,
               (int)cJSON_GetObjectItem(n, "running")->valuedouble,
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(n, "slots")),
               cJSON_GetObjectItem(n, "budget_w")->valuedouble,
               cJSON_GetObjectItem(n, "policy_state")->valuestring, models);
    }
    cJSON_Delete(j);
    return 0;
}

static void print_q(const cJSON *e, const char *k, const char *label)
{
    const cJSON *q = cJSON_GetObjectItem(e, k);
    const cJSON *v = cJSON_GetObjectItem(q, "value"), *age = cJSON_GetObjectItem(q, "age_ms");
    if (cJSON_IsNumber(v))
        printf("  %-10s %8.0f   (%.1f s old)\n", label, v->valuedouble, age->valuedouble / 1000);
    else
        printf("  %-10s %8s\n", label, "-");
}

static const char *str_or(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* The link to the homeowner's page: weftd's status URL with the control
 * secret (weftd's state_dir/control.secret) after '#', which the browser
 * keeps to itself: the page reads it and sends it only with its controls. */
static int cmd_node_page(int argc, char **argv)
{
    const char *url = "http://127.0.0.1:9464", *dir = "/var/lib/weftd", *pos[1];
    const struct weft_opt opts[] = {WEFT_OPTS("--status-url", &url), WEFT_OPTS("--node-dir", &dir),
                                    WEFT_OPT_END};
    if (args(argc, argv, opts, pos, 0))
        return 2;
    char path[600];
    snprintf(path, sizeof path, "%s/control.secret", dir);
    char *txt = NULL;
    size_t len = 0;
    int rc = weft_file_read(path, 128, &txt, &len);
    if (rc) {
        fprintf(stderr,
                "weftctl: %s: %s (weftd makes it at its first start; reading it needs the "
                "weftd user's rights, or root)\n",
                path, weft_strerror(rc));
        return 1;
    }
    printf("%s/#secret=%.*s\n", url, (int)strcspn(txt, "\r\n"), txt);
    free(txt);
    return 0;
}

/* The homeowner's view of their node, from weftd's loopback endpoint. */
static int cmd_node_status(int argc, char **argv)
{
    const char *url = "http://127.0.0.1:9464";
    int json = 0;
    const struct weft_opt opts[] = {
        WEFT_OPTF("--json", &json),
        WEFT_OPTS("--status-url", &url),
        WEFT_OPT_END,
    };
    const char *pos[1];
    if (args(argc, argv, opts, pos, 0))
        return 2;
    char full[512];
    snprintf(full, sizeof full, "%s/status", url);
    CURL *c = curl_easy_init();
    struct weft_buf resp;
    weft_buf_init(&resp, 4u << 20);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    cJSON *j = cc == CURLE_OK ? cJSON_ParseWithLength(resp.data ? resp.data : "", resp.len) : NULL;
    weft_buf_free(&resp);
    if (!j) {
        fprintf(stderr, "weftctl: %s: %s\n", full,
                cc == CURLE_OK ? "not a weftd status" : curl_easy_strerror(cc));
        return 1;
    }
    if (json)
        return print_json(j);
    const cJSON *e = cJSON_GetObjectItem(j, "energy"), *p = cJSON_GetObjectItem(j, "policy"),
                *s = cJSON_GetObjectItem(j, "scheduler"),
                *t = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "ledger"), "total");
    printf("energy (%s)%s%s\n", str_or(e, "device", "?"),
           cJSON_IsString(cJSON_GetObjectItem(e, "error")) ? ": " : "", str_or(e, "error", ""));
    print_q(e, "pv_w", "PV W");
    print_q(e, "load_w", "load W");
    print_q(e, "grid_w", "grid W");
    print_q(e, "battery_w", "battery W");
    print_q(e, "soc_pct", "SoC %");
    printf("policy: %s, budget %.0f W: %s\n", str_or(p, "state", "?"),
           cJSON_GetNumberValue(cJSON_GetObjectItem(p, "budget_w")), str_or(p, "reason", ""));
    printf("scheduler: %s (%s)%s%s\n", str_or(s, "url", "?"), str_or(s, "state", "?"),
           cJSON_IsString(cJSON_GetObjectItem(s, "error")) ? ": " : "", str_or(s, "error", ""));
    const cJSON *g = cJSON_GetObjectItem(j, "gpu");
    printf("gpu: %s", str_or(g, "note", "?"));
    if (cJSON_IsNumber(cJSON_GetObjectItem(g, "power_w")))
        printf(", %.0f W", cJSON_GetNumberValue(cJSON_GetObjectItem(g, "power_w")));
    if (cJSON_IsNumber(cJSON_GetObjectItem(g, "limit_w")))
        printf(", limit %.0f W (follows the budget)",
               cJSON_GetNumberValue(cJSON_GetObjectItem(g, "limit_w")));
    printf("\n");
    char models[256] = "";
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "models"))
    {
        size_t l = strlen(models);
        snprintf(models + l, sizeof models - l, "%s%s (%s)", l ? ", " : "", str_or(m, "name", "?"),
                 str_or(m, "template", "?"));
    }
    printf("models: %s\n", models[0] ? models : "none (this node only reports its energy)");
    const cJSON *sl = cJSON_GetObjectItem(j, "slots"), *jb;
    if (cJSON_IsObject(sl))
        printf("slots: %d of %d busy (%s)\n",
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(sl, "busy")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(sl, "max")), str_or(sl, "why", "?"));
    int n_jobs = 0;
    cJSON_ArrayForEach(jb, cJSON_GetObjectItem(j, "jobs"))
    {
        printf("job: %s on %s, %d tokens (resumed from %d)%s\n", str_or(jb, "id", "?"),
               str_or(jb, "model", "?"),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(jb, "tokens")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(jb, "resumed_from")),
               cJSON_IsTrue(cJSON_GetObjectItem(jb, "yielding")) ? ", yielding" : "");
        n_jobs++;
    }
    if (n_jobs == 0)
        printf("job: none\n");
    printf("ledger: %.0f tokens, %.0f jobs, %.2f Wh, %.0f%% from surplus\n",
           cJSON_GetNumberValue(cJSON_GetObjectItem(t, "tokens")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(t, "jobs")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(t, "wh")),
           100 * cJSON_GetNumberValue(cJSON_GetObjectItem(t, "surplus_share")));
    cJSON_Delete(j);
    return 0;
}

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weftctl", usage))
        return 0;
    struct opts o = {
        .state_dir = "/var/lib/weft-scheduler",
        .url = getenv("WEFT_URL"),
        .key = getenv("WEFT_API_KEY"),
        .cacert = getenv("WEFT_CACERT"),
        .store = getenv("WEFT_STORE"),
    };
    const struct weft_opt global[] = {
        WEFT_OPTS("--state-dir", &o.state_dir),
        WEFT_OPTS("--store", &o.store),
        WEFT_OPTS("--url", &o.url),
        WEFT_OPTS("--key", &o.key),
        WEFT_OPTS("--cacert", &o.cacert),
        WEFT_OPT_END,
    };
    char err[256];
    int used = 0;
    if (weft_opts_parse_leading(argc - 1, argv + 1, global, &used, err, sizeof err) != 0) {
        fprintf(stderr, "weftctl: %s (see --help)\n", err);
        return 2;
    }
    int i = 1 + used;
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *cmd = argv[i];
    int rest = argc - i - 1;
    char **rv = argv + i + 1;
    int rc;
    if (strcmp(cmd, "keys") == 0)
        rc = cmd_keys(&o, rest, rv);
    else if (strcmp(cmd, "nodes") == 0 && rest >= 1 &&
             (strcmp(rv[0], "enroll") == 0 || strcmp(rv[0], "revoke") == 0 ||
              strcmp(rv[0], "enrolled") == 0 || strcmp(rv[0], "trust") == 0))
        rc = cmd_nodes_store(&o, rest, rv);
    else if (strcmp(cmd, "nodes") == 0)
        rc = args(rest, rv, no_options, NULL, 0) ? 2 : cmd_nodes_live(&o);
    else if (strcmp(cmd, "node") == 0 && rest >= 1 && strcmp(rv[0], "status") == 0)
        rc = cmd_node_status(rest - 1, rv + 1);
    else if (strcmp(cmd, "node") == 0 && rest >= 1 && strcmp(rv[0], "page") == 0)
        rc = cmd_node_page(rest - 1, rv + 1);
    else if (strcmp(cmd, "node") == 0 && rest >= 1 && strcmp(rv[0], "init") == 0)
        rc = cmd_node_init(rest - 1, rv + 1);
    else if (strcmp(cmd, "jobs") == 0)
        rc = cmd_jobs(&o, rest, rv);
    else if (strcmp(cmd, "submit") == 0)
        rc = cmd_submit(&o, rest, rv);
    else if (strcmp(cmd, "store") == 0)
        rc = cmd_store(&o, rest, rv);
    else if (strcmp(cmd, "region") == 0)
        rc = cmd_region(&o, rest, rv);
    else {
        fprintf(stderr, "weftctl: unknown command %s\n%s", cmd, usage);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
