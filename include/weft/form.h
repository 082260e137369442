/* multipart/form-data bodies (RFC 7578), as the openai client's
 * files.create sends them, parsed by GMime: the scheduler's file uploads.
 *
 * Bounds: the body is bounded by its caller (the HTTP server's body cap);
 * at most WEFT_FORM_MAX_PARTS parts, each field name under 64 bytes and
 * file name under 256 (longer ones are refused, not cut).
 *
 * Ownership: a parsed form owns copies of its parts' bytes, freed by
 * weft_form_free(). Thread-safety: weft_form_init() once per process,
 * before any parse; then any thread may parse its own forms. */
#ifndef WEFT_FORM_H
#define WEFT_FORM_H

#include <stddef.h>

#define WEFT_FORM_MAX_PARTS 16

struct weft_form_part {
    char name[64];      /* the Content-Disposition's name */
    char filename[256]; /* its filename, "" for a plain field */
    char *data;         /* the part's bytes, transfer encoding undone, NUL-terminated */
    size_t len;
};

struct weft_form {
    struct weft_form_part parts[WEFT_FORM_MAX_PARTS];
    int n;
};

/* GMime's one-time set-up. */
void weft_form_init(void);

/* Parses body (len bytes) sent with this Content-Type header value.
 * Returns 0, or WEFT_EPARSE (not multipart/form-data, no boundary, a part
 * without a name, a name too long) or WEFT_ELIMIT (too many parts) with
 * the reason in err; out is empty then. */
int weft_form_parse(struct weft_form *out, const char *content_type, const char *body, size_t len,
                    char *err, size_t errcap);

/* The first part named name, or NULL. */
const struct weft_form_part *weft_form_get(const struct weft_form *f, const char *name);

void weft_form_free(struct weft_form *f);

#endif /* WEFT_FORM_H */
