/* The scheduler's private types. Each file of src/sched owns a part of
 * them and has a header of its own for its functions; the layers, bottom
 * up, with no file calling into one above it:
 *
 *   reply.c     answering a request (JSON, OpenAI errors), reading bearer
 *               tokens and query parameters
 *   auth.c      credentials (cached for a second), key limits, node identity
 *   core.c      nodes, jobs, placement, failover, the nodes' token streams;
 *               reports a job's progress through struct sched_job_events
 *   client.c    the client side of a job: OpenAI responses and SSE (the
 *               events core.c reports)
 *   api_*.c     route handlers: developer, jobs, node, operations
 *   metrics.c   /metrics and the access log
 *   dispatch.c  matches a request to its row in routes.h and calls it
 *   sched.c     configuration, start and stop
 *
 * Everything here belongs to the loop thread.
 */
#ifndef WEFT_SCHED_INTERNAL_H
#define WEFT_SCHED_INTERNAL_H

#include <stdint.h>

#include "routes.h"
#include "weft/buf.h"
#include "weft/chat.h"
#include "weft/http.h"
#include "weft/list.h"
#include "weft/openai.h"
#include "weft/sched.h"
#include "weft/store.h"

#define SCHED_MAX_MODELS 16
#define SCHED_MAX_TRIED  8
#define SCHED_TICK_MS    100 /* the longest tick; see sched_start() */
#define SCHED_ID_MAX     40  /* a job's id, NUL included */
#define SCHED_ORPHANS    4   /* orphaned jobs a node's heartbeat may name, kept */

struct sched_model {
    char name[WEFT_OAI_MODEL_MAX];
    enum weft_chat_template tpl;
};

struct sched_node {
    struct weft_list link; /* in sched.nodes */
    char name[64];
    int live;
    uint64_t last_seen_ms; /* monotonic, last hello/heartbeat/poll */
    struct sched_model models[SCHED_MAX_MODELS];
    int n_models;
    char hardware[128];
    char session[64]; /* the live weftd process's X-Weft-Session (dispatch.c) */
    int max_concurrency;
    int slots; /* what the last heartbeat offered (<= max_concurrency); 0: max_concurrency */
    int running;
    double max_budget_w; /* what its enrollment allows it to claim (0: no limit) */
    /* From the last heartbeat. */
    double budget_w;
    int budget_s;       /* how long the node expects its budget to last; -1 unknown */
    int deferrable_ok;  /* the node's policy runs on surplus now */
    int interactive_ok; /* the homeowner allows interactive work now */
    char policy_state[16];
    double pv_w, load_w, grid_w, battery_w, soc;
    uint64_t tokens;
    /* Compute energy as its heartbeats report it (the dashboard): the
     * draw held since the last one, and the part the grid did not pay. */
    double compute_w, wh, surplus_wh;
    uint64_t energy_ms; /* the last heartbeat that counted (monotonic) */
    /* Jobs its last heartbeat said it runs for a scheduler that died,
     * still held in the store: adopted, not assigned anew, when claimed. */
    char orphans[SCHED_ORPHANS][SCHED_ID_MAX];
    int n_orphans;
    /* Trust (verify.c): results checked right and proven wrong, and the
     * quarantine that keeps work from it. */
    int checks_ok, checks_bad;
    int quarantined;
    char quarantine_why[160];
    int since_canary; /* jobs finished since its last canary */
    /* A parked GET /v1/node/work, or NULL. */
    struct weft_http_req *poll;
    uint64_t poll_deadline_ms;
};

enum sched_job_state { SJ_QUEUED, SJ_RUNNING };

struct sched_stream; /* a node's token upload for one job (core.c) */

/* A verification run (verify.c; core.c frees it with its job): a re-run
 * of a job a node finished, a tie-break when two disagreed, or a canary.
 * nodes[] name who is being checked; it runs on none of them (a canary:
 * only on nodes[0]). */
