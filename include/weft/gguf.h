/* GGUF (versions 2 and 3): a strict reader over mmap, and a writer.
 *
 * Reader: weft_gguf_open() maps the file read-only and validates all of it
 * before returning: every length, count and offset inside the file with
 * overflow-safe arithmetic; keys and tensor names unique; alignment a power
 * of two; tensor types known and supported; tensor data aligned, inside the
 * data section and non-overlapping. Errors name the file, the key or tensor,
 * and what is wrong, in err[errcap].
 *
 * Ownership: struct weft_gguf owns the mapping and its tables. Every pointer
 * it hands out (strings, array data, tensor data) points into the mapping
 * and stays valid until weft_gguf_close(). Strings from the file are NOT
 * NUL-terminated: they are (pointer, length) views.
 *
 * Thread-safety: an open file is immutable; any thread may read it.
 */
#ifndef WEFT_GGUF_H
#define WEFT_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum weft_gguf_vtype {
    WEFT_GGUF_U8 = 0,
    WEFT_GGUF_I8 = 1,
    WEFT_GGUF_U16 = 2,
    WEFT_GGUF_I16 = 3,
    WEFT_GGUF_U32 = 4,
    WEFT_GGUF_I32 = 5,
    WEFT_GGUF_F32 = 6,
    WEFT_GGUF_BOOL = 7,
    WEFT_GGUF_STRING = 8,
    WEFT_GGUF_ARRAY = 9,
    WEFT_GGUF_U64 = 10,
    WEFT_GGUF_I64 = 11,
    WEFT_GGUF_F64 = 12,
};

#define WEFT_GGUF_MAX_DIMS          4
#define WEFT_GGUF_DEFAULT_ALIGNMENT 32
/* Nested arrays deeper than this are rejected (none exist in practice). */
#define WEFT_GGUF_MAX_NESTING 8

struct weft_str {
    const char *p;
    uint64_t n;
};

struct weft_gguf_value {
    uint32_t type;
    union {
        uint64_t u; /* U8..U64 and BOOL */
        int64_t i;  /* I8..I64 */
        double f;   /* F32, F64 */
        struct weft_str s;
        struct {
            uint32_t type;       /* element type */
            uint64_t n;          /* element count */
            const uint8_t *data; /* first element, raw, in the mapping */
        } arr;
    };
};

struct weft_gguf_kv {
    struct weft_str key;
    struct weft_gguf_value v;
};

