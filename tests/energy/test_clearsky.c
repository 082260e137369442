/* The clear-sky PV table: sanity of the physics on a real site (Sydney,
 * a 1 kWp array tilted 20 degrees towards the equator), where the figures
 * are known to within a few tens of percent: night is dark, midwinter noon
 * is dimmer than midsummer noon, the day is symmetric about solar noon, an
 * array facing the pole makes less in winter, and a clear year yields what
 * clear-sky yields there (about 2 MWh per kWp). */
#include <math.h>
#include <time.h>

#include "harness.h"
#include "weft/clearsky.h"
#include "weft/error.h"

static struct weft_clearsky cs, pole;

static int64_t local(int y, int m, int d, int hh, int mm)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = hh, .tm_min = mm};
    return (int64_t)timegm(&tm);
}

TEST(a_clear_sky_over_sydney)
{
    struct weft_site s = {.latitude = -33.87,
                          .longitude = 151.21,
                          .tilt = 20,
                          .azimuth = 180,
                          .kwp = 1,
                          .utc_offset_s = 10 * 3600};
    ASSERT_EQ_INT(weft_clearsky_init(&cs, &s), 0);
    ASSERT_NEAR(weft_clearsky_at(&cs, local(2011, 7, 1, 0, 0)), 0, 0);
    ASSERT_NEAR(weft_clearsky_at(&cs, local(2011, 7, 1, 5, 30)), 0, 0);
    double winter = weft_clearsky_at(&cs, local(2011, 6, 21, 11, 45));
    double summer = weft_clearsky_at(&cs, local(2011, 12, 21, 11, 45));
    if (!(winter > 550 && winter < 850 && summer > 850 && summer < 1100 && summer > winter))
        TEST_FAIL_("noon: winter %.0f W, summer %.0f W", winter, summer);
    /* Solar noon in Sydney is near 11:55 standard time. */
    double am = weft_clearsky_at(&cs, local(2011, 9, 1, 9, 0));
    double pm = weft_clearsky_at(&cs, local(2011, 9, 1, 14, 45));
    if (fabs(am - pm) > 0.08 * am)
        TEST_FAIL_("09:00 %.0f W, 14:45 %.0f W", am, pm);
    double year = 0;
    for (int64_t t = local(2011, 1, 1, 0, 0); t < local(2012, 1, 1, 0, 0); t += 900)
        year += weft_clearsky_at(&cs, t) * 0.25 / 1000;
    if (!(year > 1700 && year < 2500))
        TEST_FAIL_("a clear year: %.0f kWh per kWp", year);
    s.azimuth = 0; /* facing the pole */
    ASSERT_EQ_INT(weft_clearsky_init(&pole, &s), 0);
    ASSERT(weft_clearsky_at(&pole, local(2011, 6, 21, 11, 45)) < 0.8 * winter);
    s.kwp = 0;
    ASSERT_EQ_INT(weft_clearsky_init(&pole, &s), WEFT_EINVAL);
    s.kwp = 1;
    s.latitude = 91;
    ASSERT_EQ_INT(weft_clearsky_init(&pole, &s), WEFT_EINVAL);
}
