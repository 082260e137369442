/* The node's energy ledger: per local day, tokens served, jobs finished,
 * Wh compute used and how much of it came from surplus. Kept in memory,
 * written to state_dir/ledger.json every 30 s and at exit (a temporary
 * file, fsync, rename: a crash leaves the old or the new file, never half
 * of one), read back at start so it survives restarts. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
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

static void path_of(const struct weftd *d, char *p, size_t cap, const char *suffix)
{
    snprintf(p, cap, "%s/ledger.json%s", d->cfg.state_dir, suffix);
}

void node_ledger_load(struct weftd *d)
{
    char p[400];
    path_of(d, p, sizeof p, "");
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
        weft_log_warn(d->log, "%s: unreadable ledger; starting a new one", p);
        cJSON_Delete(root);
        return;
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, days)
    {
        const cJSON *day = cJSON_GetObjectItemCaseSensitive(x, "day");
        if (!cJSON_IsString(day) || strlen(day->valuestring) != 10)
            continue;
        if (d->n_days == NODE_LEDGER_DAYS) {
            memmove(d->days, d->days + 1, (NODE_LEDGER_DAYS - 1) * sizeof d->days[0]);
            d->n_days--;
        }
        struct node_day *e = &d->days[d->n_days++];
        memset(e, 0, sizeof *e);
        memcpy(e->day, day->valuestring, 11);
        e->wh = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "wh"));
        e->surplus_wh = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "surplus_wh"));
        e->tokens = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "tokens"));
        e->jobs = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "jobs"));
        if (e->wh != e->wh || e->surplus_wh != e->surplus_wh) /* NAN from a missing key */
            e->wh = e->surplus_wh = 0;
    }
    cJSON_Delete(root);
}

/* A job's energy is summed interval by interval: from NVML's energy
 * counter where the GPU has one (exact, whatever the draw did between two
 * polls), else the draw at the start of the interval (NVML's reading or the
 * estimate) times its length. The surplus part of each interval is what the
 * grid did not supply at its end: an import while running counts against it. */
void node_ledger_job_start(struct weftd *d)
{
    struct node_job *j = d->job;
    j->acct_ms = weft_mono_ms();
    j->acct_counter = node_nvml_energy_mj(d->nvml, &j->acct_mj) == 0;
    d->compute_w = node_energy_draw(d); /* running now, not idle as at the last poll */
}

void node_ledger_job_step(struct weftd *d)
{
    struct node_job *j = d->job;
    if (!j || !j->acct_ms)
        return; /* not running: refused or yielded on arrival */
    uint64_t now = weft_mono_ms();
    double h = (double)weft_elapsed_ms(j->acct_ms, now) / 3.6e6;
    double wh = d->compute_w * h;
    unsigned long long mj = 0;
    int counter = node_nvml_energy_mj(d->nvml, &mj) == 0;
    /* A counter that went backwards is a driver reload: estimate this one. */
    if (counter && j->acct_counter && mj >= j->acct_mj)
        wh = (double)(mj - j->acct_mj) / 3.6e6; /* mJ to Wh */
    j->acct_ms = now;
    j->acct_mj = mj;
    j->acct_counter = counter;
    double draw = h > 0 ? wh / h : 0;
    double grid = d->reading.grid.at_ms ? d->reading.grid.w : 0;
    double from_grid = grid > 0 ? (grid < draw ? grid : draw) : 0;
    j->wh += wh;
    j->surplus_wh += draw > 0 ? wh * (draw - from_grid) / draw : 0;
}

void node_ledger_add(struct weftd *d, double wh, double surplus_wh, int tokens, int jobs)
{
    char t[11];
    today(t);
    struct node_day *e = d->n_days ? &d->days[d->n_days - 1] : NULL;
    if (!e || strcmp(e->day, t) != 0) {
        if (d->n_days == NODE_LEDGER_DAYS) {
            memmove(d->days, d->days + 1, (NODE_LEDGER_DAYS - 1) * sizeof d->days[0]);
            d->n_days--;
        }
        e = &d->days[d->n_days++];
        memset(e, 0, sizeof *e);
        memcpy(e->day, t, 11);
    }
    e->wh += wh;
    e->surplus_wh += surplus_wh;
    e->tokens += tokens;
    e->jobs += jobs;
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

void node_ledger_save(struct weftd *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *days = cJSON_AddArrayToObject(root, "days");
    for (int i = 0; i < d->n_days; i++)
        cJSON_AddItemToArray(days, day_json(&d->days[i]));
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt)
        return;
    char tmp[400], p[400];
    path_of(d, tmp, sizeof tmp, ".tmp");
    path_of(d, p, sizeof p, "");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(txt);
    int ok = fd >= 0 && write(fd, txt, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (ok && rename(tmp, p) != 0)
        ok = 0;
    if (!ok)
        weft_log_warn(d->log, "%s: cannot write the ledger: %s", p, strerror(errno));
    free(txt);
}

void node_ledger_json(const struct weftd *d, cJSON *into)
{
    cJSON *l = cJSON_AddObjectToObject(into, "ledger");
    struct node_day total;
    memset(&total, 0, sizeof total);
    cJSON *days = cJSON_AddArrayToObject(l, "days");
    for (int i = 0; i < d->n_days; i++) {
        cJSON_AddItemToArray(days, day_json(&d->days[i]));
        total.wh += d->days[i].wh;
        total.surplus_wh += d->days[i].surplus_wh;
        total.tokens += d->days[i].tokens;
        total.jobs += d->days[i].jobs;
    }
    snprintf(total.day, sizeof total.day, "all");
    cJSON *t = day_json(&total);
    cJSON_AddNumberToObject(t, "surplus_share", total.wh > 0 ? total.surplus_wh / total.wh : 1.0);
    cJSON_AddItemToObject(l, "total", t);
}
