/* weftd.json: the schema, defaults and the checks a schema cannot make.
 * Every key is documented in docs/node.md. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mqtt.h"
#include "weft/config.h"
#include "weft/error.h"
#include "weft/http_client.h"
#include "weft/node.h"
#include "weft/chat.h"

#define C struct weftd_config

static const struct weft_cfg_field url_elem[] = {
    {.type = WEFT_CFG_STRING,
     .size = sizeof(((struct weftd_url_cfg *)0)->url),
     .min = 8,
     .max = 255,
     .help = "https://HOST:PORT of a scheduler"},
    WEFT_CFG_END,
};

static const struct weft_cfg_field scheduler_fields[] = {
    WEFT_CFG_ARRAY_F(struct weftd_sched_cfg, urls, n_urls, "urls", url_elem, 1, WEFT_CFG_REQUIRED,
                     "schedulers to try in turn"),
    WEFT_CFG_STRING_F(struct weftd_sched_cfg, token, "token", WEFT_CFG_REQUIRED,
                      "this node's token from `weftctl nodes enroll NAME`"),
    WEFT_CFG_STRING_F(struct weftd_sched_cfg, ca_file, "ca_file", 0,
                      "PEM CA (or the scheduler's dev certificate) to verify it with"),
    WEFT_CFG_INT_F(struct weftd_sched_cfg, poll_wait_s, "poll_wait_s", 1, 60, 0,
                   "long-poll length, s"),
    WEFT_CFG_END,
};

static const struct weft_cfg_field model_fields[] = {
    WEFT_CFG_STRING_F(struct weftd_model_cfg, path, "path", WEFT_CFG_REQUIRED, "a GGUF file"),
    WEFT_CFG_STRING_F(struct weftd_model_cfg, name, "name", 0,
                      "the name developers use; default: the file name without .gguf"),
    WEFT_CFG_STRING_F(struct weftd_model_cfg, template, "template", 0,
                      "raw, llama2, chatml or llama3; default: from the GGUF"),
    WEFT_CFG_END,
};

static const struct weft_cfg_field model_elem[] = {
    {.type = WEFT_CFG_OBJECT, .fields = model_fields},
    WEFT_CFG_END,
};

#define F struct weftd_forecast_cfg
static const struct weft_cfg_field forecast_fields[] = {
    WEFT_CFG_STRING_F(F, provider, "provider", 0,
                      "off, history (the home's own), open-meteo or forecast-solar (day-ahead PV "
                      "over HTTPS, load from history)"),
    WEFT_CFG_DOUBLE_F(F, latitude, "latitude", -90, 90, 0, "the site's latitude, degrees north"),
    WEFT_CFG_DOUBLE_F(F, longitude, "longitude", -180, 180, 0,
                      "the site's longitude, degrees east"),
    WEFT_CFG_DOUBLE_F(F, tilt, "tilt", 0, 90, 0, "the array's tilt, degrees (0: flat)"),
    WEFT_CFG_DOUBLE_F(F, azimuth, "azimuth", -180, 180, 0,
                      "the array's azimuth, degrees (0 south, -90 east, 90 west)"),
    WEFT_CFG_DOUBLE_F(F, kwp, "kwp", 0, 10000, 0, "the array's peak power, kWp"),
    WEFT_CFG_DOUBLE_F(F, performance_ratio, "performance_ratio", 0.1, 1, 0,
                      "the array's output per kWp at 1000 W/m2 of irradiance (open-meteo)"),
    WEFT_CFG_STRING_F(F, url, "url", 0, "the service's base URL (\"\": its public one)"),
    WEFT_CFG_STRING_F(F, ca_file, "ca_file", 0, "PEM to verify the service with"),
    WEFT_CFG_INT_F(F, refresh_s, "refresh_s", 300, 86400, 0, "how often to fetch, s"),
    WEFT_CFG_END,
};
#undef F

static const struct weft_cfg_field energy_fields[] = {
    WEFT_CFG_STRING_F(struct weftd_energy_cfg, modbus, "modbus", WEFT_CFG_REQUIRED,
                      "tcp://HOST:PORT or rtu:///dev/TTY?baud=9600&parity=N of the devices"),
    WEFT_CFG_STRING_F(struct weftd_energy_cfg, layout, "layout", 0,
                      "sunspec (discovered), victron (a GX, unit 100) or custom (see map)"),
    WEFT_CFG_OBJECT_F(struct weftd_energy_cfg, map, "map", weft_regmap_fields, 0,
                      "the register map when layout is custom"),
    WEFT_CFG_INT_F(struct weftd_energy_cfg, unit, "unit", 0, 255, 0, "Modbus unit id"),
    WEFT_CFG_INT_F(struct weftd_energy_cfg, poll_ms, "poll_ms", 100, 60000, 0,
                   "how often to read, ms"),
    WEFT_CFG_INT_F(struct weftd_energy_cfg, timeout_ms, "timeout_ms", 50, 10000, 0,
                   "per-read timeout, ms"),
    WEFT_CFG_INT_F(struct weftd_energy_cfg, grid_sign, "grid_sign", -1, 1, 0,
                   "1 if the meter reports + import, -1 if + export"),
    WEFT_CFG_INT_F(struct weftd_energy_cfg, battery_sign, "battery_sign", -1, 1, 0,
                   "1 if the battery reports + charge, -1 if + discharge"),
    WEFT_CFG_INT_F(struct weftd_energy_cfg, compute_register, "compute_register", -1, 65535, 0,
                   "register to write this node's draw to (weft-panelsim: 40500); -1 off"),
    WEFT_CFG_BOOL_F(struct weftd_energy_cfg, has_battery, "has_battery", 0,
                    "the home has a battery"),
    WEFT_CFG_OBJECT_F(struct weftd_energy_cfg, forecast, "forecast", forecast_fields, 0,
                      "the forecast the battery plan runs on"),
    WEFT_CFG_END,
};

static const struct weft_cfg_field compute_fields[] = {
    WEFT_CFG_DOUBLE_F(struct weftd_compute_cfg, busy_w, "busy_w", 1, 100000, 0,
                      "draw while generating at full speed, W (the estimate without NVML)"),
    WEFT_CFG_DOUBLE_F(struct weftd_compute_cfg, idle_w, "idle_w", 0, 100000, 0,
                      "draw otherwise, W"),
    WEFT_CFG_INT_F(struct weftd_compute_cfg, threads, "threads", 0, 1024, 0,
                   "CPU threads; 0 = all cores"),
    WEFT_CFG_INT_F(struct weftd_compute_cfg, n_ctx, "n_ctx", 0, 1 << 20, 0,
                   "context per job; 0 = the model's"),
    WEFT_CFG_DOUBLE_F(struct weftd_compute_cfg, max_tokens_per_s, "max_tokens_per_s", 0, 1e6, 0,
                      "a ceiling on each job's generation speed (quiet fans, demos); 0 = none"),
    WEFT_CFG_INT_F(struct weftd_compute_cfg, max_slots, "max_slots", 0, WEFTD_MAX_SLOTS, 0,
                   "jobs run at once (continuous batching); 0 = what slot_memory_mb allows"),
    WEFT_CFG_INT_F(struct weftd_compute_cfg, slot_memory_mb, "slot_memory_mb", 0, 1 << 24, 0,
                   "memory for the slots' KV caches and buffers, MiB; 0 = half of what is "
                   "available when weftd starts"),
    WEFT_CFG_BOOL_F(struct weftd_compute_cfg, gpu_power_limit, "gpu_power_limit", 0,
                    "let weftd set the GPU's power limit to the budget (NVML; needs the right)"),
    WEFT_CFG_STRING_F(struct weftd_compute_cfg, interactive, "interactive", 0,
                      "always, surplus or never: when interactive requests may run"),
    WEFT_CFG_END,
};

static const struct weft_cfg_field status_fields[] = {
    WEFT_CFG_STRING_F(struct weftd_status_cfg, listen, "listen", 0,
                      "loopback address for the status endpoint; \"\" turns it off"),
    WEFT_CFG_INT_F(struct weftd_status_cfg, port, "port", 0, 65535, 0,
                   "its port; 0 picks a free one"),
    WEFT_CFG_END,
};

#define M struct weftd_mqtt_cfg
static const struct weft_cfg_field mqtt_fields[] = {
    WEFT_CFG_STRING_F(M, url, "url", 0, "mqtt://HOST[:PORT] of the broker; \"\" turns MQTT off"),
    WEFT_CFG_STRING_F(M, username, "username", 0, "the broker's user name"),
    WEFT_CFG_STRING_F(M, password_file, "password_file", 0, "a file holding its password"),
    WEFT_CFG_STRING_F(M, node_id, "node_id", 0,
                      "this node in topics (letters, digits, - and _); \"\": the host name"),
    WEFT_CFG_STRING_F(M, prefix, "prefix", 0, "the topic root"),
    WEFT_CFG_STRING_F(M, discovery_prefix, "discovery_prefix", 0,
                      "Home Assistant's discovery root; \"\" publishes no discovery"),
    WEFT_CFG_INT_F(M, publish_s, "publish_s", 1, 3600, 0,
                   "publish the state at least this often, s"),
    WEFT_CFG_BOOL_F(M, evcc, "evcc", 0, "yield to an evcc loadpoint charging a car on PV"),
    WEFT_CFG_STRING_F(M, evcc_prefix, "evcc_prefix", 0, "evcc's topic root"),
    WEFT_CFG_END,
};
#undef M

static const struct weft_cfg_field fields[] = {
    WEFT_CFG_OBJECT_F(C, scheduler, "scheduler", scheduler_fields, WEFT_CFG_REQUIRED,
                      "where the node finds work"),
    WEFT_CFG_ARRAY_F(C, models, n_models, "models", model_elem, 0, WEFT_CFG_REQUIRED,
                     "the models this node serves; [] for a node that only reports its energy"),
    WEFT_CFG_OBJECT_F(C, energy, "energy", energy_fields, WEFT_CFG_REQUIRED,
                      "the home's energy devices"),
    WEFT_CFG_OBJECT_F(C, policy, "policy", weft_policy_fields, 0,
                      "the surplus policy (docs/energy.md)"),
    WEFT_CFG_OBJECT_F(C, compute, "compute", compute_fields, 0, "the compute this node offers"),
    WEFT_CFG_STRING_F(C, state_dir, "state_dir", 0, "where the ledger lives"),
    WEFT_CFG_OBJECT_F(C, status, "status", status_fields, 0, "the local status endpoint"),
    WEFT_CFG_OBJECT_F(C, mqtt, "mqtt", mqtt_fields, 0, "Home Assistant and evcc over MQTT"),
    WEFT_CFG_STRING_F(C, log_level, "log_level", 0, "error, warn, notice, info or debug"),
    WEFT_CFG_END,
};

const struct weft_cfg_field weftd_config_schema = WEFT_CFG_ROOT(struct weftd_config, fields, NULL);

void weftd_config_default(struct weftd_config *c)
{
    memset(c, 0, sizeof *c);
    c->scheduler.poll_wait_s = 20;
    c->energy.unit = 1;
    snprintf(c->energy.layout, sizeof c->energy.layout, "sunspec");
    weft_regmap_cfg_defaults(&c->energy.map);
    c->energy.poll_ms = 1000;
    c->energy.timeout_ms = 1000;
    c->energy.grid_sign = 1;
    c->energy.battery_sign = 1;
    c->energy.compute_register = -1;
    c->energy.has_battery = true;
    snprintf(c->energy.forecast.provider, sizeof c->energy.forecast.provider, "off");
    c->energy.forecast.performance_ratio = 0.85;
    c->energy.forecast.tilt = 30;
    c->energy.forecast.refresh_s = 3600;
    weft_policy_config_defaults(&c->policy);
    c->compute.busy_w = 300;
    c->compute.idle_w = 20;
    snprintf(c->compute.interactive, sizeof c->compute.interactive, "surplus");
    snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/weftd");
    snprintf(c->status.listen, sizeof c->status.listen, "127.0.0.1");
    c->status.port = 9464;
    snprintf(c->mqtt.prefix, sizeof c->mqtt.prefix, "weft");
    snprintf(c->mqtt.discovery_prefix, sizeof c->mqtt.discovery_prefix, "homeassistant");
    snprintf(c->mqtt.evcc_prefix, sizeof c->mqtt.evcc_prefix, "evcc");
    c->mqtt.publish_s = 10;
    snprintf(c->log_level, sizeof c->log_level, "info");
}

/* A URL the node sends to: https://, or plain http:// to this machine only
 * (the node token, or the site's location, travels in the clear
 * otherwise). key names it in errors: "scheduler.urls[0]". */
