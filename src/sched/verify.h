/* Verified results (verify.c), BOINC's adaptive replication for homes
 * nobody vouches for: a sampled fraction of the jobs each node finishes
 * is run again, with the same seed, on another node of its backend class,
 * and the tokens compared; two that disagree are settled by a third; a
 * canary (a prompt whose answer is known) goes to each node now and
 * then. Each check moves the node's trust, (right + 1) / (right + 1 +
 * bad_weight * wrong); below min_trust the node is quarantined: it gets
 * no work until an operator lifts it (weftctl nodes trust NAME --reset).
 * Trust is kept in the store, so a restart keeps the quarantine.
 * Verification runs are deferrable: they run on surplus like any job.
 * Loop thread only. */
#ifndef WEFT_SCHED_VERIFY_H
#define WEFT_SCHED_VERIFY_H

#include "internal.h"

/* Set as s->on_finished when verification is on: a job finished well. */
void sched_verify_finished(struct sched *s, const struct sched_job *j);
/* A node said hello: its trust as the store keeps it. */
void sched_verify_load(struct sched *s, struct sched_node *n);
/* Each tick: every few seconds, quarantined nodes' trust is read again
 * from the store, so that an operator's reset (weftctl) takes effect. */
void sched_verify_tick(struct sched *s, uint64_t now);
/* The node's trust score, 0..1. */
double sched_verify_trust(const struct sched *s, const struct sched_node *n);

#endif /* WEFT_SCHED_VERIFY_H */
