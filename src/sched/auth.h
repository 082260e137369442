/* Who is calling: developer API keys with their rate and concurrency
 * limits, and node tokens. Every check goes through a cache of recent
 * answers (a second), so a node that polls, heartbeats and uploads several
 * times a second costs one store lookup a second, not one a request.
 * Loop thread only. */
#ifndef WEFT_SCHED_AUTH_H
#define WEFT_SCHED_AUTH_H

#include <stddef.h>

#include "internal.h"

/* The request's API key, within its rate: 0 with info filled; otherwise
 * the request has been answered (401, 429 or 503) and the return is
 * WEFT_EAUTH, WEFT_ELIMIT or WEFT_ENOMEM. */
int sched_auth_key(struct sched *s, struct weft_http_req *req, struct weft_key_info *info);

/* One of the key's concurrency slots for a request that stays open:
 * 0, or answered with 429 and WEFT_ELIMIT. Each slot taken is released
 * once with sched_auth_slot_release. */
int sched_auth_slot_take(struct sched *s, struct weft_http_req *req,
                         const struct weft_key_info *info);
void sched_auth_slot_release(struct sched *s, const char *key_id);
/* At the headers, before a body is read: is there a credential of the
 * kind (node: a node token; else an API key) and is it valid? No rate or
 * slot is taken (the full check runs with the request). 0, or answered
 * with 401 and WEFT_EAUTH. */
int sched_auth_peek(struct sched *s, struct weft_http_req *req, int node);

/* The request's node token: 0 with the node's name, or answered with 401
 * and WEFT_EAUTH. */
int sched_auth_node(struct sched *s, struct weft_http_req *req, char *name, size_t cap);

/* Frees the keys' limit state (at stop). */
void sched_auth_free(struct sched *s);

#endif /* WEFT_SCHED_AUTH_H */
