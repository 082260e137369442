/* JSON schemas compiled to matchers; see include/weft/schema.h.
 *
 * A schema is a graph of nodes (an object's properties, an array's items,
 * anyOf's alternatives, and for "any JSON" a cycle back to itself). A
 * matcher state is a stack of frames, one per value being written, the
 * innermost on top; a matcher is a set of such states, because anyOf and
 * lists of types are decided only by what is written (each alternative is
 * followed until the text rules it out). A value that may end or go on (a
 * number, "1" or "12") ends when a byte does not continue it: the frame
 * is popped and the byte goes to the one below. */
#include "weft/schema.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"

#define MAX_PROPS      64
#define MAX_LITS       64
#define MAX_NUMBER     24 /* characters of a number */
#define ANY_DEPTH      6  /* containers nested in an any-object document */
#define MIN_CLOSE_DEAD (INT_MAX / 4)

enum kind { K_OBJECT, K_ANYOBJ, K_ARRAY, K_STRING, K_NUMBER, K_INTEGER, K_LITERALS, K_ANYOF };

struct node {
    enum kind kind;
    int min_close; /* the fewest bytes of a whole value */
    /* K_OBJECT: keys as JSON strings (quotes included), in order */
    int n_props;
    char **keys;
    int *key_len;
    const struct node **props;
    unsigned char *req;
    /* K_ARRAY (K_ANYOBJ: items is the value of any key) */
    const struct node *items;
    int min_items, max_items; /* max -1: none */
    /* K_STRING: characters */
    int min_len, max_len; /* max -1: none */
    /* K_LITERALS: compact JSON texts */
    int n_lits;
    char **lits;
    /* K_ANYOF */
    int n_alts;
    const struct node **alts;
};

struct weft_schema {
    struct node *nodes;
    int n, cap;
    const struct node *root;
    /* Every allocation of the nodes', freed together. */
    void **owned;
    int n_owned, cap_owned;
    char *err;
    size_t errcap;
    char prefix[65], suffix[65];
};

static int fail(struct weft_schema *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct weft_schema *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, s->errcap, fmt, ap);
    va_end(ap);
    return WEFT_EINVAL;
}

static void *own(struct weft_schema *s, void *p)
{
    if (!p)
        return NULL;
    if (s->n_owned == s->cap_owned) {
        int cap = s->cap_owned ? 2 * s->cap_owned : 64;
        void **o = realloc(s->owned, (size_t)cap * sizeof *o);
        if (!o) {
            free(p);
            return NULL;
        }
        s->owned = o;
        s->cap_owned = cap;
    }
    s->owned[s->n_owned++] = p;
    return p;
}

static struct node *new_node(struct weft_schema *s, enum kind k)
{
    if (s->n == s->cap)
        return NULL; /* the caller reports the bound */
    struct node *n = &s->nodes[s->n++];
    memset(n, 0, sizeof *n);
    n->kind = k;
    n->max_items = n->max_len = -1;
    return n;
}

/* ---- compiling ---- */

static const char *const ignored[] = {
    "title",    "description",          "$schema", "default", "examples",
    "$comment", "additionalProperties", NULL};
static const char *const known[] = {"type",      "properties", "required", "items",
                                    "minItems",  "maxItems",   "enum",     "const",
                                    "minLength", "maxLength",  "anyOf",    NULL};

static int is_in(const char *k, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(k, list[i]) == 0)
            return 1;
    return 0;
}

static int compile(struct weft_schema *s, const cJSON *j, int depth, const struct node **out);
static int any_object_node(struct weft_schema *s, const struct node **out);

static int get_count(struct weft_schema *s, const cJSON *j, const char *k, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e6 ||
        v->valuedouble != (double)(int)v->valuedouble)
        return fail(s, "'%s' must be a whole number from 0 to 1000000", k);
    *out = (int)v->valuedouble;
    return 0;
}

static char *print(struct weft_schema *s, const cJSON *v)
{
    return own(s, cJSON_PrintUnformatted(v));
}

static int literals(struct weft_schema *s, const cJSON *vals, const struct node **out)
{
    struct node *n = new_node(s, K_LITERALS);
    int count = cJSON_GetArraySize(vals);
    if (!n)
        return fail(s, "the schema has more than %d parts", WEFT_SCHEMA_MAX_NODES);
    if (count < 1 || count > MAX_LITS)
        return fail(s, "'enum' must list 1 to %d values", MAX_LITS);
    n->lits = own(s, calloc((size_t)count, sizeof *n->lits));
    if (!n->lits)
        return WEFT_ENOMEM;
    const cJSON *v;
    cJSON_ArrayForEach(v, vals)
    {
        if (!(n->lits[n->n_lits] = print(s, v)))
            return WEFT_ENOMEM;
        n->n_lits++;
    }
    *out = n;
    return 0;
}