static int check_url(const char *key, const char *url, char *err, size_t errcap)
{
    struct weft_url u;
    char why[160];
    int rc = weft_url_parse(url, &u, why, sizeof why);
    if (rc != 0) {
        snprintf(err, errcap, "%s: \"%s\": %s", key, url,
                 rc == WEFT_ENOMEM ? "out of memory" : why);
        return rc == WEFT_ENOMEM ? rc : WEFT_ECONFIG;
    }
    if (u.has_user) {
        snprintf(err, errcap,
                 "%s: \"%s\" names a user before the host; the node sends no "
                 "credentials in URLs",
                 key, url);
        return WEFT_ECONFIG;
    }
    if (strcmp(u.scheme, "https") == 0 ||
        (strcmp(u.scheme, "http") == 0 && weft_url_is_loopback(&u)))
        return 0;
    snprintf(err, errcap,
             "%s: \"%s\" must be https:// (plain http only to loopback: "
             "127.0.0.0/8, [::1], localhost; its host is %s)",
             key, url, u.host);
    return WEFT_ECONFIG;
}

int weftd_config_check(const struct weftd_config *c, char *err, size_t errcap)
{
    for (int i = 0; i < c->scheduler.n_urls; i++) {
        char key[32];
        snprintf(key, sizeof key, "scheduler.urls[%d]", i);
        int rc = check_url(key, c->scheduler.urls[i].url, err, errcap);
        if (rc != 0)
            return rc;
    }
    if (c->scheduler.ca_file[0] && access(c->scheduler.ca_file, R_OK) != 0) {
        snprintf(err, errcap, "scheduler.ca_file: cannot read %s", c->scheduler.ca_file);
        return WEFT_ECONFIG;
    }
    for (int i = 0; i < c->n_models; i++) {
        if (access(c->models[i].path, R_OK) != 0) {
            snprintf(err, errcap, "models[%d].path: cannot read %s", i, c->models[i].path);
            return WEFT_ECONFIG;
        }
        enum weft_chat_template t;
        if (c->models[i].template[0] && weft_chat_template_parse(c->models[i].template, &t) != 0) {
            snprintf(err, errcap,
                     "models[%d].template: \"%s\" is not raw, llama2, chatml, llama3, llama3.1, "
                     "qwen2.5, phi3, gemma, mistral, deepseek-r1 or hermes",
                     i, c->models[i].template);
            return WEFT_ECONFIG;
        }
    }
    int mrc = node_mqtt_check(&c->mqtt, err, errcap);
    if (mrc)
        return mrc;
    if (strncmp(c->energy.modbus, "tcp://", 6) != 0 &&
        strncmp(c->energy.modbus, "rtu://", 6) != 0) {
        snprintf(err, errcap,
                 "energy.modbus: expected tcp://HOST:PORT or rtu:///dev/TTY, got \"%s\"",
                 c->energy.modbus);
        return WEFT_ECONFIG;
    }
    const char *lay = c->energy.layout;
    if (strcmp(lay, "sunspec") != 0 && strcmp(lay, "victron") != 0 && strcmp(lay, "custom") != 0) {
        snprintf(err, errcap, "energy.layout: \"%s\" is not sunspec, victron or custom", lay);
        return WEFT_ECONFIG;
    }
    if (strcmp(lay, "custom") == 0) {
        struct weft_regmap m;
        char why[200];
        if (weft_regmap_from_cfg(&c->energy.map, &m, why, sizeof why) != 0) {
            snprintf(err, errcap, "energy.map.%s", why);
            return WEFT_ECONFIG;
        }
    }
    if (c->energy.grid_sign == 0 || c->energy.battery_sign == 0) {
        snprintf(err, errcap, "energy.grid_sign and energy.battery_sign must be 1 or -1");
        return WEFT_ECONFIG;
    }
    const struct weftd_forecast_cfg *fc = &c->energy.forecast;
    int dayahead =
        strcmp(fc->provider, "open-meteo") == 0 || strcmp(fc->provider, "forecast-solar") == 0;
    if (!dayahead && strcmp(fc->provider, "off") != 0 && strcmp(fc->provider, "history") != 0) {
        snprintf(err, errcap,
                 "energy.forecast.provider: \"%s\" is not off, history, open-meteo or "
                 "forecast-solar",
                 fc->provider);
        return WEFT_ECONFIG;
    }
    if (strcmp(fc->provider, "off") != 0 &&
        (!c->energy.has_battery || c->policy.battery_capacity_wh <= 0)) {
        snprintf(err, errcap,
                 "energy.forecast.provider %s plans the battery: it needs "
                 "energy.has_battery and policy.battery_capacity_wh",
                 fc->provider);
        return WEFT_ECONFIG;
    }
    if (dayahead && (fc->kwp <= 0 || (fc->latitude == 0 && fc->longitude == 0))) {
        snprintf(err, errcap, "energy.forecast: %s needs latitude, longitude and kwp",
                 fc->provider);
        return WEFT_ECONFIG;
    }
    if (fc->url[0]) {
        int rc = check_url("energy.forecast.url", fc->url, err, errcap);
        if (rc != 0)
            return rc;
    }
    if (fc->ca_file[0] && access(fc->ca_file, R_OK) != 0) {
        snprintf(err, errcap, "energy.forecast.ca_file: cannot read %s", fc->ca_file);
        return WEFT_ECONFIG;
    }
    const char *ia = c->compute.interactive;
    if (strcmp(ia, "always") != 0 && strcmp(ia, "surplus") != 0 && strcmp(ia, "never") != 0) {
        snprintf(err, errcap, "compute.interactive: \"%s\" is not always, surplus or never", ia);
        return WEFT_ECONFIG;
    }
    if (c->status.listen[0] && !weft_ip_is_loopback(c->status.listen)) {
        snprintf(err, errcap, "status.listen: the status endpoint is for loopback only, not %s",
                 c->status.listen);
        return WEFT_ECONFIG;
    }
    return 0;
}
