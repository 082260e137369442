/* The node's energy ledger (ledger.c): per local day, tokens served, jobs
 * finished, Wh of compute and how much of it came from surplus; and the
 * per-job sums that feed it. Loop thread only. */
#ifndef WEFT_NODE_LEDGER_H
#define WEFT_NODE_LEDGER_H

#include <stdint.h>

#include "job.h"

struct cJSON;
struct weft_log;

#define NODE_LEDGER_DAYS 31

struct node_day {
    char day[11]; /* YYYY-MM-DD, local time */
    double wh, surplus_wh;
    long tokens, jobs;
};

struct node_ledger {
    char path[400]; /* state_dir/ledger.json */
    const struct weft_log *log;
    struct node_day days[NODE_LEDGER_DAYS]; /* oldest first */
    int n_days;
    /* Since the ledger began (day "life"): never falls, so Home Assistant
     * can read it as a total_increasing meter. */
    struct node_day life;
};

/* What the energy side measured at the end of an interval: the draw that
 * held through it (W), the grid now (+ import, W; 0 when unknown) and
 * NVML's energy counter (mJ) where the GPU has one. */
struct node_meter {
    double draw_w;
    double grid_w;
    int counter; /* mj is valid */
    unsigned long long mj;
};

/* Reads state_dir/ledger.json back when there is one (an unreadable one is
 * logged and replaced). */
void node_ledger_init(struct node_ledger *l, const char *state_dir, const struct weft_log *log);
/* Adds to today's entry. */
void node_ledger_add(struct node_ledger *l, double wh, double surplus_wh, int tokens, int jobs);
/* Writes the file (a temporary, fsync, rename). */
void node_ledger_save(struct node_ledger *l);
/* "ledger": {"days": [...], "total": {...}} into an object. */
void node_ledger_json(const struct node_ledger *l, struct cJSON *into);

/* A job's energy from now on. */
void node_ledger_job_start(struct node_job_energy *e, const struct node_meter *m);
/* Adds `share` (0..1: the jobs running together split the device's
 * draw) of the interval since the last call, at m (each energy poll, and
 * when a job joins or ends). A job that never started adds nothing. */
void node_ledger_job_step(struct node_job_energy *e, const struct node_meter *m, double share);

#endif /* WEFT_NODE_LEDGER_H */
