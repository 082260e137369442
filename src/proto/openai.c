/* OpenAI request bodies; see include/weft/openai.h. */
#include "weft/openai.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"
#include "weft/schema.h"
#include "weft/utf8.h"

#define INVALID "invalid_request_error"

void weft_oai_set_err(struct weft_oai_err *err, int status, const char *type, const char *code,
                      const char *param, const char *fmt, ...)
{
    err->status = status;
    err->type = type ? type : INVALID;
    err->code = code;
    snprintf(err->param, sizeof err->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

int weft_oai_error_json(const struct weft_oai_err *err, struct weft_buf *out)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "message", err->message);
    cJSON_AddStringToObject(e, "type", err->type ? err->type : INVALID);
    if (err->param[0])
        cJSON_AddStringToObject(e, "param", err->param);
    else
        cJSON_AddNullToObject(e, "param");
    if (err->code)
        cJSON_AddStringToObject(e, "code", err->code);
    else
        cJSON_AddNullToObject(e, "code");
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s)
        return WEFT_ENOMEM;
    int rc = weft_buf_append_str(out, s);
    free(s);
    return rc;
}

void weft_oai_req_free(struct weft_oai_req *r)
{
    free(r->prompt);
    for (int i = 0; i < r->n_msgs; i++) {
        free(r->msgs[i].role);
        free(r->msgs[i].content);
        free(r->msgs[i].tool_calls);
    }
    free(r->msgs);
    for (int i = 0; i < r->n_stop; i++)
        free(r->stop[i]);
    free(r->response_format);
    free(r->tools);
    memset(r, 0, sizeof *r);
}

static int dup_into(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? WEFT_ENOMEM : 0;
}

int weft_oai_req_copy(struct weft_oai_req *dst, const struct weft_oai_req *src)
{
    *dst = *src;
    dst->prompt = NULL;
    dst->msgs = NULL;
    dst->n_msgs = 0;
    dst->n_stop = 0;
    dst->response_format = dst->tools = NULL;
    int rc = dup_into(&dst->prompt, src->prompt);
    rc = rc ? rc : dup_into(&dst->response_format, src->response_format);
    rc = rc ? rc : dup_into(&dst->tools, src->tools);
    for (int i = 0; rc == 0 && i < src->n_stop; i++) {
        rc = dup_into(&dst->stop[i], src->stop[i]);
        dst->n_stop += rc == 0;
    }
    if (rc == 0 && src->n_msgs > 0) {
        dst->msgs = calloc((size_t)src->n_msgs, sizeof *dst->msgs);
        rc = dst->msgs ? 0 : WEFT_ENOMEM;
    }
    for (int i = 0; rc == 0 && i < src->n_msgs; i++) {
        struct weft_chat_msg *d = &dst->msgs[i];
        rc = dup_into(&d->role, src->msgs[i].role);
        rc = rc ? rc : dup_into(&d->content, src->msgs[i].content);
        rc = rc ? rc : dup_into(&d->tool_calls, src->msgs[i].tool_calls);
        dst->n_msgs++;
    }
    if (rc)
        weft_oai_req_free(dst);
    return rc;
}

static int depth_ok(const cJSON *it, int depth)
{
    if (depth > WEFT_OAI_MAX_DEPTH)
        return 0;
    for (const cJSON *c = it->child; c; c = c->next)
        if (!depth_ok(c, depth + 1))
            return 0;
    return 1;
}

static int bad(struct weft_oai_err *err, const char *param, const char *fmt, const char *what)
{
    weft_oai_set_err(err, 400, INVALID, NULL, param, fmt, what);
    return WEFT_EINVAL;
}

/* A whole number within [lo, hi]. */
static int get_int(const cJSON *v, const char *name, double lo, double hi, double *out,
                   struct weft_oai_err *err)
{
    if (!cJSON_IsNumber(v) || floor(v->valuedouble) != v->valuedouble || v->valuedouble < lo ||
        v->valuedouble > hi) {
        weft_oai_set_err(err, 400, INVALID, "integer_below_min_value", name,
                         "'%s' must be an integer from %.0f to %.0f", name, lo, hi);
        return WEFT_EINVAL;
    }
    *out = v->valuedouble;
    return 0;
}

static int get_num(const cJSON *v, const char *name, double lo, double hi, double *out,
                   struct weft_oai_err *err)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        weft_oai_set_err(err, 400, INVALID, NULL, name, "'%s' must be a number from %g to %g", name,
                         lo, hi);
        return WEFT_EINVAL;
    }
    *out = v->valuedouble;
    return 0;
}

/* Message content: a string, or an array of {"type":"text","text":...}. */
static char *content_text(const cJSON *c)
{
    if (cJSON_IsString(c))
        return strdup(c->valuestring);
    if (!cJSON_IsArray(c))
        return NULL;
    struct weft_buf b;
    weft_buf_init(&b, 4u << 20);
    weft_buf_append_str(&b, "");
    const cJSON *part;
    cJSON_ArrayForEach(part, c)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0 ||
            !cJSON_IsString(text) || weft_buf_append_str(&b, text->valuestring) != 0) {
            weft_buf_free(&b);
            return NULL;
        }
    }
    return weft_buf_steal(&b, NULL);
}

