/* The scheduler's private state, shared by core.c (nodes, jobs, placement,
 * failover) and api.c (the HTTP routes). Everything here belongs to the
 * loop thread. */
#ifndef WEFT_SCHED_INTERNAL_H
#define WEFT_SCHED_INTERNAL_H

#include <stdint.h>

#include "weft/buf.h"
#include "weft/http.h"
#include "weft/openai.h"
#include "weft/sched.h"
#include "weft/store.h"

#define SCHED_MAX_MODELS 16
#define SCHED_MAX_TRIED  8
#define SCHED_TICK_MS    100 /* the longest tick; see sched_start() */

struct sched_model {
    char name[WEFT_OAI_MODEL_MAX];
    enum weft_chat_template tpl;
};

struct sched_node {
    struct sched_node *next;
    char name[64];
    int live;
    uint64_t last_seen_ms; /* monotonic, last hello/heartbeat/poll */
    struct sched_model models[SCHED_MAX_MODELS];
    int n_models;
    char hardware[128];
    int max_concurrency;
    int running;
    /* From the last heartbeat. */
    double budget_w;
    int deferrable_ok;  /* the node's policy runs on surplus now */
    int interactive_ok; /* the homeowner allows interactive work now */
    char policy_state[16];
    double pv_w, load_w, grid_w, battery_w, soc;
    uint64_t tokens;
    /* A parked GET /v1/node/work, or NULL. */
    struct weft_http_req *poll;
    uint64_t poll_deadline_ms;
};

enum sched_job_state { SJ_QUEUED, SJ_RUNNING };

struct sched_stream; /* a node's token upload for one job */

struct sched;

struct sched_job {
    struct sched_job *prev, *next; /* in the queue or the running list */
    struct sched *sched;
    char id[40];
    int durable; /* a /v1/jobs job, in the store */
    struct weft_oai_req req;
    char key_id[24];
    int64_t created_s;
    uint64_t queued_ms;
    enum sched_job_state state;
    /* What the client already has: the resume point. */
    int32_t *tokens;
    int n_tokens, cap_tokens;
    struct weft_buf text;
    int prompt_tokens;
    /* Placement. */
    struct sched_node *node;
    struct sched_stream *stream;
    int attempts;      /* failures */
    int reassignments; /* failures and yields */
    char tried[SCHED_MAX_TRIED][64];
    int n_tried;
    uint64_t lost_ms; /* when it last lost its node; 0 if never */
    /* Interactive client, or NULL. */
    struct weft_http_req *client;
    int sent_role;
};

struct sched_keystate {
    struct sched_keystate *next;
    char id[24];
    double bucket;
    uint64_t refill_ms;
    int in_flight;
};

enum sched_route {
    R_OTHER,
    R_HEALTHZ,
    R_METRICS,
    R_MODELS,
    R_CHAT,
    R_COMPLETIONS,
    R_JOBS_CREATE,
    R_JOBS_GET,
    R_JOBS_LIST,
    R_JOBS_CANCEL,
    R_ADMIN_NODES,
    R_NODE_HELLO,
    R_NODE_HEARTBEAT,
    R_NODE_WORK,
    R_NODE_STREAM,
    R_COUNT
};

#define SCHED_N_STATUS  18
#define SCHED_N_BUCKETS 12

struct sched_metrics {
    uint64_t requests[R_COUNT][SCHED_N_STATUS];
    uint64_t latency_bucket[R_COUNT][SCHED_N_BUCKETS];
    double latency_sum[R_COUNT];
    uint64_t latency_count[R_COUNT];
    uint64_t failovers_closed, failovers_silent, yields, node_errors;
    uint64_t tokens;
    uint64_t finished[6]; /* by enum weft_job_state */
    uint64_t heartbeats;
};

#define SCHED_AUTH_SLOTS 1024

/* A credential checked recently (authcache.c). */
struct sched_auth {
    int kind; /* 0 empty, 1 API key, 2 node token */
    unsigned char digest[32];
    uint64_t expires_ms;
    struct weft_key_info key;
    char node[64];
};

struct sched {
    uv_loop_t *loop;
    struct sched_config cfg;
    const struct weft_log *log;
    struct weft_store *store;
    struct weft_tls_ctx *tls;
    struct weft_http_server *http;
    uv_timer_t tick;
    struct sched_node *nodes;
    int n_nodes;
    struct sched_job *queue; /* head of the waiting list */
    struct sched_job *running;
    int n_queued, n_running;
    struct sched_keystate *keys;
    struct sched_metrics m;
    uint64_t lease_ms;
    struct sched_auth auth[SCHED_AUTH_SLOTS];
    int stopping;
    void (*stop_cb)(void *);
    void *stop_arg;
};

/* core.c */
struct sched_node *sched_node_find(struct sched *s, const char *name);
struct sched_node *sched_node_get(struct sched *s, const char *name); /* creates */
void sched_node_hello(struct sched *s, struct sched_node *n);
void sched_node_dead(struct sched *s, struct sched_node *n, int silent, const char *why);
void sched_node_park_poll(struct sched *s, struct sched_node *n, struct weft_http_req *req,
                          int wait_s);
int sched_model_available(struct sched *s, const char *model);

/* A new job (ownership of job passes to the scheduler). */
void sched_job_submit(struct sched *s, struct sched_job *job);
struct sched_job *sched_job_new(const char *id_prefix);
/* Frees a job that is in no list (also one whose request never parsed). */
void sched_job_free(struct sched_job *job);
struct sched_job *sched_job_find(struct sched *s, const char *id);
void sched_job_cancel(struct sched *s, struct sched_job *job, const char *why);
void sched_dispatch(struct sched *s);
void sched_tick(uv_timer_t *t);

/* The node's token upload: headers in, then lines of JSON. */
int sched_stream_open(struct sched *s, struct sched_node *n, struct sched_job *job,
                      struct weft_http_req *req);
void sched_stream_complete(struct sched *s, struct weft_http_req *req);

/* authcache.c: the store's checks, remembered for a second. */
int sched_auth_key(struct sched *s, const char *secret, struct weft_key_info *info);
int sched_auth_node(struct sched *s, const char *secret, char *name, size_t cap);

/* api.c */
void sched_api_on_request(struct weft_http_req *req, void *ud);
int sched_api_on_headers(struct weft_http_req *req, void *ud);
void sched_api_on_done(const struct weft_http_req *req, int status, void *ud);
/* Client side of a job: tokens, the end, an error. */
void sched_client_tokens(struct sched *s, struct sched_job *job, const char *text, size_t len);
void sched_client_finish(struct sched *s, struct sched_job *job, const char *finish_reason);
void sched_client_fail(struct sched *s, struct sched_job *job, int status, const char *code,
                       const char *message);
void sched_key_release(struct sched *s, const char *key_id);
/* The whole (non-streamed) completion object for a finished job, as JSON
 * text the caller frees. */
char *sched_completion_json(const struct sched_job *j, const char *finish_reason);

#endif /* WEFT_SCHED_INTERNAL_H */
