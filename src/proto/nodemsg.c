/* Node API messages; see include/weft/nodemsg.h. Each message's parser
 * and writer sit together, so a field name is spelled twice in one place
 * and nowhere else. */
#include "weft/nodemsg.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"
#include "weft/utf8.h"

static int fail(char *err, size_t errcap, const char *msg)
{
    if (err && errcap)
        snprintf(err, errcap, "%s", msg);
    return WEFT_EPARSE;
}

/* Whether s[0..n) is well-formed UTF-8 without NUL: what a node sends
 * reaches the clients' and the operator's JSON, which must be UTF-8. */
static bool utf8_ok_n(const char *s, size_t n)
{
    return !memchr(s, '\0', n) && weft_utf8_valid(s, n);
}

/* src into dst[cap], cut after the last whole character that fits. */
static void copy_chars(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src), o = 0;
    for (size_t k; o < n && (k = weft_utf8_seq(src + o, n - o)) > 0 && o + k < cap; o += k)
        ;
    memcpy(dst, src, o);
    dst[o] = '\0';
}

/* The body as a JSON object, or NULL (not JSON, not an object, or not
 * UTF-8). A node message must be one JSON object in UTF-8 (anything else is refused
 * whole, so no string from it can carry bad bytes further). */
static cJSON *parse_object(const char *body, size_t len)
{
    if (!utf8_ok_n(body, len))
        return NULL;
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

static void str_into(const cJSON *o, const char *k, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    copy_chars(out, cap, cJSON_IsString(v) ? v->valuestring : "");
}

/* A whole number in [lo, hi], or WEFT_ERANGE (NAN and huge doubles
 * included: the cast happens only after the range check). */
static int whole_in(const cJSON *v, double lo, double hi, long long *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != floor(v->valuedouble))
        return WEFT_ERANGE;
    *out = (long long)v->valuedouble;
    return 0;
}

/* An optional whole number in [0, hi]: dflt when absent or out of range. */
static long long whole_or(const cJSON *o, const char *k, double hi, long long dflt)
{
    long long v;
    return whole_in(cJSON_GetObjectItemCaseSensitive(o, k), 0, hi, &v) == 0 ? v : dflt;
}

/* Prints o into out and frees o. */
static int emit(cJSON *o, struct weft_buf *out, int newline)
{
    char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!txt)
        return WEFT_ENOMEM;
    int rc = weft_buf_append_str(out, txt);
    if (rc == 0 && newline)
        rc = weft_buf_append_byte(out, '\n');
    free(txt);
    return rc;
}

/* cJSON_Add* return NULL when out of memory; one check at the end. */
static void add_num_if(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
}

/* ---- hello ------------------------------------------------------------- */

int weft_hello_parse(const char *body, size_t len, struct weft_hello *h, char *err, size_t errcap)
{
    memset(h, 0, sizeof *h);
    cJSON *o = parse_object(body, len);
    if (!o)
        return fail(err, errcap, "expected a JSON object in UTF-8");
    int rc = 0;
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(o, "models");
    if (!cJSON_IsArray(models) || cJSON_GetArraySize(models) > WEFT_NODEMSG_MAX_MODELS) {
        rc = fail(err, errcap, "models must be an array of at most 16");
        goto out;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, models)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
        const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(m, "template");
        enum weft_chat_template t = WEFT_TPL_RAW;
        if (!cJSON_IsString(name) || !name->valuestring[0] ||
            strlen(name->valuestring) >= sizeof h->models[0].name ||
            (cJSON_IsString(tpl) && weft_chat_template_parse(tpl->valuestring, &t) != 0)) {
            rc = fail(err, errcap,
                      "each model needs a name and a template of raw, llama2, chatml or llama3");
            goto out;
        }
        snprintf(h->models[h->n_models].name, sizeof h->models[0].name, "%s", name->valuestring);
        h->models[h->n_models].tpl = t;
        h->n_models++;
    }
    double conc = num_or(o, "max_concurrency", 1);
    h->max_concurrency = conc < 1 ? 1 : conc > 64 ? 64 : (int)conc;
    str_into(o, "hardware", h->hardware, sizeof h->hardware);