/* An assistant turn's tool_calls, [{"id","type":"function","function":
 * {"name","arguments":"<JSON text>"}}], kept as [{"name","arguments":{}}]
 * for the templates. */
static int parse_calls(struct weft_chat_msg *wm, const cJSON *calls, const char *param,
                       struct weft_oai_err *err)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *c;
    int rc = out ? 0 : WEFT_ENOMEM;
    cJSON_ArrayForEach(c, calls)
    {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(f, "arguments");
        cJSON *parsed = cJSON_IsString(args) ? cJSON_Parse(args->valuestring) : NULL;
        if (rc || !cJSON_IsString(name) || !cJSON_IsObject(parsed)) {
            cJSON_Delete(parsed);
            rc = rc ? rc
                    : bad(err, param,
                          "'%s': each tool call needs a function with a name and "
                          "arguments that are a JSON object as text",
                          param);
            break;
        }
        cJSON *one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "name", name->valuestring);
        cJSON_AddItemToObject(one, "arguments", parsed);
        cJSON_AddItemToArray(out, one);
    }
    if (rc == 0 && !(wm->tool_calls = cJSON_PrintUnformatted(out)))
        rc = WEFT_ENOMEM;
    cJSON_Delete(out);
    return rc;
}

/* tools: [{"type":"function","function":{"name","description",
 * "parameters","strict"}}], names of letters, digits, '_' and '-'. */
static int parse_tools(struct weft_oai_req *r, const cJSON *it, struct weft_oai_err *err)
{
    if (cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) < 1 ||
        cJSON_GetArraySize(it) > WEFT_OAI_MAX_TOOLS)
        return bad(err, "tools", "'%s' must be an array of 1 to 64 functions", "tools");
    const cJSON *t;
    cJSON_ArrayForEach(t, it)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(t, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(f, "parameters");
        int ok = cJSON_IsString(type) && strcmp(type->valuestring, "function") == 0 &&
                 cJSON_IsObject(f) && cJSON_IsString(name) && name->valuestring[0] &&
                 strlen(name->valuestring) <= 64 && (!params || cJSON_IsObject(params));
        for (const char *c = ok ? name->valuestring : ""; *c && ok; c++)
            ok = isalnum((unsigned char)*c) || *c == '_' || *c == '-';
        if (!ok)
            return bad(
                err, "tools",
                "'%s' entries must be {\"type\":\"function\",\"function\":{\"name\",...}} with a "
                "name of 1 to 64 letters, digits, '_' or '-' and parameters an object",
                "tools");
    }
    free(r->tools);
    r->tools = cJSON_GetArraySize(it) ? cJSON_PrintUnformatted(it) : NULL;
    return cJSON_GetArraySize(it) && !r->tools ? WEFT_ENOMEM : 0;
}

