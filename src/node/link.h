/* The scheduler link (link.c): the node API as the node speaks it, over
 * the HTTPS client of src/net. The node dials out only: hello, then a
 * heartbeat every heartbeat_ms, a long poll for work when its owner asks,
 * and for a job one chunked upload of its events, read from the job as the
 * runner writes them. Any transport failure takes the link down; it comes
 * back through the next scheduler URL after a jittered exponential backoff
 * (0.5 s up to 30 s). What an assignment or a cancel means is the owner's,
 * told through callbacks. Loop thread only. */
#ifndef WEFT_NODE_LINK_H
#define WEFT_NODE_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "job.h"
#include "weft/list.h"
#include "weft/node.h"
#include "weft/nodemsg.h"

struct weft_http_client;
struct weft_log;

enum node_link_state { NODE_LINK_DOWN, NODE_LINK_HELLO, NODE_LINK_LIVE };

struct node_link_cb {
    /* The scheduler answered hello: polls may start. */
    void (*live)(void *ud);
    /* Fills what the next heartbeat says (the link adds nothing). */
    void (*heartbeat)(void *ud, struct weft_heartbeat *hb);
    /* A poll brought an assignment (not yet parsed). */
    void (*assignment)(void *ud, const char *body, size_t len);
    /* A poll ended with or without work: the owner may poll again. */
    void (*poll_done)(void *ud);
    /* The scheduler moved a job away that the node still runs. */
    void (*cancel)(void *ud, const char *job_id);
    /* A job's upload ended: ok when the scheduler took all of it; status
     * is the HTTP status, 0 when the scheduler could not be reached or
     * the connection broke. */
    void (*upload_done)(void *ud, struct node_job *job, int ok, long status, const char *why);
    void *ud;
};

struct node_link {
    uv_loop_t *loop;
    const struct weftd_sched_cfg *cfg;
    const struct weft_log *log;
    struct node_link_cb cb;
    struct weft_hello hello; /* what the node says it is */
    struct weft_http_client *http;
    struct weft_list calls; /* the link's calls in flight (link.c) */
    uv_timer_t hb_timer;
    uv_timer_t retry_timer;
    enum node_link_state state;
    int url_idx;
    uint64_t backoff_ms;
    int poll_in_flight;
    int heartbeat_ms;
    char error[256]; /* why it is down, "" when live */
    /* This process's session with the scheduler: random, sent with every
     * call, so that a second weftd with the same token is told apart. */
    char session[33];
    uint64_t since_ms; /* live since */
    int stopping;
    int pending_closes;
    void (*close_cb)(void *);
    void *close_arg;
};

/* The client and the timers; err says why when it fails. */
int node_link_init(struct node_link *l, uv_loop_t *loop, const struct weftd_sched_cfg *cfg,
                   const struct weft_log *log, const struct weft_hello *hello,
                   const struct node_link_cb *cb, char *err, size_t errcap);
/* Says hello. */
void node_link_start(struct node_link *l);
/* Live, and no poll in flight. */
int node_link_can_poll(const struct node_link *l);
/* Whether a scheduler has answered our hello and not failed us since. */
int node_link_is_live(const struct node_link *l);
void node_link_poll(struct node_link *l);
/* Starts job's upload: 0, or WEFT_ENOMEM (nothing started). */
int node_link_upload(struct node_link *l, struct node_job *job);
/* The job has new events: a paused upload goes on. */
void node_link_upload_wake(struct node_link *l, struct node_job *job);
/* Cancels every call (an upload's job is marked uploaded) and stops the
 * timers; nothing more is sent. */
void node_link_stop(struct node_link *l);
/* After node_link_stop: closes the handles; cb(arg) after. */
void node_link_close(struct node_link *l, void (*cb)(void *), void *arg);

const char *node_link_url(const struct node_link *l);
const char *node_link_state_name(const struct node_link *l);

#endif /* WEFT_NODE_LINK_H */
