/* weftd: the home node daemon (docs/node.md). Reads its configuration,
 * loads its models, and serves the scheduler whenever the home's energy
 * allows, until SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "weft/config.h"
#include "weft/log.h"
#include "weft/node.h"
#include "weft/sdnotify.h"
#include "weft/version.h"

static const char usage[] =
    "usage: weftd [--config FILE]        (default /etc/weft/weftd.json)\n"
    "       weftd --check-config FILE\n"
    "\n"
    "The Weft home node: reads the home's inverter, meter and battery over Modbus,\n"
    "and runs inference for the regional scheduler only when the energy policy\n"
    "gives it a power budget. Every setting: docs/node.md.\n";

struct app {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    uv_timer_t watchdog;
    struct weftd *node;
    struct weft_log log;
    int stopping;
};

static void on_stopped(void *arg)
{
    struct app *a = arg;
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
    uv_close((uv_handle_t *)&a->watchdog, NULL);
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct app *a = h->data;
    if (a->stopping)
        return;
    a->stopping = 1;
    weft_log_notice(&a->log, "signal %d: stopping", sig);
    weft_sd_notify("STOPPING=1");
    weftd_stop(a->node, on_stopped, a);
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    weft_sd_notify("WATCHDOG=1");
}

static int load(const char *path, struct weftd_config *cfg)
{
    char err[WEFT_CONFIG_ERR_MAX];
    weftd_config_default(cfg);
    if (weft_config_load_file(path, &weftd_config_schema, cfg, err, sizeof err) != 0 ||
        weftd_config_check(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "weftd: %s%s%s\n", strstr(err, path) ? "" : path,
                strstr(err, path) ? "" : ": ", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (weft_cli_standard(argc, argv, "weftd", usage))
        return 0;
    const char *path = "/etc/weft/weftd.json";
    if (argc == 3 && strcmp(argv[1], "--check-config") == 0) {
        struct weftd_config cfg;
        if (load(argv[2], &cfg) != 0)
            return 1;
        printf("weftd: %s is valid (%d scheduler URL%s, %d model%s, energy from %s)\n", argv[2],
               cfg.scheduler.n_urls, cfg.scheduler.n_urls == 1 ? "" : "s", cfg.n_models,
               cfg.n_models == 1 ? "" : "s", cfg.energy.modbus);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--config") == 0) {
        path = argv[2];
    } else if (argc != 1) {
        fputs(usage, stderr);
        return 2;
    }
    struct weftd_config cfg;
    if (load(path, &cfg) != 0)
        return 2;
    struct app a;
    memset(&a, 0, sizeof a);
    weft_log_init(&a.log, "weftd", 2);
    int lvl = weft_log_parse_level(cfg.log_level);
    if (lvl < 0) {
        fprintf(stderr, "weftd: unknown log level \"%s\"\n", cfg.log_level);
        return 2;
    }
    a.log.level = lvl;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&a.loop);
    char err[512];
    if (weftd_start(&a.node, &a.loop, &cfg, &a.log, err, sizeof err) != 0) {
        fprintf(stderr, "weftd: %s\n", err);
        uv_run(&a.loop, UV_RUN_NOWAIT);
        uv_loop_close(&a.loop);
        return 1;
    }
    uv_signal_init(&a.loop, &a.sigint);
    uv_signal_init(&a.loop, &a.sigterm);
    a.sigint.data = a.sigterm.data = &a;
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);
    uv_timer_init(&a.loop, &a.watchdog);
    uint64_t wd = weft_sd_watchdog_usec();
    if (wd)
        uv_timer_start(&a.watchdog, on_watchdog, wd / 2000, wd / 2000);
    weft_sd_notify("READY=1\nSTATUS=serving");
    /* Scripts read the status port from this line (status.port 0). */
    printf("weftd: status on port %d\n", weftd_status_port(a.node));
    fflush(stdout);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&a.loop);
    if (rc != 0)
        weft_log_error(&a.log, "loop closed with handles open: %s", uv_strerror(rc));
    return rc == 0 ? 0 : 1;
}
