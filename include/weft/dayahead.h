/* Day-ahead PV forecasts from a weather service (issue 16): the responses
 * of Open-Meteo (irradiance on the array's plane, hourly or per quarter
 * hour) and forecast.solar (the array's watts and watt-hours), turned into
 * the array's mean power per quarter hour.
 *
 * Times are the site's wall clock, as both services give them when asked
 * for the site's time zone, on the same "local seconds as if UTC" clock as
 * the history forecast (include/weft/forecast.h). Parsing is bounded (text
 * up to WEFT_DA_MAX_TEXT, WEFT_DA_MAX_SLOTS quarter hours, times that only
 * go forward) and fuzzed (tests/fuzz/fuzz_dayahead.c). Caller-owned
 * structs; nothing is kept between calls.
 */
#ifndef WEFT_DAYAHEAD_H
#define WEFT_DAYAHEAD_H

#include <stddef.h>
#include <stdint.h>

#define WEFT_DA_MAX_TEXT  (4u << 20)
#define WEFT_DA_SLOT_S    900
#define WEFT_DA_MAX_SLOTS (8 * 96) /* eight days */

struct weft_dayahead {
    int64_t start_s; /* slot 0's start, local seconds */
    int n;           /* slots */
    float pv_w[WEFT_DA_MAX_SLOTS];
};

enum weft_da_format {
    WEFT_DA_OPEN_METEO = 0,     /* hourly or minutely_15 global_tilted_irradiance (else
                                   shortwave_radiation), W/m2, mean over the period before */
    WEFT_DA_FORECAST_SOLAR = 1, /* result.watt_hours_period (else result.watts) */
};

/* w_per_wm2 turns Open-Meteo's irradiance into the array's power: its kWp
 * times the performance ratio (W per W/m2; 6 kWp at 0.85 is 5.1); ignored
 * for forecast.solar, which models the array itself. Errors say what was
 * wrong: "forecast.solar: result.watts: \"x\" is not a time". */
int weft_dayahead_parse(const char *text, size_t len, enum weft_da_format fmt, double w_per_wm2,
                        struct weft_dayahead *out, char *err, size_t errcap);

/* The forecast PV for the quarter hour holding local time t, or
 * WEFT_ESTALE outside the forecast. */
int weft_dayahead_at(const struct weft_dayahead *d, int64_t t, double *pv_w);

/* weft_dayahead_at as a forecast source (weft_forecast_fn, include/weft/
 * forecast.h): ctx is the struct weft_dayahead; writes only *pv_w. */
int weft_dayahead_fn(const void *ctx, int64_t now_s, int64_t t, double *pv_w, double *load_w);

/* "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM|-HH:MM]" (or a space for the T) -> the
 * wall-clock time as local seconds (the offset is checked, then dropped:
 * the wall clock is what the site lives by). WEFT_EPARSE otherwise. */
int weft_da_parse_time(const char *s, int64_t *local_s);

#endif /* WEFT_DAYAHEAD_H */
