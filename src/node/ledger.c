/* The node's energy ledger: per local day, tokens served, jobs finished,
 * Wh compute used and how much of it came from surplus. Kept in memory,
 * written to state_dir/ledger.json every 30 s and at exit (a temporary
 * file, fsync, rename: a crash leaves the old or the new file, never half
 * of one), read back at start so it survives restarts. */
#include "ledger.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "weft/error.h"
#include "weft/file.h"
#include "weft/log.h"
#include "weft/time.h"

#define LEDGER_MAX_BYTES (1u << 20)

static void today(char out[11])
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* A count or an amount from the file: 0 when missing, not a number, or
 * outside what a day can hold (so the cast to long is defined). */
static double num(const cJSON *x, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x, k);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e15 ? v->valuedouble : 0;
}

/* The entry for day, appended (the oldest dropped when the ledger is full). */
static void day_read(struct node_day *e, const cJSON *x)
{
    e->wh = num(x, "wh");
    e->surplus_wh = num(x, "surplus_wh");
    e->tokens = (long)num(x, "tokens");
    e->jobs = (long)num(x, "jobs");
}

static struct node_day *new_day(struct node_ledger *l, const char *day)
{
    if (l->n_days == NODE_LEDGER_DAYS) {
        memmove(l->days, l->days + 1, (NODE_LEDGER_DAYS - 1) * sizeof l->days[0]);
        l->n_days--;
    }
    struct node_day *e = &l->days[l->n_days++];
    memset(e, 0, sizeof *e);
    memcpy(e->day, day, 11);
    return e;
}

void node_ledger_init(struct node_ledger *l, const char *state_dir, const struct weft_log *log)
{
    memset(l, 0, sizeof *l);
    l->log = log;
    snprintf(l->life.day, sizeof l->life.day, "life");
    snprintf(l->path, sizeof l->path, "%s/ledger.json", state_dir);
    const char *p = l->path;
    FILE *f = fopen(p, "rbe");
    if (!f)
        return; /* a first start */
    char *buf = malloc(LEDGER_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, LEDGER_MAX_BYTES, f) : 0;
    fclose(f);
    cJSON *root = buf ? cJSON_ParseWithLength(buf, n) : NULL;
    free(buf);
    const cJSON *days = cJSON_GetObjectItemCaseSensitive(root, "days");
    if (!cJSON_IsArray(days)) {
        weft_log_warn(l->log, "%s: unreadable ledger; starting a new one", p);
        cJSON_Delete(root);
        return;
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, days)
    {
        const cJSON *day = cJSON_GetObjectItemCaseSensitive(x, "day");
        if (!cJSON_IsString(day) || strlen(day->valuestring) != 10)
            continue;
        struct node_day *e = new_day(l, day->valuestring);
        day_read(e, x);
        l->life.wh += e->wh;
        l->life.surplus_wh += e->surplus_wh;
        l->life.tokens += e->tokens;
        l->life.jobs += e->jobs;
    }
    /* A ledger from before "lifetime" was kept starts it from its days. */
    const cJSON *life = cJSON_GetObjectItemCaseSensitive(root, "lifetime");
    if (cJSON_IsObject(life))
        day_read(&l->life, life);
    cJSON_Delete(root);
}

/* A job's energy is summed interval by interval: from NVML's energy
 * counter where the GPU has one (exact, whatever the draw did between two
 * polls), else the draw at the start of the interval (NVML's reading or the
 * estimate) times its length. The surplus part of each interval is what the
 * grid did not supply at its end: an import while running counts against it. */
void node_ledger_job_start(struct node_job_energy *j, const struct node_meter *m)
{
    j->acct_ms = weft_mono_ms();
    j->acct_counter = m->counter;
    j->acct_mj = m->mj;
}

void node_ledger_job_step(struct node_job_energy *j, const struct node_meter *m, double share)
{
    if (!j->acct_ms)
        return; /* not running: refused or yielded on arrival */
    uint64_t now = weft_mono_ms();
    double h = (double)weft_elapsed_ms(j->acct_ms, now) / 3.6e6;
    double wh = m->draw_w * h;
    /* A counter that went backwards is a driver reload: estimate this one. */
    if (m->counter && j->acct_counter && m->mj >= j->acct_mj)
        wh = (double)(m->mj - j->acct_mj) / 3.6e6; /* mJ to Wh */
    j->acct_ms = now;
    j->acct_mj = m->mj;
    j->acct_counter = m->counter;
    double draw = h > 0 ? wh / h : 0;
    double from_grid = m->grid_w > 0 ? (m->grid_w < draw ? m->grid_w : draw) : 0;
    /* The draw is the whole device's; the job had `share` of it, and of
     * the part the grid paid for. */
    j->wh += wh * share;
    j->surplus_wh += draw > 0 ? wh * share * (draw - from_grid) / draw : 0;
}

void node_ledger_add(struct node_ledger *l, double wh, double surplus_wh, int tokens, int jobs)
{
    char t[11];
    today(t);
    struct node_day *e = l->n_days ? &l->days[l->n_days - 1] : NULL;
    if (!e || strcmp(e->day, t) != 0)
        e = new_day(l, t);
    e->wh += wh;
    e->surplus_wh += surplus_wh;
    e->tokens += tokens;
    e->jobs += jobs;
    l->life.wh += wh;
    l->life.surplus_wh += surplus_wh;
    l->life.tokens += tokens;
    l->life.jobs += jobs;
}

static cJSON *day_json(const struct node_day *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "day", e->day);
    cJSON_AddNumberToObject(o, "tokens", (double)e->tokens);
    cJSON_AddNumberToObject(o, "jobs", (double)e->jobs);
    cJSON_AddNumberToObject(o, "wh", e->wh);
    cJSON_AddNumberToObject(o, "surplus_wh", e->surplus_wh);
    return o;
}

void node_ledger_save(struct node_ledger *l)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *days = cJSON_AddArrayToObject(root, "days");
    for (int i = 0; i < l->n_days; i++)
        cJSON_AddItemToArray(days, day_json(&l->days[i]));
    cJSON_AddItemToObject(root, "lifetime", day_json(&l->life));
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt)
        return;
    int rc = weft_file_replace(l->path, txt, strlen(txt));
    if (rc < 0)
        weft_log_warn(l->log, "%s: cannot write the ledger: %s", l->path, weft_strerror(rc));
    free(txt);
}

void node_ledger_json(const struct node_ledger *l, cJSON *into)
{
    cJSON *o = cJSON_AddObjectToObject(into, "ledger");
    struct node_day total;
    memset(&total, 0, sizeof total);
    cJSON *days = cJSON_AddArrayToObject(o, "days");
    for (int i = 0; i < l->n_days; i++) {
        cJSON_AddItemToArray(days, day_json(&l->days[i]));
        total.wh += l->days[i].wh;
        total.surplus_wh += l->days[i].surplus_wh;
        total.tokens += l->days[i].tokens;
        total.jobs += l->days[i].jobs;
    }
    snprintf(total.day, sizeof total.day, "all");
    cJSON *t = day_json(&total);
    cJSON_AddNumberToObject(t, "surplus_share", total.wh > 0 ? total.surplus_wh / total.wh : 1.0);
    cJSON_AddItemToObject(o, "total", t);
    cJSON_AddItemToObject(o, "lifetime", day_json(&l->life));
}