static int object_node(struct weft_schema *s, const cJSON *j, int depth, const struct node **out)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(j, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(j, "required");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(j, "additionalProperties");
    if (props && !cJSON_IsObject(props))
        return fail(s, "'properties' must be an object");
    if (req && !cJSON_IsArray(req))
        return fail(s, "'required' must be an array of property names");
    if (!props && !cJSON_IsFalse(extra)) {
        if (req && cJSON_GetArraySize(req) > 0)
            return fail(s, "'required' names properties the object does not list");
        return any_object_node(s, out);
    }
    struct node *n = new_node(s, K_OBJECT);
    if (!n)
        return fail(s, "the schema has more than %d parts", WEFT_SCHEMA_MAX_NODES);
    int count = props ? cJSON_GetArraySize(props) : 0;
    if (count > MAX_PROPS)
        return fail(s, "an object has more than %d properties", MAX_PROPS);
    n->keys = own(s, calloc((size_t)count + 1, sizeof *n->keys));
    n->key_len = own(s, calloc((size_t)count + 1, sizeof *n->key_len));
    n->props = own(s, calloc((size_t)count + 1, sizeof *n->props));
    n->req = own(s, calloc((size_t)count + 1, 1));
    if (!n->keys || !n->key_len || !n->props || !n->req)
        return WEFT_ENOMEM;
    const cJSON *p;
    cJSON_ArrayForEach(p, props)
    {
        cJSON *name = cJSON_CreateString(p->string);
        char *key = name ? print(s, name) : NULL;
        cJSON_Delete(name);
        if (!key)
            return WEFT_ENOMEM;
        n->keys[n->n_props] = key;
        n->key_len[n->n_props] = (int)strlen(key);
        int rc = compile(s, p, depth + 1, &n->props[n->n_props]);
        if (rc)
            return rc;
        n->n_props++;
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, req)
    {
        int found = -1;
        for (int i = 0; cJSON_IsString(r) && i < n->n_props; i++) {
            const cJSON *pi = cJSON_GetArrayItem(props, i);
            if (strcmp(pi->string, r->valuestring) == 0)
                found = i;
        }
        if (found < 0)
            return fail(s, "'required' names '%.60s', which is not a property",
                        cJSON_IsString(r) ? r->valuestring : "?");
        n->req[found] = 1;
    }
    *out = n;
    return 0;
}

/* One node for one type name, with the keywords that apply to it. */
static int typed(struct weft_schema *s, const cJSON *j, const char *type, int depth,
                 const struct node **out)
{
    if (strcmp(type, "object") == 0)
        return object_node(s, j, depth, out);
    if (strcmp(type, "boolean") == 0 || strcmp(type, "null") == 0) {
        cJSON *vals =
            strcmp(type, "null") == 0 ? cJSON_Parse("[null]") : cJSON_Parse("[true,false]");
        int rc = vals ? literals(s, vals, out) : WEFT_ENOMEM;
        cJSON_Delete(vals);
        return rc;
    }
    struct node *n = NULL;
    if (strcmp(type, "string") == 0)
        n = new_node(s, K_STRING);
    else if (strcmp(type, "number") == 0)
        n = new_node(s, K_NUMBER);
    else if (strcmp(type, "integer") == 0)
        n = new_node(s, K_INTEGER);
    else if (strcmp(type, "array") == 0)
        n = new_node(s, K_ARRAY);
    else
        return fail(s, "'type' '%.40s' is not a JSON schema type", type);
    if (!n)
        return fail(s, "the schema has more than %d parts", WEFT_SCHEMA_MAX_NODES);
    int rc = 0;
    if (n->kind == K_STRING) {
        rc = get_count(s, j, "minLength", &n->min_len);
        if (rc == 0)
            rc = get_count(s, j, "maxLength", &n->max_len);
        if (rc == 0 && n->max_len >= 0 && n->max_len < n->min_len)
            rc = fail(s, "'maxLength' is below 'minLength'");
    } else if (n->kind == K_ARRAY) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
        if (!items)
            return fail(s, "an array needs 'items'");
        rc = compile(s, items, depth + 1, &n->items);
        if (rc == 0)
            rc = get_count(s, j, "minItems", &n->min_items);
        if (rc == 0)
            rc = get_count(s, j, "maxItems", &n->max_items);
        if (rc == 0 && n->max_items >= 0 && n->max_items < n->min_items)
            rc = fail(s, "'maxItems' is below 'minItems'");
    }
    *out = n;
    return rc;
}

