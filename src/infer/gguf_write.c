/* GGUF v3 writer: metadata and tensor table in memory, tensor data streamed
 * to the file in declaration order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/buf.h"
#include "weft/error.h"
#include "weft/gguf.h"
#include "weft/quant.h"

#define WRITER_META_MAX (512u << 20)

struct wtensor {
    char *name;
    uint32_t type, n_dims;
    uint64_t ne[WEFT_GGUF_MAX_DIMS];
    uint64_t size, offset;
};

struct weft_gguf_writer {
    struct weft_buf meta; /* encoded key/value pairs */
    uint64_t n_kv;
    struct wtensor *t;
    int n_t, cap_t;
    uint64_t data_size;
    FILE *f;
    int next;      /* tensor whose data is being written */
    uint64_t done; /* bytes of it written so far */
    int failed;
};

int weft_gguf_writer_new(struct weft_gguf_writer **out)
{
    struct weft_gguf_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return WEFT_ENOMEM;
    weft_buf_init(&w->meta, WRITER_META_MAX);
    *out = w;
    return 0;
}

void weft_gguf_writer_free(struct weft_gguf_writer *w)
{
    if (w == NULL)
        return;
    if (w->f)
        fclose(w->f);
    for (int i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->t);
    weft_buf_free(&w->meta);
    free(w);
}

static int put(struct weft_buf *b, const void *p, size_t n)
{
    return weft_buf_append(b, p, n);
}

static int put_u32(struct weft_buf *b, uint32_t v)
{
    return put(b, &v, 4);
}

static int put_u64(struct weft_buf *b, uint64_t v)
{
    return put(b, &v, 8);
}

static int put_str(struct weft_buf *b, const char *s, uint64_t n)
{
    int rc = put_u64(b, n);
    return rc < 0 ? rc : put(b, s, (size_t)n);
}

static int put_key(struct weft_gguf_writer *w, const char *key, uint32_t type)
{
    int rc = put_str(&w->meta, key, strlen(key));
    if (rc == 0)
        rc = put_u32(&w->meta, type);
    if (rc == 0)
        w->n_kv++;
    return rc;
}

int weft_gguf_set_u32(struct weft_gguf_writer *w, const char *key, uint32_t v)
{
    int rc = put_key(w, key, WEFT_GGUF_U32);
    return rc < 0 ? rc : put_u32(&w->meta, v);
}

int weft_gguf_set_i32(struct weft_gguf_writer *w, const char *key, int32_t v)
{
    int rc = put_key(w, key, WEFT_GGUF_I32);
    return rc < 0 ? rc : put(&w->meta, &v, 4);
}

int weft_gguf_set_f32(struct weft_gguf_writer *w, const char *key, float v)
{
    int rc = put_key(w, key, WEFT_GGUF_F32);
    return rc < 0 ? rc : put(&w->meta, &v, 4);
}

int weft_gguf_set_bool(struct weft_gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    int rc = put_key(w, key, WEFT_GGUF_BOOL);
    return rc < 0 ? rc : put(&w->meta, &b, 1);
}

int weft_gguf_set_str(struct weft_gguf_writer *w, const char *key, const char *v)
{
    int rc = put_key(w, key, WEFT_GGUF_STRING);
    return rc < 0 ? rc : put_str(&w->meta, v, strlen(v));
}

int weft_gguf_set_arr(struct weft_gguf_writer *w, const char *key, uint32_t elem_type,
                      const void *data, uint64_t n)
{
    size_t es = weft_gguf_vtype_size(elem_type);
    if (es == 0)
        return WEFT_EINVAL;
    int rc = put_key(w, key, WEFT_GGUF_ARRAY);
    if (rc == 0)
        rc = put_u32(&w->meta, elem_type);
    if (rc == 0)
        rc = put_u64(&w->meta, n);
    if (rc == 0)
        rc = put(&w->meta, data, (size_t)(n * es));
    return rc;
}

int weft_gguf_set_arr_str(struct weft_gguf_writer *w, const char *key, const char *const *strs,
                          const uint64_t *lens, uint64_t n)
{
    int rc = put_key(w, key, WEFT_GGUF_ARRAY);
    if (rc == 0)
        rc = put_u32(&w->meta, WEFT_GGUF_STRING);
    if (rc == 0)
        rc = put_u64(&w->meta, n);
    for (uint64_t i = 0; rc == 0 && i < n; i++)
        rc = put_str(&w->meta, strs[i], lens[i]);
    return rc;
}

