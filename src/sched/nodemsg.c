/* Node API messages; see include/weft/nodemsg.h. */
#include "weft/nodemsg.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"

static int fail(char *why, size_t cap, const char *msg)
{
    if (why && cap)
        snprintf(why, cap, "%s", msg);
    return WEFT_EPARSE;
}

/* The body as a JSON object, or NULL (not JSON, or not an object). */
static cJSON *parse_object(const char *body, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (cJSON_IsObject(o))
        return o;
    cJSON_Delete(o);
    return NULL;
}

static double num_or(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : dflt;
}

int weft_hello_parse(const char *body, size_t len, struct weft_hello *h, char *why, size_t cap)
{
    memset(h, 0, sizeof *h);
    cJSON *o = parse_object(body, len);
    if (!o)
        return fail(why, cap, "expected a JSON object");
    int rc = 0;
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(o, "models");
    if (!cJSON_IsArray(models) || cJSON_GetArraySize(models) > WEFT_NODEMSG_MAX_MODELS) {
        rc = fail(why, cap, "models must be an array of at most 16");
        goto out;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, models)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
        const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(m, "template");
        int t = cJSON_IsString(tpl) ? weft_chat_template_parse(tpl->valuestring) : 0;
        if (!cJSON_IsString(name) || !name->valuestring[0] ||
            strlen(name->valuestring) >= sizeof h->models[0].name || t < 0) {
            rc = fail(why, cap,
                      "each model needs a name and a template of raw, llama2, chatml or llama3");
            goto out;
        }
        snprintf(h->models[h->n_models].name, sizeof h->models[0].name, "%s", name->valuestring);
        h->models[h->n_models].tpl = (enum weft_chat_template)t;
        h->n_models++;
    }
    double conc = num_or(o, "max_concurrency", 1);
    h->max_concurrency = conc < 1 ? 1 : conc > 64 ? 64 : (int)conc;
    const cJSON *hw = cJSON_GetObjectItemCaseSensitive(o, "hardware");
    snprintf(h->hardware, sizeof h->hardware, "%s", cJSON_IsString(hw) ? hw->valuestring : "");
out:
    cJSON_Delete(o);
    return rc;
}

int weft_heartbeat_parse(const char *body, size_t len, struct weft_heartbeat *hb, char *why,
                         size_t cap)
{
    memset(hb, 0, sizeof *hb);
    cJSON *o = parse_object(body, len);
    if (!o)
        return fail(why, cap, "expected a JSON object");
    hb->budget_w = num_or(o, "budget_w", 0);
    if (hb->budget_w < 0)
        hb->budget_w = 0;
    hb->pv_w = num_or(o, "pv_w", NAN);
    hb->load_w = num_or(o, "load_w", NAN);
    hb->grid_w = num_or(o, "grid_w", NAN);
    hb->battery_w = num_or(o, "battery_w", NAN);
    hb->soc = num_or(o, "soc", NAN);
    hb->deferrable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "deferrable"));
    hb->interactive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "interactive"));
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(o, "policy_state");
    snprintf(hb->policy_state, sizeof hb->policy_state, "%s",
             cJSON_IsString(ps) ? ps->valuestring : "");
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(o, "jobs"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        if (hb->n_jobs == WEFT_NODEMSG_MAX_JOBS)
            break;
        if (cJSON_IsString(id) && strlen(id->valuestring) < sizeof hb->jobs[0])
            snprintf(hb->jobs[hb->n_jobs++], sizeof hb->jobs[0], "%s", id->valuestring);
    }
    cJSON_Delete(o);
    return 0;
}

