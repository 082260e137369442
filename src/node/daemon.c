/* weftd's life and glue: start (models, runner, ledger, status, energy,
 * link), the one place where the modules meet, and an orderly stop (no new
 * work, the running jobs yielded and their last events delivered, then
 * everything closed).
 *
 * The glue, by event:
 *   an energy poll ended an interval   -> the jobs' energy in the ledger,
 *                                         split by the tokens each made
 *   the policy stepped                 -> the runner's budget; a yield when
 *                                         the budget is gone; maybe a poll
 *   the link is live / a poll ended    -> maybe a poll
 *   an assignment                      -> a job: to the runner (a free slot),
 *                                         and its upload; a poll while
 *                                         slots are free
 *   the scheduler cancelled a job      -> the runner stops it
 *   the runner has events              -> the upload goes on
 *   the upload and the runner are done -> the ledger, and the next poll */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "status.h"
#include "weft/energy_config.h"
#include "weft/error.h"
#include "weft/file.h"
#include "weft/gguf.h"
#include "weft/gpu.h"
#include "weft/http.h"
#include "weft/log.h"
#include "weft/schema.h"
#include "weft/time.h"

#define STOP_WAIT_MS 10000

/* ---- jobs ----------------------------------------------------------------- */

/* The energy side's measurements at the end of an interval, for the ledger. */
static struct node_meter meter(struct weftd *d)
{
    struct node_meter m = {.draw_w = d->energy.compute_w, .grid_w = node_energy_grid_w(&d->energy)};
    m.counter = node_nvml_energy_mj(d->energy.nvml, &m.mj) == 0;
    return m;
}

/* The slots the node offers now: all of them at full budget, fewer as the
 * budget falls (a node on a little sun does not take eight jobs it would
 * run at a crawl: the duty cycle divides one step's speed among them all),
 * at least one while any budget is left. */
static int offered_slots(const struct weftd *d)
{
    double share = d->energy.pout.budget_w / d->cfg.compute.busy_w;
    if (!(share < 1) || strcmp(d->cfg.compute.interactive, "always") == 0)
        return d->slots;
    int n = (int)ceil(share * d->slots);
    return n < 1 ? 1 : n > d->slots ? d->slots : n;
}

/* Polls for work when the node could run more: live, a slot free, with a
 * model and a budget (a node without models only reports). */
static void kick(struct weftd *d)
{
    if (node_link_can_poll(&d->link) && d->n_jobs < offered_slots(d) && !d->stopping &&
        d->n_models > 0 &&
        (node_energy_deferrable_ok(&d->energy) || node_energy_interactive_ok(&d->energy)))
        node_link_poll(&d->link);
}

/* Closes an accounting interval for every running job: the energy drawn
 * since the last one, split between the jobs by the tokens each made in
 * it (evenly when none made any), since they shared the steps. Called at
 * each energy poll and whenever a job joins or leaves, so every job's
 * intervals are the same ones. */
static void account(struct weftd *d)
{
    struct node_meter m = meter(d);
    int made[WEFTD_MAX_SLOTS], total = 0, n = 0;
    for (int i = 0; i < d->n_jobs; i++) {
        struct node_job *j = d->jobs[i];
        made[i] = 0;
        if (!j->energy.acct_ms)
            continue; /* not running: refused or yielded on arrival */
        made[i] = atomic_load(&j->tokens) - j->energy.acct_tokens;
        total += made[i];
        n++;
    }
    for (int i = 0; i < d->n_jobs; i++) {
        struct node_job *j = d->jobs[i];
        if (!j->energy.acct_ms)
            continue;
        double share = total > 0 ? (double)made[i] / total : 1.0 / n;
        node_ledger_job_step(&j->energy, &m, share);
        j->energy.acct_tokens += made[i];
    }
}

/* Drops the jobs whose upload has ended and that the runner is done with. */
static void release_jobs_if_done(struct weftd *d)
{
    int any = 0;
    for (int i = 0; i < d->n_jobs; i++)
        any |= d->jobs[i]->uploaded && node_job_finished(d->jobs[i]);
    if (!any)
        return; /* the runner is still stopping them; its wake-up brings us back */
    account(d); /* their last interval */
    int k = 0;
    for (int i = 0; i < d->n_jobs; i++) {
        struct node_job *job = d->jobs[i];
        if (!job->uploaded || !node_job_finished(job)) {
            d->jobs[k++] = job;
            continue;
        }
        node_ledger_add(&d->ledger, job->energy.wh, job->energy.surplus_wh,
                        atomic_load(&job->tokens), 1);
        node_job_free(job);
    }
    d->n_jobs = k;
    node_energy_set_running(&d->energy, d->n_jobs > 0);
    kick(d);
}

