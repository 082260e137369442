/* weft-scheduler: the regional scheduler (see docs/api.md and
 * docs/operations.md). Loads its configuration, starts the scheduler on a
 * libuv loop and stops it cleanly on SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "weft/cli.h"
#include "weft/config.h"
#include "weft/daemon.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/sched.h"
#include "weft/version.h"

static const char usage[] =
    "usage: weft-scheduler [--config FILE] [--listen ADDR] [--port N] [--state-dir DIR]\n"
    "                      [--store PATH|postgresql://...] [--store-lease-ms N]\n"
    "                      [--dev-tls | --plain-http] [--heartbeat-ms N] [--log-level L]\n"
    "\n"
    "The regional scheduler: OpenAI-compatible HTTPS API for developers, the node\n"
    "API for home nodes, durable jobs and token-exact failover.\n"
    "Flags override the config file. --dev-tls makes a self-signed certificate in\n"
    "the state directory; --plain-http is allowed only on loopback. --store with a\n"
    "PostgreSQL URI lets several schedulers share one region's keys, nodes and jobs.\n";

static void stop_sched(void *arg, void (*done)(void *), void *done_arg)
{
    sched_stop(arg, done, done_arg);
}

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-scheduler", usage))
        return 0;
    struct sched_config cfg;
    sched_config_default(&cfg);
    /* Flags override the config file: read both, then apply the flags. */
    const char *config = NULL, *listen = NULL, *state_dir = NULL, *log_level = NULL;
    const char *store = NULL;
    int lease = 0, lease_set = 0;
    int dev_tls = 0, plain_http = 0, port = 0, port_set = 0, hb = 0, hb_set = 0;
    const struct weft_opt opts[] = {
        WEFT_OPTS("--config", &config),
        WEFT_OPTS("--listen", &listen),
        WEFT_OPTI_SEEN("--port", &port, 0, 65535, &port_set),
        WEFT_OPTS("--state-dir", &state_dir),
        WEFT_OPTS("--store", &store),
        WEFT_OPTI_SEEN("--store-lease-ms", &lease, 300, 600000, &lease_set),
        WEFT_OPTF("--dev-tls", &dev_tls),
        WEFT_OPTF("--plain-http", &plain_http),
        WEFT_OPTI_SEEN("--heartbeat-ms", &hb, 50, 600000, &hb_set),
        WEFT_OPTS("--log-level", &log_level),
        WEFT_OPT_END,
    };
    char err[WEFT_CONFIG_ERR_MAX];
    if (weft_opts_parse(argc - 1, argv + 1, opts, NULL, 0, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "weft-scheduler: %s\n%s", err, usage);
        return 2;
    }
    if (config && weft_config_load_file(config, &sched_config_schema, &cfg, err, sizeof err)) {
        fprintf(stderr, "weft-scheduler: %s\n", err);
        return 2;
    }
    if (listen)
        snprintf(cfg.listen, sizeof cfg.listen, "%s", listen);
    if (port_set)
        cfg.port = port;
    /* listen may carry the port ("0.0.0.0:8443", "[::]:8443"). */
    char host[sizeof cfg.listen];
    int lport;
    if (weft_listen_split(cfg.listen, host, sizeof host, &lport, err, sizeof err) != 0) {
        fprintf(stderr, "weft-scheduler: listen: %s\n", err);
        return 2;
    }
    if (lport >= 0 && port_set && lport != port) {
        fprintf(stderr, "weft-scheduler: --listen names port %d and --port %d\n", lport, port);
        return 2;
    }
    snprintf(cfg.listen, sizeof cfg.listen, "%s", host);
    if (lport >= 0)
        cfg.port = lport;
    if (state_dir)
        snprintf(cfg.state_dir, sizeof cfg.state_dir, "%s", state_dir);
    if (store)
        snprintf(cfg.store, sizeof cfg.store, "%s", store);
    if (lease_set)
        cfg.store_lease_ms = lease;
    if (dev_tls)
        cfg.dev_tls = true;
    if (plain_http)
        cfg.plain_http = true;
    if (hb_set)
        cfg.heartbeat_ms = hb;
    if (log_level)
        snprintf(cfg.log_level, sizeof cfg.log_level, "%s", log_level);
    if (!cfg.plain_http && !cfg.dev_tls && (!cfg.tls_cert[0] || !cfg.tls_key[0])) {
        fprintf(stderr, "weft-scheduler: no TLS certificate: set tls_cert and tls_key in the "
                        "config, or use --dev-tls for a local trial\n");
        return 2;
    }
    struct weft_log log;
    weft_log_init(&log, "weft-scheduler", 2);
    int lvl = weft_log_parse_level(cfg.log_level);
    if (lvl < 0) {
        fprintf(stderr, "weft-scheduler: unknown log level \"%s\"\n", cfg.log_level);
        return 2;
    }
    log.level = lvl;
    /* A peer that vanishes mid-write must cost us an EPIPE on that
     * connection, not the process. */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sched *sched;
    int rc = sched_start(&sched, &loop, &cfg, &log, err, sizeof err);
    if (rc) {
        fprintf(stderr, "weft-scheduler: %s\n", err);
        uv_loop_close(&loop);
        return 1;
    }
    /* Tests and scripts read the bound port from this line (port 0). */
    printf("weft-scheduler: listening on port %d\n", sched_port(sched));
    fflush(stdout);
    return weft_daemon_run(&loop, &log, stop_sched, sched);
}