static int compile(struct weft_schema *s, const cJSON *j, int depth, const struct node **out)
{
    if (depth > WEFT_SCHEMA_MAX_DEPTH)
        return fail(s, "the schema is nested deeper than %d", WEFT_SCHEMA_MAX_DEPTH);
    if (!cJSON_IsObject(j))
        return fail(s, "a schema must be an object");
    const cJSON *k;
    cJSON_ArrayForEach(k, j)
    {
        if (!is_in(k->string, known) && !is_in(k->string, ignored))
            return fail(s, "'%.60s' is not supported", k->string);
    }
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(j, "enum");
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(j, "const");
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(j, "anyOf");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (en) {
        if (!cJSON_IsArray(en))
            return fail(s, "'enum' must be an array");
        return literals(s, en, out);
    }
    if (cn) {
        cJSON *vals = cJSON_CreateArray();
        cJSON *copy = cJSON_Duplicate(cn, 1);
        if (!vals || !copy) {
            cJSON_Delete(vals);
            cJSON_Delete(copy);
            return WEFT_ENOMEM;
        }
        cJSON_AddItemToArray(vals, copy);
        int rc = literals(s, vals, out);
        cJSON_Delete(vals);
        return rc;
    }
    int n_alts = any ? cJSON_GetArraySize(any) : cJSON_IsArray(type) ? cJSON_GetArraySize(type) : 0;
    if (any || cJSON_IsArray(type)) {
        if ((any && !cJSON_IsArray(any)) || n_alts < 1 || n_alts > WEFT_MATCH_ALTS)
            return fail(s, "'%s' must list 1 to %d alternatives", any ? "anyOf" : "type",
                        WEFT_MATCH_ALTS);
        if (any && type)
            return fail(s, "'anyOf' beside 'type' is not supported");
        struct node *n = new_node(s, K_ANYOF);
        if (!n)
            return fail(s, "the schema has more than %d parts", WEFT_SCHEMA_MAX_NODES);
        n->alts = own(s, calloc((size_t)n_alts, sizeof *n->alts));
        if (!n->alts)
            return WEFT_ENOMEM;
        const cJSON *a;
        const cJSON *list = any ? any : type;
        cJSON_ArrayForEach(a, list)
        {
            int rc = any                 ? compile(s, a, depth + 1, &n->alts[n->n_alts])
                     : cJSON_IsString(a) ? typed(s, j, a->valuestring, depth, &n->alts[n->n_alts])
                                         : fail(s, "'type' must name types");
            if (rc)
                return rc;
            n->n_alts++;
        }
        *out = n;
        return 0;
    }
    if (!type)
        return fail(s, "a schema needs 'type', 'enum', 'const' or 'anyOf'");
    if (!cJSON_IsString(type))
        return fail(s, "'type' must be a type name or a list of them");
    return typed(s, j, type->valuestring, depth, out);
}

/* The fewest bytes of a whole value of n, for every node; "any" nodes are
 * in a cycle but each has a short form (a number, "{}", "[]"). */
static int node_min(const struct node *n, int depth)
{
    if (depth > WEFT_SCHEMA_MAX_DEPTH + 2)
        return MIN_CLOSE_DEAD;
    int m = 0;
    switch (n->kind) {
    case K_ANYOBJ:
        return 2;
    case K_STRING:
        return 2 + n->min_len;
    case K_NUMBER:
    case K_INTEGER:
        return 1;
    case K_LITERALS:
        m = MIN_CLOSE_DEAD;
        for (int i = 0; i < n->n_lits; i++)
            if ((int)strlen(n->lits[i]) < m)
                m = (int)strlen(n->lits[i]);
        return m;
    case K_ANYOF:
        m = MIN_CLOSE_DEAD;
        for (int i = 0; i < n->n_alts; i++) {
            int v = node_min(n->alts[i], depth + 1);
            if (v < m)
                m = v;
        }
        return m;
    case K_ARRAY:
        if (n->min_items == 0)
            return 2;
        m = node_min(n->items, depth + 1);
        return m >= MIN_CLOSE_DEAD ? m : 2 + n->min_items * (m + 1) - 1;
    case K_OBJECT: {
        int sum = 2, first = 1;
        for (int i = 0; i < n->n_props; i++) {
            if (!n->req[i])
                continue;
            int v = node_min(n->props[i], depth + 1);
            if (v >= MIN_CLOSE_DEAD)
                return v;
            sum += (first ? 0 : 1) + n->key_len[i] + 1 + v;
            first = 0;
        }
        return sum;
    }
    }
    return MIN_CLOSE_DEAD;
}

