/* The day-ahead PV forecast weftd fetches (energy.forecast.provider
 * open-meteo or forecast-solar): every refresh_s an HTTPS GET through the
 * loop's libcurl client, parsed by weft_dayahead_parse, and kept on disk
 * (state_dir/dayahead.json, the service's own response) so a restart, or a
 * service that is down, still has the last forecast. A failed fetch keeps
 * the forecast in hand and says why (the status page); the plan uses a
 * forecast only for the hours it covers, the history for the rest. Loop
 * thread only. */
#ifndef WEFT_NODE_DAYAHEAD_H
#define WEFT_NODE_DAYAHEAD_H

#include <stdint.h>
#include <uv.h>

#include "weft/dayahead.h"
#include "weft/node.h"

struct weft_log;
struct weft_http_client;
struct weft_http_call;

struct node_dayahead {
    uv_loop_t *loop;
    const struct weftd_forecast_cfg *cfg;
    const struct weft_log *log;
    int enabled; /* the provider fetches */
    enum weft_da_format fmt;
    char url[768];
    char cache_path[300];
    struct weft_http_client *http;
    struct weft_http_call *call;
    uv_timer_t timer;
    struct weft_dayahead forecast; /* have: the one in hand */
    int have;
    int64_t fetched_ms; /* wall clock of the forecast in hand */
    char source[16];    /* "service" or "cache" */
    char error[256];    /* the last fetch's failure; "" after a good one */
    int64_t attempt_ms; /* wall clock of the last attempt */
    /* A new forecast is in hand. */
    void (*updated)(void *ud, const struct weft_dayahead *d);
    void *ud;
    int closing;
    void (*close_cb)(void *);
    void *close_arg;
};

/* Reads the cache; 0, or WEFT_ENOMEM (no client). */
int node_dayahead_init(struct node_dayahead *da, uv_loop_t *loop, const struct weftd_config *cfg,
                       const struct weft_log *log,
                       void (*updated)(void *ud, const struct weft_dayahead *d), void *ud);
/* The first fetch now, then every refresh_s (sooner after a failure). */
void node_dayahead_start(struct node_dayahead *da);
/* Cancels a fetch in flight and closes; cb(arg) after. */
void node_dayahead_close(struct node_dayahead *da, void (*cb)(void *), void *arg);

#endif /* WEFT_NODE_DAYAHEAD_H */
