/* The route handlers, one per row of routes.h, grouped by part:
 *   api_openai.c  the OpenAI-compatible developer API
 *   api_jobs.c    the job API (durable, deferrable jobs)
 *   api_node.c    the node API
 *   api_ops.c     health and the admin view of nodes
 *   api_ui.c      the operator's dashboard: its page, the region, its events
 *   metrics.c     /metrics
 * dispatch.c has matched the route and checked the caller (call->key or
 * call->node) before any of them runs. Each answers its request, now or
 * later. Loop thread only. */
#ifndef WEFT_SCHED_API_H
#define WEFT_SCHED_API_H

#include "internal.h"

typedef void sched_handler(struct sched *s, struct weft_http_req *req, struct sched_call *call);
/* At the end of the headers, for a route that takes its body as it comes:
 * 0, or the status it answered the request with. */
typedef int sched_headers_handler(struct sched *s, struct weft_http_req *req,
                                  struct sched_call *call);

sched_handler sched_h_healthz, sched_h_metrics, sched_h_admin_nodes;
sched_handler sched_h_ui, sched_h_ui_asset, sched_h_favicon, sched_h_admin_region,
    sched_h_admin_events;
sched_handler sched_h_models, sched_h_chat, sched_h_completions;
sched_handler sched_h_jobs_create, sched_h_jobs_get, sched_h_jobs_list, sched_h_jobs_cancel,
    sched_h_jobs_stream;
sched_handler sched_h_node_hello, sched_h_node_heartbeat, sched_h_node_work,
    sched_h_node_stream_end;
sched_headers_handler sched_h_node_stream_open;

/* Every node the scheduler knows, as GET /v1/admin/nodes lists them
 * (api_ops.c; the dashboard's region view too). */
struct cJSON *sched_nodes_json(struct sched *s);
/* Each tick (api_ui.c): the dashboard's minute counts, and its events. */
void sched_ui_tick(struct sched *s, uint64_t now);

#endif /* WEFT_SCHED_API_H */