static int parse_tool_choice(struct weft_oai_req *r, const cJSON *it, struct weft_oai_err *err)
{
    if (cJSON_IsNull(it))
        return 0;
    if (cJSON_IsString(it)) {
        const char *v = it->valuestring;
        r->tool_choice = strcmp(v, "none") == 0       ? WEFT_OAI_TOOLS_NONE
                         : strcmp(v, "auto") == 0     ? WEFT_OAI_TOOLS_AUTO
                         : strcmp(v, "required") == 0 ? WEFT_OAI_TOOLS_REQUIRED
                                                      : -1;
        if ((int)r->tool_choice < 0)
            return bad(err, "tool_choice",
                       "'%s' must be none, auto, required or {\"type\":\"function\",...}",
                       "tool_choice");
        return 0;
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
    if (!cJSON_IsObject(it) || !cJSON_IsString(name) || strlen(name->valuestring) > 64)
        return bad(err, "tool_choice", "'%s' must name a function", "tool_choice");
    r->tool_choice = WEFT_OAI_TOOLS_NAMED;
    snprintf(r->tool_name, sizeof r->tool_name, "%s", name->valuestring);
    return 0;
}

static int parse_messages(struct weft_oai_req *r, const cJSON *msgs, struct weft_oai_err *err)
{
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return bad(err, "messages", "'%s' must be a non-empty array", "messages");
    int n = cJSON_GetArraySize(msgs);
    if (n > WEFT_OAI_MAX_MESSAGES) {
        weft_oai_set_err(err, 400, INVALID, NULL, "messages", "at most %d messages",
                         WEFT_OAI_MAX_MESSAGES);
        return WEFT_EINVAL;
    }
    r->msgs = calloc((size_t)n, sizeof *r->msgs);
    if (!r->msgs)
        return WEFT_ENOMEM;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        char param[48];
        snprintf(param, sizeof param, "messages[%d]", r->n_msgs);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role))
            return bad(err, param, "'%s' must be an object with a string role", param);
        const char *rs = role->valuestring;
        if (strcmp(rs, "system") != 0 && strcmp(rs, "developer") != 0 && strcmp(rs, "user") != 0 &&
            strcmp(rs, "assistant") != 0 && strcmp(rs, "tool") != 0)
            return bad(err, param, "'%s': role must be system, developer, user, assistant or tool",
                       param);
        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
        int has_calls =
            strcmp(rs, "assistant") == 0 && cJSON_IsArray(calls) && cJSON_GetArraySize(calls) > 0;
        /* An assistant turn that only called functions has no content. */
        char *text = content && !cJSON_IsNull(content) ? content_text(content)
                     : has_calls                       ? strdup("")
                                                       : NULL;
        if (!text)
            return bad(err, param, "'%s': content must be a string or text parts", param);
        struct weft_chat_msg *wm = &r->msgs[r->n_msgs++];
        wm->role = strdup(strcmp(rs, "developer") == 0 ? "system" : rs);
        wm->content = text;
        if (!wm->role)
            return WEFT_ENOMEM;
        if (has_calls) {
            int rc = parse_calls(wm, calls, param, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int parse_stop(struct weft_oai_req *r, const cJSON *v, struct weft_oai_err *err)
{
    if (cJSON_IsNull(v))
        return 0;
    if (cJSON_IsString(v)) {
        if (!v->valuestring[0])
            return bad(err, "stop", "'%s' must not be empty", "stop");
        if (strlen(v->valuestring) > WEFT_OAI_STOP_MAX_LEN)
            return bad(err, "stop", "'%s' strings must be at most 63 bytes", "stop");
        r->stop[r->n_stop++] = strdup(v->valuestring);
        return r->stop[0] ? 0 : WEFT_ENOMEM;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > WEFT_OAI_MAX_STOP)
        return bad(err, "stop", "'%s' must be a string or an array of up to 4 strings", "stop");
    const cJSON *s;
    cJSON_ArrayForEach(s, v)
    {
        if (!cJSON_IsString(s) || !s->valuestring[0])
            return bad(err, "stop", "'%s' entries must be non-empty strings", "stop");
        if (strlen(s->valuestring) > WEFT_OAI_STOP_MAX_LEN)
            return bad(err, "stop", "'%s' strings must be at most 63 bytes", "stop");
        if (!(r->stop[r->n_stop++] = strdup(s->valuestring)))
            return WEFT_ENOMEM;
    }
    return 0;
}

/* Fields OpenAI clients send that change nothing here (or only when set to
 * their neutral value, checked below). Anything else is refused the way
 * OpenAI refuses it, so a typo never passes silently. */
static const char *const ignored_fields[] = {
    "user", "metadata", "store", "service_tier", NULL,
};

/* A key given twice is ambiguous (parsers disagree on which one wins), so
 * it is refused, as are objects with absurdly many keys. */
static int check_keys(const cJSON *obj, const char *where, struct weft_oai_err *err)
{
    int n = 0;
    for (const cJSON *a = obj->child; a; a = a->next) {
        if (++n > 64)
            return bad(err, where, "'%s' has too many fields", where[0] ? where : "body");
        for (const cJSON *b = a->next; b; b = b->next) {
            if (a->string && b->string && strcmp(a->string, b->string) == 0) {
                weft_oai_set_err(err, 400, INVALID, "duplicate_key", a->string,
                                 "'%.100s' appears more than once", a->string);
                return WEFT_EINVAL;
            }
        }
    }
    return 0;
}

/* What tools and tool_choice say together: a choice needs tools (none
 * excepted), a named one a tool of that name; a forced call and a
 * response_format cannot both shape the reply; forced calls need their
 * parameters in the subset the grammar follows. Without a choice, auto
 * when there are tools. */
static int rc_tools(struct weft_oai_req *r, int choice_given, struct weft_oai_err *err)
{
    if (!choice_given)
        r->tool_choice = r->tools ? WEFT_OAI_TOOLS_AUTO : WEFT_OAI_TOOLS_NONE;
    if (r->tool_choice == WEFT_OAI_TOOLS_NONE)
        return 0;
    if (!r->tools)
        return bad(err, "tool_choice", "'%s' needs tools", "tool_choice");
    if (r->tool_choice == WEFT_OAI_TOOLS_AUTO)
        return 0;
    if (r->response_format)
        return bad(err, "response_format", "'%s' cannot be set when tool_choice forces a call",
                   "response_format");
    cJSON *tools = cJSON_Parse(r->tools);
    const cJSON *t;
    int found = 0, rc = 0;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(t, "function");
        const char *name = cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring;
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(f, "parameters");
        if (r->tool_choice == WEFT_OAI_TOOLS_NAMED && strcmp(name, r->tool_name) != 0)
            continue;
        found = 1;
        char *text = params ? cJSON_PrintUnformatted(params) : NULL;
        char why[160];
        struct weft_schema *s = NULL;
        if (text && weft_schema_compile(text, strlen(text), &s, why, sizeof why) != 0) {
            weft_oai_set_err(err, 400, INVALID, "invalid_json_schema", "tools",
                             "function '%.64s': its parameters cannot be followed: %s", name, why);
            rc = WEFT_EINVAL;
        }
        weft_schema_free(s);
        free(text);
        if (rc)
            break;
    }
    cJSON_Delete(tools);
    if (rc == 0 && !found)
        rc = bad(err, "tool_choice", "'%s' names a function that is not in tools", "tool_choice");
    return rc;
}

int weft_oai_check_format(const char *response_format, int max_tokens, struct weft_oai_err *err)
{
    cJSON *rf = cJSON_Parse(response_format);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(rf, "schema");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(rf, "prefix");
    const cJSON *suf = cJSON_GetObjectItemCaseSensitive(rf, "suffix");
    char *text = schema ? cJSON_PrintUnformatted(schema) : NULL;
    char why[160] = "out of memory";
    struct weft_schema *s = NULL;
    int rc = !rf      ? WEFT_EINVAL
             : schema ? (text ? weft_schema_compile(text, strlen(text), &s, why, sizeof why)
                              : WEFT_ENOMEM)
                      : weft_schema_any_object(&s);
    if (rc == 0 && (pre || suf))
        rc = weft_schema_wrap(s, cJSON_IsString(pre) ? pre->valuestring : NULL,
                              cJSON_IsString(suf) ? suf->valuestring : NULL);
    int need = 0;
    if (rc == 0) {
        struct weft_matcher *m = malloc(sizeof *m);
        if (m) {
            weft_matcher_init(m, s);
            need = weft_matcher_min_close(m);
            free(m);
        }
        rc = m ? 0 : WEFT_ENOMEM;
    }
    weft_schema_free(s);
    free(text);
    cJSON_Delete(rf);
    if (rc) {
        weft_oai_set_err(err, 400, INVALID, "invalid_json_schema", "response_format",
                         "The format cannot be followed: %s", why);
        return WEFT_EINVAL;
    }
    if (need > max_tokens) {
        weft_oai_set_err(err, 400, INVALID, NULL, "max_tokens",
                         "max_tokens (%d) is too few for this format: its shortest reply has %d "
                         "bytes, and a node keeps a token for each byte it may still need",
                         max_tokens, need);
        return WEFT_EINVAL;
    }
    return 0;
}

/* response_format: text, json_object, or json_schema with a schema of
 * the subset schema.h compiles (checked here, so that a schema no node
 * could follow is a 400 naming the keyword). */
static int parse_format(struct weft_oai_req *r, const cJSON *it, struct weft_oai_err *err)
{
    static const char P[] = "response_format";
    if (cJSON_IsNull(it))
        return 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
    if (!cJSON_IsObject(it) || !cJSON_IsString(t))
        return bad(err, P, "'%s' must be an object with a type", P);
    if (check_keys(it, P, err))
        return WEFT_EINVAL;
    const cJSON *k;
    cJSON_ArrayForEach(k, it)
    {
        if (strcmp(k->string, "type") != 0 && strcmp(k->string, "json_schema") != 0)
            return bad(err, P, "'%s' has a field Weft does not know", P);
    }
    free(r->response_format);
    r->response_format = NULL;
    if (strcmp(t->valuestring, "text") == 0)
        return 0;
    if (strcmp(t->valuestring, "json_object") == 0) {
        r->response_format = strdup("{\"type\":\"json_object\"}");
        return r->response_format ? 0 : WEFT_ENOMEM;
    }
    if (strcmp(t->valuestring, "json_schema") != 0)
        return bad(err, P, "'%s' type must be text, json_object or json_schema", P);
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(it, "json_schema");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(js, "schema");
    const cJSON *strict = cJSON_GetObjectItemCaseSensitive(js, "strict");
    if (!cJSON_IsObject(js) || !cJSON_IsString(name) || !name->valuestring[0] ||
        strlen(name->valuestring) > 64)
        return bad(err, "response_format.json_schema",
                   "'%s' must be an object with a name of 1 to 64 characters",
                   "response_format.json_schema");
    if (strict && !cJSON_IsBool(strict))
        return bad(err, "response_format.json_schema.strict", "'%s' must be true or false",
                   "strict");
    if (!cJSON_IsObject(schema))
        return bad(err, "response_format.json_schema.schema", "'%s' must be a JSON schema object",
                   "schema");
    char *text = cJSON_PrintUnformatted(schema);
    if (!text)
        return WEFT_ENOMEM;
    char why[160];
    struct weft_schema *s;
    int rc = weft_schema_compile(text, strlen(text), &s, why, sizeof why);
    if (rc) {
        free(text);
        weft_oai_set_err(err, 400, INVALID, rc == WEFT_ENOMEM ? NULL : "invalid_json_schema",
                         "response_format.json_schema.schema", "The schema cannot be followed: %s",
                         why);
        return rc;
    }
    weft_schema_free(s);
    cJSON *rf = cJSON_CreateObject();
    cJSON *copy = cJSON_Duplicate(schema, 1);
    if (rf && copy) {
        cJSON_AddStringToObject(rf, "type", "json_schema");
        cJSON_AddItemToObject(rf, "schema", copy);
        copy = NULL;
        r->response_format = cJSON_PrintUnformatted(rf);
    }
    cJSON_Delete(copy);
    cJSON_Delete(rf);
    free(text);
    return r->response_format ? 0 : WEFT_ENOMEM;
}

static int parse_fields(struct weft_oai_req *r, const cJSON *root, struct weft_oai_err *err)
{
    const cJSON *it;
    int have_model = 0, have_input = 0, top = -1, choice_given = 0;
    if (check_keys(root, "", err))
        return WEFT_EINVAL;
    cJSON_ArrayForEach(it, root)
    {
        const char *k = it->string;
        double d = 0;
        if (strcmp(k, "model") == 0) {
            if (!cJSON_IsString(it) || !it->valuestring[0] ||
                strlen(it->valuestring) >= sizeof r->model)
                return bad(err, "model", "'%s' must be a model name", "model");
            snprintf(r->model, sizeof r->model, "%s", it->valuestring);
            have_model = 1;
        } else if (strcmp(k, "messages") == 0 && r->kind == WEFT_OAI_CHAT) {
            int rc = parse_messages(r, it, err);
            if (rc)
                return rc;
            have_input = 1;
        } else if (strcmp(k, "prompt") == 0 && r->kind == WEFT_OAI_COMPLETION) {
            const cJSON *p = it;
            if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1)
                p = p->child;
            if (!cJSON_IsString(p))
                return bad(err, "prompt",
                           "'%s' must be a string (batches of prompts are not "
                           "supported; send one request each)",
                           "prompt");
            if (!(r->prompt = strdup(p->valuestring)))
                return WEFT_ENOMEM;
            have_input = 1;
        } else if (strcmp(k, "max_tokens") == 0 || strcmp(k, "max_completion_tokens") == 0) {
            if (cJSON_IsNull(it))
                continue;
            if (get_int(it, k, 1, WEFT_OAI_MAX_TOKENS, &d, err))
                return WEFT_EINVAL;
            r->max_tokens = (int)d;
        } else if (strcmp(k, "temperature") == 0) {
            if (!cJSON_IsNull(it) && get_num(it, k, 0, 2, &r->temperature, err))
                return WEFT_EINVAL;
        } else if (strcmp(k, "top_p") == 0) {
            if (!cJSON_IsNull(it) && get_num(it, k, 0, 1, &r->top_p, err))
                return WEFT_EINVAL;
        } else if (strcmp(k, "seed") == 0) {
            if (cJSON_IsNull(it))
                continue;
            if (get_int(it, k, -9007199254740991.0, 9007199254740991.0, &d, err))
                return WEFT_EINVAL;
            r->seed = (uint64_t)(int64_t)d;
            r->has_seed = 1;
        } else if (strcmp(k, "stop") == 0) {
            int rc = parse_stop(r, it, err);
            if (rc)
                return rc;
        } else if (strcmp(k, "stream") == 0) {
            if (!cJSON_IsBool(it) && !cJSON_IsNull(it))
                return bad(err, "stream", "'%s' must be a boolean", "stream");
            r->stream = cJSON_IsTrue(it);
        } else if (strcmp(k, "stream_options") == 0) {
            if (cJSON_IsNull(it))
                continue;
            const cJSON *u = cJSON_GetObjectItemCaseSensitive(it, "include_usage");
            if (!cJSON_IsObject(it) || (u && !cJSON_IsBool(u)))
                return bad(err, "stream_options", "'%s' must be {\"include_usage\": bool}",
                           "stream_options");
            r->include_usage = cJSON_IsTrue(u);
        } else if (strcmp(k, "n") == 0) {
            if (!cJSON_IsNull(it) && get_int(it, k, 1, WEFT_OAI_MAX_N, &d, err))
                return WEFT_EINVAL;
            r->n = cJSON_IsNull(it) ? 1 : (int)d;
        } else if (strcmp(k, "frequency_penalty") == 0 || strcmp(k, "presence_penalty") == 0) {
            if (!cJSON_IsNull(it) &&
                get_num(it, k, -2, 2, k[0] == 'f' ? &r->frequency_penalty : &r->presence_penalty,
                        err))
                return WEFT_EINVAL;
        } else if (strcmp(k, "logit_bias") == 0) {
            /* A bias changes what is sampled: only "none" may pass. */
            if (!cJSON_IsNull(it) && !(cJSON_IsObject(it) && it->child == NULL))
                return bad(err, k, "'%s' is not supported", k);
        } else if (strcmp(k, "logprobs") == 0 && r->kind == WEFT_OAI_CHAT) {
            if (!cJSON_IsNull(it) && !cJSON_IsBool(it))
                return bad(err, k, "'%s' must be true or false", k);
            r->logprobs = cJSON_IsTrue(it);
        } else if (strcmp(k, "logprobs") == 0) {
            /* Completions: how many alternatives with each token, 0 to 5. */
            if (!cJSON_IsNull(it) && get_int(it, k, 0, 5, &d, err))
                return WEFT_EINVAL;
            r->logprobs = !cJSON_IsNull(it);
            r->top_logprobs = r->logprobs ? (int)d : 0;
        } else if (strcmp(k, "top_logprobs") == 0 && r->kind == WEFT_OAI_CHAT) {
            if (!cJSON_IsNull(it) && get_int(it, k, 0, 20, &d, err))
                return WEFT_EINVAL;
            top = cJSON_IsNull(it) ? -1 : (int)d;
        } else if (strcmp(k, "tools") == 0 && r->kind == WEFT_OAI_CHAT) {
            int rc = parse_tools(r, it, err);
            if (rc)
                return rc;
        } else if (strcmp(k, "tool_choice") == 0 && r->kind == WEFT_OAI_CHAT) {
            int rc = parse_tool_choice(r, it, err);
            if (rc)
                return rc;
            choice_given = 1;
        } else if (strcmp(k, "parallel_tool_calls") == 0 && r->kind == WEFT_OAI_CHAT) {
            if (!cJSON_IsNull(it) && !cJSON_IsBool(it))
                return bad(err, k, "'%s' must be true or false", k);
            r->parallel_tool_calls = !cJSON_IsFalse(it);
        } else if (strcmp(k, "response_format") == 0) {
            int rc = parse_format(r, it, err);
            if (rc)
                return rc;
        } else if (strcmp(k, "echo") == 0) {
            if (!cJSON_IsNull(it) && !cJSON_IsFalse(it))
                return bad(err, k, "'%s' is not supported", k);
        } else {
            int known = 0;
            for (int i = 0; ignored_fields[i]; i++)
                known |= strcmp(k, ignored_fields[i]) == 0;
            if (!known) {
                weft_oai_set_err(err, 400, INVALID, "unknown_parameter", k,
                                 "Unrecognized request argument supplied: %.160s", k);
                return WEFT_EINVAL;
            }
        }
    }
    if (rc_tools(r, choice_given, err))
        return WEFT_EINVAL;
    if (r->response_format && weft_oai_check_format(r->response_format, r->max_tokens, err))
        return WEFT_EINVAL;
    if (top >= 0 && !r->logprobs)
        return bad(err, "top_logprobs", "'%s' needs logprobs set to true", "top_logprobs");
    if (top >= 0)
        r->top_logprobs = top;
    if (!have_model)
        return bad(err, "model", "you must provide a model parameter%s", "");
    if (!have_input)
        return bad(err, r->kind == WEFT_OAI_CHAT ? "messages" : "prompt",
                   "'%s' is a required property", r->kind == WEFT_OAI_CHAT ? "messages" : "prompt");
    return 0;
}

