/* The shared daemon skeleton; see include/weft/daemon.h. */
#include "weft/daemon.h"

#include <signal.h>
#include <string.h>

#include "weft/log.h"
#include "weft/sdnotify.h"

struct daemon {
    uv_signal_t sigint, sigterm;
    uv_timer_t watchdog;
    const struct weft_log *log;
    weft_daemon_stop_fn stop;
    void *arg;
    int stopping;
};

static void on_stopped(void *arg)
{
    struct daemon *d = arg;
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->watchdog, NULL);
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct daemon *d = h->data;
    if (d->stopping)
        return;
    d->stopping = 1;
    weft_log_notice(d->log, "signal %d: stopping", sig);
    weft_sd_notify("STOPPING=1");
    d->stop(d->arg, on_stopped, d);
}

/* Pinged from the loop itself: if the loop stalls, the pings stop and
 * systemd restarts the service. */
static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    weft_sd_notify("WATCHDOG=1");
}

int weft_daemon_run(uv_loop_t *loop, const struct weft_log *log, weft_daemon_stop_fn stop,
                    void *arg)
{
    struct daemon d;
    memset(&d, 0, sizeof d);
    d.log = log;
    d.stop = stop;
    d.arg = arg;
    uv_signal_init(loop, &d.sigint);
    uv_signal_init(loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_timer_init(loop, &d.watchdog);
    uint64_t wd = weft_sd_watchdog_usec();
    if (wd)
        uv_timer_start(&d.watchdog, on_watchdog, wd / 2000, wd / 2000);
    weft_sd_notify("READY=1\nSTATUS=serving");
    uv_run(loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(loop);
    if (rc != 0)
        weft_log_error(log, "loop closed with handles open: %s", uv_strerror(rc));
    return rc == 0 ? 0 : 1;
}
