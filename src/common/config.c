/* Schema-driven, strict JSON configuration loading. See weft/config.h. */
#include "weft/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weft/error.h"

#define PATH_MAX_LEN 256
/* How much of an offending string value is quoted back in a message. */
#define GOT_MAX 40

struct walk {
    const char *name; /* file name for messages */
    char *err;
    size_t errcap;
    char path[PATH_MAX_LEN];
    size_t plen;
};

/* Formats "<file>: <key path>: <what>" into the caller's buffer. */
static int fail(struct walk *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct walk *w, int code, const char *fmt, ...)
{
    if (w->errcap == 0)
        return code;
    char what[WEFT_CONFIG_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(w->err, w->errcap, "%s: %s: %s", w->name, w->plen ? w->path : "(top level)", what);
    return code;
}

/* Appends ".key" to the path. Keys come from the file, so control bytes
 * are escaped (a message is always one line) and long keys are cut. */
static size_t push_key(struct walk *w, const char *key)
{
    static const char hex[] = "0123456789abcdef";
    size_t saved = w->plen;
    size_t room = sizeof w->path - 1;
    size_t o = w->plen;
    if (o > 0 && o < room)
        w->path[o++] = '.';
    size_t i = 0;
    for (; key[i] && i < 64 && o + 4 <= room; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7f) {
            w->path[o++] = '\\';
            w->path[o++] = 'x';
            w->path[o++] = hex[c >> 4];
            w->path[o++] = hex[c & 15];
        } else {
            w->path[o++] = (char)c;
        }
    }
    if (key[i] && o + 3 <= room) {
        memcpy(w->path + o, "...", 3);
        o += 3;
    }
    w->path[o] = '\0';
    w->plen = o;
    return saved;
}

static size_t push_index(struct walk *w, int i)
{
    size_t saved = w->plen;
    int n = snprintf(w->path + w->plen, sizeof w->path - w->plen, "[%d]", i);
    if (n > 0)
        w->plen += (size_t)n < sizeof w->path - w->plen ? (size_t)n : sizeof w->path - w->plen - 1;
    return saved;
}

static void pop(struct walk *w, size_t saved)
{
    w->plen = saved;
    w->path[saved] = '\0';
}

/* Renders a JSON value the way a person would recognise it in their file:
 * strings quoted (and cut), numbers as written, containers by kind. */
static void describe_got(const cJSON *v, char *out, size_t cap)
{
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t n = strlen(s);
        size_t o = 0;
        out[o++] = '"';
        for (size_t i = 0; i < n && i < GOT_MAX && o + 6 < cap; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '"' || c == '\\') {
                out[o++] = '\\';
                out[o++] = (char)c;
            } else if (c < 0x20) {
                o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
            } else {
                out[o++] = (char)c;
            }
        }
        if (n > GOT_MAX && o + 4 < cap) {
            memcpy(out + o, "...", 3);
            o += 3;
        }
        out[o++] = '"';
        out[o] = '\0';
    } else if (cJSON_IsNumber(v)) {
        snprintf(out, cap, "%.15g", v->valuedouble);
    } else if (cJSON_IsTrue(v)) {
        snprintf(out, cap, "true");
    } else if (cJSON_IsFalse(v)) {
        snprintf(out, cap, "false");
    } else if (cJSON_IsNull(v)) {
        snprintf(out, cap, "null");
    } else if (cJSON_IsArray(v)) {
        snprintf(out, cap, "an array");
    } else if (cJSON_IsObject(v)) {
        snprintf(out, cap, "an object");
    } else {
        snprintf(out, cap, "an invalid value");
    }
}

