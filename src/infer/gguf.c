/* GGUF reader: validates the whole file up front so that the rest of the
 * engine can trust every offset and size it is given. */
#include "weft/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weft/error.h"
#include "weft/quant.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */

/* A bounded cursor over the file. Every read checks the bytes are there;
 * after the first failure the cursor stays failed and reads return zero, so
 * the parser can read a record and check once. */
struct cur {
    const uint8_t *p;
    size_t size, off;
    const char *name;
    char *err;
    size_t cap;
    int failed;
};

static int fail(struct cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cur *c, const char *fmt, ...)
{
    if (!c->failed && c->cap) {
        char what[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(c->err, c->cap, "%s: %s", c->name, what);
    }
    c->failed = 1;
    return WEFT_EFORMAT;
}

static int need(struct cur *c, uint64_t n, const char *what)
{
    if (c->failed)
        return WEFT_EFORMAT;
    if (n > c->size - c->off)
        return fail(c, "truncated: %s needs %llu bytes at offset %zu, file has %zu", what,
                    (unsigned long long)n, c->off, c->size);
    return 0;
}

static uint64_t rd(struct cur *c, size_t n, const char *what)
{
    if (need(c, n, what) < 0)
        return 0;
    uint64_t v = 0;
    /* GGUF is little-endian, as are the machines Weft runs on. */
    memcpy(&v, c->p + c->off, n);
    c->off += n;
    return v;
}

static struct weft_str rd_str(struct cur *c, const char *what)
{
    struct weft_str s = {NULL, 0};
    uint64_t n = rd(c, 8, what);
    if (need(c, n, what) < 0)
        return s;
    s.p = (const char *)c->p + c->off;
    s.n = n;
    c->off += (size_t)n;
    return s;
}

size_t weft_gguf_vtype_size(uint32_t t)
{
    switch (t) {
    case WEFT_GGUF_U8:
    case WEFT_GGUF_I8:
    case WEFT_GGUF_BOOL:
        return 1;
    case WEFT_GGUF_U16:
    case WEFT_GGUF_I16:
        return 2;
    case WEFT_GGUF_U32:
    case WEFT_GGUF_I32:
    case WEFT_GGUF_F32:
        return 4;
    case WEFT_GGUF_U64:
    case WEFT_GGUF_I64:
    case WEFT_GGUF_F64:
        return 8;
    default:
        return 0;
    }
}

const char *weft_str_printable(struct weft_str s, char *buf, size_t cap)
{
    size_t o = 0;
    for (uint64_t i = 0; i < s.n && o + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    if (s.n > 0 && o + 4 >= cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static int read_value(struct cur *c, uint32_t type, struct weft_gguf_value *v, int depth,
                      const char *key);

static int read_array(struct cur *c, struct weft_gguf_value *v, int depth, const char *key)
{
    uint32_t et = (uint32_t)rd(c, 4, "array element type");
    uint64_t n = rd(c, 8, "array length");
    if (c->failed)
        return WEFT_EFORMAT;
    v->arr.type = et;
    v->arr.n = n;
    v->arr.data = c->p + c->off;
    size_t es = weft_gguf_vtype_size(et);
    if (es) {
        /* Fixed-size elements: one bounds check for the whole array. */
        if (n > (c->size - c->off) / es)
            return fail(c, "key '%s': array of %llu elements runs past the end of the file", key,
                        (unsigned long long)n);
        c->off += (size_t)(n * es);
        return 0;
    }
    if (et != WEFT_GGUF_STRING && et != WEFT_GGUF_ARRAY)
        return fail(c, "key '%s': unknown array element type %u", key, et);
    if (depth >= WEFT_GGUF_MAX_NESTING)
        return fail(c, "key '%s': arrays nested deeper than %d", key, WEFT_GGUF_MAX_NESTING);
    /* Each string or nested array takes at least 8 bytes: a cheap check that
     * stops absurd counts before the loop runs. */
    if (n > (c->size - c->off) / 8)
        return fail(c, "key '%s': array of %llu elements runs past the end of the file", key,
                    (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        struct weft_gguf_value ev;
        if (read_value(c, et, &ev, depth + 1, key) < 0)
            return WEFT_EFORMAT;
    }
    return 0;
}

static int read_value(struct cur *c, uint32_t type, struct weft_gguf_value *v, int depth,
                      const char *key)
{
    v->type = type;
    switch (type) {
    case WEFT_GGUF_U8:
    case WEFT_GGUF_U16:
    case WEFT_GGUF_U32:
    case WEFT_GGUF_U64:
        v->u = rd(c, weft_gguf_vtype_size(type), key);
        break;
    case WEFT_GGUF_BOOL:
        v->u = rd(c, 1, key);
        if (!c->failed && v->u > 1)
            return fail(c, "key '%s': bool value %llu is neither 0 nor 1", key,
                        (unsigned long long)v->u);
        break;
    case WEFT_GGUF_I8:
        v->i = (int8_t)rd(c, 1, key);
        break;
    case WEFT_GGUF_I16:
        v->i = (int16_t)rd(c, 2, key);
        break;
    case WEFT_GGUF_I32:
        v->i = (int32_t)rd(c, 4, key);
        break;
    case WEFT_GGUF_I64:
        v->i = (int64_t)rd(c, 8, key);
        break;
    case WEFT_GGUF_F32: {
        uint32_t u = (uint32_t)rd(c, 4, key);
        float f;
        memcpy(&f, &u, sizeof f);
        v->f = f;
        break;
    }
    case WEFT_GGUF_F64: {
        uint64_t u = rd(c, 8, key);
        memcpy(&v->f, &u, sizeof v->f);
        break;
    }
    case WEFT_GGUF_STRING:
        v->s = rd_str(c, key);
        break;
    case WEFT_GGUF_ARRAY:
        return read_array(c, v, depth, key);
    default:
        return fail(c, "key '%s': unknown value type %u", key, type);
    }
    return c->failed ? WEFT_EFORMAT : 0;
}

static int cmp_offset(const void *a, const void *b)
{
    const struct weft_gguf_tensor *const *x = a, *const *y = b;
    return (*x)->offset < (*y)->offset ? -1 : (*x)->offset > (*y)->offset;
}

static int str_eq2(struct weft_str a, struct weft_str b)
{
    return a.n == b.n && memcmp(a.p, b.p, (size_t)a.n) == 0;
}

/* Index of the first item whose name repeats an earlier one, WEFT_ENOENT
 * when all are unique, WEFT_ENOMEM without memory. Items are structs that start with their
 * struct weft_str name (kv keys, tensor names). A hash set keeps a hostile
 * file with a million keys from costing a million squared comparisons. */
static int64_t find_duplicate(const void *items, size_t stride, uint64_t n)
{
    if (n < 2)
        return WEFT_ENOENT;
    uint64_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    int64_t *slots = malloc(cap * sizeof *slots);
    if (slots == NULL)
        return WEFT_ENOMEM;
    for (uint64_t i = 0; i < cap; i++)
        slots[i] = -1;
    int64_t dup = WEFT_ENOENT;
    for (uint64_t i = 0; i < n && dup < 0; i++) {
        const struct weft_str *s = (const void *)((const char *)items + i * stride);
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (uint64_t k = 0; k < s->n; k++)
            h = (h ^ (uint8_t)s->p[k]) * 1099511628211ull;
        for (uint64_t j = h & (cap - 1);; j = (j + 1) & (cap - 1)) {
            if (slots[j] < 0) {
                slots[j] = (int64_t)i;
                break;
            }
            const struct weft_str *o =
                (const void *)((const char *)items + (uint64_t)slots[j] * stride);
            if (str_eq2(*o, *s)) {
                dup = (int64_t)i;
                break;
            }
        }
    }
    free(slots);
    return dup;
}

static int parse(struct weft_gguf *g, struct cur *c)
{
    char nb[80];
    uint32_t magic = (uint32_t)rd(c, 4, "magic");
    if (c->failed)
        return WEFT_EFORMAT;
    if (magic != GGUF_MAGIC)
        return fail(c, "not a GGUF file (magic %08x)", magic);
    g->version = (uint32_t)rd(c, 4, "version");
    if (!c->failed && (g->version < 2 || g->version > 3))
        return fail(c, "GGUF version %u is not supported (2 and 3 are)", g->version);
    g->n_tensors = rd(c, 8, "tensor count");
    g->n_kv = rd(c, 8, "metadata count");
    if (c->failed)
        return WEFT_EFORMAT;
    /* A key/value pair takes at least 13 bytes and a tensor info 28: counts
     * that cannot fit in the file are rejected before anything is sized by
     * them. */
    if (g->n_kv > (c->size - c->off) / 13)
        return fail(c, "metadata count %llu cannot fit in a %zu-byte file",
                    (unsigned long long)g->n_kv, c->size);
    if (g->n_tensors > (c->size - c->off) / 28)
        return fail(c, "tensor count %llu cannot fit in a %zu-byte file",
                    (unsigned long long)g->n_tensors, c->size);
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors)
        return WEFT_ENOMEM;

    g->alignment = WEFT_GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        struct weft_gguf_kv *kv = &g->kv[i];
        kv->key = rd_str(c, "metadata key");
        uint32_t type = (uint32_t)rd(c, 4, "metadata value type");
        if (c->failed)
            return WEFT_EFORMAT;
        char key[80];
        weft_str_printable(kv->key, key, sizeof key);
        if (kv->key.n == 0)
            return fail(c, "metadata %llu has an empty key", (unsigned long long)i);
        if (read_value(c, type, &kv->v, 0, key) < 0)
            return WEFT_EFORMAT;
        if (weft_str_eq(kv->key, "general.alignment")) {
            if (kv->v.type != WEFT_GGUF_U32)
                return fail(c, "key 'general.alignment' must be a u32");
            /* The GGUF spec: a multiple of 8. The engine reads half floats
             * and block scales in place, so tensors must be at least that
             * aligned; here also a power of two. */
            uint64_t a = kv->v.u;
            if (a < 8 || (a & (a - 1)) != 0 || a > 65536)
                return fail(c,
                            "key 'general.alignment' is %llu, not a power of two from 8 to 65536",
                            (unsigned long long)a);
            g->alignment = (uint32_t)a;
        }
    }

    for (uint64_t i = 0; i < g->n_tensors; i++) {
        struct weft_gguf_tensor *t = &g->tensors[i];
        t->name = rd_str(c, "tensor name");
        t->n_dims = (uint32_t)rd(c, 4, "tensor dimension count");
        if (c->failed)
            return WEFT_EFORMAT;
        weft_str_printable(t->name, nb, sizeof nb);
        if (t->name.n == 0)
            return fail(c, "tensor %llu has an empty name", (unsigned long long)i);
        if (t->n_dims == 0 || t->n_dims > WEFT_GGUF_MAX_DIMS)
            return fail(c, "tensor '%s': %u dimensions (1..%d allowed)", nb, t->n_dims,
                        WEFT_GGUF_MAX_DIMS);
        uint64_t count = 1;
        for (uint32_t d = 0; d < WEFT_GGUF_MAX_DIMS; d++) {
            t->ne[d] = d < t->n_dims ? rd(c, 8, "tensor dimension") : 1;
            if (c->failed)
                return WEFT_EFORMAT;
            if (t->ne[d] == 0 || t->ne[d] > (1ull << 40))
                return fail(c, "tensor '%s': dimension %u is %llu", nb, d,
                            (unsigned long long)t->ne[d]);
            if (count > UINT64_MAX / t->ne[d])
                return fail(c, "tensor '%s': element count overflows", nb);
            count *= t->ne[d];
        }
        t->type = (uint32_t)rd(c, 4, "tensor type");
        t->offset = rd(c, 8, "tensor offset");
        if (c->failed)
            return WEFT_EFORMAT;
        if (!weft_type_supported(t->type))
            return fail(c, "tensor '%s': type %s (%u) is not supported", nb,
                        weft_type_name(t->type), t->type);
        size_t blk = weft_type_block(t->type);
        if (t->ne[0] % blk != 0)
            return fail(c, "tensor '%s': row length %llu is not a multiple of the %s block (%zu)",
                        nb, (unsigned long long)t->ne[0], weft_type_name(t->type), blk);
        uint64_t blocks = count / blk;
        if (blocks > UINT64_MAX / weft_type_size(t->type))
            return fail(c, "tensor '%s': size overflows", nb);
        t->size = blocks * weft_type_size(t->type);
        if (t->offset % g->alignment != 0)
            return fail(c, "tensor '%s': offset %llu is not a multiple of the alignment %u", nb,
                        (unsigned long long)t->offset, g->alignment);
    }
    int64_t dup = find_duplicate(g->kv, sizeof *g->kv, g->n_kv);
    if (dup == WEFT_ENOMEM)
        return WEFT_ENOMEM;
    if (dup >= 0)
        return fail(c, "key '%s' appears twice", weft_str_printable(g->kv[dup].key, nb, sizeof nb));
    dup = find_duplicate(g->tensors, sizeof *g->tensors, g->n_tensors);
    if (dup == WEFT_ENOMEM)
        return WEFT_ENOMEM;
    if (dup >= 0)
        return fail(c, "tensor '%s' appears twice",
                    weft_str_printable(g->tensors[dup].name, nb, sizeof nb));

    /* The data section starts at the next multiple of the alignment. */
    uint64_t data = ((uint64_t)c->off + g->alignment - 1) / g->alignment * g->alignment;
    if (g->n_tensors > 0 && data > c->size)
        return fail(c, "truncated: the data section would start at %llu, past the end (%zu)",
                    (unsigned long long)data, c->size);
    g->data_offset = data;
    uint64_t avail = data <= c->size ? c->size - data : 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        struct weft_gguf_tensor *t = &g->tensors[i];
        if (t->offset > avail || t->size > avail - t->offset)
            return fail(c,
                        "tensor '%s': data [%llu, +%llu) lies outside the data section "
                        "(%llu bytes)",
                        weft_str_printable(t->name, nb, sizeof nb), (unsigned long long)t->offset,
                        (unsigned long long)t->size, (unsigned long long)avail);
        t->data = c->p + data + t->offset;
    }

    if (g->n_tensors > 1) {
        const struct weft_gguf_tensor **by = malloc(g->n_tensors * sizeof *by);
        if (by == NULL)
            return WEFT_ENOMEM;
        for (uint64_t i = 0; i < g->n_tensors; i++)
            by[i] = &g->tensors[i];
        qsort(by, g->n_tensors, sizeof *by, cmp_offset);
        for (uint64_t i = 1; i < g->n_tensors; i++) {
            if (by[i - 1]->offset + by[i - 1]->size > by[i]->offset) {
                char nb2[80];
                fail(c, "tensors '%s' and '%s' overlap",
                     weft_str_printable(by[i - 1]->name, nb, sizeof nb),
                     weft_str_printable(by[i]->name, nb2, sizeof nb2));
                free(by);
                return WEFT_EFORMAT;
            }
        }
        free(by);
    }
    return 0;
}

int weft_gguf_parse(const void *data, size_t size, const char *name, struct weft_gguf **out,
                    char *err, size_t errcap)
{
    if (errcap)
        err[0] = '\0';
    struct weft_gguf *g = calloc(1, sizeof *g);
    if (g == NULL)
        return WEFT_ENOMEM;
    g->base = data;
    g->size = size;
    struct cur c = {.p = data, .size = size, .name = name, .err = err, .cap = errcap};
    int rc = parse(g, &c);
    if (rc < 0) {
        if (rc == WEFT_ENOMEM && errcap)
            snprintf(err, errcap, "%s: out of memory", name);
        weft_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int weft_gguf_open(const char *path, struct weft_gguf **out, char *err, size_t errcap)
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
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "%s: not a regular file", path);
        close(fd);
        return WEFT_EINVAL;
    }
    if (st.st_size == 0) {
        snprintf(err, errcap, "%s: empty file", path);
        close(fd);
        return WEFT_EFORMAT;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errcap, "%s: cannot map: %s", path, strerror(e));
        return weft_err_from_errno(e);
    }
    struct weft_gguf *g = NULL;
    int rc = weft_gguf_parse(m, (size_t)st.st_size, path, &g, err, errcap);
    if (rc < 0) {
        munmap(m, (size_t)st.st_size);
        return rc;
    }
    g->map = m;
    *out = g;
    return 0;
}