/* What RFC 8259 asks of a JSON text that cJSON lets pass: UTF-8 only
 * (well-formed, no overlong forms or surrogates), no NUL, no byte order
 * mark; NULL when the body is one. */
static const char *not_json_text(const char *body, size_t len)
{
    if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
        return "it begins with a byte order mark";
    if (memchr(body, '\0', len))
        return "it holds a NUL byte";
    return weft_utf8_valid(body, len) ? NULL : "it is not valid UTF-8";
}

static cJSON *parse_root(const char *body, size_t len, struct weft_oai_err *err)
{
    const char *why = not_json_text(body, len);
    if (why) {
        weft_oai_set_err(err, 400, INVALID, NULL, NULL,
                         "We could not parse the JSON body of your request: %s", why);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    /* One value and nothing after it but whitespace: no trailing garbage,
     * no second object. */
    while (root && end && end < body + len &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (root && end != body + len) {
        cJSON_Delete(root);
        weft_oai_set_err(err, 400, INVALID, NULL, NULL,
                         "We could not parse the JSON body of your request: text after the "
                         "object");
        return NULL;
    }
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        weft_oai_set_err(err, 400, INVALID, NULL, NULL,
                         "We could not parse the JSON body of your request: expected an object");
        return NULL;
    }
    if (!depth_ok(root, 0)) {
        cJSON_Delete(root);
        weft_oai_set_err(err, 400, INVALID, NULL, NULL, "JSON nested deeper than %d levels",
                         WEFT_OAI_MAX_DEPTH);
        return NULL;
    }
    return root;
}

static void defaults(struct weft_oai_req *r, enum weft_oai_kind kind)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->max_tokens = WEFT_OAI_DEFAULT_TOKENS;
    r->temperature = 1.0;
    r->top_p = 1.0;
    r->n = 1;
    r->parallel_tool_calls = 1;
}