/* What a field accepts, as the second half of "expected ...". */
static void describe_expected(const struct weft_cfg_field *f, char *out, size_t cap)
{
    switch (f->type) {
    case WEFT_CFG_BOOL:
        snprintf(out, cap, "true or false");
        break;
    case WEFT_CFG_INT:
        snprintf(out, cap, "an integer %.15g..%.15g", f->min, f->max);
        break;
    case WEFT_CFG_DOUBLE:
        snprintf(out, cap, "a number %.15g..%.15g", f->min, f->max);
        break;
    case WEFT_CFG_STRING:
        snprintf(out, cap, "a string");
        break;
    case WEFT_CFG_ENUM: {
        size_t o = (size_t)snprintf(out, cap, "one of ");
        for (int i = 0; f->names[i] && o < cap; i++)
            o += (size_t)snprintf(out + o, cap - o, "%s\"%s\"", i ? ", " : "", f->names[i]);
        break;
    }
    case WEFT_CFG_OBJECT:
        snprintf(out, cap, "an object");
        break;
    case WEFT_CFG_ARRAY:
        snprintf(out, cap, "an array");
        break;
    }
}

static int fail_type(struct walk *w, const struct weft_cfg_field *f, const cJSON *v)
{
    char exp[256], got[GOT_MAX * 6 + 8];
    describe_expected(f, exp, sizeof exp);
    describe_got(v, got, sizeof got);
    return fail(w, WEFT_ECONFIG, "expected %s, got %s", exp, got);
}

/* Edit distance, for "did you mean". Keys are short; anything longer than
 * the row buffer simply gets no suggestion. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];
    if (lb >= sizeof row / sizeof row[0] || la > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const struct weft_cfg_field *find_field(const struct weft_cfg_field *fields, const char *key)
{
    for (const struct weft_cfg_field *f = fields; f->key; f++)
        if (strcmp(f->key, key) == 0)
            return f;
    return NULL;
}

static int fail_unknown(struct walk *w, const struct weft_cfg_field *fields, const char *key)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    size_t limit = strlen(key) / 3 + 1;
    for (const struct weft_cfg_field *f = fields; f->key; f++) {
        size_t d = edit_distance(key, f->key);
        if (d < best_d) {
            best_d = d;
            best = f->key;
        }
    }
    if (best && best_d <= limit && best_d <= 2)
        return fail(w, WEFT_ECONFIG, "unknown key (did you mean \"%s\"?)", best);
    return fail(w, WEFT_ECONFIG, "unknown key");
}

static int walk_value(struct walk *w, const cJSON *v, const struct weft_cfg_field *f, char *dst);

static int walk_object(struct walk *w, const cJSON *v, const struct weft_cfg_field *f, char *dst)
{
    if (!cJSON_IsObject(v))
        return fail_type(w, f, v);
    for (const cJSON *c = v->child; c; c = c->next) {
        /* cJSON keeps every member, duplicates included; a second value for
         * the same key is almost always a copy-paste mistake, and silently
         * taking either one would hide it. */
        size_t saved = push_key(w, c->string);
        const struct weft_cfg_field *cf = find_field(f->fields, c->string);
        if (cf == NULL)
            return fail_unknown(w, f->fields, c->string);
        for (const cJSON *p = v->child; p != c; p = p->next)
            if (strcmp(p->string, c->string) == 0)
                return fail(w, WEFT_ECONFIG, "duplicate key");
        int rc = walk_value(w, c, cf, dst + cf->offset);
        if (rc < 0)
            return rc;
        pop(w, saved);
    }
    for (const struct weft_cfg_field *cf = f->fields; cf->key; cf++) {
        if ((cf->flags & WEFT_CFG_REQUIRED) && !cJSON_HasObjectItem(v, cf->key)) {
            size_t saved = push_key(w, cf->key);
            int rc = fail(w, WEFT_ECONFIG, "required key is missing");
            pop(w, saved);
            return rc;
        }
    }
    if (f->validate) {
        char why[256] = "";
        int rc = f->validate(dst, why, sizeof why);
        if (rc < 0)
            return fail(w, WEFT_ECONFIG, "%s", why[0] ? why : "invalid combination of settings");
    }
    return 0;
}

