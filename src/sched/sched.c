/* The scheduler's life: configuration, start (store, TLS, server, tick,
 * resuming stored jobs) and an orderly stop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "auth.h"
#include "client.h"
#include "core.h"
#include "dispatch.h"
#include "lease.h"
#include "metrics.h"
#include "weft/config.h"
#include "weft/error.h"
#include "weft/http_client.h"
#include "weft/log.h"
#include "weft/time.h"
#include "verify.h"
#include "weft/form.h"
#include "weft/tls.h"

static const struct weft_cfg_field limits_fields[] = {
    WEFT_CFG_INT_F(struct sched_limits_cfg, max_header_bytes, "max_header_bytes", 1024, 1 << 20, 0,
                   "Request line plus headers, in bytes."),
    WEFT_CFG_INT_F(struct sched_limits_cfg, max_body_bytes, "max_body_bytes", 1024, 64 << 20, 0,
                   "A request body, in bytes."),
    WEFT_CFG_INT_F(struct sched_limits_cfg, header_timeout_ms, "header_timeout_ms", 100, 600000, 0,
                   "Time allowed from a request's first byte to the end of its headers."),
    WEFT_CFG_INT_F(struct sched_limits_cfg, body_timeout_ms, "body_timeout_ms", 100, 3600000, 0,
                   "Longest silence inside a request body (node token streams included)."),
    WEFT_CFG_INT_F(struct sched_limits_cfg, idle_timeout_ms, "idle_timeout_ms", 100, 3600000, 0,
                   "How long a keep-alive connection may wait for its next request."),
    WEFT_CFG_INT_F(struct sched_limits_cfg, max_connections, "max_connections", 1, 1000000, 0,
                   "Open connections; more are closed at once."),
    WEFT_CFG_INT_F(struct sched_limits_cfg, max_queued, "max_queued", 1, 10000000, 0,
                   "Requests and jobs waiting for a node; more get 503."),
    WEFT_CFG_INT_F(struct sched_limits_cfg, stream_open_ms, "stream_open_ms", 100, 600000, 0,
                   "an assigned job's node must open its token stream within this, ms"),
    WEFT_CFG_DOUBLE_F(struct sched_limits_cfg, min_tokens_per_s, "min_tokens_per_s", 0, 10000, 0,
                      "a running job below this rate over token_window_ms moves; 0 = off"),
    WEFT_CFG_INT_F(struct sched_limits_cfg, token_window_ms, "token_window_ms", 1000, 3600000, 0,
                   "the window min_tokens_per_s is measured over, ms"),
    WEFT_CFG_INT_F(struct sched_limits_cfg, max_jobs_per_key, "max_jobs_per_key", 1, 10000000, 0,
                   "queued and running jobs (jobs API) one key may have, so none fills the queue"),
    WEFT_CFG_INT_F(struct sched_limits_cfg, job_max_wait_s, "job_max_wait_s", 1, 366 * 86400, 0,
                   "a job given no deadline must start within this, s, or it expires"),
    WEFT_CFG_INT_F(struct sched_limits_cfg, max_file_bytes, "max_file_bytes", 1024, 512 << 20, 0,
                   "An uploaded file (POST /v1/files), in bytes; held in memory while it arrives."),
    WEFT_CFG_INT_F(struct sched_limits_cfg, max_batch_lines, "max_batch_lines", 1, 1000000, 0,
                   "Requests in one batch; each is a job and counts toward max_jobs_per_key."),
    WEFT_CFG_INT_F(struct sched_limits_cfg, max_work_wait_s, "max_work_wait_s", 1, 300, 0,
                   "Longest long-poll a node may ask for."),
    WEFT_CFG_END,
};

static const struct weft_cfg_field canary_fields[] = {
    WEFT_CFG_STRING_F(struct sched_canary_cfg, name, "name", WEFT_CFG_REQUIRED,
                      "What logs and the quarantine reason call it."),
    WEFT_CFG_STRING_F(struct sched_canary_cfg, model, "model", WEFT_CFG_REQUIRED,
                      "The model; nodes holding it get this canary."),
    WEFT_CFG_STRING_F(struct sched_canary_cfg, prompt, "prompt", WEFT_CFG_REQUIRED,
                      "A completion's prompt."),
    WEFT_CFG_INT_F(struct sched_canary_cfg, seed, "seed", 0, 2147483647, WEFT_CFG_REQUIRED,
                   "Its seed."),
    WEFT_CFG_INT_F(struct sched_canary_cfg, max_tokens, "max_tokens", 1, 8192, WEFT_CFG_REQUIRED,
                   "Its max_tokens."),
    WEFT_CFG_STRING_F(struct sched_canary_cfg, text, "text", WEFT_CFG_REQUIRED,
                      "The text an honest node answers."),
    WEFT_CFG_END,
};

static const struct weft_cfg_field canary_elem[] = {
    {.type = WEFT_CFG_OBJECT, .fields = canary_fields},
    WEFT_CFG_END,
};

static const struct weft_cfg_field verify_fields[] = {
    WEFT_CFG_DOUBLE_F(struct sched_verify_cfg, rate, "rate", 0, 1, 0,
                      "Fraction of a node's finished jobs run again on another node and "
                      "compared; 0 = off."),
    WEFT_CFG_DOUBLE_F(struct sched_verify_cfg, new_node_rate, "new_node_rate", 0, 1, 0,
                      "The same for a node with fewer than new_node_checks checks."),
    WEFT_CFG_INT_F(struct sched_verify_cfg, new_node_checks, "new_node_checks", 0, 1000000, 0,
                   "Checks before a node counts as known."),
    WEFT_CFG_DOUBLE_F(struct sched_verify_cfg, bad_weight, "bad_weight", 1, 1e6, 0,
                      "What one result proven wrong weighs against the right ones."),
    WEFT_CFG_DOUBLE_F(struct sched_verify_cfg, min_trust, "min_trust", 0, 1, 0,
                      "A node whose trust falls below is quarantined (no work)."),
    WEFT_CFG_INT_F(struct sched_verify_cfg, canary_every, "canary_every", 0, 1000000, 0,
                   "A canary after this many of a node's jobs (and after its first); 0 = none."),
    WEFT_CFG_ARRAY_F(struct sched_verify_cfg, canaries, n_canaries, "canaries", canary_elem, 0, 0,
                     "Prompts with known answers."),
    WEFT_CFG_END,
};

static const struct weft_cfg_field fields[] = {
    WEFT_CFG_STRING_F(struct sched_config, listen, "listen", 0, "Address to listen on."),
    WEFT_CFG_INT_F(struct sched_config, port, "port", 0, 65535, 0, "TCP port (0 picks one)."),
    WEFT_CFG_STRING_F(struct sched_config, tls_cert, "tls_cert", 0,
                      "PEM certificate chain for HTTPS."),
    WEFT_CFG_STRING_F(struct sched_config, tls_key, "tls_key", 0, "PEM private key for HTTPS."),
    WEFT_CFG_BOOL_F(struct sched_config, dev_tls, "dev_tls", 0,
                    "Serve HTTPS with a self-signed certificate made in state_dir (demos, tests)."),
    WEFT_CFG_BOOL_F(struct sched_config, plain_http, "plain_http", 0,
                    "Serve plain HTTP; refused unless listen is a loopback address."),
    WEFT_CFG_STRING_F(struct sched_config, state_dir, "state_dir", 0,
                      "Directory of the job store (weft.db) and dev certificates."),
    WEFT_CFG_STRING_F(struct sched_config, store, "store", 0,
                      "The store: empty for state_dir/weft.db, a SQLite path, or a "
                      "postgresql:// URI that several schedulers share."),
    WEFT_CFG_INT_F(struct sched_config, store_lease_ms, "store_lease_ms", 300, 600000, 0,
                   "A job's lease on its scheduler; another takes it this long after its "
                   "scheduler stops renewing (shared store), ms."),
    WEFT_CFG_INT_F(struct sched_config, heartbeat_ms, "heartbeat_ms", 50, 600000, 0,
                   "Heartbeat interval nodes are told to use."),
    WEFT_CFG_INT_F(struct sched_config, lease_factor, "lease_factor", 2, 100, 0,
                   "A node is gone after this many heartbeat intervals of silence."),
    WEFT_CFG_INT_F(struct sched_config, max_attempts, "max_attempts", 1, 100, 0,
                   "Node failures (on distinct nodes) before a request fails."),
    WEFT_CFG_OBJECT_F(struct sched_config, limits, "limits", limits_fields, 0,
                      "Bounds on requests and queues."),
    WEFT_CFG_OBJECT_F(struct sched_config, verify, "verify", verify_fields, 0,
                      "Verified results: re-runs, canaries and trust."),
    WEFT_CFG_STRING_F(struct sched_config, log_level, "log_level", 0,
                      "error, warn, notice, info or debug."),
    WEFT_CFG_END,
};

/* Whether TLS is configured is checked after the command line has had its
 * say (--dev-tls), in main(), not here. */
