/* weftd: the home node daemon (docs/node.md). Reads its configuration,
 * loads its models, and serves the scheduler whenever the home's energy
 * allows, until SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "weft/cli.h"
#include "weft/config.h"
#include "weft/error.h"
#include "weft/daemon.h"
#include "weft/log.h"
#include "weft/node.h"
#include "weft/version.h"

static const char usage[] =
    "usage: weftd [--config FILE]        (default /etc/weft/weftd.json)\n"
    "       weftd --check-config FILE\n"
    "\n"
    "The Weft home node: reads the home's inverter, meter and battery over Modbus,\n"
    "and runs inference for the regional scheduler only when the energy policy\n"
    "gives it a power budget. Every setting: docs/node.md.\n";

static void stop_node(void *arg, void (*done)(void *), void *done_arg)
{
    weftd_stop(arg, done, done_arg);
}

static int load(const char *path, struct weftd_config *cfg)
{
    char err[WEFT_CONFIG_ERR_MAX];
    weftd_config_default(cfg);
    if (weft_config_load_file(path, &weftd_config_schema, cfg, err, sizeof err) != 0 ||
        weftd_config_check(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "weftd: %s%s%s\n", strstr(err, path) ? "" : path,
                strstr(err, path) ? "" : ": ", err);
        return WEFT_ECONFIG;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weftd", usage))
        return 0;
    const char *path = "/etc/weft/weftd.json", *check = NULL;
    const struct weft_opt opts[] = {
        WEFT_OPTS("--config", &path),
        WEFT_OPTS("--check-config", &check),
        WEFT_OPT_END,
    };
    char err[512];
    if (weft_opts_parse(argc - 1, argv + 1, opts, NULL, 0, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "weftd: %s\n%s", err, usage);
        return 2;
    }
    if (check) {
        struct weftd_config cfg;
        if (load(check, &cfg) != 0)
            return 1;
        printf("weftd: %s is valid (%d scheduler URL%s, %d model%s, energy from %s)\n", check,
               cfg.scheduler.n_urls, cfg.scheduler.n_urls == 1 ? "" : "s", cfg.n_models,
               cfg.n_models == 1 ? "" : "s", cfg.energy.modbus);
        return 0;
    }
    struct weftd_config cfg;
    if (load(path, &cfg) != 0)
        return 2;
    struct weft_log log;
    weft_log_init(&log, "weftd", 2);
    int lvl = weft_log_parse_level(cfg.log_level);
    if (lvl < 0) {
        fprintf(stderr, "weftd: unknown log level \"%s\"\n", cfg.log_level);
        return 2;
    }
    log.level = lvl;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct weftd *node;
    if (weftd_start(&node, &loop, &cfg, &log, err, sizeof err) != 0) {
        fprintf(stderr, "weftd: %s\n", err);
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_loop_close(&loop);
        return 1;
    }
    /* Scripts read the status port from this line (status.port 0). */
    printf("weftd: status on port %d\n", weftd_status_port(node));
    fflush(stdout);
    return weft_daemon_run(&loop, &log, stop_node, node);
}
