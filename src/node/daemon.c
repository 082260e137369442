/* weftd's life: start (models, runner, ledger, status, energy, link) and
 * an orderly stop (no new work, the running job yielded and its last
 * events delivered, then everything closed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "weft/error.h"
#include "weft/gguf.h"
#include "weft/http.h"
#include "weft/log.h"
#include "weft/time.h"

#define STOP_WAIT_MS 10000

static void on_wake(uv_async_t *a)
{
    node_link_upload_wake(a->data);
}

static void on_ledger_timer(uv_timer_t *t)
{
    node_ledger_save(t->data);
}

/* The chat template a GGUF names, by its markers; raw when it has none. */
static enum weft_chat_template detect_template(const char *path)
{
    struct weft_gguf *g;
    char err[256];
    if (weft_gguf_open(path, &g, err, sizeof err) != 0)
        return WEFT_TPL_RAW;
    struct weft_str s;
    enum weft_chat_template t = WEFT_TPL_RAW;
    if (weft_gguf_get_str(g, "tokenizer.chat_template", &s) == 0) {
        char *txt = strndup(s.p, s.n > 65536 ? 65536 : (size_t)s.n);
        t = weft_chat_template_detect(txt);
        free(txt);
    }
    weft_gguf_close(g);
    return t;
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
        if (!mc->template[0] || weft_chat_template_parse(mc->template, &nm->tpl) != 0)
            nm->tpl = detect_template(mc->path);
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
    weft_policy_from_config(&cfg->policy, cfg->energy.has_battery, &d->ps);
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
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    uv_async_init(loop, &d->wake, on_wake);
    d->wake.data = d;
    /* Without models no job can reach the runner (the link does not poll
     * and refuses a job for a model it lacks), so it needs no thread. */
    if ((d->n_models > 0 && (rc = node_runner_start(d)) != 0) ||
        (rc = node_status_start(d, err, errcap)) != 0 ||
        (rc = node_link_init(d, err, errcap)) != 0) {
        /* Nothing has run yet; close what exists and give up. */
        node_runner_stop(d);
        uv_close((uv_handle_t *)&d->wake, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        free_models(d);
        free(d);
        return rc ? rc : WEFT_EIO;
    }
    node_ledger_load(d);
    uv_timer_init(loop, &d->ledger_timer);
    d->ledger_timer.data = d;
    uv_timer_start(&d->ledger_timer, on_ledger_timer, 30000, 30000);
    uv_timer_init(loop, &d->stop_timer);
    d->stop_timer.data = d;
    node_energy_start(d);
    node_link_start(d);
    *out = d;
    return 0;
}

int weftd_status_port(const struct weftd *d)
{
    return d->status ? weft_http_server_port(d->status) : 0;
}

/* ---- stop ------------------------------------------------------------------------- */

/* Every handle inside struct weftd closes through here; the last one
 * frees it (libuv runs close callbacks in no order we may rely on). */
void node_handle_closed(uv_handle_t *h)
{
    struct weftd *d = h->data;
    if (--d->pending_closes > 0)
        return;
    void (*cb)(void *) = d->stop_cb;
    void *arg = d->stop_arg;
    free_models(d);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
    if (cb)
        cb(arg);
}

static void after_status(void *arg)
{
    struct weftd *d = arg;
    uv_close((uv_handle_t *)&d->wake, node_handle_closed);
    uv_close((uv_handle_t *)&d->ledger_timer, node_handle_closed);
    uv_close((uv_handle_t *)&d->energy_timer, node_handle_closed);
    uv_close((uv_handle_t *)&d->stop_timer, node_handle_closed);
}

static void finish_stop(struct weftd *d)
{
    uv_timer_stop(&d->stop_timer);
    /* Three link timers (node_link_stop) and four of ours (after_status). */
    d->pending_closes = 7;
    if (d->job) {
        atomic_store(&d->job->cancel, 1);
    }
    node_link_stop(d);
    node_runner_stop(d); /* the runner sees cancel at its next token */
    if (d->job) {
        /* Not finished here, but its tokens and energy were spent here. */
        node_ledger_job_step(d);
        node_ledger_add(d, d->job->wh, d->job->surplus_wh, atomic_load(&d->job->tokens), 0);
        node_job_free(d->job);
        d->job = NULL;
    }
    node_ledger_save(d);
    weft_log_notice(d->log, "stopped");
    node_status_stop(d, after_status, d);
}

static void on_stop_timer(uv_timer_t *t)
{
    struct weftd *d = t->data;
    /* Wait for the yielded job's last events to reach the scheduler (and
     * for an energy read in flight), but never past STOP_WAIT_MS. */
    if ((!d->job && !d->energy_busy) ||
        weft_elapsed_ms(d->link_since_ms, weft_mono_ms()) > STOP_WAIT_MS)
        finish_stop(d);
}

void weftd_stop(struct weftd *d, void (*cb)(void *arg), void *arg)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    d->stop_cb = cb;
    d->stop_arg = arg;
    node_energy_stop(d);
    if (d->job && !atomic_load(&d->job->yield)) {
        weft_log_notice(d->log, "stopping: yielding job %s", d->job->id);
        atomic_store(&d->job->yield, 1);
    }
    d->link_since_ms = weft_mono_ms(); /* reused as the stop clock */
    uv_timer_start(&d->stop_timer, on_stop_timer, 0, 50);
}