const struct weft_cfg_field sched_config_schema = WEFT_CFG_ROOT(struct sched_config, fields, NULL);

void sched_config_default(struct sched_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1");
    cfg->port = 8443;
    snprintf(cfg->state_dir, sizeof cfg->state_dir, "/var/lib/weft-scheduler");
    cfg->store_lease_ms = 1500;
    cfg->heartbeat_ms = 2000;
    cfg->lease_factor = 3;
    cfg->max_attempts = 3;
    cfg->limits.max_header_bytes = 16 * 1024;
    cfg->limits.max_body_bytes = 1 << 20;
    cfg->limits.header_timeout_ms = 10000;
    cfg->limits.body_timeout_ms = 120000;
    cfg->limits.idle_timeout_ms = 75000;
    cfg->limits.max_connections = 20000;
    cfg->limits.max_queued = 100000;
    cfg->limits.max_work_wait_s = 60;
    cfg->limits.stream_open_ms = 10000;
    cfg->limits.min_tokens_per_s = 0;
    cfg->limits.token_window_ms = 15000;
    cfg->limits.max_jobs_per_key = 1000;
    cfg->limits.job_max_wait_s = 7 * 86400;
    cfg->limits.max_file_bytes = 32 << 20;
    cfg->verify.rate = 0;
    cfg->verify.new_node_rate = 0;
    cfg->verify.new_node_checks = 20;
    cfg->verify.bad_weight = 50;
    cfg->verify.min_trust = 0.9;
    cfg->limits.max_batch_lines = 50000;
    snprintf(cfg->log_level, sizeof cfg->log_level, "info");
}

