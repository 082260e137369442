/* Day-ahead forecasts: responses in the shapes Open-Meteo and
 * forecast.solar send (their documented fields: Open-Meteo's hourly and
 * minutely_15 arrays of irradiance, the mean over the period before each
 * time; forecast.solar's result maps keyed by ISO times with the site's
 * offset, each day from its sunrise), turned into quarter hours; energy is
 * kept; malformed responses are refused with what was wrong. */
#include <math.h>

#include "harness.h"
#include "weft/dayahead.h"
#include "weft/error.h"

static char err[512];
static struct weft_dayahead d;

static double slot_at(const char *when)
{
    int64_t t;
    ASSERT_EQ_INT(weft_da_parse_time(when, &t), 0);
    double w = -1;
    ASSERT_EQ_INT(weft_dayahead_at(&d, t, &w), 0);
    return w;
}

static double energy_wh(void)
{
    double e = 0;
    for (int i = 0; i < d.n; i++)
        e += d.pv_w[i] * WEFT_DA_SLOT_S / 3600.0;
    return e;
}

TEST(times_take_the_wall_clock)
{
    int64_t a, b, c, x;
    ASSERT_EQ_INT(weft_da_parse_time("2024-04-26T07:00:00+02:00", &a), 0);
    ASSERT_EQ_INT(weft_da_parse_time("2024-04-26 07:00", &b), 0);
    ASSERT_EQ_INT(weft_da_parse_time("2024-04-26T07:00Z", &c), 0);
    ASSERT_EQ_INT(a, b);
    ASSERT_EQ_INT(a, c);
    ASSERT_EQ_INT(a % 86400, 7 * 3600);
    ASSERT_EQ_INT(weft_da_parse_time("2024-04-26T06:20:17-05:30", &x), 0);
    ASSERT_EQ_INT(a - x, 39 * 60 + 43);
    const char *bad[] = {"2024-13-01T00:00",
                         "2024-04-26T24:00",
                         "2024-04-26T07:00+2:00",
                         "2024-04-26",
                         "2024-04-26T07:00:00+02:00x",
                         "20x4-04-26T07:00",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (weft_da_parse_time(bad[i], &x) != WEFT_EPARSE)
            TEST_FAIL_("\"%s\" was taken as a time", bad[i]);
}

/* Two days as forecast.solar sends them: from each sunrise, energy per
 * period ending at each time. */
static const char forecast_solar[] =
    "{\"result\": {\"watts\": {\"2024-04-26T06:20:00+02:00\": 0, "
    "\"2024-04-26T07:00:00+02:00\": 300, \"2024-04-26T08:00:00+02:00\": 500},"
    " \"watt_hours_period\": {"
    "\"2024-04-26T06:20:00+02:00\": 0, \"2024-04-26T07:00:00+02:00\": 100,"
    " \"2024-04-26T08:00:00+02:00\": 400, \"2024-04-26T09:00:00+02:00\": 800,"
    " \"2024-04-26T20:30:00+02:00\": 0,"
    " \"2024-04-27T06:15:00+02:00\": 0, \"2024-04-27T07:00:00+02:00\": 90,"
    " \"2024-04-27T08:00:00+02:00\": 200},"
    " \"watt_hours_day\": {\"2024-04-26\": 1300, \"2024-04-27\": 290}},"
    " \"message\": {\"code\": 0, \"type\": \"success\", \"text\": \"\","
    " \"info\": {\"timezone\": \"Europe/Amsterdam\"}}}";

TEST(forecast_solar_periods_become_quarter_hours)
{
    int rc = weft_dayahead_parse(forecast_solar, strlen(forecast_solar), WEFT_DA_FORECAST_SOLAR, 0,
                                 &d, err, sizeof err);
    if (rc < 0)
        TEST_FAIL_("%s", err);
    /* 400 Wh from 07:00 to 08:00: 400 W in each of its quarter hours. */
    ASSERT_NEAR(slot_at("2024-04-26T07:00"), 400, 1e-3);
    ASSERT_NEAR(slot_at("2024-04-26T07:45"), 400, 1e-3);
    ASSERT_NEAR(slot_at("2024-04-26T08:30"), 800, 1e-3);
    /* 100 Wh over 40 minutes from 06:20: 150 W; the 06:15 quarter has 10
     * minutes of it. */
    ASSERT_NEAR(slot_at("2024-04-26T06:30"), 150, 1e-3);
    ASSERT_NEAR(slot_at("2024-04-26T06:15"), 150 * 10 / 15.0, 1e-3);
    /* The evening and the night carry no energy, and nothing is lost. */
    ASSERT_NEAR(slot_at("2024-04-26T23:00"), 0, 0);
    ASSERT_NEAR(slot_at("2024-04-27T06:30"), 120, 1e-3);
    ASSERT_NEAR(energy_wh(), 100 + 400 + 800 + 90 + 200, 1e-3);
    /* Outside the forecast: no value. */
    double w;
    int64_t t;
    ASSERT_EQ_INT(weft_da_parse_time("2024-04-27T09:00", &t), 0);
    ASSERT_EQ_INT(weft_dayahead_at(&d, t, &w), WEFT_ESTALE);
}

TEST(forecast_solar_watts_alone_are_held_to_the_next_time)
{
    const char *text = "{\"result\": {\"watts\": {\"2024-04-26T06:30:00+02:00\": 0, "
                       "\"2024-04-26T07:00:00+02:00\": 300, \"2024-04-26T08:00:00+02:00\": 0}}}";
    ASSERT_EQ_INT(
        weft_dayahead_parse(text, strlen(text), WEFT_DA_FORECAST_SOLAR, 0, &d, err, sizeof err), 0);
    ASSERT_NEAR(slot_at("2024-04-26T06:45"), 0, 0);
    ASSERT_NEAR(slot_at("2024-04-26T07:30"), 300, 1e-3);
}

/* Open-Meteo with timezone=auto: wall-clock times, irradiance the mean of
 * the period before each time; minutely_15 preferred over hourly. */
TEST(open_meteo_irradiance_becomes_the_arrays_power)
{
    const char *text =
        "{\"latitude\": -33.875, \"longitude\": 151.25, \"utc_offset_seconds\": 36000,"
        " \"timezone\": \"Australia/Sydney\", \"hourly_units\": {\"time\": \"iso8601\","
        " \"global_tilted_irradiance\": \"W/m²\"}, \"hourly\": {\"time\": [\"2011-07-01T09:00\","
        " \"2011-07-01T10:00\", \"2011-07-01T11:00\", \"2011-07-01T12:00\"],"
        " \"global_tilted_irradiance\": [0.0, 400.0, -1.5, null]}}";
    int rc = weft_dayahead_parse(text, strlen(text), WEFT_DA_OPEN_METEO, 5.1, &d, err, sizeof err);
    if (rc < 0)
        TEST_FAIL_("%s", err);
    ASSERT_NEAR(slot_at("2011-07-01T09:00"), 400 * 5.1, 1e-2); /* 09:00-10:00 */
    ASSERT_NEAR(slot_at("2011-07-01T09:45"), 400 * 5.1, 1e-2);
    ASSERT_NEAR(slot_at("2011-07-01T10:15"), 0, 0); /* a small negative is none */
    ASSERT_NEAR(slot_at("2011-07-01T11:30"), 0, 0); /* null: no data */
    ASSERT_NEAR(slot_at("2011-07-01T08:15"), 0, 0);

    const char *both = "{\"hourly\": {\"time\": [\"2011-07-01T09:00\", \"2011-07-01T10:00\"],"
                       " \"shortwave_radiation\": [100, 100]},"
                       " \"minutely_15\": {\"time\": [\"2011-07-01T09:15\", \"2011-07-01T09:30\"],"
                       " \"global_tilted_irradiance\": [200, 600]}}";
    ASSERT_EQ_INT(
        weft_dayahead_parse(both, strlen(both), WEFT_DA_OPEN_METEO, 1, &d, err, sizeof err), 0);
    ASSERT_NEAR(slot_at("2011-07-01T09:00"), 200, 1e-3);
    ASSERT_NEAR(slot_at("2011-07-01T09:15"), 600, 1e-3);
}

TEST(malformed_responses_are_refused_with_the_reason)
{
    struct {
        const char *text;
        enum weft_da_format fmt;
        const char *msg;
    } cases[] = {
        {"not json", WEFT_DA_OPEN_METEO, "not JSON"},
        {"{\"hourly\": {}}", WEFT_DA_OPEN_METEO, "no minutely_15 or hourly"},
        {"{\"hourly\": {\"time\": [\"2011-07-01T09:00\"], \"shortwave_radiation\": [1, 2]}}",
         WEFT_DA_OPEN_METEO, "not as many values as times"},
        {"{\"hourly\": {\"time\": [\"2011-07-01T10:00\", \"2011-07-01T09:00\"],"
         " \"shortwave_radiation\": [1, 2]}}",
         WEFT_DA_OPEN_METEO, "does not follow the time before"},
        {"{\"hourly\": {\"time\": [\"x\", \"2011-07-01T09:00\"], \"shortwave_radiation\": [1, 2]}}",
         WEFT_DA_OPEN_METEO, "x is not a time"},
        {"{\"hourly\": {\"time\": [\"2011-07-01T09:00\", \"2011-07-01T10:00\"],"
         " \"shortwave_radiation\": [1, \"2\"]}}",
         WEFT_DA_OPEN_METEO, "a value is not a number"},
        {"{\"hourly\": {\"time\": [\"2011-07-01T09:00\", \"2011-07-01T10:00\"],"
         " \"shortwave_radiation\": [1, 2500]}}",
         WEFT_DA_OPEN_METEO, "above 2000"},
        {"{\"hourly\": {\"time\": [\"2011-07-01T09:00\", \"2011-07-20T10:00\"],"
         " \"shortwave_radiation\": [1, 2]}}",
         WEFT_DA_OPEN_METEO, "more than 8 days"},
        {"{\"result\": {}}", WEFT_DA_FORECAST_SOLAR, "no result.watt_hours_period"},
        {"{\"result\": {\"watts\": {\"2024-04-26T07:00\": 1, \"soon\": 2}}}",
         WEFT_DA_FORECAST_SOLAR, "\"soon\" is not a time"},
        {"{\"result\": {\"watts\": {\"2024-04-26T07:00\": 1, \"2024-04-26T08:00\": -2}}}",
         WEFT_DA_FORECAST_SOLAR, "has no value in range"},
        {"{\"result\": {\"watts\": {\"2024-04-26T07:00\": 1}}}", WEFT_DA_FORECAST_SOLAR,
         "fewer than two entries"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        err[0] = '\0';
        int rc = weft_dayahead_parse(cases[i].text, strlen(cases[i].text), cases[i].fmt, 1, &d, err,
                                     sizeof err);
        if (rc >= 0 || strstr(err, cases[i].msg) == NULL)
            TEST_FAIL_("case %zu: rc %d, \"%s\", wanted \"%s\"", i, rc, err, cases[i].msg);
        ASSERT_EQ_INT(d.n, 0);
    }
    ASSERT_EQ_INT(
        weft_dayahead_parse("{}", WEFT_DA_MAX_TEXT + 1, WEFT_DA_OPEN_METEO, 1, &d, err, sizeof err),
        WEFT_E2BIG);
}
