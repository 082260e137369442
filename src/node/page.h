/* The homeowner's page (src/node/page/: HTML, CSS, JS), embedded in weftd
 * at build time (scripts/cmake/embed.cmake; no other build step, nothing
 * fetched) and served by the status endpoint (status.c) with a strict
 * Content-Security-Policy: scripts, styles and requests to weftd itself
 * only, no inline script. Read-only data. */
#ifndef WEFT_NODE_PAGE_H
#define WEFT_NODE_PAGE_H

#include <stddef.h>

struct node_asset {
    const char *path; /* "/", "/page.js", ... */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
};

extern const struct node_asset node_assets[];
extern const int node_assets_n;

#endif /* WEFT_NODE_PAGE_H */