int weft_event_parse(const char *line, size_t len, struct weft_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->prompt_tokens = -1;
    cJSON *o = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return WEFT_EPARSE;
    }
    int rc = 0;
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, "i");
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(o, "end");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
    if (text && (!cJSON_IsString(text) || strlen(text->valuestring) >= sizeof ev->text)) {
        rc = WEFT_EPARSE;
    } else if (cJSON_IsNumber(i) && !end) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        if (!cJSON_IsNumber(id) || i->valuedouble < 0 || i->valuedouble > 1e9 ||
            floor(i->valuedouble) != i->valuedouble || id->valuedouble < 0 ||
            id->valuedouble > 2147483647.0) {
            rc = WEFT_EPARSE;
        } else {
            ev->kind = WEFT_EV_TOKEN;
            ev->i = (int64_t)i->valuedouble;
            ev->id = (int32_t)id->valuedouble;
        }
    } else if (cJSON_IsString(end) && !i) {
        static const char *const names[] = {"stop", "length", "yield", "error"};
        int e = -1;
        for (int k = 0; k < 4; k++)
            if (strcmp(end->valuestring, names[k]) == 0)
                e = k;
        if (e < 0) {
            rc = WEFT_EPARSE;
        } else {
            ev->kind = WEFT_EV_END;
            ev->end = (enum weft_event_end)e;
            double pt = num_or(o, "prompt_tokens", -1);
            ev->prompt_tokens = pt >= 0 && pt < 1e7 ? (int)pt : -1;
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
            snprintf(ev->message, sizeof ev->message, "%s",
                     cJSON_IsString(m) ? m->valuestring : "error");
        }
    } else {
        rc = WEFT_EPARSE;
    }
    if (rc == 0 && text)
        snprintf(ev->text, sizeof ev->text, "%s", text->valuestring);
    cJSON_Delete(o);
    return rc;
}

int weft_hello_reply_parse(const char *body, size_t len, struct weft_hello_reply *r, char *why,
                           size_t cap)
{
    r->heartbeat_ms = 2000;
    cJSON *o = parse_object(body, len);
    if (!o)
        return fail(why, cap, "expected a JSON object");
    const cJSON *hb = cJSON_GetObjectItemCaseSensitive(o, "heartbeat_ms");
    /* Clamped, not refused: a scheduler asking for something odd still
     * gets heartbeats, at most a minute apart. */
    if (cJSON_IsNumber(hb) && !isnan(hb->valuedouble))
        r->heartbeat_ms = hb->valuedouble < 50      ? 50
                          : hb->valuedouble > 60000 ? 60000
                                                    : (int)hb->valuedouble;
    cJSON_Delete(o);
    return 0;
}

int weft_heartbeat_reply_parse(const char *body, size_t len, struct weft_heartbeat_reply *r,
                               char *why, size_t cap)
{
    r->n_cancel = 0;
    cJSON *o = parse_object(body, len);
    if (!o)
        return fail(why, cap, "expected a JSON object");
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(o, "cancel"))
    {
        if (r->n_cancel < WEFT_NODEMSG_MAX_JOBS && cJSON_IsString(c) && c->valuestring[0] &&
            strlen(c->valuestring) < sizeof r->cancel[0])
            snprintf(r->cancel[r->n_cancel++], sizeof r->cancel[0], "%s", c->valuestring);
    }
    cJSON_Delete(o);
    return 0;
}

/* A whole number in [lo, hi], or -1 (NAN and huge doubles included: the
 * cast to int happens only after the range check). */
static int whole_in(const cJSON *v, double lo, double hi, long long *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    *out = (long long)v->valuedouble;
    return 0;
}

static int job_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof((struct weft_assignment *)0)->job)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* An optional number in [lo, hi]; absent or null gives dflt. */
static int opt_num(const cJSON *o, const char *k, double lo, double hi, double dflt, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        return -1;
    *out = v->valuedouble;
    return 0;
}

