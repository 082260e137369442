/* The scheduler's state machine (core.c): nodes, jobs, placement,
 * failover and the nodes' token streams. It answers nodes itself (their
 * polls and uploads) and reports what becomes of a job through
 * s->events; it never calls the client side or the routes. Loop thread
 * only. */
#ifndef WEFT_SCHED_CORE_H
#define WEFT_SCHED_CORE_H

#include "internal.h"

/* Empty lists; events (borrowed for the scheduler's life) hears what
 * becomes of each job. */
void sched_core_init(struct sched *s, const struct sched_job_events *events);
/* Frees every job and node (at stop; nothing is answered). */
void sched_core_free(struct sched *s);

/* ---- nodes ---- */
struct sched_node *sched_node_find(struct sched *s, const char *name);
/* Finds or creates (NULL when out of memory). */
struct sched_node *sched_node_get(struct sched *s, const char *name);
/* Jobs the node takes at once now: its heartbeat's offer, within its hello's
 * max_concurrency. */
int sched_node_slots(const struct sched_node *n);
/* The node said hello: it is live; jobs it held before are lost. */
void sched_node_hello(struct sched *s, struct sched_node *n);
/* The node is gone (silent: its lease ran out, else its connection
 * closed); its jobs go back to the queue. */
void sched_node_dead(struct sched *s, struct sched_node *n, int silent, const char *why);
/* Parks the node's GET /v1/node/work for up to wait_s (answered with an
 * assignment, or 204 at the end). */
void sched_node_park_poll(struct sched *s, struct sched_node *n, struct weft_http_req *req,
                          int wait_s);
/* Whether a live node holds the model. */
int sched_model_available(struct sched *s, const char *model);
/* Whether every live node holding model renders it with a template that
 * has tool support (1 when none holds it). */
int sched_model_tools(struct sched *s, const char *model);
/* Whether a request's prompt needs a template with tool support: tools on
 * offer, or tool calls and results in its conversation. */
int sched_req_uses_tools(const struct weft_oai_req *r);
/* The template (enum weft_chat_template) of a live node holding model;
 * WEFT_TPL_RAW when none does. */
int sched_model_template(struct sched *s, const char *model);
/* A node's backend class: its hello's hardware up to the first comma
 * ("CPU", "CUDA"). */
void sched_backend_class(const char *hardware, char *out, size_t cap);
int sched_nodes_live(struct sched *s);

/* ---- jobs ---- */
/* A job with a fresh id (prefix + 24 hex digits), or NULL. */
struct sched_job *sched_job_new(const char *id_prefix);
/* Frees a job that is in no list (also one whose request never parsed). */
void sched_job_free(struct sched_job *job);
/* Frees a verification run's record (NULL: nothing); sched_job_free does
 * it for a job's own. */
void sched_check_free(struct sched_check *c);
struct sched_job *sched_job_find(struct sched *s, const char *id);
/* Jobs of the jobs API (durable ones) that key_id has queued or running. */
int sched_jobs_of_key(struct sched *s, const char *key_id);
/* A fresh sampling seed (63 bits). */
uint64_t sched_seed_new(void);
/* Queues a job (ownership passes to the scheduler) and places what can be
 * placed. */
void sched_job_submit(struct sched *s, struct sched_job *job);
/* Drops a job whose client is gone or whose owner cancelled it (its
 * client, if any, was detached first). */
void sched_job_cancel(struct sched *s, struct sched_job *job, const char *why);
/* Room for cap tokens (and their lengths); 0 or WEFT_ENOMEM. */
int sched_job_grow(struct sched_job *j, int cap);
/* Where token n's text starts in j->text (the text of tokens 0..n-1). */
size_t sched_job_text_at(const struct sched_job *j, int n);
/* Journals the tokens a durable job has made since its last journal. */
int sched_job_journal(struct sched *s, struct sched_job *j);
/* Node n runs job j already (its scheduler died and it re-attached): j,
 * queued here or in no list, becomes n's running job, its upload awaited. */
void sched_job_adopt(struct sched *s, struct sched_job *j, struct sched_node *n);
/* A resumable stream whose client went away: journaled, its lease given
 * back for a resume on any scheduler (cancelled when the store cannot). */
void sched_job_abandon(struct sched *s, struct sched_job *j);
/* Forgets a job another scheduler holds now (or that was finished
 * elsewhere): its node is told, a client is told where to resume, nothing
 * is recorded. */
void sched_job_drop(struct sched *s, struct sched_job *j, const char *why);
/* Outcomes waiting for the store (a stream's, and any the store could not
 * take when its job ended), oldest first: written by lease.c in each
 * cycle's transaction. Returns how many were written, or the first error;
 * sched_outcomes_forget() drops that many once the transaction commits. */
int sched_outcomes_write(struct sched *s);
void sched_outcomes_forget(struct sched *s, int n);
/* Hands queued jobs to parked polls that can take them. */
void sched_dispatch(struct sched *s);
/* The tick: silent nodes, ended polls, deadlines. */
void sched_tick(uv_timer_t *t);

/* ---- a node's token upload for a job ---- */
/* At the upload's headers: 0, or the status to refuse it with (404: not
 * this node's job; 409: it has an upload already; 503). */
int sched_stream_open(struct sched *s, struct sched_node *n, struct sched_job *job,
                      struct weft_http_req *req);
/* The upload's body ended: answers it. */
void sched_stream_complete(struct sched *s, struct weft_http_req *req);

#endif /* WEFT_SCHED_CORE_H */
