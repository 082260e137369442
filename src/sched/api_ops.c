/* Operations: GET /healthz (anyone) and GET /v1/admin/nodes (an admin
 * key): what the region looks like now. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

#include "api.h"
#include "core.h"
#include "reply.h"
#include "verify.h"
#include "weft/time.h"

void sched_h_healthz(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    (void)call;
    char body[200];
    /* The process answers: ok. Whether its store answers is said beside,
     * so a load balancer's check can choose to keep or drop it. */
    int len = snprintf(body, sizeof body,
                       "{\"status\":\"ok\",\"nodes_live\":%d,\"queued\":%d,\"running\":%d,"
                       "\"store\":\"%s\"}\n",
                       sched_nodes_live(s), s->n_queued, s->n_running,
                       s->store_down ? "unreachable" : "ok");
    weft_http_respond(req, 200, SCHED_JSON, NULL, body, (size_t)len);
}

cJSON *sched_nodes_json(struct sched *s)
{
    uint64_t now = weft_mono_ms();
    cJSON *data = cJSON_CreateArray();
    struct weft_list *it;
    weft_list_foreach(it, &s->nodes)
    {
        const struct sched_node *n = weft_list_entry(it, struct sched_node, link);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", n->name);
        cJSON_AddStringToObject(x, "state", n->live ? "live" : "gone");
        cJSON_AddNumberToObject(x, "last_seen_ms_ago",
                                (double)weft_elapsed_ms(n->last_seen_ms, now));
        cJSON_AddStringToObject(x, "hardware", n->hardware);
        cJSON *models = cJSON_AddArrayToObject(x, "models");
        for (int i = 0; i < n->n_models; i++)
            cJSON_AddItemToArray(models, cJSON_CreateString(n->models[i].name));
        cJSON_AddNumberToObject(x, "running", n->running);
        /* A poll parked here: the node waits for work now. */
        cJSON_AddBoolToObject(x, "waiting", n->poll != NULL);
        cJSON_AddNumberToObject(x, "max_concurrency", n->max_concurrency);
        cJSON_AddNumberToObject(x, "slots", sched_node_slots(n));
        cJSON_AddNumberToObject(x, "budget_w", n->budget_w);
        if (n->budget_s >= 0)
            cJSON_AddNumberToObject(x, "budget_s", n->budget_s);
        else
            cJSON_AddNullToObject(x, "budget_s");
        cJSON_AddStringToObject(x, "policy_state", n->policy_state);
        cJSON_AddBoolToObject(x, "deferrable", n->deferrable_ok);
        cJSON_AddBoolToObject(x, "interactive", n->interactive_ok);
        cJSON_AddNumberToObject(x, "pv_w", n->pv_w);
        cJSON_AddNumberToObject(x, "grid_w", n->grid_w);
        cJSON_AddNumberToObject(x, "battery_w", n->battery_w);
        cJSON_AddNumberToObject(x, "soc", n->soc);
        cJSON_AddNumberToObject(x, "tokens", (double)n->tokens);
        if (isfinite(n->load_w))
            cJSON_AddNumberToObject(x, "load_w", n->load_w);
        else
            cJSON_AddNullToObject(x, "load_w");
        if (isfinite(n->compute_w))
            cJSON_AddNumberToObject(x, "compute_w", n->compute_w);
        else
            cJSON_AddNullToObject(x, "compute_w");
        cJSON_AddNumberToObject(x, "wh", n->wh);
        cJSON *t = cJSON_AddObjectToObject(x, "trust");
        cJSON_AddNumberToObject(t, "score", sched_verify_trust(s, n));
        cJSON_AddNumberToObject(t, "right", n->checks_ok);
        cJSON_AddNumberToObject(t, "wrong", n->checks_bad);
        cJSON_AddBoolToObject(t, "quarantined", n->quarantined);
        if (n->quarantined)
            cJSON_AddStringToObject(t, "reason", n->quarantine_why);
        cJSON_AddItemToArray(data, x);
    }
    return data;
}

void sched_h_admin_nodes(struct sched *s, struct weft_http_req *req, struct sched_call *call)
{
    (void)call;
    cJSON *data;
    cJSON *o = sched_list_object(&data);
    /* The list's empty "data" gives way to the nodes (Replace frees it). */
    cJSON_ReplaceItemInObject(o, "data", sched_nodes_json(s));
    sched_reply_json(req, 200, o);
}
