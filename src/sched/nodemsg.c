/* Node API messages; see include/weft/nodemsg.h. */
#include "weft/nodemsg.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "weft/error.h"

static int fail(char *why, size_t cap, const char *msg)
{
    if (why && cap)
        snprintf(why, cap, "%s", msg);
    return WEFT_EPARSE;
}

static double num_or(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : dflt;
}

int weft_hello_parse(const char *body, size_t len, struct weft_hello *h, char *why, size_t cap)
{
    memset(h, 0, sizeof *h);
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return fail(why, cap, "expected a JSON object");
    }
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
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return fail(why, cap, "expected a JSON object");
    }
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
