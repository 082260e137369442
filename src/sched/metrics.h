/* The access log and the counters behind /metrics (metrics.c; the route
 * itself is sched_h_metrics in api.h). Loop thread only. */
#ifndef WEFT_SCHED_METRICS_H
#define WEFT_SCHED_METRICS_H

#include "internal.h"

/* struct weft_http_handler's on_done (ud: the sched): counts the response
 * by route and status, times it, and logs it. */
void sched_metrics_on_done(const struct weft_http_req *req, int status, void *ud);

#endif /* WEFT_SCHED_METRICS_H */