int weft_oai_parse(struct weft_oai_req *out, enum weft_oai_kind kind, const char *body, size_t len,
                   struct weft_oai_err *err)
{
    defaults(out, kind);
    cJSON *root = parse_root(body, len, err);
    if (!root)
        return WEFT_EPARSE;
    int rc = parse_fields(out, root, err);
    cJSON_Delete(root);
    if (rc == WEFT_ENOMEM)
        weft_oai_set_err(err, 500, "server_error", NULL, NULL, "out of memory");
    if (rc)
        weft_oai_req_free(out);
    return rc;
}

/* "24h", "90m", "3600s" -> milliseconds; 0 for anything else. */
static int64_t window_ms(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v <= 0 || v > 1e7)
        return 0;
    if (strcmp(end, "h") == 0)
        return (int64_t)(v * 3600e3);
    if (strcmp(end, "m") == 0)
        return (int64_t)(v * 60e3);
    if (strcmp(end, "s") == 0)
        return (int64_t)(v * 1e3);
    return 0;
}

int weft_oai_parse_job(struct weft_oai_req *out, const char *body, size_t len, int64_t now_ms,
                       struct weft_oai_err *err)
{
    defaults(out, WEFT_OAI_CHAT);
    cJSON *root = parse_root(body, len, err);
    if (!root)
        return WEFT_EPARSE;
    int rc = 0;
    const cJSON *req = NULL;
    const cJSON *it;
    out->priority = WEFT_OAI_DEFERRABLE;
    if (check_keys(root, "", err)) {
        cJSON_Delete(root);
        return WEFT_EINVAL;
    }
    cJSON_ArrayForEach(it, root)
    {
        const char *k = it->string;
        if (strcmp(k, "request") == 0) {
            req = it;
        } else if (strcmp(k, "endpoint") == 0) {
            if (!cJSON_IsString(it) || (strcmp(it->valuestring, "/v1/chat/completions") != 0 &&
                                        strcmp(it->valuestring, "/v1/completions") != 0)) {
                rc = bad(err, "endpoint", "'%s' must be /v1/chat/completions or /v1/completions",
                         "endpoint");
                break;
            }
            out->kind = strcmp(it->valuestring, "/v1/completions") == 0 ? WEFT_OAI_COMPLETION
                                                                        : WEFT_OAI_CHAT;
        } else if (strcmp(k, "completion_window") == 0) {
            int64_t w = cJSON_IsString(it) ? window_ms(it->valuestring) : 0;
            if (w <= 0) {
                rc = bad(err, k, "'%s' must look like \"24h\", \"90m\" or \"600s\"", k);
                break;
            }
            out->deadline_ms = now_ms + w;
        } else if (strcmp(k, "deadline") == 0) {
            double d;
            if ((rc = get_num(it, k, 1, 1e11, &d, err)) != 0)
                break;
            out->deadline_ms = (int64_t)(d * 1000);
        } else if (strcmp(k, "priority") == 0) {
            if (!cJSON_IsString(it) || (strcmp(it->valuestring, "interactive") != 0 &&
                                        strcmp(it->valuestring, "deferrable") != 0)) {
                rc = bad(err, k, "'%s' must be \"interactive\" or \"deferrable\"", k);
                break;
            }
            out->priority = strcmp(it->valuestring, "interactive") == 0 ? WEFT_OAI_INTERACTIVE
                                                                        : WEFT_OAI_DEFERRABLE;
        } else if (strcmp(k, "metadata") != 0) {
            weft_oai_set_err(err, 400, INVALID, "unknown_parameter", k,
                             "Unrecognized job argument supplied: %.160s", k);
            rc = WEFT_EINVAL;
            break;
        }
    }
    if (rc == 0 && !cJSON_IsObject(req))
        rc = bad(err, "request", "'%s' must be the chat or completions request object", "request");
    if (rc == 0 && out->deadline_ms && out->deadline_ms <= now_ms)
        rc = bad(err, "deadline", "'%s' is in the past", "deadline");
    if (rc == 0) {
        enum weft_oai_priority pri = out->priority;
        int64_t deadline = out->deadline_ms;
        enum weft_oai_kind kind = out->kind;
        defaults(out, kind);
        out->priority = pri;
        out->deadline_ms = deadline;
        rc = parse_fields(out, req, err);
        if (rc == 0 && out->stream)
            rc = bad(err, "request.stream", "'%s' cannot be true for a job", "stream");
        if (rc == 0 && out->n > 1)
            rc = bad(err, "request.n", "'%s' above 1 is for interactive requests, not jobs", "n");
    }
    cJSON_Delete(root);
    if (rc)
        weft_oai_req_free(out);
    return rc;
}

