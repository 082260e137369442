/* The part every Weft daemon's main() shares: tell systemd it is ready,
 * ping the watchdog from the loop, turn SIGINT/SIGTERM into one orderly
 * stop, run the loop until everything has closed.
 *
 * Ownership: the caller owns the loop; weft_daemon_run() adds its own
 * handles and closes them before it returns. Loop thread only.
 */
#ifndef WEFT_DAEMON_H
#define WEFT_DAEMON_H

#include <uv.h>

struct weft_log;

/* Begins the daemon's stop; calls done(done_arg) once everything of the
 * daemon has closed. Called at most once. */
typedef void (*weft_daemon_stop_fn)(void *arg, void (*done)(void *), void *done_arg);

/* Sends READY=1, runs the loop until a signal has stopped the daemon and
 * its handles are closed, then closes the loop. Returns 0, or 1 when the
 * loop could not close (a handle leaked). */
int weft_daemon_run(uv_loop_t *loop, const struct weft_log *log, weft_daemon_stop_fn stop,
                    void *arg);

#endif /* WEFT_DAEMON_H */
