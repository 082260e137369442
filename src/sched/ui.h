/* The operator's dashboard (src/sched/ui/: HTML, CSS, JS), embedded at
 * build time (scripts/cmake/embed.cmake) and served at /ui by api_ui.c.
 * Read-only data. */
#ifndef WEFT_SCHED_UI_H
#define WEFT_SCHED_UI_H

#include <stddef.h>

struct sched_asset {
    const char *path; /* "/ui", "/ui/dashboard.js", ... */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
};

extern const struct sched_asset sched_ui_assets[];
extern const int sched_ui_assets_n;

#endif /* WEFT_SCHED_UI_H */