int weft_gguf_add_tensor(struct weft_gguf_writer *w, const char *name, uint32_t type,
                         uint32_t n_dims, const uint64_t *ne)
{
    if (n_dims == 0 || n_dims > WEFT_GGUF_MAX_DIMS || !weft_type_supported(type) || w->f)
        return WEFT_EINVAL;
    uint64_t count = 1;
    for (uint32_t d = 0; d < n_dims; d++)
        count *= ne[d];
    uint64_t row = weft_row_size(type, ne[0]);
    if (row == 0)
        return WEFT_EINVAL;
    if (w->n_t == w->cap_t) {
        int cap = w->cap_t ? w->cap_t * 2 : 64;
        struct wtensor *t = realloc(w->t, (size_t)cap * sizeof *t);
        if (t == NULL)
            return WEFT_ENOMEM;
        w->t = t;
        w->cap_t = cap;
    }
    struct wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (t->name == NULL)
        return WEFT_ENOMEM;
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < WEFT_GGUF_MAX_DIMS; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->size = count / ne[0] * row;
    t->offset = (w->data_size + WEFT_GGUF_DEFAULT_ALIGNMENT - 1) / WEFT_GGUF_DEFAULT_ALIGNMENT *
                WEFT_GGUF_DEFAULT_ALIGNMENT;
    w->data_size = t->offset + t->size;
    return w->n_t++;
}

static int write_all(struct weft_gguf_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n) {
        w->failed = 1;
        return weft_err_from_errno(errno ? errno : EIO);
    }
    return 0;
}

static int pad_to(struct weft_gguf_writer *w, uint64_t pos, uint64_t align)
{
    static const uint8_t zeros[64];
    uint64_t pad = (align - pos % align) % align;
    return write_all(w, zeros, (size_t)pad);
}

int weft_gguf_write_begin(struct weft_gguf_writer *w, const char *path)
{
    struct weft_buf head;
    weft_buf_init(&head, WRITER_META_MAX);
    int rc = put_u32(&head, 0x46554747u);
    if (rc == 0)
        rc = put_u32(&head, 3);
    if (rc == 0)
        rc = put_u64(&head, (uint64_t)w->n_t);
    if (rc == 0)
        rc = put_u64(&head, w->n_kv);
    if (rc == 0)
        rc = put(&head, w->meta.data ? w->meta.data : "", w->meta.len);
    for (int i = 0; rc == 0 && i < w->n_t; i++) {
        struct wtensor *t = &w->t[i];
        rc = put_str(&head, t->name, strlen(t->name));
        if (rc == 0)
            rc = put_u32(&head, t->n_dims);
        for (uint32_t d = 0; rc == 0 && d < t->n_dims; d++)
            rc = put_u64(&head, t->ne[d]);
        if (rc == 0)
            rc = put_u32(&head, t->type);
        if (rc == 0)
            rc = put_u64(&head, t->offset);
    }
    if (rc == 0) {
        w->f = fopen(path, "wb");
        if (w->f == NULL)
            rc = weft_err_from_errno(errno);
    }
    if (rc == 0)
        rc = write_all(w, head.data, head.len);
    if (rc == 0)
        rc = pad_to(w, head.len, WEFT_GGUF_DEFAULT_ALIGNMENT);
    weft_buf_free(&head);
    w->next = 0;
    w->done = 0;
    return rc;
}

uint64_t weft_gguf_tensor_size(const struct weft_gguf_writer *w, int idx)
{
    return idx >= 0 && idx < w->n_t ? w->t[idx].size : 0;
}

int weft_gguf_write_data(struct weft_gguf_writer *w, const void *data, uint64_t n)
{
    const uint8_t *p = data;
    if (w->f == NULL || w->failed)
        return WEFT_EINVAL;
    while (n > 0) {
        if (w->next >= w->n_t)
            return WEFT_EINVAL;
        struct wtensor *t = &w->t[w->next];
        uint64_t room = t->size - w->done;
        uint64_t k = n < room ? n : room;
        int rc = write_all(w, p, (size_t)k);
        if (rc < 0)
            return rc;
        p += k;
        n -= k;
        w->done += k;
        if (w->done == t->size) {
            if (w->next + 1 < w->n_t) {
                rc = pad_to(w, t->offset + t->size, WEFT_GGUF_DEFAULT_ALIGNMENT);
                if (rc < 0)
                    return rc;
            }
            w->next++;
            w->done = 0;
        }
    }
    return 0;
}

int weft_gguf_write_end(struct weft_gguf_writer *w)
{
    if (w->f == NULL || w->next != w->n_t)
        return WEFT_EINVAL;
    int rc = w->failed ? WEFT_EIO : 0;
    if (fclose(w->f) != 0 && rc == 0)
        rc = weft_err_from_errno(errno);
    w->f = NULL;
    return rc;
}
