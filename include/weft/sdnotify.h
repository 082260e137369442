/* systemd's notify protocol: one datagram to $NOTIFY_SOCKET.
 *
 * Daemons send "READY=1" once their config is loaded and their sockets
 * bound, "WATCHDOG=1" from a loop timer at half of $WATCHDOG_USEC (so a
 * stuck loop stops the pings and systemd restarts the service) and
 * "STOPPING=1" when they begin to shut down. Outside systemd
 * ($NOTIFY_SOCKET unset) every call is a no-op that returns 0.
 *
 * Thread-safety: reentrant; reads the environment, keeps no state.
 */
#ifndef WEFT_SDNOTIFY_H
#define WEFT_SDNOTIFY_H

#include <stdint.h>

/* Sends `state` ("READY=1", "STATUS=...\nWATCHDOG=1"...). 0, or a negative
 * code when the socket exists and the send failed. */
int weft_sd_notify(const char *state);

/* The watchdog interval systemd expects, in microseconds, when
 * $WATCHDOG_USEC is set for this process ($WATCHDOG_PID absent or ours);
 * otherwise 0. */
uint64_t weft_sd_watchdog_usec(void);

#endif /* WEFT_SDNOTIFY_H */