/* The scheduler's assignment as a job. A body that names a job but is
 * otherwise wrong still gives one, carrying `refused`, so the scheduler
 * hears at once that this node will not run it; a body without a usable id
 * gives none (*out NULL). */
static int parse_job(struct weftd *d, const char *body, size_t len, struct node_job **out,
                     char *err, size_t errcap)
{
    struct weft_assignment a;
    int rc = weft_assignment_parse(body, len, &a, err, errcap);
    struct node_job *j = a.job[0] ? node_job_new(a.job) : NULL;
    *out = j;
    if (!j) {
        weft_assignment_free(&a);
        return rc ? rc : WEFT_ENOMEM;
    }
    if (rc) {
        snprintf(j->refused, sizeof j->refused, "bad assignment: %s", err);
        weft_assignment_free(&a);
        return rc;
    }
    for (int i = 0; i < d->n_models; i++)
        if (strcmp(d->models[i].name, a.model) == 0)
            j->model = i;
    /* A schema this node cannot follow is refused now, not mid-run. */
    if (a.response_format) {
        cJSON *rf = cJSON_Parse(a.response_format);
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(rf, "schema");
        char *text = schema ? cJSON_PrintUnformatted(schema) : NULL;
        char why[160] = "out of memory";
        rc = !rf      ? WEFT_ENOMEM
             : schema ? (text ? weft_schema_compile(text, strlen(text), &j->schema, why, sizeof why)
                              : WEFT_ENOMEM)
                      : weft_schema_any_object(&j->schema);
        const cJSON *pre = cJSON_GetObjectItemCaseSensitive(rf, "prefix");
        const cJSON *suf = cJSON_GetObjectItemCaseSensitive(rf, "suffix");
        if (rc == 0 && (pre || suf))
            rc = weft_schema_wrap(j->schema, cJSON_IsString(pre) ? pre->valuestring : NULL,
                                  cJSON_IsString(suf) ? suf->valuestring : NULL);
        free(text);
        cJSON_Delete(rf);
        if (rc) {
            snprintf(j->refused, sizeof j->refused, "bad assignment: response_format: %s", why);
            snprintf(err, errcap, "response_format: %.120s", why);
            weft_assignment_free(&a);
            return rc;
        }
    }
    node_job_take_spec(j, &a);
    weft_assignment_free(&a);
    return 0;
}

static void start_job(struct weftd *d, struct node_job *job)
{
    if (job->refused[0]) {
        node_job_end(job, WEFT_END_ERROR, -1, job->refused, NULL);
    } else if (job->model < 0) {
        node_job_end(job, WEFT_END_ERROR, -1, "model not held here", NULL);
    } else if (!node_energy_deferrable_ok(&d->energy) && !node_energy_interactive_ok(&d->energy)) {
        /* The budget went away while the assignment was on its way. */
        node_job_end(job, WEFT_END_YIELD, -1, NULL, NULL);
    } else {
        weft_log_info(d->log, "job %s: %s, from token %d, up to %d (slot %d of %d)", job->id,
                      d->models[job->model].name, job->n_resume, job->max_tokens, d->n_jobs + 1,
                      d->slots);
        node_energy_set_running(&d->energy, 1);
        account(d); /* the others' interval ends as this one joins */
        struct node_meter m = meter(d);
        node_ledger_job_start(&job->energy, &m);
        node_runner_give(&d->runner, job);
    }
    if (node_link_upload(&d->link, job) != 0) {
        /* Nothing went out: the scheduler moves the job when its lease ends. */
        weft_log_warn(d->log, "job %s: cannot start its upload", job->id);
        atomic_store(&job->cancel, 1);
        job->uploaded = 1;
    }
    d->jobs[d->n_jobs++] = job;
    release_jobs_if_done(d);
    kick(d); /* another slot may be free */
}

/* ---- what the modules report ------------------------------------------------ */

/* A new day-ahead forecast: the plan uses it from the next poll. */
static void on_dayahead(void *ud, const struct weft_dayahead *f)
{
    struct weftd *d = ud;
    node_energy_set_dayahead(&d->energy, f);
}

static void on_interval_end(void *ud)
{
    account(ud);
}

