/* The runner (runner.c): the engine on a thread of its own, up to
 * max_slots jobs at a time, stepped together (continuous batching). The
 * loop hands a job over with node_runner_give(); the runner
 * writes the job's events into job->out and wakes the loop through a
 * uv_async (sends coalesce), whose callback is on_events. The loop never
 * touches a model or a session; the runner never touches the network.
 * Every function here is for the loop thread; the runner thread reads
 * only the atomics and the job it was given. */
#ifndef WEFT_NODE_RUNNER_H
#define WEFT_NODE_RUNNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "job.h"
#include "weft/chat.h"
#include "weft/infer.h"
#include "weft/node.h"

/* A model the node serves, loaded by the daemon before the runner starts
 * and freed after it has stopped. */
struct node_model {
    struct weft_model *model;
    char name[128];
    enum weft_chat_template tpl;
};

struct node_runner {
    const struct weftd_compute_cfg *cfg;
    const struct node_model *models;
    int n_models;
    void (*on_events)(void *ud); /* loop: a job has new events */
    void *ud;
    uv_async_t wake;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int max_slots;                              /* jobs at once (set before start) */
    struct node_job *incoming[WEFTD_MAX_SLOTS]; /* handed over, not yet taken (under mu) */
    int n_incoming;                             /* under mu */
    int quit;                                   /* under mu */
    atomic_int running;                         /* jobs the runner holds (its thread writes it) */
    atomic_int peak;                            /* the most jobs one step advanced together */
    atomic_long budget_mw;                      /* the duty cycle follows it */
    atomic_int gpu_limited;                     /* the GPU's own limit does: no duty cycle */
    void (*close_cb)(void *);
    void *close_arg;
};

/* The wake-up handle; no thread yet. */
int node_runner_init(struct node_runner *r, uv_loop_t *loop, const struct weftd_compute_cfg *cfg,
                     const struct node_model *models, int n_models, void (*on_events)(void *),
                     void *ud);
/* The thread (named weftd-runner). 0 or WEFT_ENOMEM. */
int node_runner_start(struct node_runner *r);
/* job joins the running ones at the next step. The loop gives no more
 * than max_slots at once; one past that ends at once with the reason. */
void node_runner_give(struct node_runner *r, struct node_job *job);
void node_runner_set_budget(struct node_runner *r, double watts, int gpu_limited);
/* Ends the thread once its jobs have ended (set their cancel first to end
 * them at the next step) and joins it. */
void node_runner_stop(struct node_runner *r);
/* Closes the wake-up handle; cb(arg) after. */
void node_runner_close(struct node_runner *r, void (*cb)(void *), void *arg);

#endif /* WEFT_NODE_RUNNER_H */