static int finish(struct weft_schema *s, const struct node *root, struct weft_schema **out)
{
    for (int i = 0; i < s->n; i++)
        s->nodes[i].min_close = node_min(&s->nodes[i], 0);
    s->root = root;
    s->err = NULL;
    *out = s;
    return 0;
}

static struct weft_schema *schema_new(char *err, size_t errcap)
{
    struct weft_schema *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cap = WEFT_SCHEMA_MAX_NODES;
    s->nodes = calloc((size_t)s->cap, sizeof *s->nodes);
    if (!s->nodes) {
        free(s);
        return NULL;
    }
    s->err = err;
    s->errcap = errcap;
    return s;
}

/* Any JSON value, and any object: string keys, any values. */
static int any_object_node(struct weft_schema *s, const struct node **out)
{
    struct node *obj = new_node(s, K_ANYOBJ), *arr = new_node(s, K_ARRAY),
                *str = new_node(s, K_STRING), *num = new_node(s, K_NUMBER),
                *any = new_node(s, K_ANYOF);
    if (!obj || !arr || !str || !num || !any)
        return fail(s, "the schema has more than %d parts", WEFT_SCHEMA_MAX_NODES);
    const struct node *lits;
    cJSON *vals = cJSON_Parse("[true,false,null]");
    int rc = vals ? literals(s, vals, &lits) : WEFT_ENOMEM;
    cJSON_Delete(vals);
    if (rc)
        return rc;
    any->alts = own(s, calloc(5, sizeof *any->alts));
    if (!any->alts)
        return WEFT_ENOMEM;
    any->alts[0] = obj;
    any->alts[1] = arr;
    any->alts[2] = str;
    any->alts[3] = num;
    any->alts[4] = lits;
    any->n_alts = 5;
    obj->items = any;
    arr->items = any;
    *out = obj;
    return 0;
}

int weft_schema_compile(const char *json, size_t len, struct weft_schema **out, char *err,
                        size_t errcap)
{
    *out = NULL;
    snprintf(err, errcap, "out of memory");
    cJSON *j = cJSON_ParseWithLength(json, len);
    if (!j) {
        snprintf(err, errcap, "the schema is not JSON");
        return WEFT_EINVAL;
    }
    struct weft_schema *s = schema_new(err, errcap);
    const struct node *root = NULL;
    int rc = s ? compile(s, j, 0, &root) : WEFT_ENOMEM;
    cJSON_Delete(j);
    if (rc == 0 && root->min_close >= MIN_CLOSE_DEAD)
        rc = WEFT_EINVAL;
    if (rc) {
        weft_schema_free(s);
        return rc;
    }
    return finish(s, root, out);
}

int weft_schema_any_object(struct weft_schema **out)
{
    char err[64];
    struct weft_schema *s = schema_new(err, sizeof err);
    const struct node *root = NULL;
    int rc = s ? any_object_node(s, &root) : WEFT_ENOMEM;
    if (rc) {
        weft_schema_free(s);
        return rc;
    }
    return finish(s, root, out);
}

void weft_schema_free(struct weft_schema *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_owned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->nodes);
    free(s);
}

/* ---- matching ---- */

/* What a frame's byte did. */
enum step { ST_TAKEN, ST_POP, ST_ENDED, ST_DEAD };
/* ST_TAKEN: consumed, the frame goes on; ST_POP: consumed, the value is
 * whole (the frame goes); ST_ENDED: not consumed, but the value was whole
 * before it (the frame goes and the byte is the parent's); ST_DEAD. */

/* Object phases. */
enum { OB_START, OB_OPEN, OB_COMMA, OB_KEY, OB_COLON, OB_VALUE };
/* Number phases. */
enum { NU_START, NU_MINUS, NU_INT, NU_ZERO, NU_DOT, NU_FRAC, NU_E, NU_ESIGN, NU_EXP };

static const struct node *top_node(const struct weft_match_state *st)
{
    return st->f[st->depth - 1].node;
}

static int push(struct weft_match_state *st, const struct node *n)
{
    if (st->depth >= WEFT_SCHEMA_MAX_DEPTH)
        return 0;
    struct weft_match_frame *f = &st->f[st->depth++];
    memset(f, 0, sizeof *f);
    f->node = n;
    return 1;
}

/* The keys an object may write next: from prop up to its next required. */
static unsigned long long key_candidates(const struct node *n, int prop)
{
    unsigned long long c = 0;
    for (int i = prop; i < n->n_props; i++) {
        c |= 1ull << i;
        if (n->req[i])
            break;
    }
    return c;
}

static int required_left(const struct node *n, int prop)
{
    for (int i = prop; i < n->n_props; i++)
        if (n->req[i])
            return 1;
    return 0;
}