static int setup_tls(struct sched *s, char *err, size_t errcap)
{
    const struct sched_config *c = &s->cfg;
    if (c->plain_http) {
        if (!weft_ip_is_loopback(c->listen)) {
            snprintf(err, errcap, "plain_http is allowed only on a loopback address, not %s",
                     c->listen);
            return WEFT_ECONFIG;
        }
        weft_log_warn(s->log, "serving plain HTTP on %s: for local tests only", c->listen);
        return 0;
    }
    char cert[300], key[300];
    if (c->dev_tls) {
        snprintf(cert, sizeof cert, "%s/dev-cert.pem", c->state_dir);
        snprintf(key, sizeof key, "%s/dev-key.pem", c->state_dir);
        struct stat sb;
        if (stat(cert, &sb) != 0 || stat(key, &sb) != 0) {
            int rc = weft_tls_make_dev_cert(cert, key, err, errcap);
            if (rc)
                return rc;
            weft_log_notice(s->log, "made a self-signed development certificate: %s", cert);
        }
    } else {
        snprintf(cert, sizeof cert, "%s", c->tls_cert);
        snprintf(key, sizeof key, "%s", c->tls_key);
    }
    return weft_tls_ctx_server(&s->tls, cert, key, err, errcap);
}

/* The core's tick, then the lease cycle's (core.c sits below lease.c). */
static void on_tick(uv_timer_t *t)
{
    sched_tick(t);
    sched_lease_tick(t->data, weft_mono_ms());
    sched_ui_tick(t->data, weft_mono_ms());
    sched_verify_tick(t->data, weft_mono_ms());
}

