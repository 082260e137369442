/* A clear-sky PV model (issue 16): what the home's array would make under
 * a cloudless sky, per quarter hour of each day of the year, from the
 * site's latitude, longitude, the array's tilt, azimuth and kWp. The sun's
 * position comes from libnova; the sky is Haurwitz's clear-sky global
 * irradiance, split into beam and a fixed diffuse share and carried onto
 * the array's plane. The forecast layers (forecast.h) scale it by a ratio
 * learnt from the home's own PV history, which also takes in what the
 * model gets wrong about this array (shading, soiling, its true rating).
 *
 * weft_clearsky_init fills a table once (366 days x 96 quarter hours);
 * lookups are then O(1) and need no libnova. Caller-owned; read-only after
 * init, so it may be shared between threads. */
#ifndef WEFT_CLEARSKY_H
#define WEFT_CLEARSKY_H

#include <stdint.h>

struct weft_site {
    double latitude, longitude; /* degrees, + north, + east */
    double tilt, azimuth;       /* degrees; tilt 0 flat; azimuth 0 south, 90 west, -90 east */
    double kwp;                 /* the array's peak power */
    int utc_offset_s;           /* local clock minus UTC (the profile's; weftd's own) */
};

struct weft_clearsky {
    float pv_w[366][96]; /* mean W of each quarter hour, by day of the year (0 = 1 January) */
};

/* 0, or WEFT_EINVAL for a site out of range. */
int weft_clearsky_init(struct weft_clearsky *cs, const struct weft_site *site);

/* The clear-sky W at local time local_s (local seconds, as if UTC). */
double weft_clearsky_at(const struct weft_clearsky *cs, int64_t local_s);

#endif /* WEFT_CLEARSKY_H */
