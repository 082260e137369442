/* Answering requests; see reply.h. */
#include "reply.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/error.h"

void sched_reply_json(struct weft_http_req *req, int status, cJSON *o)
{
    char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!txt) {
        weft_http_respond(req, 500, SCHED_JSON, NULL, "{}", 2);
        return;
    }
    weft_http_respond(req, status, SCHED_JSON, NULL, txt, strlen(txt));
    free(txt);
}

void sched_reply_buf(struct weft_http_req *req, int status, struct weft_buf *b)
{
    if (b->data)
        weft_http_respond(req, status, SCHED_JSON, NULL, b->data, b->len);
    else
        weft_http_respond(req, 500, SCHED_JSON, NULL, "{}", 2);
    weft_buf_free(b);
}

void sched_reply_err(struct weft_http_req *req, const struct weft_oai_err *e)
{
    struct weft_buf b;
    weft_buf_init(&b, 4096);
    weft_oai_error_json(e, &b);
    weft_buf_append_byte(&b, '\n');
    weft_http_respond(req, e->status, SCHED_JSON, NULL, b.data, b.len);
    weft_buf_free(&b);
}

void sched_reply_fail(struct weft_http_req *req, int status, const char *type, const char *code,
                      const char *message)
{
    struct weft_oai_err e;
    if (!type)
        type = status >= 500 ? "server_error" : "invalid_request_error";
    weft_oai_set_err(&e, status, type, code, NULL, "%s", message);
    sched_reply_err(req, &e);
}

cJSON *sched_list_object(cJSON **data)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    *data = cJSON_AddArrayToObject(o, "data");
    return o;
}

int sched_page_query(struct weft_http_req *req, int *limit, char *after, size_t cap)
{
    char lim[16];
    *limit = 20;
    if (sched_query_param(req->query, "limit", lim, sizeof lim) == 0) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (*end || end == lim || v < 1 || v > 100) {
            sched_reply_fail(req, 400, NULL, NULL, "limit must be 1..100");
            return WEFT_EINVAL;
        }
        *limit = (int)v;
    }
    int rc = sched_query_param(req->query, "after", after, cap);
    if (rc == WEFT_E2BIG) {
        sched_reply_fail(req, 400, NULL, NULL, "after is not an id");
        return WEFT_EINVAL;
    }
    if (rc)
        after[0] = '\0';
    return 0;
}

void sched_list_finish(cJSON *o, cJSON *data, int n, int limit)
{
    int more = n > limit;
    if (more)
        cJSON_DeleteItemFromArray(data, limit);
    int have = cJSON_GetArraySize(data);
    const cJSON *first = have ? cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0), "id") : NULL;
    const cJSON *last = have ? cJSON_GetObjectItem(cJSON_GetArrayItem(data, have - 1), "id") : NULL;
    if (cJSON_IsString(first) && cJSON_IsString(last)) {
        cJSON_AddStringToObject(o, "first_id", first->valuestring);
        cJSON_AddStringToObject(o, "last_id", last->valuestring);
    } else {
        cJSON_AddNullToObject(o, "first_id");
        cJSON_AddNullToObject(o, "last_id");
    }
    cJSON_AddBoolToObject(o, "has_more", more);
}

const char *sched_bearer(const struct weft_http_req *req)
{
    const char *a = weft_http_header(req, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return a;
}

int sched_query_param(const char *query, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl >= cap)
                return WEFT_E2BIG;
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return WEFT_ENOENT;
}