/* ---- MQTT: what Home Assistant shows, and what the homeowner sets ------------ */

static void publish_mqtt(struct weftd *d)
{
    const struct node_energy *e = &d->energy;
    const struct weft_energy_reading *r = &e->reading;
    struct node_mqtt_state st = {
        .policy = weft_policy_state_name(e->pout.state),
        .reason = e->pout.reason,
        .scheduler = node_link_state_name(&d->link),
        .budget_w = e->pout.budget_w,
        .compute_w = e->compute_w,
        .pv_w = r->pv.at_ms ? r->pv.w : NAN,
        .load_w = r->load.at_ms ? r->load.w : NAN,
        .grid_w = r->grid.at_ms ? r->grid.w : NAN,
        .battery_w = r->battery.at_ms ? r->battery.w : NAN,
        .soc = r->soc.at_ms ? r->soc.w : NAN,
        .energy_kwh = d->ledger.life.wh / 1000,
        .tokens = d->ledger.life.tokens,
        .paused = e->paused,
        .max_w = e->max_w,
        .evcc_yield = e->yield,
    };
    node_mqtt_publish(&d->mqtt, &st);
}

/* state_dir/overrides.json: the homeowner's pause, cap and quiet hours
 * as last set, read back at start. */
static void overrides_path(const struct weftd *d, char *out, size_t cap)
{
    snprintf(out, cap, "%s/overrides.json", d->cfg.state_dir);
}

static void overrides_save(struct weftd *d)
{
    const struct node_energy *e = &d->energy;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "paused", e->paused);
    if (e->max_w >= 0)
        cJSON_AddNumberToObject(o, "max_w", e->max_w);
    if (d->quiet_set) {
        cJSON *q = cJSON_AddArrayToObject(o, "quiet_hours");
        for (int i = 0; i < e->ps.n_quiet; i++) {
            char a[24], b[24];
            snprintf(a, sizeof a, "%02d:%02d", e->ps.quiet[i].start_min / 60,
                     e->ps.quiet[i].start_min % 60);
            snprintf(b, sizeof b, "%02d:%02d", e->ps.quiet[i].end_min / 60,
                     e->ps.quiet[i].end_min % 60);
            cJSON *w = cJSON_CreateObject();
            cJSON_AddStringToObject(w, "start", a);
            cJSON_AddStringToObject(w, "end", b);
            cJSON_AddItemToArray(q, w);
        }
    }
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    char path[400];
    overrides_path(d, path, sizeof path);
    int rc = txt ? weft_file_replace(path, txt, strlen(txt)) : WEFT_ENOMEM;
    if (rc)
        weft_log_warn(d->log, "%s: cannot keep the homeowner's settings: %s", path,
                      weft_strerror(rc));
    free(txt);
}

int weftd_quiet_parse(const cJSON *arr, struct weft_window *w, int *n)
{
    *n = 0;
    const cJSON *x;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > WEFT_POLICY_MAX_WINDOWS)
        return WEFT_EINVAL;
    cJSON_ArrayForEach(x, arr)
    {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(x, "start"),
                    *b = cJSON_GetObjectItemCaseSensitive(x, "end");
        int s = cJSON_IsString(a) ? weft_parse_hhmm(a->valuestring) : WEFT_EINVAL,
            e = cJSON_IsString(b) ? weft_parse_hhmm(b->valuestring) : WEFT_EINVAL;
        if (s < 0 || e < 0)
            return WEFT_EINVAL;
        w[*n] = (struct weft_window){s, e, 0};
        (*n)++;
    }
    return 0;
}

static void overrides_load(struct weftd *d)
{
    char path[400], *txt = NULL;
    size_t len = 0;
    overrides_path(d, path, sizeof path);
    if (weft_file_read(path, 1 << 16, &txt, &len) != 0)
        return; /* none kept */
    cJSON *o = cJSON_ParseWithLength(txt, len);
    free(txt);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "paused"),
                *m = cJSON_GetObjectItemCaseSensitive(o, "max_w"),
                *q = cJSON_GetObjectItemCaseSensitive(o, "quiet_hours");
    struct weft_window w[WEFT_POLICY_MAX_WINDOWS];
    int n = 0;
    if (!cJSON_IsObject(o) || (q && weftd_quiet_parse(q, w, &n) != 0)) {
        weft_log_warn(d->log, "%s: unreadable; the config's settings hold", path);
    } else {
        double max = cJSON_IsNumber(m) && m->valuedouble >= 0 &&
                             m->valuedouble <= d->cfg.policy.max_compute_w
                         ? m->valuedouble
                         : -1;
        node_energy_set_override(&d->energy, cJSON_IsTrue(p), max);
        if (q) {
            node_energy_set_quiet(&d->energy, w, n);
            d->quiet_set = 1;
        }
    }
    cJSON_Delete(o);
}

