/* weftd's state: one struct per module, each owned by its file, and the
 * glue's own fields. The modules, each with its header:
 *   energy.c  Modbus reads (thread pool), the policy, NVML (loop)
 *   link.c    the scheduler link over src/net's HTTPS client (loop)
 *   runner.c  the engine on its own thread, events handed back by queue
 *   ledger.c  per-day accounting that survives restarts (loop)
 *   job.c     one assignment, shared by the three above
 *   mqtt.c    Home Assistant and evcc over MQTT (libmosquitto's thread,
 *             handed to the loop)
 *   status.c  the local status endpoint (reads everything, changes nothing)
 *   daemon.c  start, stop, and the only glue between energy, ledger, link,
 *             runner and mqtt: none of those calls another
 * Unless a field says otherwise, it belongs to the loop thread. Only
 * daemon.c and status.c include this header. */
#ifndef WEFT_NODE_INTERNAL_H
#define WEFT_NODE_INTERNAL_H

#include <stdint.h>
#include <uv.h>

#include "dayahead.h"
#include "energy.h"
#include "job.h"
#include "ledger.h"
#include "link.h"
#include "mqtt.h"
#include "runner.h"
#include "weft/node.h"

struct weft_http_server;

struct weftd {
    uv_loop_t *loop;
    struct weftd_config cfg;
    const struct weft_log *log;
    struct node_model models[WEFTD_MAX_MODELS];
    int n_models;
    struct node_energy energy;
    struct node_dayahead dayahead; /* the day-ahead PV forecast, handed to energy */
    struct node_link link;
    struct node_runner runner;
    struct node_ledger ledger;
    struct node_mqtt mqtt; /* started only with mqtt.url */
    struct weft_http_server *status;
    char control_secret[65];                /* hex; POST /control must carry it (status.c) */
    int quiet_set;                          /* the homeowner's quiet hours replace the config's */
    struct node_job *jobs[WEFTD_MAX_SLOTS]; /* the jobs the node holds, oldest first */
    int n_jobs;
    int slots;           /* jobs at once: compute.max_slots, or what memory allows */
    char slots_why[200]; /* how the count was chosen (logged, on the status page) */
    uint64_t jobs_done, failures;
    /* Life (daemon.c). */
    uv_timer_t ledger_timer;
    uv_timer_t stop_timer;
    uv_timer_t reattach_timer; /* uploads lost with their scheduler, tried again */
    uint64_t stop_since_ms;
    int stopping;
    int pending_closes;
    void (*stop_cb)(void *);
    void *stop_arg;
};

/* The homeowner's pause (1/0, -1 unchanged) and cap (W, -1 unchanged, -2
 * none), from the page (status.c) or MQTT; and quiet hours (n >= 0; -1
 * unchanged) from the page. daemon.c's glue: kept in
 * state_dir/overrides.json, so that they outlive a restart. */
void weftd_control(struct weftd *d, int paused, double max_w, const struct weft_window *quiet,
                   int n_quiet);
/* [{"start": "HH:MM", "end": "HH:MM"}, ...] into w[] (at most
 * WEFT_POLICY_MAX_WINDOWS): 0 or WEFT_EINVAL. */
struct cJSON;
int weftd_quiet_parse(const struct cJSON *arr, struct weft_window *w, int *n);

#endif /* WEFT_NODE_INTERNAL_H */