out:
    cJSON_Delete(o);
    return rc;
}

int weft_hello_write(const struct weft_hello *h, struct weft_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *ms = cJSON_AddArrayToObject(o, "models");
    for (int i = 0; i < h->n_models; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", h->models[i].name);
        cJSON_AddStringToObject(m, "template", weft_chat_template_name(h->models[i].tpl));
        cJSON_AddItemToArray(ms, m);
    }
    cJSON_AddNumberToObject(o, "max_concurrency", h->max_concurrency);
    cJSON_AddStringToObject(o, "hardware", h->hardware);
    return emit(o, out, 0);
}

int weft_hello_reply_parse(const char *body, size_t len, struct weft_hello_reply *r, char *err,
                           size_t errcap)
{
    memset(r, 0, sizeof *r);
    r->heartbeat_ms = 2000;
    cJSON *o = parse_object(body, len);
    if (!o)
        return fail(err, errcap, "expected a JSON object in UTF-8");
    const cJSON *hb = cJSON_GetObjectItemCaseSensitive(o, "heartbeat_ms");
    /* Clamped, not refused: a scheduler asking for something odd still
     * gets heartbeats, at most a minute apart. */
    if (cJSON_IsNumber(hb) && !isnan(hb->valuedouble))
        r->heartbeat_ms = hb->valuedouble < 50      ? 50
                          : hb->valuedouble > 60000 ? 60000
                                                    : (int)hb->valuedouble;
    r->lease_ms = whole_or(o, "lease_ms", 1e12, 0);
    str_into(o, "node", r->node, sizeof r->node);
    cJSON_Delete(o);
    return 0;
}

int weft_hello_reply_write(const struct weft_hello_reply *r, struct weft_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "node", r->node);
    cJSON_AddNumberToObject(o, "heartbeat_ms", r->heartbeat_ms);
    cJSON_AddNumberToObject(o, "lease_ms", (double)r->lease_ms);
    return emit(o, out, 0);
}

/* ---- heartbeat ----------------------------------------------------------- */

int weft_heartbeat_parse(const char *body, size_t len, struct weft_heartbeat *hb, char *err,
                         size_t errcap)
{
    memset(hb, 0, sizeof *hb);
    cJSON *o = parse_object(body, len);
    if (!o)
        return fail(err, errcap, "expected a JSON object in UTF-8");
    hb->budget_w = num_or(o, "budget_w", 0);
    if (hb->budget_w < 0)
        hb->budget_w = 0;
    hb->pv_w = num_or(o, "pv_w", NAN);
    hb->load_w = num_or(o, "load_w", NAN);
    hb->grid_w = num_or(o, "grid_w", NAN);
    hb->battery_w = num_or(o, "battery_w", NAN);
    hb->soc = num_or(o, "soc", NAN);
    hb->compute_w = num_or(o, "compute_w", NAN);
    hb->deferrable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "deferrable"));
    hb->interactive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "interactive"));
    str_into(o, "policy_state", hb->policy_state, sizeof hb->policy_state);
    str_into(o, "reason", hb->reason, sizeof hb->reason);
    hb->slots = (int)whole_or(o, "slots", 64, 0);
    hb->budget_s = (int)whole_or(o, "budget_s", 7 * 86400, -1);
    const cJSON *j;
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(o, "jobs"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        if (hb->n_jobs == WEFT_NODEMSG_MAX_JOBS)
            break;
        if (!cJSON_IsString(id) || strlen(id->valuestring) >= sizeof hb->jobs[0].id)
            continue;
        snprintf(hb->jobs[hb->n_jobs].id, sizeof hb->jobs[0].id, "%s", id->valuestring);
        hb->jobs[hb->n_jobs].tokens = whole_or(j, "tokens", 1e12, 0);
        hb->n_jobs++;
    }
    cJSON_Delete(o);
    return 0;
}

