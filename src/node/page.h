/* The homeowner's page (src/node/page/: HTML, CSS, JS), embedded in weftd
 * at build time (scripts/cmake/embed.cmake; no other build step, nothing
 * fetched) and served by the status endpoint (status.c) with
 * WEFT_PAGE_HEADERS. Read-only data. */
#ifndef WEFT_NODE_PAGE_H
#define WEFT_NODE_PAGE_H

#include "weft/asset.h"

extern const struct weft_asset node_assets[];
extern const int node_assets_n;

#endif /* WEFT_NODE_PAGE_H */
