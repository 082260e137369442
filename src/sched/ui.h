/* The operator's dashboard (src/sched/ui/: HTML, CSS, JS), embedded at
 * build time (scripts/cmake/embed.cmake) and served at /ui by api_ui.c
 * with WEFT_PAGE_HEADERS. Read-only data. */
#ifndef WEFT_SCHED_UI_H
#define WEFT_SCHED_UI_H

#include "weft/asset.h"

extern const struct weft_asset sched_ui_assets[];
extern const int sched_ui_assets_n;

#endif /* WEFT_SCHED_UI_H */
