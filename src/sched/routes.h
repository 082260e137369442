/* The scheduler's routes: one row each, and everything about a route comes
 * from its row: the name in metrics and logs, how a request is matched
 * (404 for a path no row has, 405 for a known path with another method),
 * who may call it, and which handler runs (dispatch.c). The model is
 * Weft's own error table (include/weft/error.h) and Redis's commands.def.
 *
 * XX(name, method, pattern, auth, on_headers, on_request, flags)
 *   name        metric label and the suffix of SCHED_R_<name>
 *   pattern     a path; "{id}" stands for one segment, handed to the
 *               handler in call->id
 *   auth        who may call it (enum sched_auth_kind)
 *   on_headers  a handler that takes the body as it arrives, or NULL
 *   on_request  the handler for the whole request
 *   flags       SCHED_RF_*
 *
 * Adding a route: a row here, its handler in the api_*.c file of its
 * part, its prototype in api.h, its documentation in docs/api.md.
 */
#ifndef WEFT_SCHED_ROUTES_H
#define WEFT_SCHED_ROUTES_H

/* Who may call a route. */
enum sched_auth_kind {
    SCHED_AUTH_NONE,  /* anyone: health and metrics */
    SCHED_AUTH_KEY,   /* a developer's API key, within its rate */
    SCHED_AUTH_ADMIN, /* an API key with the admin flag */
    SCHED_AUTH_NODE,  /* an enrolled node's token */
};

/* Node heartbeats and polls are the background hum of a region: their
 * successes are logged at debug level, so the access log shows what people
 * did. */
#define SCHED_RF_QUIET 1
/* A file upload: its body may be up to limits.max_file_bytes, not
 * max_body_bytes (a caller without a valid key is refused before it). */
#define SCHED_RF_UPLOAD 2

#define SCHED_ROUTES(XX)                                                                           \
    XX(healthz, "GET", "/healthz", SCHED_AUTH_NONE, NULL, sched_h_healthz, 0)                      \
    XX(metrics, "GET", "/metrics", SCHED_AUTH_NONE, NULL, sched_h_metrics, 0)                      \
    XX(models, "GET", "/v1/models", SCHED_AUTH_KEY, NULL, sched_h_models, 0)                       \
    XX(chat_completions, "POST", "/v1/chat/completions", SCHED_AUTH_KEY, NULL, sched_h_chat, 0)    \
    XX(completions, "POST", "/v1/completions", SCHED_AUTH_KEY, NULL, sched_h_completions, 0)       \
    XX(jobs_create, "POST", "/v1/jobs", SCHED_AUTH_KEY, NULL, sched_h_jobs_create, 0)              \
    XX(jobs_get, "GET", "/v1/jobs/{id}", SCHED_AUTH_KEY, NULL, sched_h_jobs_get, 0)                \
    XX(jobs_list, "GET", "/v1/jobs", SCHED_AUTH_KEY, NULL, sched_h_jobs_list, 0)                   \
    XX(jobs_stream, "GET", "/v1/jobs/{id}/stream", SCHED_AUTH_KEY, NULL, sched_h_jobs_stream, 0)   \
    XX(jobs_cancel, "DELETE", "/v1/jobs/{id}", SCHED_AUTH_KEY, NULL, sched_h_jobs_cancel, 0)       \
    XX(files_create, "POST", "/v1/files", SCHED_AUTH_KEY, NULL, sched_h_files_create,              \
       SCHED_RF_UPLOAD)                                                                            \
    XX(files_list, "GET", "/v1/files", SCHED_AUTH_KEY, NULL, sched_h_files_list, 0)                \
    XX(files_get, "GET", "/v1/files/{id}", SCHED_AUTH_KEY, NULL, sched_h_files_get, 0)             \
    XX(files_content, "GET", "/v1/files/{id}/content", SCHED_AUTH_KEY, NULL,                       \
       sched_h_files_content, 0)                                                                   \
    XX(files_delete, "DELETE", "/v1/files/{id}", SCHED_AUTH_KEY, NULL, sched_h_files_delete, 0)    \
    XX(batches_create, "POST", "/v1/batches", SCHED_AUTH_KEY, NULL, sched_h_batches_create, 0)     \
    XX(batches_list, "GET", "/v1/batches", SCHED_AUTH_KEY, NULL, sched_h_batches_list, 0)          \
    XX(batches_get, "GET", "/v1/batches/{id}", SCHED_AUTH_KEY, NULL, sched_h_batches_get, 0)       \
    XX(batches_cancel, "POST", "/v1/batches/{id}/cancel", SCHED_AUTH_KEY, NULL,                    \
       sched_h_batches_cancel, 0)                                                                  \
    XX(admin_nodes, "GET", "/v1/admin/nodes", SCHED_AUTH_ADMIN, NULL, sched_h_admin_nodes, 0)      \
    XX(admin_region, "GET", "/v1/admin/region", SCHED_AUTH_ADMIN, NULL, sched_h_admin_region, 0)   \
    XX(admin_events, "GET", "/v1/admin/events", SCHED_AUTH_ADMIN, NULL, sched_h_admin_events, 0)   \
    XX(ui, "GET", "/ui", SCHED_AUTH_NONE, NULL, sched_h_ui, 0)                                     \
    XX(ui_asset, "GET", "/ui/{id}", SCHED_AUTH_NONE, NULL, sched_h_ui_asset, 0)                    \
    XX(favicon, "GET", "/favicon.ico", SCHED_AUTH_NONE, NULL, sched_h_favicon, 0)                  \
    XX(node_hello, "POST", "/v1/node/hello", SCHED_AUTH_NODE, NULL, sched_h_node_hello, 0)         \
    XX(node_heartbeat, "POST", "/v1/node/heartbeat", SCHED_AUTH_NODE, NULL,                        \
       sched_h_node_heartbeat, SCHED_RF_QUIET)                                                     \
    XX(node_work, "GET", "/v1/node/work", SCHED_AUTH_NODE, NULL, sched_h_node_work,                \
       SCHED_RF_QUIET)                                                                             \
    XX(node_stream, "POST", "/v1/node/jobs/{id}/stream", SCHED_AUTH_NODE,                          \
       sched_h_node_stream_open, sched_h_node_stream_end, 0)

/* SCHED_R_other (no route matched) first, then one per row. */
enum sched_route {
    SCHED_R_other,
#define SCHED_ROUTE_ENUM_(name, method, pattern, auth, on_headers, on_request, flags)              \
    SCHED_R_##name,
    SCHED_ROUTES(SCHED_ROUTE_ENUM_)
#undef SCHED_ROUTE_ENUM_
        SCHED_N_ROUTES
};

#endif /* WEFT_SCHED_ROUTES_H */