void weftd_control(struct weftd *d, int paused, double max_w, const struct weft_window *quiet,
                   int n_quiet)
{
    node_energy_set_override(&d->energy, paused, max_w);
    if (n_quiet >= 0) {
        node_energy_set_quiet(&d->energy, quiet, n_quiet);
        d->quiet_set = 1;
    }
    overrides_save(d);
}

static void on_mqtt_command(void *ud, int paused, double max_w)
{
    weftd_control(ud, paused, max_w, NULL, -1);
}

static void on_mqtt_evcc(void *ud, int yield, const char *why)
{
    struct weftd *d = ud;
    node_energy_set_yield(&d->energy, yield, why);
}

static void on_policy_step(void *ud)
{
    struct weftd *d = ud;
    const struct weft_policy_out *out = &d->energy.pout;
    node_runner_set_budget(&d->runner, out->budget_w, d->energy.gpu_limited);
    /* No budget left: give every job back at the next step, unless the
     * homeowner lets interactive work run regardless. */
    for (int i = 0; i < d->n_jobs; i++) {
        struct node_job *j = d->jobs[i];
        if (out->budget_w <= 0 &&
            (strcmp(d->cfg.compute.interactive, "always") != 0 || d->energy.paused) &&
            !atomic_load(&j->yield)) {
            weft_log_notice(d->log, "job %s: yielding: %s", j->id, out->reason);
            atomic_store(&j->yield, 1);
        }
    }
    publish_mqtt(d);
    kick(d);
}

static void on_live(void *ud)
{
    kick(ud);
}

static void on_heartbeat(void *ud, struct weft_heartbeat *hb)
{
    struct weftd *d = ud;
    const struct node_energy *e = &d->energy;
    hb->budget_w = e->pout.budget_w;
    snprintf(hb->policy_state, sizeof hb->policy_state, "%s",
             weft_policy_state_name(e->pout.state));
    snprintf(hb->reason, sizeof hb->reason, "%s", e->pout.reason);
    hb->deferrable = node_energy_deferrable_ok(e);
    hb->interactive = node_energy_interactive_ok(e);
    hb->budget_s = e->planning && e->plan.valid && e->pout.budget_w > 0 ? e->budget_s : -1;
    const struct weft_energy_reading *r = &e->reading;
    hb->pv_w = r->pv.at_ms ? r->pv.w : NAN;
    hb->load_w = r->load.at_ms ? r->load.w : NAN;
    hb->grid_w = r->grid.at_ms ? r->grid.w : NAN;
    hb->battery_w = r->battery.at_ms ? r->battery.w : NAN;
    hb->soc = r->soc.at_ms ? r->soc.w : NAN;
    hb->compute_w = e->compute_w;
    hb->slots = offered_slots(d);
    for (int i = 0; i < d->n_jobs && i < WEFT_NODEMSG_MAX_JOBS; i++) {
        snprintf(hb->jobs[i].id, sizeof hb->jobs[i].id, "%s", d->jobs[i]->id);
        hb->jobs[i].tokens = atomic_load(&d->jobs[i]->tokens);
        hb->n_jobs = i + 1;
    }
}

static void on_assignment(void *ud, const char *body, size_t len)
{
    struct weftd *d = ud;
    struct node_job *job;
    char bad[160];
    if (parse_job(d, body, len, &job, bad, sizeof bad) != 0)
        weft_log_warn(d->log, "scheduler: %s%s: %s", job ? "refusing job " : "an assignment",
                      job ? job->id : " without a usable id", bad);
    if (job && !d->stopping && d->n_jobs < d->slots)
        start_job(d, job);
    else
        node_job_free(job);
}

static void on_poll_done(void *ud)
{
    kick(ud);
}

static void on_cancel(void *ud, const char *id)
{
    struct weftd *d = ud;
    for (int i = 0; i < d->n_jobs; i++)
        if (strcmp(id, d->jobs[i]->id) == 0) {
            weft_log_notice(d->log, "job %s: the scheduler moved it; stopping", id);
            atomic_store(&d->jobs[i]->cancel, 1);
        }
}

