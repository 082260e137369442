/* The clear-sky PV table (include/weft/clearsky.h).
 *
 * Per instant: the sun's altitude and azimuth from libnova (the year 2024
 * stands for every year: the sun's path repeats to well within what a
 * forecast needs); Haurwitz's global horizontal irradiance, 1098 cos z
 * e^(-0.059 / cos z) W/m2; 15 % of it diffuse, the rest beam; on the
 * plane, beam x cos(incidence) / cos z plus the diffuse the tilted array
 * sees of the sky, (1 + cos tilt) / 2. Each quarter hour is taken at its
 * middle (libnova's solar position costs about 30 us: the table takes
 * about a second to fill). */
#include <libnova/julian_day.h>
#include <libnova/solar.h>
#include <libnova/transform.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "weft/clearsky.h"
#include "weft/error.h"

#define DIFFUSE_SHARE 0.15
#define DEG           (M_PI / 180.0)

static double plane_w(const struct weft_site *s, time_t utc)
{
    struct ln_lnlat_posn obs = {.lng = s->longitude, .lat = s->latitude};
    struct ln_equ_posn equ;
    struct ln_hrz_posn hrz;
    double jd = ln_get_julian_from_timet(&utc);
    ln_get_solar_equ_coords(jd, &equ);
    ln_get_hrz_from_equ(&equ, &obs, jd, &hrz);
    if (hrz.alt <= 0.5) /* below (or grazing) the horizon */
        return 0;
    double cz = sin(hrz.alt * DEG);
    double ghi = 1098.0 * cz * exp(-0.059 / cz);
    double dhi = DIFFUSE_SHARE * ghi, bh = ghi - dhi;
    /* Incidence on the plane; libnova's azimuth counts from south to west,
     * as the site's does. */
    double zen = (90 - hrz.alt) * DEG, tilt = s->tilt * DEG;
    double ci = cos(zen) * cos(tilt) + sin(zen) * sin(tilt) * cos((hrz.az - s->azimuth) * DEG);
    double beam = ci > 0 ? bh * ci / cz : 0;
    double poa = beam + dhi * (1 + cos(tilt)) / 2;
    return s->kwp * poa; /* kWp x (W/m2 / 1000 W/m2) x 1000 W/kW */
}

int weft_clearsky_init(struct weft_clearsky *cs, const struct weft_site *site)
{
    if (!(site->latitude >= -90 && site->latitude <= 90 && site->longitude >= -180 &&
          site->longitude <= 180 && site->tilt >= 0 && site->tilt <= 90 && site->kwp > 0 &&
          site->azimuth >= -180 && site->azimuth <= 360 && site->utc_offset_s >= -14 * 3600 &&
          site->utc_offset_s <= 14 * 3600))
        return WEFT_EINVAL;
    memset(cs, 0, sizeof *cs);
    /* 2024-01-01 00:00 local, as seconds since the epoch in UTC. */
    const int64_t y2024 = 1704067200;
    for (int d = 0; d < 366; d++)
        for (int k = 0; k < 96; k++) {
            int64_t local = y2024 + (int64_t)d * 86400 + k * 900 + 450; /* mid-slot */
            cs->pv_w[d][k] = (float)plane_w(site, (time_t)(local - site->utc_offset_s));
        }
    return 0;
}

/* Days since 1970-01-01 -> the day of its year (0-based), by Howard
 * Hinnant's civil_from_days (gmtime_r is too slow for a lookup a replay
 * makes a hundred million times). */
static int day_of_year(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* from 1 March */
    int64_t y = yoe + era * 400;
    int64_t mp = (5 * doy + 2) / 153, m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    /* doy counts from 1 March; Jan and Feb close the previous count. */
    return (int)(m <= 2 ? doy - 306 : doy + 59 + leap);
}

double weft_clearsky_at(const struct weft_clearsky *cs, int64_t local_s)
{
    int64_t days = local_s >= 0 ? local_s / 86400 : (local_s - 86399) / 86400;
    int slot = (int)((local_s - days * 86400) / 900);
    return cs->pv_w[day_of_year(days)][slot];
}