enum sched_check_kind { SC_CHECK, SC_TIEBREAK, SC_CANARY };
struct sched_check {
    enum sched_check_kind kind;
    char nodes[2][64];
    int n_nodes;
    int32_t *tokens[2]; /* what each gave */
    int n_tokens[2];
    char *text; /* a canary's expected answer */
    char name[64];
    char backend[16]; /* the class its nodes must share (hardware's first word) */
};
struct sched_group; /* the choices of one request (client.c) */

struct sched;

struct sched_job {
    struct weft_list link; /* in sched.queue or sched.running */
    struct sched *sched;
    char id[SCHED_ID_MAX];
    int durable;    /* in the store: a /v1/jobs job, or a resumable stream */
    int stream_job; /* a streamed request kept in a shared store, resumable */
    struct weft_oai_req req;
    char key_id[24];
    int64_t created_s;
    uint64_t queued_ms;
    enum sched_job_state state;
    /* What the client already has: the resume point. */
    int32_t *tokens;
    uint32_t *lens; /* the bytes of text each token added */
    int n_tokens, cap_tokens;
    struct weft_buf text;
    /* With req.logprobs: each token's log-probabilities as the node sent
     * them (weft_event_lp_write's object) and '\n', one after another,
     * lp_lens[i] bytes for token i (the journal's form). */
    struct weft_buf lp;
    uint32_t *lp_lens;
    int prompt_tokens;
    /* Placement. */
    struct sched_node *node;
    struct sched_stream *stream;
    int attempts;      /* failures */
    int reassignments; /* failures and yields */
    char tried[SCHED_MAX_TRIED][64];
    int n_tried;
    /* The nodes it ran on, in order, each once (shown to the client). */
    char served[SCHED_MAX_TRIED][64];
    int n_served;
    int runs;         /* times it was handed to a node here */
    uint64_t lost_ms; /* when it last lost its node; 0 if never */
    /* The lease (core.c's tick): when it was assigned, and the start of
     * the current rate window with the tokens it had then. */
    uint64_t assigned_ms, window_ms;
    int window_tokens;
    /* The journal (lease.c): tokens and text bytes already in the store. */
    int journaled;
    size_t journaled_text, journaled_lp;
    int held;                /* the last lease renewal named it */
    uint64_t queued_here_ms; /* when it last entered this scheduler's queue */
    /* Interactive client (client.c), or NULL. */
    struct weft_http_req *client;
    int holds_slot; /* the client took one of its key's concurrency slots */
    int sent_role;
    int skip_until; /* a resumed client has tokens below this already */
    int lp_sent;    /* tokens whose log-probabilities the stream has sent */
    /* One choice of a request for several (n > 1): its group, which holds
     * the client (client.c), and its index there; NULL/0 otherwise. */
    struct sched_group *group;
    int group_index;
    int tpl; /* the chat template its last node rendered it with (tool calls are read its way) */
    struct sched_check *check; /* a verification run (owned), or NULL */
};

/* How core.c tells the client side what became of a job. Each is called
 * once the job has left its node; none may free the job (core.c does,
 * right after). */
struct sched_job_events {
    /* Text the client has not seen yet. */
    void (*tokens)(struct sched *s, struct sched_job *j, const char *text, size_t len);
    /* The job finished ("stop" or "length"). Returns the completion object
     * as JSON text for the store when the job has no client (core.c frees
     * it), else NULL. */
    char *(*done)(struct sched *s, struct sched_job *j, const char *finish);
    /* The job failed for good: an HTTP status, an OpenAI error code, why. */
    void (*failed)(struct sched *s, struct sched_job *j, int status, const char *code,
                   const char *message);
};

/* A job's outcome the store could not take yet (core.c retries it). */
struct sched_outcome {
    struct weft_list link; /* in sched.unrecorded */
    char id[SCHED_ID_MAX];
    enum weft_job_state state;
    char *result, *error;
};

/* A developer key's limits in use (auth.c). */
struct sched_keystate {
    struct weft_list link; /* in sched.keys */
    char id[24];
    double bucket;
    uint64_t refill_ms;
    int in_flight;
};