/* ---- the Batch API ---- */

int weft_oai_parse_batch_line(struct weft_oai_req *out, enum weft_oai_kind kind, const char *line,
                              size_t len, char custom_id[WEFT_OAI_CUSTOM_ID_MAX], char **body,
                              struct weft_oai_err *err)
{
    defaults(out, kind);
    *body = NULL;
    custom_id[0] = '\0';
    cJSON *root = parse_root(line, len, err);
    if (!root)
        return WEFT_EPARSE;
    int rc = check_keys(root, "", err);
    const cJSON *req = NULL, *it;
    int have_id = 0;
    cJSON_ArrayForEach(it, root)
    {
        const char *k = it->string;
        if (rc)
            break;
        if (strcmp(k, "custom_id") == 0) {
            if (!cJSON_IsString(it) || !it->valuestring[0] ||
                strlen(it->valuestring) >= WEFT_OAI_CUSTOM_ID_MAX)
                rc = bad(err, k, "'%s' must be a string of 1 to 127 bytes", k);
            else
                snprintf(custom_id, WEFT_OAI_CUSTOM_ID_MAX, "%s", it->valuestring);
            have_id = 1;
        } else if (strcmp(k, "method") == 0) {
            if (!cJSON_IsString(it) || strcmp(it->valuestring, "POST") != 0)
                rc = bad(err, k, "'%s' must be \"POST\"", k);
        } else if (strcmp(k, "url") == 0) {
            const char *want =
                kind == WEFT_OAI_COMPLETION ? "/v1/completions" : "/v1/chat/completions";
            if (!cJSON_IsString(it) || strcmp(it->valuestring, want) != 0)
                weft_oai_set_err(err, 400, INVALID, NULL, k,
                                 "'url' must be the batch's endpoint, %s", want);
            rc = cJSON_IsString(it) && strcmp(it->valuestring, want) == 0 ? 0 : WEFT_EINVAL;
        } else if (strcmp(k, "body") == 0) {
            req = it;
        } else {
            weft_oai_set_err(err, 400, INVALID, "unknown_parameter", k,
                             "Unrecognized batch line field: %.160s", k);
            rc = WEFT_EINVAL;
        }
    }
    if (rc == 0 && !have_id)
        rc = bad(err, "custom_id", "'%s' is required", "custom_id");
    if (rc == 0 && !cJSON_IsObject(req))
        rc = bad(err, "body", "'%s' must be the request object", "body");
    if (rc == 0)
        rc = parse_fields(out, req, err);
    if (rc == 0 && out->stream)
        rc = bad(err, "body.stream", "'%s' cannot be true in a batch", "stream");
    if (rc == 0 && out->n > 1)
        rc = bad(err, "body.n", "'%s' above 1 is for interactive requests, not batches", "n");
    if (rc == 0 && !(*body = cJSON_PrintUnformatted(req)))
        rc = WEFT_ENOMEM;
    if (rc == WEFT_ENOMEM)
        weft_oai_set_err(err, 500, "server_error", NULL, NULL, "out of memory");
    cJSON_Delete(root);
    if (rc)
        weft_oai_req_free(out);
    return rc;
}