int weft_heartbeat_write(const struct weft_heartbeat *hb, struct weft_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "budget_w", hb->budget_w);
    cJSON_AddStringToObject(o, "policy_state", hb->policy_state);
    cJSON_AddStringToObject(o, "reason", hb->reason);
    cJSON_AddBoolToObject(o, "deferrable", hb->deferrable);
    cJSON_AddBoolToObject(o, "interactive", hb->interactive);
    add_num_if(o, "pv_w", hb->pv_w);
    add_num_if(o, "load_w", hb->load_w);
    add_num_if(o, "grid_w", hb->grid_w);
    add_num_if(o, "battery_w", hb->battery_w);
    add_num_if(o, "soc", hb->soc);
    add_num_if(o, "compute_w", hb->compute_w);
    if (hb->slots > 0)
        cJSON_AddNumberToObject(o, "slots", hb->slots);
    if (hb->budget_s > 0) /* 0 and -1 are not sent: unknown, or no budget (budget_w says) */
        cJSON_AddNumberToObject(o, "budget_s", hb->budget_s);
    cJSON *jobs = cJSON_AddArrayToObject(o, "jobs");
    for (int i = 0; i < hb->n_jobs; i++) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", hb->jobs[i].id);
        cJSON_AddNumberToObject(j, "tokens", (double)hb->jobs[i].tokens);
        cJSON_AddItemToArray(jobs, j);
    }
    return emit(o, out, 0);
}

int weft_heartbeat_reply_parse(const char *body, size_t len, struct weft_heartbeat_reply *r,
                               char *err, size_t errcap)
{
    memset(r, 0, sizeof *r);
    cJSON *o = parse_object(body, len);
    if (!o)
        return fail(err, errcap, "expected a JSON object in UTF-8");
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(o, "cancel"))
    {
        if (r->n_cancel < WEFT_NODEMSG_MAX_JOBS && cJSON_IsString(c) && c->valuestring[0] &&
            strlen(c->valuestring) < sizeof r->cancel[0])
            snprintf(r->cancel[r->n_cancel++], sizeof r->cancel[0], "%s", c->valuestring);
    }
    r->lease_ms = whole_or(o, "lease_ms", 1e12, 0);
    cJSON_Delete(o);
    return 0;
}

int weft_heartbeat_reply_write(const struct weft_heartbeat_reply *r, struct weft_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *cancel = cJSON_AddArrayToObject(o, "cancel");
    for (int i = 0; i < r->n_cancel; i++)
        cJSON_AddItemToArray(cancel, cJSON_CreateString(r->cancel[i]));
    cJSON_AddNumberToObject(o, "lease_ms", (double)r->lease_ms);
    return emit(o, out, 0);
}

/* ---- assignment ---------------------------------------------------------- */

static int job_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= WEFT_NODEMSG_ID_MAX)
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
        return WEFT_ERANGE;
    *out = v->valuedouble;
    return 0;
}

/* "markup": [[start, end], ...] over the prompt's bytes, in order, not
 * overlapping; absent or null for none. */
static int markup_field(const cJSON *mk, struct weft_assignment *a, char *err, size_t errcap)
{
    if (mk == NULL || cJSON_IsNull(mk))
        return 0;
    int n = cJSON_IsArray(mk) ? cJSON_GetArraySize(mk) : -1;
    if (n < 0 || n > WEFT_NODEMSG_MAX_MARKUP)
        return fail(err, errcap, "markup must be an array of up to 4096 [start, end] pairs");
    a->markup = malloc((size_t)(n > 0 ? n : 1) * sizeof *a->markup);
    if (a->markup == NULL)
        return WEFT_ENOMEM;
    size_t plen = strlen(a->prompt);
    long long prev = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, mk)
    {
        long long s, e;
        if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != 2 ||
            whole_in(cJSON_GetArrayItem(r, 0), 0, (double)plen, &s) ||
            whole_in(cJSON_GetArrayItem(r, 1), 0, (double)plen, &e) || s >= e || s < prev)
            return fail(err, errcap,
                        "markup spans must be [start, end] with start < end <= the prompt's "
                        "length, in order, not overlapping");
        a->markup[a->n_markup][0] = (uint32_t)s;
        a->markup[a->n_markup][1] = (uint32_t)e;
        a->n_markup++;
        prev = e;
    }
    return 0;
}