static int string_byte(struct weft_match_frame *f, const struct node *n, unsigned char c)
{
    if (f->esc == 1) {
        if (c == 'u') {
            f->esc = 2;
            return ST_TAKEN;
        }
        if (!strchr("\"\\/bfnrt", c) || c == 0)
            return ST_DEAD;
        f->esc = 0;
        f->count++;
        return ST_TAKEN;
    }
    if (f->esc >= 2) {
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex)
            return ST_DEAD;
        if (++f->esc == 6) {
            f->esc = 0;
            f->count++;
        }
        return ST_TAKEN;
    }
    if (f->utf8) {
        if (c < 0x80 || c > 0xBF)
            return ST_DEAD;
        if (--f->utf8 == 0)
            f->count++;
        return ST_TAKEN;
    }
    if (c == '"')
        return f->count >= n->min_len ? ST_POP : ST_DEAD;
    /* A new character: only below maxLength. */
    if (n->max_len >= 0 && f->count >= n->max_len)
        return ST_DEAD;
    if (c == '\\') {
        f->esc = 1;
        return ST_TAKEN;
    }
    if (c < 0x20)
        return ST_DEAD;
    if (c < 0x80) {
        f->count++;
        return ST_TAKEN;
    }
    f->utf8 = c >= 0xC2 && c <= 0xDF   ? 1
              : c >= 0xE0 && c <= 0xEF ? 2
              : c >= 0xF0 && c <= 0xF4 ? 3
                                       : 0;
    return f->utf8 ? ST_TAKEN : ST_DEAD;
}

static int number_byte(struct weft_match_frame *f, const struct node *n, unsigned char c)
{
    int digit = c >= '0' && c <= '9', real = n->kind == K_NUMBER;
    int whole =
        f->phase == NU_INT || f->phase == NU_ZERO || f->phase == NU_FRAC || f->phase == NU_EXP;
    int next = -1;
    switch (f->phase) {
    case NU_START:
        next = c == '-' ? NU_MINUS : c == '0' ? NU_ZERO : digit ? NU_INT : -1;
        break;
    case NU_MINUS:
        next = c == '0' ? NU_ZERO : digit ? NU_INT : -1;
        break;
    case NU_INT:
    case NU_ZERO:
        next = digit && f->phase == NU_INT      ? NU_INT
               : real && c == '.'               ? NU_DOT
               : real && (c == 'e' || c == 'E') ? NU_E
                                                : -1;
        break;
    case NU_DOT:
        next = digit ? NU_FRAC : -1;
        break;
    case NU_FRAC:
        next = digit ? NU_FRAC : c == 'e' || c == 'E' ? NU_E : -1;
        break;
    case NU_E:
        next = c == '+' || c == '-' ? NU_ESIGN : digit ? NU_EXP : -1;
        break;
    case NU_ESIGN:
    case NU_EXP:
        next = digit ? NU_EXP : -1;
        break;
    }
    if (next < 0 || f->count >= MAX_NUMBER)
        return whole ? ST_ENDED : ST_DEAD;
    f->phase = (unsigned char)next;
    f->count++;
    return ST_TAKEN;
}

static int literal_byte(struct weft_match_frame *f, const struct node *n, unsigned char c)
{
    if (f->phase == 0) {
        f->phase = 1;
        f->cand = n->n_lits >= 64 ? ~0ull : (1ull << n->n_lits) - 1;
    }
    unsigned long long keep = 0;
    int whole = 0, longer = 0;
    for (int i = 0; i < n->n_lits; i++) {
        if (!(f->cand >> i & 1))
            continue;
        const char *l = n->lits[i];
        int len = (int)strlen(l);
        if (len == f->pos)
            whole = 1;
        else if ((unsigned char)l[f->pos] == c) {
            keep |= 1ull << i;
            if (len > f->pos + 1)
                longer = 1;
        }
    }
    if (!keep)
        return whole ? ST_ENDED : ST_DEAD;
    f->cand = keep;
    f->pos++;
    /* Whole, and nothing longer can follow: done now. */
    return longer ? ST_TAKEN : ST_POP;
}

