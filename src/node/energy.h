/* The node's energy loop (energy.c): every poll_ms a Modbus read on
 * libuv's thread pool, then, back on the loop, the reading, the policy
 * step and the GPU's power limit; NVML's view of the GPU; the draw compute
 * makes. What the rest of the node does about a new budget (the ledger,
 * a yield, a poll for work) is its owner's, told through two callbacks.
 * Loop thread only, except the fields the work callback fills (marked). */
#ifndef WEFT_NODE_ENERGY_H
#define WEFT_NODE_ENERGY_H

#include <stdint.h>
#include <uv.h>

#include "nvml.h"
#include "weft/dayahead.h"
#include "weft/energy.h"
#include "weft/forecast.h"
#include "weft/node.h"
#include "weft/sunspec.h"

struct weft_log;
struct weft_modbus;

struct node_energy_cb {
    /* A poll ended the interval that ran at e->compute_w: account it. */
    void (*interval_end)(void *ud);
    /* The policy stepped: e->pout holds the new budget. */
    void (*stepped)(void *ud);
    void *ud;
};

/* The last day, a minute a sample (means over the minute), for the
 * homeowner's chart. */
#define NODE_RECENT 1440
struct node_recent {
    int64_t t_s;                                  /* the minute's end, Unix seconds */
    float pv_w, load_w, soc, compute_w, budget_w; /* NAN: not read that minute */
};

struct node_energy {
    uv_loop_t *loop;
    const struct weftd_energy_cfg *cfg;
    const struct weftd_compute_cfg *compute;
    const struct weft_log *log;
    struct weft_policy_settings ps;
    struct node_energy_cb cb;
    int running; /* a job holds the node (the draw estimate) */
    int stopping;
    /* The poll. */
    uv_timer_t timer;
    uv_work_t work;
    int busy; /* a read is on the thread pool */
    /* The work callback's (on the pool thread while busy). */
    struct weft_modbus *mb;
    int mb_discovered;
    struct weft_sunspec_map map;
    struct weft_energy_sample last_vals; /* Weft's signs */
    double write_w;                      /* the draw to write to compute_register */
    int last_rc;
    char last_err[256];
    struct weft_regmap regmap; /* layouts victron and custom; read-only after start */
    /* The loop's. */
    uint64_t mb_retry_ms; /* monotonic time of the next connect attempt */
    uint64_t mb_backoff_ms;
    char error[256]; /* the device's last error, shown on the status page */
    struct weft_energy_reading reading;
    struct weft_policy policy;
    struct weft_policy_out pout;
    uint64_t last_poll_ms;
    double compute_w; /* the draw now: NVML's, or the estimate */
    /* NVML (nvml.c): the GPU's measured draw and, when allowed, its limit. */
    _Alignas(void *) unsigned char nvml[NODE_NVML_SIZE];
    char nvml_note[128];
    double gpu_w;    /* measured, or -1 */
    int gpu_limited; /* the GPU's limit follows the budget */
    /* The battery plan (energy.forecast.provider other than off): the
     * home's own history, learnt from every good poll, and the day-ahead
     * PV the owner hands over (node_energy_set_dayahead; borrowed). */
    int planning;
    struct weft_forecast history;
    const struct weft_dayahead *dayahead;
    struct weft_clearsky *clearsky; /* owned; NULL without a configured site */
    double clear_ratio;             /* what recent days made of their clear sky (status) */
    struct weft_plan plan;
    struct weft_plan_input plan_in;
    uint64_t plan_ms;  /* when the plan was made; 0 never */
    uint64_t saved_ms; /* when the history was last written to state_dir */
    int budget_s;      /* how long the plan expects the budget to last at max_compute_w */
    /* The homeowner's overrides, applied over the policy's budget at each
     * step (node_energy_set_override): paused; a cap (< 0: none); a
     * higher-ranked load (evcc) that compute yields to, and why. */
    int paused;
    double max_w;
    int yield;
    char yield_why[96];
    /* The chart's ring (node_energy_recent), oldest at recent_head. */
    struct node_recent recent[NODE_RECENT];
    int n_recent, recent_head;
    uint64_t recent_ms;   /* when the minute being summed began */
    double recent_sum[5]; /* pv, load, soc, compute, budget */
    int recent_cnt[5];
    char history_path[300];
    int64_t plan_local_s;
    void (*close_cb)(void *);
    void *close_arg;
};

void node_energy_init(struct node_energy *e, uv_loop_t *loop, const struct weftd_config *cfg,
                      const struct weft_log *log, const struct node_energy_cb *cb);
/* NVML, the layout, the first poll now. */
void node_energy_start(struct node_energy *e);
/* No more polls; the device and NVML are closed once a read in flight is
 * back (node_energy_busy says whether one is). */
void node_energy_stop(struct node_energy *e);
int node_energy_busy(const struct node_energy *e);
/* Closes the timer; cb(arg) after. */
void node_energy_close(struct node_energy *e, void (*cb)(void *), void *arg);

/* A job holds the node, or no longer does: the draw follows at once. */
void node_energy_set_running(struct node_energy *e, int running);
/* The budget allows deferrable work now; interactive work now (the
 * homeowner's compute.interactive). */
int node_energy_deferrable_ok(const struct node_energy *e);
int node_energy_interactive_ok(const struct node_energy *e);
/* The homeowner's pause (1/0, -1 unchanged) and cap (W; -1 unchanged, -2
 * none): from the next step on, a pause gives no budget at all (interactive
 * "always" included) and a cap bounds it. */
void node_energy_set_override(struct node_energy *e, int paused, double max_w);
/* The homeowner's quiet hours from now on (n <= WEFT_POLICY_MAX_WINDOWS;
 * 0: none), in place of the config's. */
void node_energy_set_quiet(struct node_energy *e, const struct weft_window *w, int n);
/* A higher-ranked load wants the surplus (evcc): no budget from the next
 * step while yield is set, except for interactive "always". */
void node_energy_set_yield(struct node_energy *e, int yield, const char *why);
/* The i-th sample of the last day, oldest first (i < e->n_recent). */
const struct node_recent *node_energy_recent(const struct node_energy *e, int i);
/* The grid now, W (+ import), 0 when unknown. */
double node_energy_grid_w(const struct node_energy *e);
/* The day-ahead PV forecast the plan uses from now (NULL: none); it must
 * live until node_energy_close or the next call. */
void node_energy_set_dayahead(struct node_energy *e, const struct weft_dayahead *d);
/* The wall clock as local seconds (local time read as if UTC), the clock
 * the forecasts keep. */
int64_t node_local_s(void);

#endif /* WEFT_NODE_ENERGY_H */