static int assignment_fields(const cJSON *o, struct weft_assignment *a, char *err, size_t errcap)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model"),
                *prompt = cJSON_GetObjectItemCaseSensitive(o, "prompt"),
                *toks = cJSON_GetObjectItemCaseSensitive(o, "tokens"),
                *seed = cJSON_GetObjectItemCaseSensitive(o, "seed"),
                *stop = cJSON_GetObjectItemCaseSensitive(o, "stop");
    long long v;
    if (!cJSON_IsString(model) || !model->valuestring[0] ||
        strlen(model->valuestring) >= sizeof a->model)
        return fail(err, errcap, "model must be a string of 1 to 127 bytes");
    snprintf(a->model, sizeof a->model, "%s", model->valuestring);
    if (!cJSON_IsString(prompt))
        return fail(err, errcap, "prompt must be a string");
    if (whole_in(cJSON_GetObjectItemCaseSensitive(o, "max_tokens"), 1, WEFT_NODEMSG_MAX_TOKENS, &v))
        return fail(err, errcap, "max_tokens must be a whole number from 1 to 8192");
    a->max_tokens = (int)v;
    /* All max_tokens already delivered is possible: a node died before its end event. */
    if (!cJSON_IsArray(toks) || cJSON_GetArraySize(toks) > a->max_tokens)
        return fail(err, errcap, "tokens must be an array of at most max_tokens");
    if (opt_num(o, "temperature", 0, 2, 1, &a->temperature))
        return fail(err, errcap, "temperature must be a number from 0 to 2");
    if (opt_num(o, "top_p", 0, 1, 1, &a->top_p))
        return fail(err, errcap, "top_p must be a number from 0 to 1");
    if (opt_num(o, "presence_penalty", -2, 2, 0, &a->presence_penalty) ||
        opt_num(o, "frequency_penalty", -2, 2, 0, &a->frequency_penalty))
        return fail(err, errcap, "presence_penalty and frequency_penalty must be from -2 to 2");
    /* A string: a 64-bit seed does not survive a JSON double. */
    char *end = NULL;
    errno = 0;
    if (!cJSON_IsString(seed) || seed->valuestring[0] < '0' || seed->valuestring[0] > '9' ||
        (a->seed = strtoull(seed->valuestring, &end, 10), errno != 0 || *end != '\0'))
        return fail(err, errcap, "seed must be a decimal string of a 64-bit number");
    if (stop && !cJSON_IsNull(stop)) {
        if (!cJSON_IsArray(stop) || cJSON_GetArraySize(stop) > WEFT_NODEMSG_MAX_STOP)
            return fail(err, errcap, "stop must be an array of up to 4 strings");
        const cJSON *s;
        cJSON_ArrayForEach(s, stop)
        {
            if (!cJSON_IsString(s) || !s->valuestring[0] ||
                strlen(s->valuestring) > WEFT_NODEMSG_STOP_LEN)
                return fail(err, errcap, "stop strings must have 1 to 63 bytes");
            snprintf(a->stop[a->n_stop++], sizeof a->stop[0], "%s", s->valuestring);
        }
    }
    a->attempt = (int)whole_or(o, "attempt", 1e6, 0);
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(o, "logprobs");
    if (lp) {
        if (!cJSON_IsBool(lp))
            return fail(err, errcap, "logprobs must be true or false");
        a->logprobs = cJSON_IsTrue(lp);
        if (a->logprobs && whole_in(cJSON_GetObjectItemCaseSensitive(o, "top_logprobs"), 0,
                                    WEFT_NODEMSG_MAX_TOP, &v))
            return fail(err, errcap, "top_logprobs must be a whole number from 0 to 20");
        a->top_logprobs = a->logprobs ? (int)v : 0;
    }
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(o, "response_format");
    if (rf && !cJSON_IsNull(rf)) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(rf, "type");
        if (!cJSON_IsObject(rf) || !cJSON_IsString(t) ||
            (strcmp(t->valuestring, "json_object") != 0 &&
             !(strcmp(t->valuestring, "json_schema") == 0 &&
               cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rf, "schema")))))
            return fail(err, errcap,
                        "response_format must be {\"type\":\"json_object\"} or "
                        "{\"type\":\"json_schema\",\"schema\":{...}}");
        const cJSON *pre = cJSON_GetObjectItemCaseSensitive(rf, "prefix");
        const cJSON *suf = cJSON_GetObjectItemCaseSensitive(rf, "suffix");
        if ((pre && (!cJSON_IsString(pre) || strlen(pre->valuestring) > 64)) ||
            (suf && (!cJSON_IsString(suf) || strlen(suf->valuestring) > 64)))
            return fail(err, errcap,
                        "response_format's prefix and suffix must be strings of at "
                        "most 64 bytes");
        if (!(a->response_format = cJSON_PrintUnformatted(rf)))
            return WEFT_ENOMEM;
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
            return fail(err, errcap, "tokens must be whole numbers from 0 to 2^31-1");
        a->resume[a->n_resume++] = (int32_t)v;
    }
    return markup_field(cJSON_GetObjectItemCaseSensitive(o, "markup"), a, err, errcap);
}

