/* The local status endpoint (status.c), on loopback, plain HTTP (it never
 * leaves the machine): GET /status (read by `weftctl node status`), GET
 * /history (the last day, a minute a point), the homeowner's page at /
 * (page.h), and POST /control, the page's pause and cap, which go through
 * daemon.c's glue (weftd_control). Every request must name this machine
 * in Host; /control also needs the secret in state_dir/control.secret and
 * no foreign Origin. Loop thread only. */
#ifndef WEFT_NODE_STATUS_H
#define WEFT_NODE_STATUS_H

#include <stddef.h>

struct weftd;

/* Binds cfg.status (nothing when its listen is ""): 0, or a code with err. */
int node_status_start(struct weftd *d, char *err, size_t errcap);
/* Closes it; cb(arg) after (at once when there is none). */
void node_status_stop(struct weftd *d, void (*cb)(void *), void *arg);

#endif /* WEFT_NODE_STATUS_H */
