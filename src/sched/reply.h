/* Answering a request, the bottom of the scheduler's layers: JSON bodies,
 * errors in OpenAI's shape, and reading what a request carries (a bearer
 * token, a query parameter). Loop thread only. */
#ifndef WEFT_SCHED_REPLY_H
#define WEFT_SCHED_REPLY_H

#include <stddef.h>

#include "weft/buf.h"
#include "weft/http.h"
#include "weft/openai.h"

struct cJSON;

#define SCHED_JSON "application/json"

/* Answers with o printed (500 when printing failed); frees o. */
void sched_reply_json(struct weft_http_req *req, int status, struct cJSON *o);
/* Answers with b's JSON text (500 when b is empty: writing it failed);
 * frees b. */
void sched_reply_buf(struct weft_http_req *req, int status, struct weft_buf *b);
/* The error object {"error":{...}} with e's status. */
void sched_reply_err(struct weft_http_req *req, const struct weft_oai_err *e);
/* The same from its parts (type NULL: by status, code may be NULL). */
void sched_reply_fail(struct weft_http_req *req, int status, const char *type, const char *code,
                      const char *message);

/* {"object":"list","data":[]}: the list object of OpenAI's list routes, with
 * its data array in *data. */
struct cJSON *sched_list_object(struct cJSON **data);

/* A list route's paging: ?limit (1..100, default 20) and ?after (an id,
 * "" when absent). 0, or an error after answering 400. */
int sched_page_query(struct weft_http_req *req, int *limit, char *after, size_t cap);
/* Ends a list object whose data holds n items of a query for limit + 1
 * (the one past the page tells that there is more): drops that one, and
 * sets first_id, last_id and has_more. */
void sched_list_finish(struct cJSON *o, struct cJSON *data, int n, int limit);

/* The token of "Authorization: Bearer TOKEN", or NULL. */
const char *sched_bearer(const struct weft_http_req *req);

/* A query parameter's value into out (undecoded: ours are plain). 0,
 * WEFT_ENOENT when absent or WEFT_E2BIG when it does not fit. */
int sched_query_param(const char *query, const char *name, char *out, size_t cap);

#endif /* WEFT_SCHED_REPLY_H */
