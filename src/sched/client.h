/* The client side of a job (client.c): what a developer's connection
 * sees. OpenAI chat and text completions, whole or streamed as server-sent
 * events, and errors in OpenAI's shape, in the stream when it has begun.
 * It is what core.c reports a job's progress to (sched_client_events).
 * Loop thread only. */
#ifndef WEFT_SCHED_CLIENT_H
#define WEFT_SCHED_CLIENT_H

#include "internal.h"

/* For sched_core_init: tokens go out as they come, the end answers or
 * ends the stream, and a job without a client gets its completion object
 * back for the store. */
extern const struct sched_job_events sched_client_events;

/* req becomes j's client: its hang-up cancels the job, and a streamed
 * request's headers go out now. A concurrency slot the request holds
 * (j->holds_slot) is released when the client is done with. */
void sched_client_begin(struct sched *s, struct sched_job *j, struct weft_http_req *req);

/* req becomes the client of the n jobs of one request for n choices
 * (jobs[i] is choice i, in no list yet): its hang-up cancels them all, one
 * failing fails the request, and the answer goes out when the last is
 * done. The group holds the request's concurrency slot when holds_slot.
 * 0, or WEFT_ENOMEM (nothing changed). */
int sched_client_begin_group(struct sched *s, struct sched_job **jobs, int n,
                             struct weft_http_req *req, int holds_slot);

/* req becomes the client of job j, already under way (GET
 * /v1/jobs/{id}/stream?after=N): it is sent j's text from token `after` on
 * as one event, then the rest as it comes. A client j had is ended: the
 * newest reader wins. */
void sched_client_resume(struct sched *s, struct sched_job *j, struct weft_http_req *req,
                         int after);
/* A finished job read again: its text from token `after`, then its end
 * (finish: "stop" or "length"). j is in no list; the caller frees it. */
void sched_client_replay(struct sched *s, struct sched_job *j, struct weft_http_req *req, int after,
                         const char *finish);

#endif /* WEFT_SCHED_CLIENT_H */