/* An upload lost with its scheduler (the connection broke, or the next
 * scheduler cannot take the job over yet) is tried again, every
 * REATTACH_MS up to REATTACH_TRIES times, on whichever scheduler the link
 * reaches: the run goes on meanwhile, and a scheduler that shares the dead
 * one's store takes the job over at the next token, without running it
 * again (it drops the tokens it has). */
#define REATTACH_MS    250
#define REATTACH_TRIES 40

static void on_reattach_timer(uv_timer_t *t)
{
    struct weftd *d = t->data;
    int waiting = 0;
    for (int i = 0; i < d->n_jobs; i++) {
        struct node_job *job = d->jobs[i];
        if (!job->reattach)
            continue;
        if (d->stopping || atomic_load(&job->cancel)) {
            job->reattach = 0;
            job->uploaded = 1;
            continue;
        }
        if (!node_link_is_live(&d->link)) {
            waiting = 1;
            continue;
        }
        job->reattach = 0;
        job->reattach_tries++;
        job->uploaded = 0;
        node_job_rewind(job);
        weft_log_notice(d->log, "job %s: re-attaching its upload to %s (try %d)", job->id,
                        node_link_url(&d->link), job->reattach_tries);
        if (node_link_upload(&d->link, job) != 0) {
            job->reattach = 1;
            job->uploaded = 1;
            waiting = 1;
        }
    }
    if (!waiting)
        uv_timer_stop(t);
    release_jobs_if_done(d);
}

static void on_upload_done(void *ud, struct node_job *job, int ok, long status, const char *why)
{
    struct weftd *d = ud;
    /* Unreachable, or busy (503: the next scheduler cannot take it over
     * yet), unlike moved away (404, 409): keep the run and try again. */
    if (!ok && (status == 0 || status == 503) && !d->stopping && !atomic_load(&job->cancel) &&
        job->reattach_tries < REATTACH_TRIES && node_job_replayable(job)) {
        if (job->reattach_tries == 0)
            weft_log_notice(d->log, "job %s: upload lost (%s); keeping the run for a re-attach",
                            job->id, why);
        job->reattach = 1;
        job->uploaded = 0; /* still ours: not released while it waits */
        if (!uv_is_active((uv_handle_t *)&d->reattach_timer))
            uv_timer_start(&d->reattach_timer, on_reattach_timer, REATTACH_MS, REATTACH_MS);
        return;
    }
    if (!ok) {
        /* Moved away (409), or the scheduler is unreachable: stop. */
        weft_log_notice(d->log, "job %s: upload ended (%s); stopping it", job->id, why);
        atomic_store(&job->cancel, 1);
        d->failures++;
    } else {
        d->jobs_done++;
    }
    release_jobs_if_done(d);
}

static void on_runner_events(void *ud)
{
    struct weftd *d = ud;
    for (int i = 0; i < d->n_jobs; i++)
        node_link_upload_wake(&d->link, d->jobs[i]);
    /* An upload that ended early waits for the runner to stop. */
    release_jobs_if_done(d);
}

/* ---- models ------------------------------------------------------------------ */

/* The chat template a GGUF names, by its markers: raw when it has none,
 * WEFT_ENOENT (with the reason in err) when it has one Weft does not know. */
static int detect_template(const char *path, enum weft_chat_template *t, char *err, size_t errcap)
{
    struct weft_gguf *g;
    *t = WEFT_TPL_RAW;
    int rc = weft_gguf_open(path, &g, err, errcap);
    if (rc != 0)
        return rc;
    struct weft_str s;
    if (weft_gguf_get_str(g, "tokenizer.chat_template", &s) == 0) {
        char *txt = strndup(s.p, s.n > 65536 ? 65536 : (size_t)s.n);
        rc = txt ? weft_chat_template_detect(txt, t) : WEFT_ENOMEM;
        free(txt);
        if (rc == WEFT_ENOENT)
            snprintf(err, errcap,
                     "%s: its tokenizer.chat_template is not one Weft knows; name one in "
                     "models[].template (raw, llama2, chatml, llama3, llama3.1, qwen2.5, phi3, "
                     "gemma, mistral, deepseek-r1)",
                     path);
    }
    weft_gguf_close(g);
    return rc;
}