static int assignment_fields(const cJSON *o, struct weft_assignment *a, char *why, size_t cap)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model"),
                *prompt = cJSON_GetObjectItemCaseSensitive(o, "prompt"),
                *toks = cJSON_GetObjectItemCaseSensitive(o, "tokens"),
                *seed = cJSON_GetObjectItemCaseSensitive(o, "seed"),
                *stop = cJSON_GetObjectItemCaseSensitive(o, "stop");
    long long v;
    if (!cJSON_IsString(model) || !model->valuestring[0] ||
        strlen(model->valuestring) >= sizeof a->model)
        return fail(why, cap, "model must be a string of 1 to 127 bytes");
    snprintf(a->model, sizeof a->model, "%s", model->valuestring);
    if (!cJSON_IsString(prompt))
        return fail(why, cap, "prompt must be a string");
    if (whole_in(cJSON_GetObjectItemCaseSensitive(o, "max_tokens"), 1, WEFT_OAI_MAX_TOKENS, &v))
        return fail(why, cap, "max_tokens must be a whole number from 1 to 8192");
    a->max_tokens = (int)v;
    /* All max_tokens already delivered is possible: a node died before its end event. */
    if (!cJSON_IsArray(toks) || cJSON_GetArraySize(toks) > a->max_tokens)
        return fail(why, cap, "tokens must be an array of at most max_tokens");
    if (opt_num(o, "temperature", 0, 2, 1, &a->temperature))
        return fail(why, cap, "temperature must be a number from 0 to 2");
    if (opt_num(o, "top_p", 0, 1, 1, &a->top_p))
        return fail(why, cap, "top_p must be a number from 0 to 1");
    /* A string: a 64-bit seed does not survive a JSON double. */
    char *end = NULL;
    errno = 0;
    if (!cJSON_IsString(seed) || seed->valuestring[0] < '0' || seed->valuestring[0] > '9' ||
        (a->seed = strtoull(seed->valuestring, &end, 10), errno != 0 || *end != '\0'))
        return fail(why, cap, "seed must be a decimal string of a 64-bit number");
    if (stop && !cJSON_IsNull(stop)) {
        if (!cJSON_IsArray(stop) || cJSON_GetArraySize(stop) > WEFT_OAI_MAX_STOP)
            return fail(why, cap, "stop must be an array of up to 4 strings");
        const cJSON *s;
        cJSON_ArrayForEach(s, stop)
        {
            if (!cJSON_IsString(s) || !s->valuestring[0] ||
                strlen(s->valuestring) > WEFT_OAI_STOP_MAX_LEN)
                return fail(why, cap, "stop strings must have 1 to 63 bytes");
            snprintf(a->stop[a->n_stop++], sizeof a->stop[0], "%s", s->valuestring);
        }
    }
    int n = cJSON_GetArraySize(toks);
    a->resume = malloc((size_t)(n > 0 ? n : 1) * sizeof *a->resume);
    a->prompt = strdup(prompt->valuestring);
    if (!a->resume || !a->prompt)
        return WEFT_ENOMEM;
    const cJSON *t;
    cJSON_ArrayForEach(t, toks)
    {
        if (whole_in(t, 0, INT32_MAX, &v))
            return fail(why, cap, "tokens must be whole numbers from 0 to 2^31-1");
        a->resume[a->n_resume++] = (int32_t)v;
    }
    return 0;
}

int weft_assignment_parse(const char *body, size_t len, struct weft_assignment *a, char *why,
                          size_t cap)
{
    memset(a, 0, sizeof *a);
    cJSON *o = parse_object(body, len);
    if (!o)
        return fail(why, cap, "expected a JSON object");
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(o, "job");
    int rc;
    if (!cJSON_IsString(job) || !job_id_ok(job->valuestring)) {
        rc = fail(why, cap, "job must be an id of 1 to 63 letters, digits, '-', '_' or '.'");
    } else {
        snprintf(a->job, sizeof a->job, "%s", job->valuestring);
        rc = assignment_fields(o, a, why, cap);
    }
    cJSON_Delete(o);
    return rc;
}

void weft_assignment_free(struct weft_assignment *a)
{
    free(a->prompt);
    free(a->resume);
    a->prompt = NULL;
    a->resume = NULL;
}
