/* weftd's MQTT side (mqtt.c), for Home Assistant and evcc:
 *   - the node's state, retained, on PREFIX/ID/state (JSON), and
 *     PREFIX/ID/availability "online" ("offline" as the broker's last will
 *     and at a clean stop);
 *   - Home Assistant discovery configs for it (compute power, compute
 *     energy as a total_increasing kWh meter, tokens, the policy's state,
 *     the budget, a pause switch and a max-watts number);
 *   - commands on PREFIX/ID/paused/set ("ON"/"OFF") and
 *     PREFIX/ID/max_w/set (watts);
 *   - evcc's loadpoint topics (EVCC/loadpoints/N/...), so that compute
 *     yields while a car that evcc charges from PV is plugged in and not
 *     full, instead of fighting it for the same surplus.
 * What arrives is told to the owner through callbacks; this module changes
 * nothing else in the node.
 *
 * Threads: libmosquitto runs its own network thread (mosquitto_loop_start).
 * Its callbacks only copy what arrived into a bounded inbox under `mu` and
 * wake the loop (uv_async); everything else runs on the loop thread. */
#ifndef WEFT_NODE_MQTT_H
#define WEFT_NODE_MQTT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "weft/node.h"

struct mosquitto;
struct weft_log;

#define NODE_MQTT_INBOX       64
#define NODE_MQTT_TOPIC_MAX   192
#define NODE_MQTT_PAYLOAD_MAX 128
#define NODE_MQTT_LOADPOINTS  8

/* What the owner publishes (NAN: a reading the node does not have). */
struct node_mqtt_state {
    const char *policy;    /* the policy's state name */
    const char *reason;    /* its sentence */
    const char *scheduler; /* the link's state */
    double budget_w, compute_w, pv_w, load_w, grid_w, battery_w, soc;
    double energy_kwh; /* compute energy since the ledger began */
    long tokens;       /* likewise */
    int paused;
    double max_w; /* < 0: no cap */
    int evcc_yield;
};

struct node_mqtt_cb {
    /* A command: paused 0/1 or -1 unchanged; max_w >= 0, or -1 unchanged,
     * or -2 to lift the cap. */
    void (*command)(void *ud, int paused, double max_w);
    /* evcc's loadpoints changed what compute should do: yield or not, and
     * why ("evcc: loadpoint 1 charges a car on PV"). */
    void (*evcc)(void *ud, int yield, const char *why);
    void *ud;
};

struct node_mqtt_msg {
    char topic[NODE_MQTT_TOPIC_MAX];
    char payload[NODE_MQTT_PAYLOAD_MAX];
};

struct node_evcc_loadpoint {
    int connected, charging, soc_known, limit_known;
    double soc, limit;
    char mode[16];
};

struct node_mqtt {
    uv_loop_t *loop;
    const struct weftd_mqtt_cfg *cfg;
    const struct weft_log *log;
    struct node_mqtt_cb cb;
    struct mosquitto *mosq;
    double max_compute_w; /* the number entity's top */
    char version[64];
    char id[64];    /* the node's topic segment */
    char base[160]; /* PREFIX/ID */
    char host[256];
    int port;
    uv_async_t wake;
    int started, stopping;
    /* Shared with libmosquitto's thread, under mu. */
    pthread_mutex_t mu;
    struct node_mqtt_msg inbox[NODE_MQTT_INBOX];
    int n_inbox;
    long dropped;         /* messages the full inbox refused */
    int connect_events;   /* connects since the loop last looked */
    atomic_int connected; /* written by libmosquitto's thread, read anywhere */
    /* The loop's. */
    struct node_mqtt_msg drained[NODE_MQTT_INBOX]; /* the inbox, taken out under mu */
    struct node_evcc_loadpoint lp[NODE_MQTT_LOADPOINTS];
    int evcc_yield;
    char evcc_why[96];
    uint64_t last_pub_ms;
    char last_key[160]; /* policy, pause and cap of the last state sent */
    void (*closed)(void *ud);
    void *closed_ud;
};

/* Checks a config's mqtt section (URL, node_id, topic roots). 0 or
 * WEFT_ECONFIG with err filled. */
int node_mqtt_check(const struct weftd_mqtt_cfg *cfg, char *err, size_t errcap);

/* Connects in the background (libmosquitto retries until it reaches the
 * broker). 0, or a negative code with err filled. cfg is borrowed. */
int node_mqtt_start(struct node_mqtt *m, uv_loop_t *loop, const struct weftd_mqtt_cfg *cfg,
                    double max_compute_w, const struct weft_log *log, const struct node_mqtt_cb *cb,
                    char *err, size_t errcap);

/* The state now: published when it changed (policy, pause, cap) or
 * publish_s after the last time. */
void node_mqtt_publish(struct node_mqtt *m, const struct node_mqtt_state *s);

/* For the status page: whether the broker is connected now. */
int node_mqtt_connected(const struct node_mqtt *m);

/* "offline", a clean disconnect, the thread joined; closed(ud) once the
 * loop handle is closed. */
void node_mqtt_stop(struct node_mqtt *m, void (*closed)(void *ud), void *ud);

#endif /* WEFT_NODE_MQTT_H */