struct weft_gguf_tensor {
    struct weft_str name;
    uint32_t n_dims;
    uint64_t ne[WEFT_GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
    uint32_t type;
    uint64_t offset;     /* from the start of the data section */
    uint64_t size;       /* bytes */
    const uint8_t *data; /* in the mapping */
};

struct weft_gguf {
    const uint8_t *base; /* the mapping, or the caller's buffer */
    size_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    uint64_t n_kv, n_tensors;
    struct weft_gguf_kv *kv;
    struct weft_gguf_tensor *tensors;
    void *map; /* the mapping to munmap, NULL for a caller's buffer */
};

/* Maps and validates a file. 0 or WEFT_ENOENT/EACCES/EIO (cannot read),
 * WEFT_EFORMAT (not GGUF, corrupt, unsupported), WEFT_ENOMEM. */
int weft_gguf_open(const char *path, struct weft_gguf **out, char *err, size_t errcap);

/* The same over a buffer the caller keeps alive until weft_gguf_close();
 * `name` prefixes error messages. Used by the fuzz target and tests. */
int weft_gguf_parse(const void *data, size_t size, const char *name, struct weft_gguf **out,
                    char *err, size_t errcap);

void weft_gguf_close(struct weft_gguf *g);

/* Says that bytes [p, p + n) of a mapped file are not needed for now: the
 * whole pages inside leave the process's resident set (the page cache
 * keeps them, and a later read maps them back). Nothing for a caller's
 * buffer. */
void weft_gguf_drop(const struct weft_gguf *g, const void *p, size_t n);

const struct weft_gguf_kv *weft_gguf_find(const struct weft_gguf *g, const char *key);
const struct weft_gguf_tensor *weft_gguf_tensor(const struct weft_gguf *g, const char *name);

/* Typed getters. A missing key leaves *out alone and returns WEFT_ENOENT; a
 * key of an incompatible type (or a value out of the target's range)
 * returns WEFT_EFORMAT. Integer getters accept any integer type whose value
 * fits; the float getter accepts F32, F64 and integers. */
int weft_gguf_get_u32(const struct weft_gguf *g, const char *key, uint32_t *out);
int weft_gguf_get_i32(const struct weft_gguf *g, const char *key, int32_t *out);
int weft_gguf_get_f32(const struct weft_gguf *g, const char *key, float *out);
int weft_gguf_get_bool(const struct weft_gguf *g, const char *key, bool *out);
int weft_gguf_get_str(const struct weft_gguf *g, const char *key, struct weft_str *out);
/* An array of the given element type; *n and *data as in the union. */
int weft_gguf_get_arr(const struct weft_gguf *g, const char *key, uint32_t elem_type, uint64_t *n,
                      const uint8_t **data);
/* Fills views[0..n) with the strings of a string array (n from
 * weft_gguf_get_arr). The array was validated at open, so this cannot fail
 * on a file that opened. */
void weft_gguf_arr_strings(const uint8_t *data, uint64_t n, struct weft_str *views);

/* A string from a file, quoted for a one-line message: printable ASCII
 * only (other bytes become '?'), cut with "..." to fit buf[cap]. */
const char *weft_str_printable(struct weft_str s, char *buf, size_t cap);

/* Bytes of one value of a fixed-size type (U8..F64, BOOL); 0 for STRING,
 * ARRAY and unknown types. */
size_t weft_gguf_vtype_size(uint32_t type);

/* 1 when the view equals the NUL-terminated string s. */
int weft_str_eq(struct weft_str a, const char *s);

/* --- writer ------------------------------------------------------------------
 * Two phases: declare metadata and tensors (shapes, types), then
 * weft_gguf_write_begin() writes the header and tensor table, and the
 * caller streams the tensors' bytes in declaration order with
 * weft_gguf_write_data(), so multi-gigabyte models never sit in memory.
 * Key, string and name arguments are copied. */
struct weft_gguf_writer;

int weft_gguf_writer_new(struct weft_gguf_writer **out);
void weft_gguf_writer_free(struct weft_gguf_writer *w);
int weft_gguf_set_u32(struct weft_gguf_writer *w, const char *key, uint32_t v);
int weft_gguf_set_i32(struct weft_gguf_writer *w, const char *key, int32_t v);
int weft_gguf_set_f32(struct weft_gguf_writer *w, const char *key, float v);
int weft_gguf_set_bool(struct weft_gguf_writer *w, const char *key, bool v);
int weft_gguf_set_str(struct weft_gguf_writer *w, const char *key, const char *v);
/* Arrays of fixed-size elements (U8..F64 but not STRING/ARRAY): n elements
 * of the type's size at data. */
int weft_gguf_set_arr(struct weft_gguf_writer *w, const char *key, uint32_t elem_type,
                      const void *data, uint64_t n);
/* Arrays of strings given as pointers and lengths. */
int weft_gguf_set_arr_str(struct weft_gguf_writer *w, const char *key, const char *const *strs,
                          const uint64_t *lens, uint64_t n);
/* Declares a tensor; returns its index or a negative code. */
int weft_gguf_add_tensor(struct weft_gguf_writer *w, const char *name, uint32_t type,
                         uint32_t n_dims, const uint64_t *ne);
/* Opens path and writes everything up to the first tensor's data. */
int weft_gguf_write_begin(struct weft_gguf_writer *w, const char *path);
/* Appends the next n bytes of tensor data: tensors in declaration order,
 * each in as many pieces as the caller likes; the padding between tensors
 * is written automatically. WEFT_EINVAL past the last tensor's end. */
int weft_gguf_write_data(struct weft_gguf_writer *w, const void *data, uint64_t n);
/* Size in bytes of declared tensor idx. */
uint64_t weft_gguf_tensor_size(const struct weft_gguf_writer *w, int idx);
/* Checks every tensor was written, flushes and closes. */
int weft_gguf_write_end(struct weft_gguf_writer *w);

#endif /* WEFT_GGUF_H */
