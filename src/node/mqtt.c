/* weftd's MQTT side (mqtt.h): state, Home Assistant discovery, commands
 * and evcc's loadpoints over libmosquitto, whose network thread only
 * fills the inbox; the loop does the rest. */
#include "mqtt.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weft/error.h"
#include "weft/file.h"
#include "weft/http_client.h"
#include "weft/log.h"
#include "weft/time.h"
#include "weft/version.h"

#define KEEPALIVE_S 30

static int topic_word_ok(const char *s, int empty_ok)
{
    if (!s[0])
        return empty_ok;
    for (; *s; s++)
        if (*s == '+' || *s == '#' || (unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static int id_ok(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* mqtt://HOST[:PORT] into host (brackets off an IPv6 literal) and port. */
static int parse_url(const char *url, char *host, size_t hostcap, int *port, char *err,
                     size_t errcap)
{
    struct weft_url u;
    char why[160];
    int rc = weft_url_parse(url, &u, why, sizeof why);
    if (rc != 0) {
        snprintf(err, errcap, "mqtt.url: \"%s\": %s", url,
                 rc == WEFT_ENOMEM ? "out of memory" : why);
        return rc == WEFT_ENOMEM ? rc : WEFT_ECONFIG;
    }
    if (strcmp(u.scheme, "mqtt") != 0 || u.has_user) {
        snprintf(err, errcap,
                 "mqtt.url: \"%s\": expected mqtt://HOST[:PORT] (no user in the URL: "
                 "mqtt.username and mqtt.password_file; mqtts:// is not supported yet)",
                 url);
        return WEFT_ECONFIG;
    }
    size_t n = strlen(u.host);
    const char *h = u.host;
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hostcap) {
        snprintf(err, errcap, "mqtt.url: \"%s\": no host", url);
        return WEFT_ECONFIG;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    *port = u.port ? u.port : 1883;
    return 0;
}

int node_mqtt_check(const struct weftd_mqtt_cfg *c, char *err, size_t errcap)
{
    if (!c->url[0])
        return 0;
    char host[256];
    int port;
    int rc = parse_url(c->url, host, sizeof host, &port, err, errcap);
    if (rc)
        return rc;
    if (!id_ok(c->node_id)) {
        snprintf(err, errcap, "mqtt.node_id: \"%s\": only letters, digits, - and _", c->node_id);
        return WEFT_ECONFIG;
    }
    if (!topic_word_ok(c->prefix, 0) || !topic_word_ok(c->discovery_prefix, 1) ||
        !topic_word_ok(c->evcc_prefix, 0)) {
        snprintf(err, errcap,
                 "mqtt: prefix, discovery_prefix and evcc_prefix must be topic levels without "
                 "spaces, + or # (prefix and evcc_prefix not empty)");
        return WEFT_ECONFIG;
    }
    if (c->password_file[0] && access(c->password_file, R_OK) != 0) {
        snprintf(err, errcap, "mqtt.password_file: cannot read %s", c->password_file);
        return WEFT_ECONFIG;
    }
    return 0;
}

/* ---- libmosquitto's thread: copy and wake, nothing else ------------------ */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    struct node_mqtt *m = obj;
    pthread_mutex_lock(&m->mu);
    if (rc == 0) {
        atomic_store(&m->connected, 1);
        m->connect_events++;
    }
    pthread_mutex_unlock(&m->mu);
    uv_async_send(&m->wake);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    (void)rc;
    struct node_mqtt *m = obj;
    atomic_store(&m->connected, 0);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    (void)mosq;
    struct node_mqtt *m = obj;
    size_t tl = msg->topic ? strlen(msg->topic) : 0;
    /* Longer than anything this node reads: not for us. */
    if (tl == 0 || tl >= NODE_MQTT_TOPIC_MAX || msg->payloadlen < 0 ||
        msg->payloadlen >= NODE_MQTT_PAYLOAD_MAX)
        return;
    pthread_mutex_lock(&m->mu);
    if (m->n_inbox < NODE_MQTT_INBOX) {
        struct node_mqtt_msg *x = &m->inbox[m->n_inbox++];
        memcpy(x->topic, msg->topic, tl + 1);
        memcpy(x->payload, msg->payload, (size_t)msg->payloadlen);
        x->payload[msg->payloadlen] = '\0';
    } else {
        m->dropped++;
    }
    pthread_mutex_unlock(&m->mu);
    uv_async_send(&m->wake);
}

/* ---- the loop ------------------------------------------------------------ */

static void publish(struct node_mqtt *m, const char *topic, const char *payload, int retain)
{
    int rc = mosquitto_publish(m->mosq, NULL, topic, (int)strlen(payload), payload, 1, retain);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
        weft_log_warn(m->log, "mqtt: publish %s: %s", topic, mosquitto_strerror(rc));
}

static void publish_json(struct node_mqtt *m, const char *topic, cJSON *o)
{
    char *txt = cJSON_PrintUnformatted(o);
    if (txt)
        publish(m, topic, txt, 1);
    free(txt);
    cJSON_Delete(o);
}

/* One Home Assistant entity's discovery config. */
static cJSON *entity(struct node_mqtt *m, const char *obj, const char *name, const char *tpl)
{
    char buf[256];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    snprintf(buf, sizeof buf, "weft_%s_%s", m->id, obj);
    cJSON_AddStringToObject(o, "unique_id", buf);
    cJSON_AddStringToObject(o, "object_id", buf);
    snprintf(buf, sizeof buf, "%s/state", m->base);
    cJSON_AddStringToObject(o, "state_topic", buf);
    cJSON_AddStringToObject(o, "value_template", tpl);
    snprintf(buf, sizeof buf, "%s/availability", m->base);
    cJSON_AddStringToObject(o, "availability_topic", buf);
    cJSON *dev = cJSON_AddObjectToObject(o, "device");
    cJSON *ids = cJSON_AddArrayToObject(dev, "identifiers");
    snprintf(buf, sizeof buf, "weft_%s", m->id);
    cJSON_AddItemToArray(ids, cJSON_CreateString(buf));
    snprintf(buf, sizeof buf, "Weft node %s", m->id);
    cJSON_AddStringToObject(dev, "name", buf);
    cJSON_AddStringToObject(dev, "manufacturer", "Weft");
    cJSON_AddStringToObject(dev, "model", "weftd");
    cJSON_AddStringToObject(dev, "sw_version", m->version);
    return o;
}

static void announce(struct node_mqtt *m, const char *component, const char *obj, cJSON *o)
{
    char topic[400];
    snprintf(topic, sizeof topic, "%s/%s/weft_%s/%s/config", m->cfg->discovery_prefix, component,
             m->id, obj);
    publish_json(m, topic, o);
}

static void sensor(struct node_mqtt *m, const char *obj, const char *name, const char *tpl,
                   const char *unit, const char *dev_class, const char *state_class)
{
    cJSON *o = entity(m, obj, name, tpl);
    if (unit)
        cJSON_AddStringToObject(o, "unit_of_measurement", unit);
    if (dev_class)
        cJSON_AddStringToObject(o, "device_class", dev_class);
    if (state_class)
        cJSON_AddStringToObject(o, "state_class", state_class);
    announce(m, "sensor", obj, o);
}

static void discovery(struct node_mqtt *m)
{
    sensor(m, "compute_power", "Compute power", "{{ value_json.compute_w }}", "W", "power",
           "measurement");
    sensor(m, "compute_energy", "Compute energy", "{{ value_json.energy_kwh }}", "kWh", "energy",
           "total_increasing");
    sensor(m, "tokens", "Tokens served", "{{ value_json.tokens }}", NULL, NULL, "total_increasing");
    sensor(m, "budget", "Power budget", "{{ value_json.budget_w }}", "W", "power", "measurement");
    sensor(m, "policy", "Policy", "{{ value_json.policy }}", NULL, NULL, NULL);
    char topic[256];
    cJSON *sw = entity(m, "paused", "Paused", "{{ 'ON' if value_json.paused else 'OFF' }}");
    snprintf(topic, sizeof topic, "%s/paused/set", m->base);
    cJSON_AddStringToObject(sw, "command_topic", topic);
    cJSON_AddStringToObject(sw, "payload_on", "ON");
    cJSON_AddStringToObject(sw, "payload_off", "OFF");
    announce(m, "switch", "paused", sw);
    char tpl[128];
    snprintf(tpl, sizeof tpl, "{{ value_json.max_w if value_json.max_w >= 0 else %.0f }}",
             m->max_compute_w);
    cJSON *num = entity(m, "max_w", "Maximum compute power", tpl);
    snprintf(topic, sizeof topic, "%s/max_w/set", m->base);
    cJSON_AddStringToObject(num, "command_topic", topic);
    cJSON_AddNumberToObject(num, "min", 0);
    cJSON_AddNumberToObject(num, "max", m->max_compute_w);
    cJSON_AddNumberToObject(num, "step", 10);
    cJSON_AddStringToObject(num, "unit_of_measurement", "W");
    announce(m, "number", "max_w", num);
}

static void connected(struct node_mqtt *m)
{
    char topic[256];
    snprintf(topic, sizeof topic, "%s/+/set", m->base);
    mosquitto_subscribe(m->mosq, NULL, topic, 1);
    if (m->cfg->evcc) {
        snprintf(topic, sizeof topic, "%s/loadpoints/+/+", m->cfg->evcc_prefix);
        mosquitto_subscribe(m->mosq, NULL, topic, 0);
    }
    snprintf(topic, sizeof topic, "%s/availability", m->base);
    publish(m, topic, "online", 1);
    if (m->cfg->discovery_prefix[0])
        discovery(m);
    m->last_pub_ms = 0; /* the state again at the next step */
    m->last_key[0] = '\0';
    weft_log_notice(m->log, "mqtt: connected to %s:%d as %s", m->host, m->port, m->base);
}

static int parse_bool(const char *p, int *out)
{
    static const char *const on[] = {"ON", "on", "true", "1", NULL}, *const off[] = {"OFF", "off",
                                                                                     "false", "0",
                                                                                     NULL};
    for (int i = 0; on[i]; i++)
        if (strcmp(p, on[i]) == 0)
            return *out = 1, 0;
    for (int i = 0; off[i]; i++)
        if (strcmp(p, off[i]) == 0)
            return *out = 0, 0;
    return WEFT_EINVAL;
}

static void command(struct node_mqtt *m, const char *what, const char *payload)
{
    if (strcmp(what, "paused") == 0) {
        int v;
        if (parse_bool(payload, &v) == 0)
            m->cb.command(m->cb.ud, v, -1);
        else
            weft_log_warn(m->log, "mqtt: %s/paused/set: \"%s\" is not ON or OFF", m->base, payload);
    } else if (strcmp(what, "max_w") == 0) {
        char *end;
        double w = strtod(payload, &end);
        if (strcmp(payload, "none") == 0 || payload[0] == '\0')
            m->cb.command(m->cb.ud, -1, -2);
        else if (end != payload && *end == '\0' && w >= 0 && w <= m->max_compute_w)
            m->cb.command(m->cb.ud, -1, w);
        else
            weft_log_warn(m->log, "mqtt: %s/max_w/set: \"%s\" is not a number of W from 0 to %.0f",
                          m->base, payload, m->max_compute_w);
    }
}

/* A car that evcc charges (or will charge) from PV, plugged in and not at
 * its limit, goes first: compute yields. */
static void evcc_decide(struct node_mqtt *m)
{
    int yield = 0;
    char why[96] = "";
    for (int i = 0; i < NODE_MQTT_LOADPOINTS && !yield; i++) {
        const struct node_evcc_loadpoint *l = &m->lp[i];
        int pv_mode = strcmp(l->mode, "pv") == 0 || strcmp(l->mode, "minpv") == 0;
        int full = l->soc_known && l->limit_known && l->soc >= l->limit;
        if (l->connected && pv_mode && !full) {
            yield = 1;
            snprintf(why, sizeof why, "evcc: loadpoint %d charges a car on PV (mode %s)", i + 1,
                     l->mode);
        }
    }
    if (yield != m->evcc_yield || strcmp(why, m->evcc_why) != 0) {
        m->evcc_yield = yield;
        snprintf(m->evcc_why, sizeof m->evcc_why, "%s", why);
        m->cb.evcc(m->cb.ud, yield, why);
    }
}

static void evcc_topic(struct node_mqtt *m, const char *rest, const char *payload)
{
    /* loadpoints/N/FIELD */
    char *end;
    long n = strtol(rest, &end, 10);
    if (end == rest || *end != '/' || n < 1 || n > NODE_MQTT_LOADPOINTS)
        return;
    const char *field = end + 1;
    struct node_evcc_loadpoint *l = &m->lp[n - 1];
    int b;
    double v = strtod(payload, &end);
    int is_num = end != payload && *end == '\0' && isfinite(v);
    if (strcmp(field, "connected") == 0 && parse_bool(payload, &b) == 0)
        l->connected = b;
    else if (strcmp(field, "charging") == 0 && parse_bool(payload, &b) == 0)
        l->charging = b;
    else if (strcmp(field, "mode") == 0)
        snprintf(l->mode, sizeof l->mode, "%s", payload);
    else if (strcmp(field, "vehicleSoc") == 0 && is_num)
        l->soc = v, l->soc_known = 1;
    else if ((strcmp(field, "effectiveLimitSoc") == 0 || strcmp(field, "limitSoc") == 0 ||
              strcmp(field, "targetSoc") == 0) &&
             is_num)
        l->limit = v, l->limit_known = 1;
    else
        return;
    evcc_decide(m);
}

static void on_wake(uv_async_t *a)
{
    struct node_mqtt *m = a->data;
    struct node_mqtt_msg *in = m->drained;
    pthread_mutex_lock(&m->mu);
    int events = m->connect_events, n = m->n_inbox;
    m->connect_events = 0;
    memcpy(in, m->inbox, (size_t)n * sizeof m->inbox[0]);
    m->n_inbox = 0;
    long dropped = m->dropped;
    m->dropped = 0;
    pthread_mutex_unlock(&m->mu);
    if (m->stopping)
        return;
    if (dropped)
        weft_log_warn(m->log, "mqtt: %ld messages dropped (the inbox was full)", dropped);
    if (events)
        connected(m);
    size_t bl = strlen(m->base), el = strlen(m->cfg->evcc_prefix);
    for (int i = 0; i < n; i++) {
        const char *t = in[i].topic;
        if (strncmp(t, m->base, bl) == 0 && t[bl] == '/') {
            const char *what = t + bl + 1, *slash = strchr(what, '/');
            char w[32];
            if (slash && strcmp(slash, "/set") == 0 && (size_t)(slash - what) < sizeof w) {
                memcpy(w, what, (size_t)(slash - what));
                w[slash - what] = '\0';
                command(m, w, in[i].payload);
            }
        } else if (m->cfg->evcc && strncmp(t, m->cfg->evcc_prefix, el) == 0 &&
                   strncmp(t + el, "/loadpoints/", 12) == 0) {
            evcc_topic(m, t + el + 12, in[i].payload);
        }
    }
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, round(v * 10) / 10);
    else
        cJSON_AddNullToObject(o, k);
}

void node_mqtt_publish(struct node_mqtt *m, const struct node_mqtt_state *s)
{
    if (!m->started || m->stopping)
        return;
    char key[160];
    snprintf(key, sizeof key, "%s|%d|%.0f|%d", s->policy, s->paused, s->max_w, s->evcc_yield);
    uint64_t now = weft_mono_ms();
    if (strcmp(key, m->last_key) == 0 && m->last_pub_ms &&
        weft_elapsed_ms(m->last_pub_ms, now) < (uint64_t)m->cfg->publish_s * 1000)
        return;
    snprintf(m->last_key, sizeof m->last_key, "%s", key);
    m->last_pub_ms = now;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "policy", s->policy);
    cJSON_AddStringToObject(o, "reason", s->reason);
    cJSON_AddStringToObject(o, "scheduler", s->scheduler);
    add_num(o, "budget_w", s->budget_w);
    add_num(o, "compute_w", s->compute_w);
    add_num(o, "pv_w", s->pv_w);
    add_num(o, "load_w", s->load_w);
    add_num(o, "grid_w", s->grid_w);
    add_num(o, "battery_w", s->battery_w);
    add_num(o, "soc", s->soc);
    cJSON_AddNumberToObject(o, "energy_kwh", round(s->energy_kwh * 1e6) / 1e6);
    cJSON_AddNumberToObject(o, "tokens", (double)s->tokens);
    cJSON_AddBoolToObject(o, "paused", s->paused);
    cJSON_AddNumberToObject(o, "max_w", s->max_w);
    cJSON_AddBoolToObject(o, "evcc_yield", s->evcc_yield);
    char topic[256];
    snprintf(topic, sizeof topic, "%s/state", m->base);
    publish_json(m, topic, o);
}

int node_mqtt_connected(const struct node_mqtt *m)
{
    return m->started && atomic_load(&m->connected);
}

int node_mqtt_start(struct node_mqtt *m, uv_loop_t *loop, const struct weftd_mqtt_cfg *cfg,
                    double max_compute_w, const struct weft_log *log, const struct node_mqtt_cb *cb,
                    char *err, size_t errcap)
{
    memset(m, 0, sizeof *m);
    m->loop = loop;
    m->cfg = cfg;
    m->log = log;
    m->cb = *cb;
    m->max_compute_w = max_compute_w;
    snprintf(m->version, sizeof m->version, "%s", weft_version());
    int rc = parse_url(cfg->url, m->host, sizeof m->host, &m->port, err, errcap);
    if (rc)
        return rc;
    if (cfg->node_id[0]) {
        snprintf(m->id, sizeof m->id, "%s", cfg->node_id);
    } else { /* the host name, made a topic level */
        char h[64] = "weftd";
        gethostname(h, sizeof h - 1);
        h[sizeof h - 1] = '\0';
        for (char *p = h; *p; p++)
            *p = isalnum((unsigned char)*p) || *p == '-' ? (char)tolower((unsigned char)*p) : '_';
        snprintf(m->id, sizeof m->id, "%s", h[0] ? h : "weftd");
    }
    snprintf(m->base, sizeof m->base, "%s/%s", cfg->prefix, m->id);
    char pw[256] = "";
    if (cfg->password_file[0]) {
        char *txt = NULL;
        size_t len = 0;
        rc = weft_file_read(cfg->password_file, sizeof pw - 1, &txt, &len);
        if (rc) {
            snprintf(err, errcap, "mqtt.password_file: %s: %s", cfg->password_file,
                     weft_strerror(rc));
            return rc;
        }
        memcpy(pw, txt, len);
        pw[len] = '\0';
        free(txt);
        pw[strcspn(pw, "\r\n")] = '\0';
    }
    if (pthread_mutex_init(&m->mu, NULL) != 0 || uv_async_init(loop, &m->wake, on_wake) != 0) {
        snprintf(err, errcap, "mqtt: cannot set up the hand-off to the loop");
        return WEFT_ENOMEM;
    }
    m->wake.data = m;
    mosquitto_lib_init();
    char client_id[96];
    snprintf(client_id, sizeof client_id, "weftd-%s", m->id);
    m->mosq = mosquitto_new(client_id, true, m);
    char will[256];
    snprintf(will, sizeof will, "%s/availability", m->base);
    int mrc = m->mosq ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
    if (mrc == MOSQ_ERR_SUCCESS && cfg->username[0])
        mrc = mosquitto_username_pw_set(m->mosq, cfg->username, pw[0] ? pw : NULL);
    if (mrc == MOSQ_ERR_SUCCESS)
        mrc = mosquitto_will_set(m->mosq, will, 7, "offline", 1, true);
    if (mrc == MOSQ_ERR_SUCCESS) {
        mosquitto_connect_callback_set(m->mosq, on_connect);
        mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
        mosquitto_message_callback_set(m->mosq, on_message);
        mosquitto_reconnect_delay_set(m->mosq, 1, 30, true);
        /* A broker that is down now is retried by the network thread. */
        int crc = mosquitto_connect_async(m->mosq, m->host, m->port, KEEPALIVE_S);
        if (crc != MOSQ_ERR_SUCCESS)
            weft_log_warn(log, "mqtt: %s:%d: %s; retrying", m->host, m->port,
                          crc == MOSQ_ERR_ERRNO ? "cannot connect" : mosquitto_strerror(crc));
        mrc = mosquitto_loop_start(m->mosq);
    }
    memset(pw, 0, sizeof pw);
    if (mrc != MOSQ_ERR_SUCCESS) {
        snprintf(err, errcap, "mqtt: %s", mosquitto_strerror(mrc));
        if (m->mosq)
            mosquitto_destroy(m->mosq);
        m->mosq = NULL;
        mosquitto_lib_cleanup();
        uv_close((uv_handle_t *)&m->wake, NULL);
        pthread_mutex_destroy(&m->mu);
        return WEFT_EIO;
    }
    m->started = 1;
    weft_log_info(log, "mqtt: %s:%d, topics under %s", m->host, m->port, m->base);
    return 0;
}

static void on_wake_closed(uv_handle_t *h)
{
    struct node_mqtt *m = h->data;
    pthread_mutex_destroy(&m->mu);
    if (m->closed)
        m->closed(m->closed_ud);
}

void node_mqtt_stop(struct node_mqtt *m, void (*closed)(void *ud), void *ud)
{
    if (!m->started) {
        if (closed)
            closed(ud);
        return;
    }
    m->stopping = 1;
    char topic[256];
    snprintf(topic, sizeof topic, "%s/availability", m->base);
    publish(m, topic, "offline", 1);
    mosquitto_disconnect(m->mosq);
    mosquitto_loop_stop(m->mosq, false); /* the thread ends with the connection */
    mosquitto_destroy(m->mosq);
    m->mosq = NULL;
    mosquitto_lib_cleanup();
    m->started = 0;
    m->closed = closed;
    m->closed_ud = ud;
    uv_close((uv_handle_t *)&m->wake, on_wake_closed);
}