int sched_start(struct sched **out, uv_loop_t *loop, const struct sched_config *cfg,
                const struct weft_log *log, char *err, size_t errcap)
{
    struct sched *s = calloc(1, sizeof *s);
    if (!s)
        return WEFT_ENOMEM;
    s->loop = loop;
    s->cfg = *cfg;
    /* GMime counts its set-ups: one per scheduler started is harmless. */
    weft_form_init();
    sched_core_init(s, &sched_client_events);
    if (cfg->verify.rate > 0 || cfg->verify.new_node_rate > 0 ||
        (cfg->verify.canary_every > 0 && cfg->verify.n_canaries > 0))
        s->on_finished = sched_verify_finished;
    weft_list_init(&s->resumes);
    weft_list_init(&s->keys);
    s->log = log;
    s->lease_ms = (uint64_t)cfg->heartbeat_ms * (uint64_t)cfg->lease_factor;
    int rc = 0;
    if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        rc = weft_err_from_errno(errno);
        snprintf(err, errcap, "%s: cannot create: %s", cfg->state_dir, weft_strerror(rc));
        free(s);
        return rc;
    }
    char db[600];
    if (cfg->store[0])
        snprintf(db, sizeof db, "%s", cfg->store);
    else
        snprintf(db, sizeof db, "%s/weft.db", cfg->state_dir);
    if ((rc = weft_store_open(&s->store, db, err, errcap)) != 0) {
        free(s);
        return rc;
    }
    char why[400];
    if ((rc = weft_store_check(s->store, why, sizeof why)) != 0) {
        /* A URI may carry a password: name the kind of store, not the URI. */
        snprintf(err, errcap, "%s: %s", weft_store_is_pg(db) ? "the PostgreSQL store" : db, why);
        weft_store_close(s->store);
        free(s);
        return rc;
    }
    if ((rc = setup_tls(s, err, errcap)) != 0) {
        weft_store_close(s->store);
        free(s);
        return rc;
    }
    struct weft_http_limits lim;
    weft_http_limits_default(&lim);
    lim.max_header_bytes = (size_t)cfg->limits.max_header_bytes;
    lim.max_body_bytes = (size_t)cfg->limits.max_body_bytes;
    lim.header_timeout_ms = (uint32_t)cfg->limits.header_timeout_ms;
    lim.body_timeout_ms = (uint32_t)cfg->limits.body_timeout_ms;
    lim.idle_timeout_ms = (uint32_t)cfg->limits.idle_timeout_ms;
    lim.max_connections = cfg->limits.max_connections;
    struct weft_http_handler h = {
        .on_headers = sched_dispatch_headers,
        .on_request = sched_dispatch_request,
        .on_done = sched_metrics_on_done,
        .ud = s,
    };
    rc = weft_http_server_start(&s->http, loop, cfg->listen, cfg->port, s->tls, &lim, &h, log);
    if (rc) {
        snprintf(err, errcap, "cannot listen on %s:%d: %s", cfg->listen, cfg->port,
                 weft_strerror(rc));
        weft_tls_ctx_free(s->tls);
        weft_store_close(s->store);
        free(s);
        return rc;
    }
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    /* The tick finds silent nodes: a tenth of a heartbeat keeps detection
     * within 10 % of the lease, never busier than every 10 ms. */
    uint64_t tick = (uint64_t)cfg->heartbeat_ms / 10;
    tick = tick < 10 ? 10 : tick > SCHED_TICK_MS ? SCHED_TICK_MS : tick;
    uv_timer_start(&s->tick, on_tick, tick, tick);
    int resumed = sched_lease_start(s);
    if (resumed > 0)
        weft_log_notice(s->log, "resumed %d unfinished job%s from the store", resumed,
                        resumed == 1 ? "" : "s");
    weft_log_notice(s->log, "listening on %s:%d (%s), %s store%s", cfg->listen,
                    weft_http_server_port(s->http), s->tls ? "HTTPS" : "plain HTTP",
                    weft_store_kind(s->store),
                    weft_store_shared(s->store) ? " shared with other schedulers" : "");
    *out = s;
    return 0;
}

int sched_port(const struct sched *s)
{
    return weft_http_server_port(s->http);
}

static void free_all(struct sched *s)
{
    sched_core_free(s);
    sched_auth_free(s);
    weft_tls_ctx_free(s->tls);
    weft_store_close(s->store);
}

static void on_tick_closed(uv_handle_t *h)
{
    struct sched *s = h->data;
    void (*cb)(void *) = s->stop_cb;
    void *arg = s->stop_arg;
    free_all(s);
    free(s);
    if (cb)
        cb(arg);
}

static void on_http_closed(void *arg)
{
    struct sched *s = arg;
    uv_close((uv_handle_t *)&s->tick, on_tick_closed);
}

void sched_stop(struct sched *s, void (*cb)(void *arg), void *arg)
{
    s->stopping = 1;
    s->stop_cb = cb;
    s->stop_arg = arg;
    uv_timer_stop(&s->tick);
    /* Jobs in the store stay queued or running there: the next start, or
     * another scheduler on a shared store, resumes them. */
    sched_lease_stop(s);
    weft_http_server_close(s->http, on_http_closed, s);
}