/* The byte c on the top frame of st. */
static int frame_byte(struct weft_match_state *st, unsigned char c)
{
    struct weft_match_frame *f = &st->f[st->depth - 1];
    const struct node *n = f->node;
    switch (n->kind) {
    case K_STRING:
        if (f->phase == 0) {
            f->phase = 1;
            return c == '"' ? ST_TAKEN : ST_DEAD;
        }
        return string_byte(f, n, c);
    case K_NUMBER:
    case K_INTEGER:
        return number_byte(f, n, c);
    case K_LITERALS:
        return literal_byte(f, n, c);
    case K_ARRAY:
        if (f->phase == OB_START) {
            f->phase = OB_OPEN;
            return c == '[' ? ST_TAKEN : ST_DEAD;
        }
        if (f->phase == OB_VALUE) {
            if (c == ']' && f->count >= n->min_items)
                return ST_POP;
            if (c == ',' && (n->max_items < 0 || f->count < n->max_items)) {
                f->phase = OB_COMMA;
                return ST_TAKEN;
            }
            return ST_DEAD;
        }
        if (f->phase == OB_OPEN && c == ']')
            return n->min_items == 0 ? ST_POP : ST_DEAD;
        if (f->phase == OB_OPEN && n->max_items == 0)
            return ST_DEAD;
        /* An item begins with this byte: it is the item's. */
        f->phase = OB_VALUE;
        f->count++;
        return push(st, n->items) ? ST_ENDED + 10 : ST_DEAD;
    case K_ANYOBJ:
        switch (f->phase) {
        case OB_START:
            f->phase = OB_OPEN;
            return c == '{' ? ST_TAKEN : ST_DEAD;
        case OB_OPEN:
        case OB_COMMA:
            if (c == '}' && f->phase == OB_OPEN)
                return ST_POP;
            if (c != '"')
                return ST_DEAD;
            f->phase = OB_COLON;
            /* The key: any string, its quote taken. */
            if (!push(st, n->items->alts[2]))
                return ST_DEAD;
            st->f[st->depth - 1].phase = 1;
            return ST_TAKEN;
        case OB_COLON:
            if (c != ':')
                return ST_DEAD;
            f->phase = OB_VALUE;
            return push(st, n->items) ? ST_TAKEN : ST_DEAD;
        case OB_VALUE:
            if (c == '}')
                return ST_POP;
            if (c == ',') {
                f->phase = OB_COMMA;
                return ST_TAKEN;
            }
            return ST_DEAD;
        }
        return ST_DEAD;
    case K_OBJECT:
        switch (f->phase) {
        case OB_START:
            f->phase = OB_OPEN;
            return c == '{' ? ST_TAKEN : ST_DEAD;
        case OB_OPEN:
        case OB_COMMA:
            if (c == '}' && f->phase == OB_OPEN && !required_left(n, f->prop))
                return ST_POP;
            f->cand = key_candidates(n, f->prop);
            if (c != '"' || !f->cand)
                return ST_DEAD;
            f->phase = OB_KEY;
            f->pos = 1;
            return ST_TAKEN;
        case OB_KEY: {
            unsigned long long keep = 0;
            int chosen = -1;
            for (int i = 0; i < n->n_props; i++) {
                if (!(f->cand >> i & 1) || (unsigned char)n->keys[i][f->pos] != c)
                    continue;
                keep |= 1ull << i;
                if (n->key_len[i] == f->pos + 1)
                    chosen = i;
            }
            if (!keep)
                return ST_DEAD;
            f->cand = keep;
            f->pos++;
            if (chosen >= 0) { /* a key ends with its quote: no other goes on */
                f->prop = (short)chosen;
                f->phase = OB_COLON;
            }
            return ST_TAKEN;
        }
        case OB_COLON:
            if (c != ':')
                return ST_DEAD;
            f->phase = OB_VALUE;
            f->count++;
            f->prop++;
            return push(st, n->props[f->prop - 1]) ? ST_TAKEN : ST_DEAD;
        case OB_VALUE:
            if (c == '}' && !required_left(n, f->prop))
                return ST_POP;
            if (c == ',' && key_candidates(n, f->prop)) {
                f->phase = OB_COMMA;
                return ST_TAKEN;
            }
            return ST_DEAD;
        }
        return ST_DEAD;
    case K_ANYOF:
        break; /* resolved by feed_state before a byte reaches it */
    }
    return ST_DEAD;
}

/* How deep the any-object containers are nested in st. */
static int any_depth(const struct weft_match_state *st)
{
    int d = 0;
    for (int i = 0; i < st->depth; i++) {
        const struct node *n = st->f[i].node;
        d += n->kind == K_ANYOBJ || (n->kind == K_ARRAY && n->items->kind == K_ANYOF &&
                                     n->items->n_alts == 5 && n->items->alts[1] == n);
    }
    return d;
}

static int add_state(struct weft_matcher *m, const struct weft_match_state *st);