static int load_models(struct weftd *d, char *err, size_t errcap)
{
    struct weft_model_opts o = {.backend = WEFT_BACKEND_AUTO, .n_threads = d->cfg.compute.threads};
    if (d->cfg.n_models == 0)
        weft_log_notice(d->log, "no models: this node reports its energy and serves nothing");
    for (int i = 0; i < d->cfg.n_models; i++) {
        const struct weftd_model_cfg *mc = &d->cfg.models[i];
        struct node_model *nm = &d->models[i];
        int rc = weft_model_load(mc->path, &o, &nm->model, err, errcap);
        if (rc)
            return rc;
        d->n_models++;
        if (mc->name[0]) {
            snprintf(nm->name, sizeof nm->name, "%s", mc->name);
        } else {
            const char *base = strrchr(mc->path, '/');
            base = base ? base + 1 : mc->path;
            size_t n = strlen(base);
            if (n > 5 && strcmp(base + n - 5, ".gguf") == 0)
                n -= 5;
            snprintf(nm->name, sizeof nm->name, "%.*s", (int)n, base);
        }
        /* A configured template was checked with the config. */
        if (!mc->template[0] || weft_chat_template_parse(mc->template, &nm->tpl) != 0) {
            rc = detect_template(mc->path, &nm->tpl, err, errcap);
            if (rc)
                return rc;
        }
        const struct weft_model_info *mi = weft_model_info(nm->model);
        weft_log_notice(d->log, "model %s: %s, %d layers, %s template, on %s with %d threads",
                        nm->name, mi->arch, mi->n_layer, weft_chat_template_name(nm->tpl),
                        mi->backend == WEFT_BACKEND_CUDA ? "CUDA" : "CPU", mi->n_threads);
    }
    return 0;
}

static void free_models(struct weftd *d)
{
    for (int i = 0; i < d->n_models; i++)
        weft_model_free(d->models[i].model);
    d->n_models = 0;
}

/* MemAvailable from /proc/meminfo, bytes; 0 when unknown. */
static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[128];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

/* How many jobs run at once: what a slot costs (a KV cache and buffers
 * for each model it may run, weft_session_bytes) against the memory given
 * to slots, capped by compute.max_slots when set. Never fewer than one: a
 * node with a model serves at least one job, as before batching. */
static void choose_slots(struct weftd *d)
{
    const struct weftd_compute_cfg *c = &d->cfg.compute;
    uint64_t per = 0;
    for (int i = 0; i < d->n_models; i++)
        per += weft_session_bytes(d->models[i].model, c->n_ctx);
    uint64_t avail = mem_available();
    uint64_t budget = c->slot_memory_mb ? (uint64_t)c->slot_memory_mb << 20 : avail / 2;
    const char *from = c->slot_memory_mb ? "compute.slot_memory_mb" : "half the available memory";
    uint64_t fit = per == 0 ? WEFTD_MAX_SLOTS : budget / per;
    if (per > 0 && budget == 0)
        fit = 1; /* no /proc/meminfo: as before batching */
    /* A model on the GPU keeps its KV caches there: the device's free
     * memory (nine tenths of it, for the driver's own needs) bounds the
     * slots too, when it is the tighter bound. */
    uint64_t dev_per = 0;
    for (int i = 0; i < d->n_models; i++) {
        if (weft_model_info(d->models[i].model)->backend != WEFT_BACKEND_CUDA)
            continue;
        struct weft_gpu_plan gp;
        weft_model_gpu_plan(d->models[i].model, weft_session_ctx_for(d->models[i].model, c->n_ctx),
                            &gp);
        dev_per += gp.kv_bytes;
    }
    struct weft_gpu_info gi;
    char gerr[160];
    if (dev_per > 0 && weft_gpu_describe(0, &gi, gerr, sizeof gerr) == 0 &&
        gi.free_bytes / 10 * 9 / dev_per < fit) {
        budget = gi.free_bytes / 10 * 9;
        per = dev_per;
        fit = budget / per;
        from = "the GPU's free memory";
    }
    int n = fit > WEFTD_MAX_SLOTS ? WEFTD_MAX_SLOTS : (int)fit;
    double mib = (double)per / (1 << 20), have = (double)budget / (1 << 20);
    if (c->max_slots > 0 && c->max_slots <= n) {
        n = c->max_slots;
        snprintf(d->slots_why, sizeof d->slots_why, "compute.max_slots, %.1f MiB a slot", mib);
    } else if (c->max_slots > 0) {
        snprintf(d->slots_why, sizeof d->slots_why,
                 "compute.max_slots is %d, but %s (%.0f MiB) holds only %d at %.1f MiB a slot",
                 c->max_slots, from, have, n, mib);
        weft_log_warn(d->log, "%s", d->slots_why);
    } else {
        snprintf(d->slots_why, sizeof d->slots_why, "what %s (%.0f MiB) holds at %.1f MiB a slot",
                 from, have, mib);
    }
    if (n < 1) {
        n = 1;
        snprintf(d->slots_why, sizeof d->slots_why,
                 "one slot: %s (%.0f MiB) is less than a slot's %.1f MiB", from, have, mib);
        weft_log_warn(d->log, "%s", d->slots_why);
    }
    d->slots = n;
    if (d->n_models > 0)
        weft_log_notice(d->log, "%d slot%s: %s", n, n == 1 ? "" : "s", d->slots_why);
}