int weft_assignment_parse(const char *body, size_t len, struct weft_assignment *a, char *err,
                          size_t errcap)
{
    memset(a, 0, sizeof *a);
    cJSON *o = parse_object(body, len);
    if (!o)
        return fail(err, errcap, "expected a JSON object in UTF-8");
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(o, "job");
    int rc;
    if (!cJSON_IsString(job) || !job_id_ok(job->valuestring)) {
        rc = fail(err, errcap, "job must be an id of 1 to 63 letters, digits, '-', '_' or '.'");
    } else {
        snprintf(a->job, sizeof a->job, "%s", job->valuestring);
        rc = assignment_fields(o, a, err, errcap);
    }
    cJSON_Delete(o);
    return rc;
}

void weft_assignment_free(struct weft_assignment *a)
{
    free(a->prompt);
    free(a->resume);
    free(a->markup);
    free(a->response_format);
    a->response_format = NULL;
    a->prompt = NULL;
    a->resume = NULL;
    a->markup = NULL;
    a->n_markup = 0;
}

int weft_assignment_write(const struct weft_assignment *a, struct weft_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job", a->job);
    cJSON_AddStringToObject(o, "model", a->model);
    cJSON_AddStringToObject(o, "prompt", a->prompt ? a->prompt : "");
    cJSON *toks = cJSON_AddArrayToObject(o, "tokens");
    for (int i = 0; i < a->n_resume; i++)
        cJSON_AddItemToArray(toks, cJSON_CreateNumber(a->resume[i]));
    cJSON_AddNumberToObject(o, "max_tokens", a->max_tokens);
    cJSON_AddNumberToObject(o, "temperature", a->temperature);
    cJSON_AddNumberToObject(o, "top_p", a->top_p);
    if (a->presence_penalty != 0)
        cJSON_AddNumberToObject(o, "presence_penalty", a->presence_penalty);
    if (a->frequency_penalty != 0)
        cJSON_AddNumberToObject(o, "frequency_penalty", a->frequency_penalty);
    /* As a string: a 64-bit seed does not survive a JSON double. */
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->seed);
    cJSON_AddStringToObject(o, "seed", seed);
    cJSON *stop = cJSON_AddArrayToObject(o, "stop");
    for (int i = 0; i < a->n_stop; i++)
        cJSON_AddItemToArray(stop, cJSON_CreateString(a->stop[i]));
    cJSON_AddNumberToObject(o, "attempt", a->attempt);
    if (a->response_format) {
        cJSON *rf = cJSON_Parse(a->response_format);
        if (!rf) {
            cJSON_Delete(o);
            return WEFT_EINVAL;
        }
        cJSON_AddItemToObject(o, "response_format", rf);
    }
    if (a->logprobs) {
        cJSON_AddBoolToObject(o, "logprobs", 1);
        cJSON_AddNumberToObject(o, "top_logprobs", a->top_logprobs);
    }
    if (a->n_markup > 0) {
        cJSON *mk = cJSON_AddArrayToObject(o, "markup");
        for (int i = 0; i < a->n_markup; i++) {
            cJSON *r = cJSON_CreateArray();
            cJSON_AddItemToArray(r, cJSON_CreateNumber(a->markup[i][0]));
            cJSON_AddItemToArray(r, cJSON_CreateNumber(a->markup[i][1]));
            cJSON_AddItemToArray(mk, r);
        }
    }
    return emit(o, out, 0);
}

