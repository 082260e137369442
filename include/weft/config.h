/* Strict JSON configuration, described by a schema.
 *
 * A module describes its settings as a table of struct weft_cfg_field: the
 * key, its type, where the value goes in the module's own settings struct,
 * and its bounds. The loader parses the file with cJSON and walks document
 * and schema together. Anything the schema does not allow is rejected with
 * one line that names the file and the key path:
 *
 *   weftd.json: energy.battery.reserve_soc: expected a number 0..100, got "abc"
 *   weftd.json: energy.batery: unknown key (did you mean "battery"?)
 *   weftd.json: scheduler.urls[1]: expected a string of at most 255 bytes, got 300 bytes
 *   weftd.json: scheduler.token: required key is missing
 *   weftd.json:7:3: malformed JSON
 *   /etc/weft/weftd.json: cannot open: No such file or directory
 *
 * Defaults: the caller fills the target struct with defaults first; the
 * loader overwrites only the keys present in the file. Keys marked
 * WEFT_CFG_REQUIRED must be present.
 *
 * Ownership: the schema is static, read-only data. Strings are copied into
 * fixed char arrays inside the target, so a loaded config owns no heap
 * memory and needs no free. Nothing is written to the target unless the
 * whole document is valid: on any error the target is left as it was.
 *
 * Bounds: files over WEFT_CONFIG_MAX_BYTES, NUL bytes, nesting deeper than
 * the schema, arrays longer than their max and strings longer than their
 * buffer are all rejected.
 *
 * Thread-safety: reentrant; no globals (cJSON's global error pointer is not
 * used).
 */
#ifndef WEFT_CONFIG_H
#define WEFT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define WEFT_CONFIG_MAX_BYTES (1u << 20)
/* Room for any message the loader writes; shorter buffers get a cut line. */
#define WEFT_CONFIG_ERR_MAX 512

enum weft_cfg_type {
    WEFT_CFG_BOOL,   /* bool */
    WEFT_CFG_INT,    /* int, whole numbers in [min, max] */
    WEFT_CFG_DOUBLE, /* double, finite, in [min, max] */
    WEFT_CFG_STRING, /* char[size], NUL-terminated; length in [min, max] when max > 0 */
    WEFT_CFG_ENUM,   /* int: the index of the string in `names` */
    WEFT_CFG_OBJECT, /* a nested struct described by `fields` */
    WEFT_CFG_ARRAY,  /* elements of `size` bytes, count in [min, max], see below */
};

#define WEFT_CFG_REQUIRED 1u

struct weft_cfg_field {
    const char *key; /* NULL for the root and for an array's element spec */
    enum weft_cfg_type type;
    unsigned flags;
    size_t offset; /* of the value within the enclosing struct (or element) */
    double min, max;
    /* STRING: capacity of the char array, NUL included.
     * ARRAY: size of one element.
     * The root OBJECT: sizeof the target struct (the loader fills a copy and
     * writes the target only when the whole document is valid). */
    size_t size;
    /* ARRAY: offset of the int that receives the element count. */
    size_t count_offset;
    /* OBJECT: the member fields, ended by an entry whose key is NULL.
     * ARRAY: a single field (key NULL, offset 0) describing one element. */
    const struct weft_cfg_field *fields;
    /* ENUM: the accepted strings, ended by NULL. */
    const char *const *names;
    /* OBJECT: optional cross-field check run after the members are read.
     * Writes a reason (no key path, no file name) into err[errcap] and returns
     * a negative code to reject the object. */
    int (*validate)(const void *obj, char *err, size_t errcap);
    /* One sentence for documentation and --help output. */
    const char *help;
};

/* Reads and validates `path` into `target` according to `root` (an OBJECT
 * field with key NULL and .size = sizeof *target; see WEFT_CFG_ROOT). Returns 0, or a negative code
 * with the message in err[errcap]: WEFT_ENOENT / WEFT_EACCES / WEFT_EIO when the file cannot be
 * read, WEFT_E2BIG for an oversized file, WEFT_EPARSE for malformed JSON,
 * WEFT_ECONFIG when the document breaks the schema. */
int weft_config_load_file(const char *path, const struct weft_cfg_field *root, void *target,
                          char *err, size_t errcap);

/* The same for text already in memory. `name` is what error lines start
 * with (usually the file name). text need not be NUL-terminated. */
int weft_config_load_text(const char *name, const char *text, size_t len,
                          const struct weft_cfg_field *root, void *target, char *err,
                          size_t errcap);

/* Helpers for schema tables. `st` is the struct type, `m` its member. */
#define WEFT_CFG_BOOL_F(st, m, k, fl, h)                                                           \
    {                                                                                              \
        .key = (k), .type = WEFT_CFG_BOOL, .flags = (fl), .offset = offsetof(st, m), .help = (h)   \
    }
#define WEFT_CFG_INT_F(st, m, k, lo, hi, fl, h)                                                    \
    {                                                                                              \
        .key = (k), .type = WEFT_CFG_INT, .flags = (fl), .offset = offsetof(st, m), .min = (lo),   \
        .max = (hi), .help = (h)                                                                   \
    }
#define WEFT_CFG_DOUBLE_F(st, m, k, lo, hi, fl, h)                                                 \
    {                                                                                              \
        .key = (k), .type = WEFT_CFG_DOUBLE, .flags = (fl), .offset = offsetof(st, m),             \
        .min = (lo), .max = (hi), .help = (h)                                                      \
    }
#define WEFT_CFG_STRING_F(st, m, k, fl, h)                                                         \
    {                                                                                              \
        .key = (k), .type = WEFT_CFG_STRING, .flags = (fl), .offset = offsetof(st, m),             \
        .size = sizeof(((st *)0)->m), .help = (h)                                                  \
    }
#define WEFT_CFG_ENUM_F(st, m, k, nm, fl, h)                                                       \
    {                                                                                              \
        .key = (k), .type = WEFT_CFG_ENUM, .flags = (fl), .offset = offsetof(st, m),               \
        .names = (nm), .help = (h)                                                                 \
    }
#define WEFT_CFG_OBJECT_F(st, m, k, flds, fl, h)                                                   \
    {                                                                                              \
        .key = (k), .type = WEFT_CFG_OBJECT, .flags = (fl), .offset = offsetof(st, m),             \
        .fields = (flds), .help = (h)                                                              \
    }
/* An array member `m` (a C array) whose count goes to member `cnt`. */
#define WEFT_CFG_ARRAY_F(st, m, cnt, k, elem, lo, fl, h)                                           \
    {                                                                                              \
        .key = (k), .type = WEFT_CFG_ARRAY, .flags = (fl), .offset = offsetof(st, m), .min = (lo), \
        .max = (double)(sizeof(((st *)0)->m) / sizeof(((st *)0)->m[0])),                           \
        .size = sizeof(((st *)0)->m[0]), .count_offset = offsetof(st, cnt), .fields = (elem),      \
        .help = (h)                                                                                \
    }
#define WEFT_CFG_END                                                                               \
    {                                                                                              \
        .key = NULL                                                                                \
    }
/* The root of a schema for target type `st`; `v` may be NULL. */
#define WEFT_CFG_ROOT(st, flds, v)                                                                 \
    {                                                                                              \
        .key = NULL, .type = WEFT_CFG_OBJECT, .size = sizeof(st), .fields = (flds),                \
        .validate = (v)                                                                            \
    }

#endif /* WEFT_CONFIG_H */