static int walk_array(struct walk *w, const cJSON *v, const struct weft_cfg_field *f, char *dst,
                      char *count_dst)
{
    if (!cJSON_IsArray(v))
        return fail_type(w, f, v);
    int n = 0;
    for (const cJSON *c = v->child; c; c = c->next)
        n++;
    if (n < f->min || n > f->max) {
        if (f->min == f->max)
            return fail(w, WEFT_ECONFIG, "expected an array of %.15g items, got %d", f->max, n);
        return fail(w, WEFT_ECONFIG, "expected an array of %.15g..%.15g items, got %d", f->min,
                    f->max, n);
    }
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        size_t saved = push_index(w, i);
        int rc = walk_value(w, c, f->fields, dst + (size_t)i * f->size);
        if (rc < 0)
            return rc;
        pop(w, saved);
    }
    memcpy(count_dst, &n, sizeof n);
    return 0;
}

static int walk_value(struct walk *w, const cJSON *v, const struct weft_cfg_field *f, char *dst)
{
    switch (f->type) {
    case WEFT_CFG_BOOL: {
        if (!cJSON_IsBool(v))
            return fail_type(w, f, v);
        bool b = cJSON_IsTrue(v);
        memcpy(dst, &b, sizeof b);
        return 0;
    }
    case WEFT_CFG_INT: {
        if (!cJSON_IsNumber(v))
            return fail_type(w, f, v);
        double d = v->valuedouble;
        if (!isfinite(d) || d != floor(d) || d < f->min || d > f->max || d < INT32_MIN ||
            d > INT32_MAX)
            return fail_type(w, f, v);
        int i = (int)d;
        memcpy(dst, &i, sizeof i);
        return 0;
    }
    case WEFT_CFG_DOUBLE: {
        if (!cJSON_IsNumber(v))
            return fail_type(w, f, v);
        double d = v->valuedouble;
        if (!isfinite(d) || d < f->min || d > f->max)
            return fail_type(w, f, v);
        memcpy(dst, &d, sizeof d);
        return 0;
    }
    case WEFT_CFG_STRING: {
        if (!cJSON_IsString(v))
            return fail_type(w, f, v);
        size_t n = strlen(v->valuestring);
        if (n + 1 > f->size)
            return fail(w, WEFT_ECONFIG, "expected a string of at most %zu bytes, got %zu bytes",
                        f->size - 1, n);
        if (f->max > 0 && (n < f->min || n > f->max))
            return fail(w, WEFT_ECONFIG, "expected a string of %.15g..%.15g bytes, got %zu bytes",
                        f->min, f->max, n);
        if (f->min > 0 && n < f->min)
            return fail(w, WEFT_ECONFIG, "expected a string of at least %.15g bytes, got %zu",
                        f->min, n);
        memcpy(dst, v->valuestring, n + 1);
        return 0;
    }
    case WEFT_CFG_ENUM: {
        if (cJSON_IsString(v)) {
            for (int i = 0; f->names[i]; i++) {
                if (strcmp(f->names[i], v->valuestring) == 0) {
                    memcpy(dst, &i, sizeof i);
                    return 0;
                }
            }
        }
        return fail_type(w, f, v);
    }
    case WEFT_CFG_OBJECT:
        return walk_object(w, v, f, dst);
    case WEFT_CFG_ARRAY:
        /* The count lives in the enclosing struct, next to the array; its
         * offset is relative to the same base as the array's. */
        return walk_array(w, v, f, dst, dst - f->offset + f->count_offset);
    }
    return fail(w, WEFT_EINVAL, "schema error: unknown field type %d", (int)f->type);
}