/* ---- token stream events --------------------------------------------------- */

static const char *const end_names[] = {"stop", "length", "yield", "error"};

static int nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "hex" (lowercase) -> bytes; 0 or WEFT_EPARSE. */
static int lp_bytes(const cJSON *h, struct weft_token_lp *t)
{
    if (!cJSON_IsString(h))
        return WEFT_EPARSE;
    size_t n = strlen(h->valuestring);
    if (n % 2 || n / 2 > WEFT_NODEMSG_PIECE_MAX)
        return WEFT_EPARSE;
    for (size_t k = 0; k < n / 2; k++) {
        int hi = nibble(h->valuestring[2 * k]), lo = nibble(h->valuestring[2 * k + 1]);
        if (hi < 0 || lo < 0)
            return WEFT_EPARSE;
        t->bytes[k] = (char)(hi << 4 | lo);
    }
    t->n_bytes = (uint8_t)(n / 2);
    return 0;
}

static int lp_value(const cJSON *v, float *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble <= 0) || v->valuedouble < -1e30)
        return WEFT_EPARSE;
    *out = (float)v->valuedouble;
    return 0;
}

/* A token event's log-probabilities, when it has them. */
static int event_logprobs(const cJSON *o, struct weft_event *ev)
{
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(o, "lp");
    if (!lp)
        return 0;
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(o, "top");
    ev->has_lp = 1;
    ev->lp.id = ev->id;
    if (lp_value(lp, &ev->lp.logprob) ||
        lp_bytes(cJSON_GetObjectItemCaseSensitive(o, "b"), &ev->lp))
        return WEFT_EPARSE;
    if (!top)
        return 0;
    if (!cJSON_IsArray(top) || cJSON_GetArraySize(top) > WEFT_NODEMSG_MAX_TOP)
        return WEFT_EPARSE;
    const cJSON *e;
    cJSON_ArrayForEach(e, top)
    {
        struct weft_token_lp *t = &ev->top[ev->n_top];
        long long id;
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 3 ||
            whole_in(cJSON_GetArrayItem(e, 0), 0, INT32_MAX, &id) ||
            lp_value(cJSON_GetArrayItem(e, 1), &t->logprob) ||
            lp_bytes(cJSON_GetArrayItem(e, 2), t))
            return WEFT_EPARSE;
        t->id = (int32_t)id;
        ev->n_top++;
    }
    return 0;
}

static cJSON *hex_string(const struct weft_token_lp *t)
{
    char h[2 * WEFT_NODEMSG_PIECE_MAX + 1];
    for (int k = 0; k < t->n_bytes; k++)
        snprintf(h + 2 * k, 3, "%02x", (unsigned char)t->bytes[k]);
    h[2 * t->n_bytes] = '\0';
    return cJSON_CreateString(h);
}

static void add_logprobs(cJSON *o, const struct weft_event *ev)
{
    cJSON_AddNumberToObject(o, "lp", ev->lp.logprob);
    cJSON_AddItemToObject(o, "b", hex_string(&ev->lp));
    cJSON *top = cJSON_AddArrayToObject(o, "top");
    for (int k = 0; k < ev->n_top; k++) {
        cJSON *e = cJSON_CreateArray();
        cJSON_AddItemToArray(e, cJSON_CreateNumber(ev->top[k].id));
        cJSON_AddItemToArray(e, cJSON_CreateNumber(ev->top[k].logprob));
        cJSON_AddItemToArray(e, hex_string(&ev->top[k]));
        cJSON_AddItemToArray(top, e);
    }
}

