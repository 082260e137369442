/* multipart/form-data through GMime; see include/weft/form.h.
 *
 * GMime parses MIME entities, headers included: the body is given the
 * request's Content-Type as its header, and GMime finds the boundary,
 * the parts, their Content-Disposition parameters (RFC 2231 and quoted
 * names included) and undoes any Content-Transfer-Encoding. */
#include "weft/form.h"

#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/error.h"

void weft_form_init(void)
{
    g_mime_init();
}

static int fail(struct weft_form *out, int rc, char *err, size_t errcap, const char *msg)
{
    weft_form_free(out);
    snprintf(err, errcap, "%s", msg);
    return rc;
}

/* One part's name, filename and decoded bytes into p; 0 or an error. */
static int take_part(GMimeObject *obj, struct weft_form_part *p, char *err, size_t errcap)
{
    if (!GMIME_IS_PART(obj)) {
        snprintf(err, errcap, "a part of the form is itself multipart");
        return WEFT_EPARSE;
    }
    GMimeContentDisposition *cd = g_mime_object_get_content_disposition(obj);
    const char *disp = cd ? g_mime_content_disposition_get_disposition(cd) : NULL;
    const char *name = cd ? g_mime_content_disposition_get_parameter(cd, "name") : NULL;
    const char *fname = cd ? g_mime_content_disposition_get_parameter(cd, "filename") : NULL;
    if (!disp || strcasecmp(disp, "form-data") != 0 || !name || !*name) {
        snprintf(err, errcap, "a part has no Content-Disposition: form-data with a name");
        return WEFT_EPARSE;
    }
    if (strlen(name) >= sizeof p->name || (fname && strlen(fname) >= sizeof p->filename)) {
        snprintf(err, errcap, "a part's name or filename is too long");
        return WEFT_EPARSE;
    }
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->filename, sizeof p->filename, "%s", fname ? fname : "");
    GMimeStream *mem = g_mime_stream_mem_new();
    GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(obj));
    int rc = 0;
    if (w && g_mime_data_wrapper_write_to_stream(w, mem) < 0)
        rc = WEFT_EPARSE;
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    size_t n = ba ? ba->len : 0;
    p->data = rc ? NULL : malloc(n + 1);
    if (!rc && !p->data)
        rc = WEFT_ENOMEM;
    if (!rc) {
        if (n)
            memcpy(p->data, ba->data, n);
        p->data[n] = '\0';
        p->len = n;
    }
    g_object_unref(mem);
    if (rc)
        snprintf(err, errcap, "a part's content could not be read");
    return rc;
}

int weft_form_parse(struct weft_form *out, const char *content_type, const char *body, size_t len,
                    char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    if (!content_type || strncasecmp(content_type, "multipart/form-data", 19) != 0)
        return fail(out, WEFT_EPARSE, err, errcap, "the body must be multipart/form-data");
    if (strpbrk(content_type, "\r\n"))
        return fail(out, WEFT_EPARSE, err, errcap, "a bad Content-Type");
    GMimeContentType *ct = g_mime_content_type_parse(NULL, content_type);
    const char *boundary = ct ? g_mime_content_type_get_parameter(ct, "boundary") : NULL;
    int has_boundary = boundary && *boundary;
    if (ct)
        g_object_unref(ct);
    if (!has_boundary)
        return fail(out, WEFT_EPARSE, err, errcap, "the Content-Type has no boundary");
    /* The entity GMime parses: the request's Content-Type, then the body. */
    GMimeStream *st = g_mime_stream_mem_new();
    g_mime_stream_write_string(st, "Content-Type: ");
    g_mime_stream_write_string(st, content_type);
    g_mime_stream_write_string(st, "\r\n\r\n");
    if (len)
        g_mime_stream_write(st, body, len);
    g_mime_stream_reset(st);
    GMimeParser *parser = g_mime_parser_new_with_stream(st);
    GMimeObject *top = g_mime_parser_construct_part(parser, NULL);
    g_object_unref(parser);
    g_object_unref(st);
    int rc = 0;
    if (!top || !GMIME_IS_MULTIPART(top)) {
        rc = WEFT_EPARSE;
        snprintf(err, errcap, "the body is not a multipart entity");
    } else {
        int n = g_mime_multipart_get_count(GMIME_MULTIPART(top));
        if (n > WEFT_FORM_MAX_PARTS) {
            rc = WEFT_ELIMIT;
            snprintf(err, errcap, "the form has %d parts, more than %d", n, WEFT_FORM_MAX_PARTS);
        }
        for (int i = 0; rc == 0 && i < n; i++) {
            rc = take_part(g_mime_multipart_get_part(GMIME_MULTIPART(top), i), &out->parts[i], err,
                           errcap);
            if (rc == 0)
                out->n++;
        }
    }
    if (top)
        g_object_unref(top);
    if (rc)
        weft_form_free(out);
    return rc;
}

const struct weft_form_part *weft_form_get(const struct weft_form *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->parts[i].name, name) == 0)
            return &f->parts[i];
    return NULL;
}

void weft_form_free(struct weft_form *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->parts[i].data);
    memset(f, 0, sizeof *f);
}
