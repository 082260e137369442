/* weft-scheduler: the regional scheduler (see docs/api.md and
 * docs/operations.md). Loads its configuration, starts the scheduler on a
 * libuv loop and stops it cleanly on SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "weft/config.h"
#include "weft/daemon.h"
#include "weft/error.h"
#include "weft/log.h"
#include "weft/sched.h"
#include "weft/version.h"

static const char usage[] =
    "usage: weft-scheduler [--config FILE] [--listen ADDR] [--port N] [--state-dir DIR]\n"
    "                      [--dev-tls | --plain-http] [--heartbeat-ms N] [--log-level L]\n"
    "\n"
    "The regional scheduler: OpenAI-compatible HTTPS API for developers, the node\n"
    "API for home nodes, durable jobs and token-exact failover.\n"
    "Flags override the config file. --dev-tls makes a self-signed certificate in\n"
    "the state directory; --plain-http is allowed only on loopback.\n";

static void stop_sched(void *arg, void (*done)(void *), void *done_arg)
{
    sched_stop(arg, done, done_arg);
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "weft-scheduler: %s: expected a whole number %d..%d, got \"%s\"\n", flag,
                lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weft-scheduler", usage))
        return 0;
    struct sched_config cfg;
    sched_config_default(&cfg);
    char err[WEFT_CONFIG_ERR_MAX];
    /* The config file first, so flags can override it. */
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 &&
            weft_config_load_file(argv[i + 1], &sched_config_schema, &cfg, err, sizeof err)) {
            fprintf(stderr, "weft-scheduler: %s\n", err);
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(f, "--dev-tls") == 0) {
            cfg.dev_tls = true;
            takes = 0;
        } else if (strcmp(f, "--plain-http") == 0) {
            cfg.plain_http = true;
            takes = 0;
        } else if (!v) {
            fprintf(stderr, "weft-scheduler: %s needs a value (or is unknown)\n%s", f, usage);
            return 2;
        } else if (strcmp(f, "--config") == 0) {
        } else if (strcmp(f, "--listen") == 0) {
            snprintf(cfg.listen, sizeof cfg.listen, "%s", v);
        } else if (strcmp(f, "--port") == 0) {
            if (parse_int(f, v, 0, 65535, &cfg.port))
                return 2;
        } else if (strcmp(f, "--state-dir") == 0) {
            snprintf(cfg.state_dir, sizeof cfg.state_dir, "%s", v);
        } else if (strcmp(f, "--heartbeat-ms") == 0) {
            if (parse_int(f, v, 50, 600000, &cfg.heartbeat_ms))
                return 2;
        } else if (strcmp(f, "--log-level") == 0) {
            snprintf(cfg.log_level, sizeof cfg.log_level, "%s", v);
        } else {
            fprintf(stderr, "weft-scheduler: unknown option %s\n%s", f, usage);
            return 2;
        }
        i += takes;
    }
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