/* What the node tells the scheduler it is. */
static void hello_of(const struct weftd *d, struct weft_hello *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < d->n_models; i++) {
        snprintf(h->models[i].name, sizeof h->models[i].name, "%s", d->models[i].name);
        h->models[i].tpl = d->models[i].tpl;
    }
    h->n_models = d->n_models;
    h->max_concurrency = d->slots;
    snprintf(h->hardware, sizeof h->hardware, "none (no models)");
    if (d->n_models > 0) {
        const struct weft_model_info *mi = weft_model_info(d->models[0].model);
        snprintf(h->hardware, sizeof h->hardware, "%s, %d threads",
                 mi->backend == WEFT_BACKEND_CUDA ? "CUDA" : "CPU", mi->n_threads);
    }
}

/* ---- start ------------------------------------------------------------------- */

static void on_ledger_timer(uv_timer_t *t)
{
    struct weftd *d = t->data;
    node_ledger_save(&d->ledger);
}

static void closed_quietly(void *arg)
{
    (void)arg;
}

int weftd_start(struct weftd **out, uv_loop_t *loop, const struct weftd_config *cfg,
                const struct weft_log *log, char *err, size_t errcap)
{
    int rc = weftd_config_check(cfg, err, errcap);
    if (rc)
        return rc;
    struct weftd *d = calloc(1, sizeof *d);
    if (!d)
        return WEFT_ENOMEM;
    d->loop = loop;
    d->cfg = *cfg;
    d->log = log;
    if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        rc = weft_err_from_errno(errno);
        snprintf(err, errcap, "%s: cannot create: %s", cfg->state_dir, weft_strerror(rc));
        free(d);
        return rc;
    }
    if ((rc = load_models(d, err, errcap)) != 0) {
        free_models(d);
        free(d);
        return rc;
    }
    choose_slots(d);
    static const struct node_energy_cb energy_cb = {on_interval_end, on_policy_step, NULL};
    struct node_energy_cb ecb = energy_cb;
    ecb.ud = d;
    node_energy_init(&d->energy, loop, &d->cfg, log, &ecb);
    rc = node_dayahead_init(&d->dayahead, loop, &d->cfg, log, on_dayahead, d);
    struct weft_hello hello;
    hello_of(d, &hello);
    struct node_link_cb lcb = {
        on_live, on_heartbeat, on_assignment, on_poll_done, on_cancel, on_upload_done, d};
    int runner_ok = 0, link_ok = 0;
    if (rc == 0)
        rc = node_runner_init(&d->runner, loop, &d->cfg.compute, d->models, d->n_models,
                              on_runner_events, d);
    d->runner.max_slots = d->slots;
    if (rc == 0) {
        runner_ok = 1;
        /* Without models no job can reach the runner (the link does not
         * poll and refuses a job for a model it lacks), so it needs no
         * thread. */
        if (d->n_models > 0)
            rc = node_runner_start(&d->runner);
    }
    if (rc == 0 && (rc = node_link_init(&d->link, loop, &d->cfg.scheduler, log, &hello, &lcb, err,
                                        errcap)) == 0)
        link_ok = 1;
    if (rc == 0 && d->cfg.mqtt.url[0]) {
        struct node_mqtt_cb mcb = {on_mqtt_command, on_mqtt_evcc, d};
        rc = node_mqtt_start(&d->mqtt, loop, &d->cfg.mqtt, d->cfg.policy.max_compute_w, log, &mcb,
                             err, errcap);
    }
    if (rc == 0)
        rc = node_status_start(d, err, errcap);
    if (rc) {
        /* Nothing has run yet; close what exists and give up. */
        node_runner_stop(&d->runner);
        if (runner_ok)
            node_runner_close(&d->runner, closed_quietly, NULL);
        if (link_ok) {
            node_link_stop(&d->link);
            node_link_close(&d->link, closed_quietly, NULL);
        }
        node_energy_close(&d->energy, closed_quietly, NULL);
        node_dayahead_close(&d->dayahead, closed_quietly, NULL);
        node_mqtt_stop(&d->mqtt, closed_quietly, NULL); /* when it started */
        uv_run(loop, UV_RUN_NOWAIT);
        free_models(d);
        free(d);
        if (!err[0])
            snprintf(err, errcap, "cannot start: %s", weft_strerror(rc));
        return rc;
    }
    node_ledger_init(&d->ledger, cfg->state_dir, log);
    uv_timer_init(loop, &d->ledger_timer);
    d->ledger_timer.data = d;
    uv_timer_start(&d->ledger_timer, on_ledger_timer, 30000, 30000);
    uv_timer_init(loop, &d->stop_timer);
    d->stop_timer.data = d;
    uv_timer_init(loop, &d->reattach_timer);
    d->reattach_timer.data = d;
    overrides_load(d);
    node_energy_start(&d->energy);
    node_dayahead_start(&d->dayahead);
    node_runner_set_budget(&d->runner, 0, d->energy.gpu_limited);
    node_link_start(&d->link);
    *out = d;
    return 0;
}

