/* The route handlers, one per row of routes.h, grouped by part:
 *   api_openai.c  the OpenAI-compatible developer API
 *   api_jobs.c    the job API (durable, deferrable jobs)
 *   api_batch.c   the Batch API: files, and batches of jobs
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
sched_handler sched_h_files_create, sched_h_files_list, sched_h_files_get, sched_h_files_content,
    sched_h_files_delete, sched_h_batches_create, sched_h_batches_list, sched_h_batches_get,
    sched_h_batches_cancel;
sched_handler sched_h_node_hello, sched_h_node_heartbeat, sched_h_node_work,
    sched_h_node_stream_end;
sched_headers_handler sched_h_node_stream_open;

/* Shared by the job API and the Batch API (api_jobs.c):
 * whether key k may queue n more jobs: 0, or an error after answering
 * (503 queue_full or store_unavailable, 429 too_many_jobs); */
int sched_jobs_admit(struct sched *s, struct weft_http_req *req, const struct weft_key_info *k,
                     int n);
/* a new job row for parsed, taking request (its JSON; freed with the row),
 * deadline_ms 0 giving limits.job_max_wait_s; */
void sched_job_row_new(struct sched *s, struct weft_job_row *row, const struct weft_key_info *k,
                       const struct weft_oai_req *parsed, char *request, int64_t now_ms,
                       int64_t deadline_ms);
/* a stored new job into the queue, offered to the nodes; */
void sched_job_enqueue(struct sched *s, const struct weft_job_row *row);
/* cancelling an unfinished job, here or on the scheduler that runs it. */
void sched_job_cancel_id(struct sched *s, const char *id);

/* Every node the scheduler knows, as GET /v1/admin/nodes lists them
 * (api_ops.c; the dashboard's region view too). */
struct cJSON *sched_nodes_json(struct sched *s);
/* Each tick (api_ui.c): the dashboard's minute counts, and its events. */
void sched_ui_tick(struct sched *s, uint64_t now);

#endif /* WEFT_SCHED_API_H */