/* Feeds byte c to state st, adding what survives to out (anyOf forks). */
static void feed_state(struct weft_match_state st, unsigned char c, struct weft_matcher *out)
{
    for (;;) {
        if (st.depth == 0)
            return; /* nothing may follow a whole document */
        const struct node *n = top_node(&st);
        if (n->kind == K_ANYOF && st.f[st.depth - 1].phase == 0) {
            int deep = any_depth(&st) >= ANY_DEPTH;
            for (int i = 0; i < n->n_alts; i++) {
                const struct node *a = n->alts[i];
                if (deep && (a->kind == K_ANYOBJ || a->kind == K_ARRAY))
                    continue;
                struct weft_match_state fork = st;
                memset(&fork.f[fork.depth - 1], 0, sizeof fork.f[0]);
                fork.f[fork.depth - 1].node = a;
                feed_state(fork, c, out);
            }
            return;
        }
        int r = frame_byte(&st, c);
        if (r == ST_ENDED + 10) /* a child was pushed and takes the byte */
            continue;
        if (r == ST_DEAD)
            return;
        if (r == ST_TAKEN) {
            add_state(out, &st);
            return;
        }
        st.depth--; /* the value is whole */
        if (r == ST_POP) {
            add_state(out, &st);
            return;
        }
        /* ST_ENDED: the byte is the parent's. */
    }
}

static int state_len(const struct weft_match_state *st)
{
    return (int)(offsetof(struct weft_match_state, f) + (size_t)st->depth * sizeof st->f[0]);
}

static int add_state(struct weft_matcher *m, const struct weft_match_state *st)
{
    for (int i = 0; i < m->n; i++)
        if (m->alt[i].depth == st->depth && memcmp(&m->alt[i], st, (size_t)state_len(st)) == 0)
            return 1; /* the same place reached two ways */
    if (m->n == WEFT_MATCH_ALTS)
        return 0;
    memcpy(&m->alt[m->n++], st, (size_t)state_len(st));
    return 1;
}

int weft_schema_wrap(struct weft_schema *s, const char *prefix, const char *suffix)
{
    if ((prefix && strlen(prefix) >= sizeof s->prefix) ||
        (suffix && strlen(suffix) >= sizeof s->suffix))
        return WEFT_EINVAL;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix ? prefix : "");
    snprintf(s->suffix, sizeof s->suffix, "%s", suffix ? suffix : "");
    return 0;
}

void weft_matcher_init(struct weft_matcher *m, const struct weft_schema *s)
{
    m->schema = s;
    m->stage = s->prefix[0] ? 0 : 1;
    m->pos = 0;
    m->n = 1;
    m->alt[0].depth = 0;
    push(&m->alt[0], s->root);
}

void weft_matcher_copy(struct weft_matcher *dst, const struct weft_matcher *src)
{
    dst->schema = src->schema;
    dst->stage = src->stage;
    dst->pos = src->pos;
    dst->n = src->n;
    for (int i = 0; i < src->n; i++)
        memcpy(&dst->alt[i], &src->alt[i], (size_t)state_len(&src->alt[i]));
}

static int json_done(const struct weft_matcher *m);

int weft_matcher_feed(struct weft_matcher *m, const char *bytes, size_t len)
{
    struct weft_matcher next;
    const struct weft_schema *s = m->schema;
    for (size_t k = 0; k < len && m->n > 0; k++) {
        char c = bytes[k];
        if (m->stage == 0 || m->stage == 2) {
            const char *lit = m->stage == 0 ? s->prefix : s->suffix;
            if (lit[m->pos] != c) {
                m->n = 0;
                break;
            }
            if (lit[++m->pos] == '\0' && m->stage == 0) {
                m->stage = 1;
                m->pos = 0;
            }
            continue;
        }
        next.schema = s;
        next.stage = 1;
        next.pos = 0;
        next.n = 0;
        for (int i = 0; i < m->n; i++)
            feed_state(m->alt[i], (unsigned char)c, &next);
        if (next.n == 0 && s->suffix[0] && json_done(m) && c == s->suffix[0]) {
            /* The document was whole: the byte begins the suffix. */
            m->stage = 2;
            m->pos = 1;
            continue;
        }
        weft_matcher_copy(m, &next);
    }
    return m->n > 0;
}

/* Whether the top frame's value may end here. */
static int frame_whole(const struct weft_match_frame *f)
{
    const struct node *n = f->node;
    if (n->kind == K_NUMBER || n->kind == K_INTEGER)
        return f->phase == NU_INT || f->phase == NU_ZERO || f->phase == NU_FRAC ||
               f->phase == NU_EXP;
    if (n->kind == K_LITERALS && f->phase == 1) {
        for (int i = 0; i < n->n_lits; i++)
            if ((f->cand >> i & 1) && (int)strlen(n->lits[i]) == f->pos)
                return 1;
    }
    return 0;
}

