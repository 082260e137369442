/* The local status endpoint (status.c): GET /status on loopback, plain
 * HTTP (it never leaves the machine), read by `weftctl node status`. It
 * reads every module's state and changes none. Loop thread only. */
#ifndef WEFT_NODE_STATUS_H
#define WEFT_NODE_STATUS_H

#include <stddef.h>

struct weftd;

/* Binds cfg.status (nothing when its listen is ""): 0, or a code with err. */
int node_status_start(struct weftd *d, char *err, size_t errcap);
/* Closes it; cb(arg) after (at once when there is none). */
void node_status_stop(struct weftd *d, void (*cb)(void *), void *arg);

#endif /* WEFT_NODE_STATUS_H */
