/* The scheduler's hold on its durable jobs in the store (lease.c): what
 * lets several schedulers share one region's jobs, and lets one restart
 * without losing any.
 *
 * Each cycle (a fifth of store_lease_ms; at once when another scheduler
 * signals through the store) it records outcomes the store missed,
 * journals the tokens jobs have produced since the last cycle, renews
 * this scheduler's leases and forgets the jobs it no longer holds
 * (finished, cancelled or claimed elsewhere). With a shared store it also
 * gives back queued jobs it cannot place soon and claims lapsed or
 * released ones that its own nodes can run, up to their free slots.
 * Loop thread only. */
#ifndef WEFT_SCHED_LEASE_H
#define WEFT_SCHED_LEASE_H

#include "internal.h"

/* A stored job back into memory, with its journal as the resume point:
 * at submission, after a restart and when claimed. 0, WEFT_ENOMEM, or
 * WEFT_EINVAL with e filled (the stored request no longer parses). */
int sched_job_from_row(struct sched *s, const struct weft_job_row *r, struct sched_job **out,
                       struct weft_oai_err *e);
/* After the server is up: names this scheduler in the store, claims what
 * a restart resumes, watches the store for signals. Returns the jobs
 * taken back. */
int sched_lease_start(struct sched *s);
/* A job just accepted here: with a shared store, one that no node here
 * can run goes back to the store at once for a scheduler whose nodes can. */
void sched_lease_offer(struct sched *s, struct sched_job *j);
/* GET /v1/jobs/{id}/stream?after=N for a stream not in memory here:
 * claims it (at once when its lease was given back or lapsed, else within
 * a few leases) and makes req its client, or replays it when it finished,
 * or answers 503. */
void sched_lease_resume(struct sched *s, struct weft_http_req *req, const char *id, int after);
/* A finished job read as a stream from token after: 0, or WEFT_ENOENT
 * when it cannot be (no journal to place token after; nothing answered). */
int sched_lease_replay(struct sched *s, struct weft_http_req *req, const struct weft_job_row *row,
                       int after);
/* Node n says it runs job id, which is not its job here (its scheduler
 * died; it heartbeats or uploads to this one now): 1 when n's job now (a
 * job queued here, or claimed from the store once its lease lapsed), 0
 * when another scheduler still holds it (ask again), WEFT_ENOENT when it
 * is finished, unknown or someone else's, < 0 when the store cannot say. */
int sched_lease_adopt(struct sched *s, struct sched_node *n, const char *id);
/* The lease cycle, when due (called from the tick). */
void sched_lease_tick(struct sched *s, uint64_t now);
/* At an orderly stop: journals what it can, gives every lease back and
 * signals the other schedulers, so they take over at once. */
void sched_lease_stop(struct sched *s);

#endif /* WEFT_SCHED_LEASE_H */
