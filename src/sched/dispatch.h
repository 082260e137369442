/* Matching a request to its row of routes.h, checking its caller and
 * calling its handler (dispatch.c): the scheduler's HTTP handler. Loop
 * thread only. */
#ifndef WEFT_SCHED_DISPATCH_H
#define WEFT_SCHED_DISPATCH_H

#include <stddef.h>

#include "internal.h"

/* The route of method + path (SCHED_R_other when none), the pattern's {id}
 * into id[cap] ("" when it does not fit). *path_known (may be NULL) says
 * whether some route has this path, for 405 against 404. */
enum sched_route sched_route_match(const char *method, const char *path, char *id, size_t cap,
                                   int *path_known);
/* "chat_completions"...; "other" for SCHED_R_other. */
const char *sched_route_name(enum sched_route r);
int sched_route_flags(enum sched_route r);

/* struct weft_http_handler's on_headers and on_request (ud: the sched). */
int sched_dispatch_headers(struct weft_http_req *req, void *ud);
void sched_dispatch_request(struct weft_http_req *req, void *ud);

#endif /* WEFT_SCHED_DISPATCH_H */
