/* A replay's series over a window, and their picture (issue 19):
 * weft-energy replay --svg. The series are bucket means of the replay's
 * steps (at most WEFT_SERIES_MAX buckets, so a year still draws quickly);
 * the SVG draws power (PV, load, compute, grid) above and the battery's
 * charge below, each polyline carrying its own scale as data- attributes
 * so a reader (the test) can turn its points back into values.
 *
 * Ownership: weft_series owns its arrays (weft_series_free). Single-
 * threaded. */
#ifndef WEFT_PLOT_H
#define WEFT_PLOT_H

#include <stdint.h>

#include "weft/buf.h"
#include "weft/energy_sim.h"

#define WEFT_SERIES_MAX 1440

enum weft_series_kind {
    WEFT_S_PV,
    WEFT_S_LOAD,
    WEFT_S_COMPUTE,
    WEFT_S_GRID,
    WEFT_S_SOC,
    WEFT_S_COUNT
};
/* "pv_w", "load_w", "compute_w", "grid_w", "soc_pct". */
const char *weft_series_name(enum weft_series_kind k);

struct weft_series {
    int64_t start_s; /* the window's first second, local as if UTC */
    double from_s;   /* the window's start, seconds from the profile's start */
    double span_s;   /* its length */
    double bucket_s; /* seconds per point */
    int n;           /* points */
    double *v[WEFT_S_COUNT];
    int *count; /* steps in each bucket (0: none yet) */
};

/* A window of span_s seconds from from_s of profile p; the bucket is the
 * smallest multiple of poll_s that keeps the points under WEFT_SERIES_MAX.
 * 0, WEFT_EINVAL (an empty window) or WEFT_ENOMEM. */
int weft_series_init(struct weft_series *s, const struct weft_profile *p, double from_s,
                     double span_s, int poll_s);
/* A weft_replay_opts trace: adds the step to its bucket (ud: the series). */
void weft_series_trace(void *ud, const struct weft_replay_point *pt);
/* Turns sums into means; buckets no step fell in stay 0 with count 0. */
void weft_series_finish(struct weft_series *s);
void weft_series_free(struct weft_series *s);

/* The picture as a standalone SVG document, with title as its heading
 * (escaped here). 0 or WEFT_ENOMEM / WEFT_ENOSPC from the buffer. */
int weft_series_svg(const struct weft_series *s, const char *title, struct weft_buf *out);

#endif /* WEFT_PLOT_H */