int weft_matcher_done(const struct weft_matcher *m)
{
    const struct weft_schema *s = m->schema;
    if (m->n == 0)
        return 0;
    if (s->suffix[0])
        return m->stage == 2 && s->suffix[m->pos] == '\0';
    return m->stage == 1 && json_done(m);
}

static int json_done(const struct weft_matcher *m)
{
    for (int i = 0; i < m->n; i++)
        if (m->alt[i].depth == 0 || (m->alt[i].depth == 1 && frame_whole(&m->alt[i].f[0])))
            return 1;
    return 0;
}

/* The rest of an object's required members from prop on, and its '}';
 * `first`: no comma before the first of them. */
static int object_rest(const struct node *n, int prop, int first)
{
    int sum = 1;
    for (int i = prop; i < n->n_props; i++) {
        if (!n->req[i])
            continue;
        sum += (first ? 0 : 1) + n->key_len[i] + 1 + n->props[i]->min_close;
        first = 0;
    }
    return sum;
}

/* The fewest bytes that close frame f (and its value), given that what
 * is above it closes first. */
static int frame_close(const struct weft_match_frame *f)
{
    const struct node *n = f->node;
    if (f->phase == 0 && n->kind != K_LITERALS)
        return n->min_close;
    switch (n->kind) {
    case K_STRING: {
        int owe = f->esc == 1 ? 1 : f->esc >= 2 ? 6 - f->esc : 0;
        owe += f->utf8;
        int chars = f->count + (f->esc || f->utf8 ? 1 : 0);
        return owe + (n->min_len > chars ? n->min_len - chars : 0) + 1;
    }
    case K_NUMBER:
    case K_INTEGER:
        return frame_whole(f) ? 0 : 1;
    case K_LITERALS: {
        if (f->phase == 0)
            return n->min_close;
        int m = MIN_CLOSE_DEAD;
        for (int i = 0; i < n->n_lits; i++)
            if ((f->cand >> i & 1) && (int)strlen(n->lits[i]) - f->pos < m)
                m = (int)strlen(n->lits[i]) - f->pos;
        return m;
    }
    case K_ARRAY: {
        int item = n->items->min_close;
        int need = n->min_items - f->count;
        if (f->phase == OB_OPEN)
            return n->min_items == 0 ? 1 : n->min_items * (item + 1);
        if (f->phase == OB_COMMA) /* an item must follow the comma */
            return item + (need > 1 ? (need - 1) * (item + 1) : 0) + 1;
        return (need > 0 ? need * (item + 1) : 0) + 1;
    }
    case K_ANYOBJ:
        return f->phase == OB_COLON ? 1 + 1 + 1 : f->phase == OB_COMMA ? 2 + 1 + 1 + 1 : 1;
    case K_OBJECT:
        switch (f->phase) {
        case OB_OPEN:
            return object_rest(n, f->prop, 1);
        case OB_COMMA:
        case OB_KEY: {
            /* A key (the shortest still possible, less what is written),
             * its value, and what must follow it. */
            int best = MIN_CLOSE_DEAD;
            unsigned long long cand = f->phase == OB_KEY ? f->cand : key_candidates(n, f->prop);
            int written = f->phase == OB_KEY ? f->pos : 0;
            for (int i = 0; i < n->n_props; i++) {
                if (!(cand >> i & 1))
                    continue;
                int v =
                    n->key_len[i] - written + 1 + n->props[i]->min_close + object_rest(n, i + 1, 0);
                if (v < best)
                    best = v;
            }
            return best;
        }
        case OB_COLON:
            return 1 + n->props[f->prop]->min_close + object_rest(n, f->prop + 1, 0);
        case OB_VALUE:
            return object_rest(n, f->prop, 0);
        }
        return MIN_CLOSE_DEAD;
    case K_ANYOF:
        return n->min_close;
    }
    return MIN_CLOSE_DEAD;
}

int weft_matcher_min_close(const struct weft_matcher *m)
{
    const struct weft_schema *s = m->schema;
    int slen = (int)strlen(s->suffix);
    if (m->n == 0)
        return MIN_CLOSE_DEAD;
    if (m->stage == 0)
        return (int)strlen(s->prefix) - m->pos + s->root->min_close + slen;
    if (m->stage == 2)
        return slen - m->pos;
    int best = MIN_CLOSE_DEAD;
    for (int i = 0; i < m->n; i++) {
        const struct weft_match_state *st = &m->alt[i];
        int sum = 0;
        for (int d = st->depth - 1; d >= 0 && sum < MIN_CLOSE_DEAD; d--)
            sum += frame_close(&st->f[d]);
        if (sum < best)
            best = sum;
    }
    return best >= MIN_CLOSE_DEAD ? best : best + slen;
}
