/* weft-scheduler: the regional scheduler as a library the binary and the
 * tests start on a libuv loop.
 *
 * The scheduler owns its HTTP server, its store and every node and job it
 * tracks; all of it lives on the loop thread that called sched_start().
 * sched_stop() closes the server (aborting open requests), and calls cb
 * when everything is closed; then the struct is freed.
 */
#ifndef WEFT_SCHED_H
#define WEFT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "weft/http.h"

struct weft_log;
struct weft_cfg_field;

struct sched_limits_cfg {
    int max_header_bytes;
    int max_body_bytes;
    int header_timeout_ms;
    int body_timeout_ms;
    int idle_timeout_ms;
    int max_connections;
    int max_queued;      /* jobs waiting in memory (interactive + deferrable) */
    int max_work_wait_s; /* longest long-poll a node may ask for */
    /* An assignment is a lease: its node must open the token stream within
     * stream_open_ms, and (when min_tokens_per_s > 0) send at least that
     * rate over every token_window_ms, or the job moves to another node. */
    int stream_open_ms;
    double min_tokens_per_s;
    int token_window_ms;
    int max_jobs_per_key; /* jobs API: queued and running jobs one key may have */
    int job_max_wait_s;   /* jobs API: the deadline of a job given none */
    int max_file_bytes;   /* Batch API: an uploaded file */
    int max_batch_lines;  /* Batch API: the requests of one batch */
};

/* Verified results (verify.c): re-runs of finished jobs on another node,
 * canaries with known answers, and a trust score per node. */
#define SCHED_MAX_CANARIES 8
struct sched_canary_cfg {
    char name[64];
    char model[128];
    char prompt[1024]; /* a completion's prompt */
    int seed;
    int max_tokens;
    char text[2048]; /* the answer an honest node gives */
};
struct sched_verify_cfg {
    double rate;          /* of the jobs a node finishes, this fraction is re-run elsewhere */
    double new_node_rate; /* the same for a node with fewer than new_node_checks checks */
    int new_node_checks;
    double bad_weight; /* what a proven wrong result weighs against right ones */
    double min_trust;  /* below it a node is quarantined (no work) */
    int canary_every;  /* a canary after this many of a node's jobs; 0: none */
    struct sched_canary_cfg canaries[SCHED_MAX_CANARIES];
    int n_canaries;
};

struct sched_config {
    char listen[64];
    int port;
    char tls_cert[256];
    char tls_key[256];
    bool dev_tls;    /* self-signed certificate in state_dir (demos, tests) */
    bool plain_http; /* no TLS: refused unless listen is a loopback address */
    char state_dir[256];
    /* "" (state_dir/weft.db, SQLite), a SQLite path, or a PostgreSQL URI
     * shared by several schedulers. */
    char store[512];
    int store_lease_ms; /* a job's lease on its scheduler (shared store) */
    int heartbeat_ms;   /* what nodes are told to use */
    int lease_factor;   /* a node is dead after lease_factor * heartbeat_ms of silence */
    int max_attempts;   /* failures on distinct nodes before a request fails */
    struct sched_limits_cfg limits;
    struct sched_verify_cfg verify;
    char log_level[16];
};

/* The JSON schema for the config file (see configs/weft-scheduler.json). */
extern const struct weft_cfg_field sched_config_schema;

void sched_config_default(struct sched_config *cfg);

struct sched;

/* Opens the store, sets up TLS, binds and starts serving. On failure
 * nothing is left running and err says why. */
int sched_start(struct sched **out, uv_loop_t *loop, const struct sched_config *cfg,
                const struct weft_log *log, char *err, size_t errcap);

int sched_port(const struct sched *s);

void sched_stop(struct sched *s, void (*cb)(void *arg), void *arg);

#endif /* WEFT_SCHED_H */