int weftd_status_port(const struct weftd *d)
{
    return d->status ? weft_http_server_port(d->status) : 0;
}

/* ---- stop ------------------------------------------------------------------------- */

/* Every module and handle closes through here; the last one frees d. */
static void part_closed(void *arg)
{
    struct weftd *d = arg;
    if (--d->pending_closes > 0)
        return;
    void (*cb)(void *) = d->stop_cb;
    void *cb_arg = d->stop_arg;
    free_models(d);
    free(d);
    if (cb)
        cb(cb_arg);
}

static void handle_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

static void after_status(void *arg)
{
    struct weftd *d = arg;
    d->pending_closes = 8;
    node_mqtt_stop(&d->mqtt, part_closed, d);
    node_dayahead_close(&d->dayahead, part_closed, d);
    node_link_close(&d->link, part_closed, d);
    node_runner_close(&d->runner, part_closed, d);
    node_energy_close(&d->energy, part_closed, d);
    uv_close((uv_handle_t *)&d->ledger_timer, handle_closed);
    uv_close((uv_handle_t *)&d->stop_timer, handle_closed);
    uv_close((uv_handle_t *)&d->reattach_timer, handle_closed);
}

static void finish_stop(struct weftd *d)
{
    uv_timer_stop(&d->stop_timer);
    uv_timer_stop(&d->reattach_timer);
    for (int i = 0; i < d->n_jobs; i++)
        atomic_store(&d->jobs[i]->cancel, 1);
    node_link_stop(&d->link);
    node_runner_stop(&d->runner); /* the runner sees cancel at its next step */
    account(d);
    for (int i = 0; i < d->n_jobs; i++) {
        /* Not finished here, but their tokens and energy were spent here. */
        struct node_job *j = d->jobs[i];
        node_ledger_add(&d->ledger, j->energy.wh, j->energy.surplus_wh, atomic_load(&j->tokens), 0);
        node_job_free(j);
    }
    d->n_jobs = 0;
    node_ledger_save(&d->ledger);
    weft_log_notice(d->log, "stopped");
    node_status_stop(d, after_status, d);
}

static void on_stop_timer(uv_timer_t *t)
{
    struct weftd *d = t->data;
    /* Wait for the yielded job's last events to reach the scheduler (and
     * for an energy read in flight), but never past STOP_WAIT_MS. */
    if ((d->n_jobs == 0 && !node_energy_busy(&d->energy)) ||
        weft_elapsed_ms(d->stop_since_ms, weft_mono_ms()) > STOP_WAIT_MS)
        finish_stop(d);
}

void weftd_stop(struct weftd *d, void (*cb)(void *arg), void *arg)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    d->stop_cb = cb;
    d->stop_arg = arg;
    node_energy_stop(&d->energy);
    for (int i = 0; i < d->n_jobs; i++)
        if (!atomic_load(&d->jobs[i]->yield)) {
            weft_log_notice(d->log, "stopping: yielding job %s", d->jobs[i]->id);
            atomic_store(&d->jobs[i]->yield, 1);
        }
    d->stop_since_ms = weft_mono_ms();
    uv_timer_start(&d->stop_timer, on_stop_timer, 0, 50);
}