#define SCHED_N_STATUS  18
#define SCHED_N_BUCKETS 12

struct sched_metrics {
    uint64_t requests[SCHED_N_ROUTES][SCHED_N_STATUS];
    uint64_t latency_bucket[SCHED_N_ROUTES][SCHED_N_BUCKETS];
    double latency_sum[SCHED_N_ROUTES];
    uint64_t latency_count[SCHED_N_ROUTES];
    uint64_t failovers_closed, failovers_silent, yields, node_errors;
    uint64_t tokens;
    uint64_t finished[6]; /* by enum weft_job_state */
    uint64_t heartbeats;
    uint64_t verify_runs, verify_right, verify_wrong, verify_inconclusive; /* verify.c */
    uint64_t verify_tokens; /* tokens the verification runs cost */
};

/* The dashboard (api_ui.c): its event streams, and the last hour in
 * per-minute counts (the tick's). */
#define SCHED_UI_SUBS    16
#define SCHED_UI_MINUTES 59
struct sched_ui_minute {
    uint64_t failovers, yields, tokens;
};
#define SCHED_UI_KEYS 64
struct sched_ui_usage {
    char key_id[24];
    uint64_t jobs, tokens;
};
struct sched_ui {
    struct weft_http_req *subs[SCHED_UI_SUBS];
    /* Finished work by key since this scheduler started (more keys than
     * SCHED_UI_KEYS share the last row, "other"). */
    struct sched_ui_usage usage[SCHED_UI_KEYS];
    int n_usage;
    int n_subs;
    uint64_t push_ms;                 /* the last event sent (monotonic) */
    uint64_t minute_ms;               /* when the current minute began */
    struct sched_ui_minute at_minute; /* the counters then */
    struct sched_ui_minute minutes[SCHED_UI_MINUTES];
    int minute_i; /* the oldest */
};

#define SCHED_AUTH_SLOTS 1024

/* A credential checked recently (auth.c). */
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
    struct sched_ui ui; /* api_ui.c */
    /* core.c */
    const struct sched_job_events *events;
    struct weft_list nodes;   /* struct sched_node, newest first */
    struct weft_list queue;   /* struct sched_job waiting, in dispatch order */
    struct weft_list running; /* struct sched_job on a node */
    int n_nodes, n_queued, n_running;
    uint64_t lease_ms;
    uint64_t last_tick_ms;       /* when the tick last ran (monotonic) */
    struct weft_list unrecorded; /* struct sched_outcome the store has not taken */
    /* Told of every job that finished well, before it is freed (verify.c). */
    void (*on_finished)(struct sched *s, const struct sched_job *j);
    uint64_t verify_next_ms; /* verify.c: the next re-read of quarantines */
    /* lease.c */
    char owner[WEFT_OWNER_MAX];
    uint64_t lease_next_ms;     /* the next lease cycle, monotonic */
    struct sched_watch *notify; /* watches the store's LISTEN socket, or NULL */
    int store_down;             /* the last lease cycle could not reach the store */
    struct weft_list resumes;   /* struct sched_resume: streams waiting for a lease */
    uint64_t purge_next_ms;     /* when finished streams are next purged */
    /* auth.c */
    struct weft_list keys; /* struct sched_keystate */
    struct sched_auth auth[SCHED_AUTH_SLOTS];
    /* metrics.c */
    struct sched_metrics m;
    /* sched.c */
    int stopping;
    void (*stop_cb)(void *);
    void *stop_arg;
};

/* What dispatch.c hands a route's handler. */
struct sched_call {
    enum sched_route route;
    char id[64];              /* the pattern's {id}; "" when it is longer */
    struct weft_key_info key; /* SCHED_AUTH_KEY and SCHED_AUTH_ADMIN */
    struct sched_node *node;  /* SCHED_AUTH_NODE */
};

#endif /* WEFT_SCHED_INTERNAL_H */
