/* weftd, the home node daemon, as a library the binary starts on a libuv
 * loop (and tests may too).
 *
 * One loop thread owns everything here: the energy poll (Modbus reads run
 * on libuv's thread pool, each bounded by its timeout), the policy, the
 * scheduler link (libcurl multi driven by the loop), the local status
 * endpoint and the ledger. The inference engine runs on one dedicated
 * runner thread; tokens come back through a mutex-protected queue and a
 * uv_async wake-up.
 */
#ifndef WEFT_NODE_H
#define WEFT_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "weft/energy_config.h"
#include "weft/regmap.h"

struct weft_log;

#define WEFTD_MAX_URLS   4
#define WEFTD_MAX_MODELS 4
/* Jobs one node runs at once, at most (compute.max_slots). */
#define WEFTD_MAX_SLOTS 16

struct weftd_url_cfg {
    char url[256];
};

struct weftd_model_cfg {
    char path[512];
    char name[128];    /* as developers ask for it; default: the file name */
    char template[16]; /* raw | llama2 | chatml | llama3; "" = from the GGUF */
};

struct weftd_sched_cfg {
    struct weftd_url_cfg urls[WEFTD_MAX_URLS];
    int n_urls;
    char token[128];   /* from `weftctl nodes enroll NAME` */
    char ca_file[512]; /* the scheduler's CA (or dev certificate); "" = system CAs */
    int poll_wait_s;   /* long-poll length */
};

/* The forecast the battery plan runs on (issue 16; docs/energy.md). */
struct weftd_forecast_cfg {
    char provider[16];             /* off | history | open-meteo | forecast-solar */
    double latitude, longitude;    /* degrees, + north / + east */
    double tilt, azimuth;          /* degrees; tilt 0 flat; azimuth 0 south, -90 east, 90 west */
    double kwp, performance_ratio; /* the array, for Open-Meteo's irradiance */
    char url[256];                 /* the service's base URL; "" its public one */
    char ca_file[256];             /* PEM to verify it with; "" the system's */
    int refresh_s;                 /* how often to fetch */
};

struct weftd_energy_cfg {
    char modbus[256];           /* tcp://HOST:PORT or rtu:///dev/TTY?baud=N... */
    char layout[16];            /* sunspec | victron | custom */
    struct weft_regmap_cfg map; /* layout custom */
    int unit;
    int poll_ms;
    int timeout_ms;
    int grid_sign;        /* +1: the meter reports + import; -1: + export */
    int battery_sign;     /* +1: + charge; -1: + discharge */
    int compute_register; /* a register to write our draw to (weft-panelsim: 40500); -1 off */
    bool has_battery;
    struct weftd_forecast_cfg forecast;
};

struct weftd_compute_cfg {
    double busy_w;           /* estimated draw while generating at full speed */
    double idle_w;           /* estimated draw otherwise */
    int threads;             /* CPU threads for the engine; 0 = all cores */
    int n_ctx;               /* context per job; 0 = the model's, capped */
    char interactive[16];    /* always | surplus | never */
    double max_tokens_per_s; /* per job; 0 = as fast as the hardware goes */
    int max_slots;           /* jobs at once; 0 = what slot_memory_mb allows */
    int slot_memory_mb;      /* for the slots; 0 = half of MemAvailable at start */
    bool gpu_power_limit;    /* follow the budget with the GPU's power limit (NVML) */
};

struct weftd_status_cfg {
    char listen[64];
    int port; /* 0: a free port; listen "" turns the endpoint off */
};

/* MQTT for Home Assistant and evcc (docs/node.md, "MQTT"). */
struct weftd_mqtt_cfg {
    char url[256];             /* mqtt://HOST[:1883]; "" turns MQTT off */
    char username[64];         /* "" none */
    char password_file[256];   /* the password's file (first line); "" none */
    char node_id[64];          /* the topic segment: PREFIX/NODE_ID/...; "" the host name */
    char prefix[64];           /* "weft" */
    char discovery_prefix[64]; /* Home Assistant's, "homeassistant"; "" publishes none */
    int publish_s;             /* the state at least this often, and on every change */
    bool evcc;                 /* read evcc's loadpoints; yield to a car charging on PV */
    char evcc_prefix[64];      /* evcc's topic root, "evcc" */
};

struct weftd_config {
    struct weftd_sched_cfg scheduler;
    struct weftd_model_cfg models[WEFTD_MAX_MODELS];
    int n_models;
    struct weftd_energy_cfg energy;
    struct weft_policy_config policy;
    struct weftd_compute_cfg compute;
    char state_dir[256];
    struct weftd_status_cfg status;
    struct weftd_mqtt_cfg mqtt;
    char log_level[16];
};

extern const struct weft_cfg_field weftd_config_schema;
void weftd_config_default(struct weftd_config *cfg);

/* Checks what the schema cannot: URLs, files, the model list. 0 or a
 * negative code with err filled. */
int weftd_config_check(const struct weftd_config *cfg, char *err, size_t errcap);

struct weftd;

/* Loads the models, opens the ledger, binds the status endpoint, starts
 * the energy poll and the scheduler link. */
int weftd_start(struct weftd **out, uv_loop_t *loop, const struct weftd_config *cfg,
                const struct weft_log *log, char *err, size_t errcap);

/* The status endpoint's port (0 if none). */
int weftd_status_port(const struct weftd *d);

/* Stops taking work, yields a running job and waits (bounded) for its
 * last events to reach the scheduler, closes everything, then cb(arg). */
void weftd_stop(struct weftd *d, void (*cb)(void *arg), void *arg);

#endif /* WEFT_NODE_H */