void weft_gguf_drop(const struct weft_gguf *g, const void *p, size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (g->map == NULL || pg <= 0)
        return;
    uintptr_t a = (uintptr_t)p, e = a + n, mask = (uintptr_t)pg - 1;
    uintptr_t lo = (a + mask) & ~mask, hi = e & ~mask;
    /* A private read-only mapping has no changes to lose: this only drops
     * page-table entries. */
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void weft_gguf_close(struct weft_gguf *g)
{
    if (g == NULL)
        return;
    if (g->map)
        munmap(g->map, g->size);
    free(g->kv);
    free(g->tensors);
    free(g);
}

int weft_str_eq(struct weft_str a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && memcmp(a.p, s, n) == 0;
}

const struct weft_gguf_kv *weft_gguf_find(const struct weft_gguf *g, const char *key)
{
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (weft_str_eq(g->kv[i].key, key))
            return &g->kv[i];
    return NULL;
}

const struct weft_gguf_tensor *weft_gguf_tensor(const struct weft_gguf *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (weft_str_eq(g->tensors[i].name, name))
            return &g->tensors[i];
    return NULL;
}

static int is_unsigned(uint32_t t)
{
    return t == WEFT_GGUF_U8 || t == WEFT_GGUF_U16 || t == WEFT_GGUF_U32 || t == WEFT_GGUF_U64;
}

static int is_signed(uint32_t t)
{
    return t == WEFT_GGUF_I8 || t == WEFT_GGUF_I16 || t == WEFT_GGUF_I32 || t == WEFT_GGUF_I64;
}

/* Any integer value as a signed 128-bit-safe pair: fits reports range. */
static int get_int(const struct weft_gguf *g, const char *key, int64_t lo, uint64_t hi,
                   int64_t *out)
{
    const struct weft_gguf_kv *kv = weft_gguf_find(g, key);
    if (kv == NULL)
        return WEFT_ENOENT;
    if (is_unsigned(kv->v.type)) {
        if (kv->v.u > hi)
            return WEFT_EFORMAT;
        *out = (int64_t)kv->v.u;
        return 0;
    }
    if (is_signed(kv->v.type)) {
        if (kv->v.i < lo || (kv->v.i > 0 && (uint64_t)kv->v.i > hi))
            return WEFT_EFORMAT;
        *out = kv->v.i;
        return 0;
    }
    return WEFT_EFORMAT;
}

int weft_gguf_get_u32(const struct weft_gguf *g, const char *key, uint32_t *out)
{
    int64_t v;
    int rc = get_int(g, key, 0, UINT32_MAX, &v);
    if (rc == 0)
        *out = (uint32_t)v;
    return rc;
}

int weft_gguf_get_i32(const struct weft_gguf *g, const char *key, int32_t *out)
{
    int64_t v;
    int rc = get_int(g, key, INT32_MIN, INT32_MAX, &v);
    if (rc == 0)
        *out = (int32_t)v;
    return rc;
}

int weft_gguf_get_f32(const struct weft_gguf *g, const char *key, float *out)
{
    const struct weft_gguf_kv *kv = weft_gguf_find(g, key);
    if (kv == NULL)
        return WEFT_ENOENT;
    if (kv->v.type == WEFT_GGUF_F32 || kv->v.type == WEFT_GGUF_F64)
        *out = (float)kv->v.f;
    else if (is_unsigned(kv->v.type))
        *out = (float)kv->v.u;
    else if (is_signed(kv->v.type))
        *out = (float)kv->v.i;
    else
        return WEFT_EFORMAT;
    return 0;
}

int weft_gguf_get_bool(const struct weft_gguf *g, const char *key, bool *out)
{
    const struct weft_gguf_kv *kv = weft_gguf_find(g, key);
    if (kv == NULL)
        return WEFT_ENOENT;
    if (kv->v.type != WEFT_GGUF_BOOL)
        return WEFT_EFORMAT;
    *out = kv->v.u != 0;
    return 0;
}

int weft_gguf_get_str(const struct weft_gguf *g, const char *key, struct weft_str *out)
{
    const struct weft_gguf_kv *kv = weft_gguf_find(g, key);
    if (kv == NULL)
        return WEFT_ENOENT;
    if (kv->v.type != WEFT_GGUF_STRING)
        return WEFT_EFORMAT;
    *out = kv->v.s;
    return 0;
}

int weft_gguf_get_arr(const struct weft_gguf *g, const char *key, uint32_t elem_type, uint64_t *n,
                      const uint8_t **data)
{
    const struct weft_gguf_kv *kv = weft_gguf_find(g, key);
    if (kv == NULL)
        return WEFT_ENOENT;
    if (kv->v.type != WEFT_GGUF_ARRAY || kv->v.arr.type != elem_type)
        return WEFT_EFORMAT;
    *n = kv->v.arr.n;
    *data = kv->v.arr.data;
    return 0;
}

void weft_gguf_arr_strings(const uint8_t *data, uint64_t n, struct weft_str *views)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        memcpy(&len, data, 8);
        views[i].p = (const char *)data + 8;
        views[i].n = len;
        data += 8 + len;
    }
}