int weft_event_lp_write(const struct weft_event *ev, struct weft_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", ev->id);
    add_logprobs(o, ev);
    return emit(o, out, 0);
}

int weft_event_lp_parse(const char *s, size_t len, struct weft_event *ev)
{
    memset(ev, 0, sizeof *ev);
    cJSON *o = parse_object(s, len);
    if (!o)
        return WEFT_EPARSE;
    long long id;
    int rc = whole_in(cJSON_GetObjectItemCaseSensitive(o, "id"), 0, INT32_MAX, &id);
    if (rc == 0) {
        ev->kind = WEFT_EV_TOKEN;
        ev->id = (int32_t)id;
        rc = event_logprobs(o, ev);
        if (rc == 0 && !ev->has_lp)
            rc = WEFT_EPARSE;
    }
    cJSON_Delete(o);
    return rc ? WEFT_EPARSE : 0;
}

int weft_event_parse(const char *line, size_t len, struct weft_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->prompt_tokens = -1;
    cJSON *o = parse_object(line, len);
    if (!o)
        return WEFT_EPARSE;
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
            rc = event_logprobs(o, ev);
        }
    } else if (cJSON_IsString(end) && !i) {
        int e = -1;
        for (int k = 0; k < 4; k++)
            if (strcmp(end->valuestring, end_names[k]) == 0)
                e = k;
        if (e < 0) {
            rc = WEFT_EPARSE;
        } else {
            ev->kind = WEFT_EV_END;
            ev->end = (enum weft_event_end)e;
            double pt = num_or(o, "prompt_tokens", -1);
            ev->prompt_tokens = pt >= 0 && pt < 1e7 ? (int)pt : -1;
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
            /* "" reads as absent, which is how the writer writes it. */
            copy_chars(ev->message, sizeof ev->message,
                       cJSON_IsString(m) && m->valuestring[0] ? m->valuestring : "error");
        }
    } else {
        rc = WEFT_EPARSE;
    }
    if (rc == 0 && text)
        snprintf(ev->text, sizeof ev->text, "%s", text->valuestring);
    cJSON_Delete(o);
    return rc;
}

int weft_event_write(const struct weft_event *ev, struct weft_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    if (ev->kind == WEFT_EV_TOKEN) {
        cJSON_AddNumberToObject(o, "i", (double)ev->i);
        cJSON_AddNumberToObject(o, "id", ev->id);
        cJSON_AddStringToObject(o, "text", ev->text);
        if (ev->has_lp)
            add_logprobs(o, ev);
    } else {
        cJSON_AddStringToObject(o, "end", end_names[ev->end]);
        if (ev->text[0])
            cJSON_AddStringToObject(o, "text", ev->text);
        if (ev->prompt_tokens >= 0)
            cJSON_AddNumberToObject(o, "prompt_tokens", ev->prompt_tokens);
        if (ev->message[0])
            cJSON_AddStringToObject(o, "message", ev->message);
    }
    return emit(o, out, 1);
}

void weft_event_token(struct weft_event *ev, int64_t i, int32_t id, const char *text, size_t len)
{
    ev->kind = WEFT_EV_TOKEN;
    ev->i = i;
    ev->id = id;
    ev->has_lp = 0;
    ev->n_top = 0;
    if (len >= sizeof ev->text)
        len = sizeof ev->text - 1;
    memcpy(ev->text, text, len);
    ev->text[len] = '\0';
}

void weft_event_end(struct weft_event *ev, enum weft_event_end end, int prompt_tokens,
                    const char *message, const char *tail)
{
    ev->kind = WEFT_EV_END;
    ev->end = end;
    ev->prompt_tokens = prompt_tokens;
    snprintf(ev->message, sizeof ev->message, "%s", message ? message : "");
    snprintf(ev->text, sizeof ev->text, "%s", tail ? tail : "");
}