/* 1-based line and column of byte `pos` in text, for compiler-style errors. */
static void line_col(const char *text, size_t pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* cJSON stops either on the offending character or one past it (after
 * reading the first byte of what should have been a string). Backing up
 * one non-blank byte lands on the token that is wrong in both cases; the
 * message then quotes it, which matters more to a person than the column. */
static void report_syntax_error(const char *name, const char *text, size_t len, size_t pos,
                                char *err, size_t errcap)
{
    int only_space = 1;
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
            only_space = 0;
    int line, col;
    if (only_space) {
        line_col(text, len, &line, &col);
        snprintf(err, errcap, "%s:%d:%d: malformed JSON: the file is empty", name, line, col);
        return;
    }
    if (pos > 0 && pos <= len && !strchr(" \t\r\n", text[pos - 1]))
        pos--;
    while (pos < len && strchr(" \t\r\n", text[pos]))
        pos++;
    line_col(text, pos, &line, &col);
    if (pos >= len) {
        snprintf(err, errcap, "%s:%d:%d: malformed JSON: the file ends too early", name, line, col);
        return;
    }
    char near[24];
    size_t n = 0;
    for (size_t i = pos; i < len && n < 20 && text[i] != '\n' && text[i] != '\r'; i++)
        near[n++] = (unsigned char)text[i] < 0x20 || text[i] == '"' ? '?' : text[i];
    near[n] = '\0';
    snprintf(err, errcap, "%s:%d:%d: malformed JSON near \"%s\"", name, line, col, near);
}

int weft_config_load_text(const char *name, const char *text, size_t len,
                          const struct weft_cfg_field *root, void *target, char *err, size_t errcap)
{
    struct walk w = {.name = name, .err = err, .errcap = errcap};
    if (errcap)
        err[0] = '\0';
    if (root->type != WEFT_CFG_OBJECT || root->size == 0)
        return fail(&w, WEFT_EINVAL, "schema error: root must be an object with a size");
    if (len > WEFT_CONFIG_MAX_BYTES) {
        snprintf(err, errcap, "%s: file too large (%zu bytes, the limit is %u)", name, len,
                 WEFT_CONFIG_MAX_BYTES);
        return WEFT_E2BIG;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line, col;
        line_col(text, (size_t)(nul - text), &line, &col);
        snprintf(err, errcap, "%s:%d:%d: malformed JSON: NUL byte in file", name, line, col);
        return WEFT_EPARSE;
    }

    /* cJSON wants a terminated string; the copy also lets "require the
     * document to end here" work without reading past len. */
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return WEFT_ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';

    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithOpts(copy, &end, 1);
    if (doc == NULL) {
        size_t pos = end && end >= copy && end <= copy + len ? (size_t)(end - copy) : 0;
        report_syntax_error(name, copy, len, pos, err, errcap);
        free(copy);
        return WEFT_EPARSE;
    }

    /* Fill a scratch copy of the target so that a document that fails half
     * way leaves the caller's settings untouched. */
    char *scratch = malloc(root->size);
    int rc = WEFT_ENOMEM;
    if (scratch) {
        memcpy(scratch, target, root->size);
        rc = walk_value(&w, doc, root, scratch);
        if (rc == 0)
            memcpy(target, scratch, root->size);
        free(scratch);
    }
    cJSON_Delete(doc);
    free(copy);
    return rc;
}

int weft_config_load_file(const char *path, const struct weft_cfg_field *root, void *target,
                          char *err, size_t errcap)
{
    if (errcap)
        err[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(e));
        return weft_err_from_errno(e);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(err, errcap, "%s: cannot read: %s", path, strerror(e));
        close(fd);
        return weft_err_from_errno(e);
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "%s: cannot read: %s", path,
                 S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return S_ISDIR(st.st_mode) ? WEFT_EISDIR : WEFT_EINVAL;
    }
    if ((uint64_t)st.st_size > WEFT_CONFIG_MAX_BYTES) {
        snprintf(err, errcap, "%s: file too large (%lld bytes, the limit is %u)", path,
                 (long long)st.st_size, WEFT_CONFIG_MAX_BYTES);
        close(fd);
        return WEFT_E2BIG;
    }
    size_t cap = (size_t)st.st_size;
    char *text = malloc(cap + 1);
    if (text == NULL) {
        close(fd);
        return WEFT_ENOMEM;
    }
    /* Read up to one byte past the size fstat gave, so that a file that grew
     * in between is caught rather than silently cut. */
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, text + len, cap + 1 - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            snprintf(err, errcap, "%s: cannot read: %s", path, strerror(e));
            free(text);
            close(fd);
            return weft_err_from_errno(e);
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > cap)
            break;
    }
    close(fd);
    int rc;
    if (len > cap) {
        snprintf(err, errcap, "%s: cannot read: the file changed while it was read", path);
        rc = WEFT_EIO;
    } else {
        rc = weft_config_load_text(path, text, len, root, target, err, errcap);
    }
    free(text);
    return rc;
}
