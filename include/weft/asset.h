/* A file a daemon serves from its own binary: the homeowner's page
 * (weftd) and the operator's dashboard (the scheduler), embedded at build
 * time by scripts/cmake/embed.cmake into a table of these. Read-only. */
#ifndef WEFT_ASSET_H
#define WEFT_ASSET_H

#include <stddef.h>

struct weft_asset {
    const char *path; /* "/", "/ui/dashboard.js", ... */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
};

/* What every page and its data carry: only the daemon's own script, style
 * and requests (no inline script, nothing from elsewhere), no framing,
 * types never guessed, no referrer. "Name: value\r\n" lines. */
#define WEFT_PAGE_HEADERS                                                                          \
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "           \
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "                    \
    "frame-ancestors 'none'\r\n"                                                                   \
    "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"

#endif /* WEFT_ASSET_H */