/* metadata: at most 16 string pairs, keys under 64 bytes, values under
 * 512 (OpenAI's bounds). */
static int parse_metadata(const cJSON *m, char **out, struct weft_oai_err *err)
{
    if (cJSON_IsNull(m))
        return 0;
    if (!cJSON_IsObject(m) || cJSON_GetArraySize(m) > 16)
        return bad(err, "metadata", "'%s' must be an object of at most 16 strings", "metadata");
    const cJSON *it;
    cJSON_ArrayForEach(it, m)
    {
        if (!cJSON_IsString(it) || strlen(it->string) > 64 || strlen(it->valuestring) > 512)
            return bad(err, "metadata",
                       "'%s' values must be strings of at most 512 bytes, keys at most 64",
                       "metadata");
    }
    if (check_keys(m, "metadata", err))
        return WEFT_EINVAL;
    *out = cJSON_PrintUnformatted(m);
    return *out ? 0 : WEFT_ENOMEM;
}

int weft_oai_parse_batch(struct weft_oai_batch *out, const char *body, size_t len,
                         struct weft_oai_err *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = parse_root(body, len, err);
    if (!root)
        return WEFT_EPARSE;
    int rc = check_keys(root, "", err);
    int have_endpoint = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        const char *k = it->string;
        if (rc)
            break;
        if (strcmp(k, "input_file_id") == 0) {
            if (!cJSON_IsString(it) || !it->valuestring[0] ||
                strlen(it->valuestring) >= sizeof out->input_file_id)
                rc = bad(err, k, "'%s' must be a file id", k);
            else
                snprintf(out->input_file_id, sizeof out->input_file_id, "%s", it->valuestring);
        } else if (strcmp(k, "endpoint") == 0) {
            if (!cJSON_IsString(it) || (strcmp(it->valuestring, "/v1/chat/completions") != 0 &&
                                        strcmp(it->valuestring, "/v1/completions") != 0))
                rc = bad(err, k, "'%s' must be /v1/chat/completions or /v1/completions", k);
            else
                out->kind = strcmp(it->valuestring, "/v1/completions") == 0 ? WEFT_OAI_COMPLETION
                                                                            : WEFT_OAI_CHAT;
            have_endpoint = 1;
        } else if (strcmp(k, "completion_window") == 0) {
            out->window_ms = cJSON_IsString(it) ? window_ms(it->valuestring) : 0;
            if (out->window_ms <= 0)
                rc = bad(err, k, "'%s' must look like \"24h\", \"90m\" or \"600s\"", k);
        } else if (strcmp(k, "metadata") == 0) {
            rc = parse_metadata(it, &out->metadata, err);
        } else {
            weft_oai_set_err(err, 400, INVALID, "unknown_parameter", k,
                             "Unrecognized batch argument supplied: %.160s", k);
            rc = WEFT_EINVAL;
        }
    }
    if (rc == 0 && !out->input_file_id[0])
        rc = bad(err, "input_file_id", "'%s' is required", "input_file_id");
    if (rc == 0 && !have_endpoint)
        rc = bad(err, "endpoint", "'%s' is required", "endpoint");
    if (rc == 0 && !out->window_ms)
        rc = bad(err, "completion_window", "'%s' is required", "completion_window");
    if (rc == WEFT_ENOMEM)
        weft_oai_set_err(err, 500, "server_error", NULL, NULL, "out of memory");
    cJSON_Delete(root);
    if (rc)
        weft_oai_batch_free(out);
    return rc;
}

void weft_oai_batch_free(struct weft_oai_batch *b)
{
    free(b->metadata);
    b->metadata = NULL;
}
