/* Day-ahead PV forecasts from Open-Meteo and forecast.solar responses
 * (include/weft/dayahead.h).
 *
 * Both services give energy over periods: Open-Meteo's radiation is the
 * mean over the period before each time (an hour, or a quarter hour in
 * minutely_15), forecast.solar's watt_hours_period the energy since the
 * previous time. Each period's mean power is spread over the quarter
 * hours it covers, so the result is the mean power of each quarter hour
 * whatever the service's step. forecast.solar's instantaneous `watts`
 * (used when watt_hours_period is absent) are held to the next time. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "weft/dayahead.h"
#include "weft/error.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so timestamps need no time zone. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return WEFT_EPARSE;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int weft_da_parse_time(const char *s, int64_t *local_s)
{
    int y, mo, d, h, mi, se = 0;
    size_t len = strlen(s);
    if (len < 16 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi))
        return WEFT_EPARSE;
    const char *p = s + 16;
    if (*p == ':') {
        if (digits(p + 1, 2, &se))
            return WEFT_EPARSE;
        p += 3;
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 14 || om > 59)
            return WEFT_EPARSE;
        p += 6;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return WEFT_EPARSE;
    *local_s = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

static int fail(char *err, size_t errcap, const char *fmt, const char *what, const char *detail)
{
    snprintf(err, errcap, fmt, what, detail);
    return WEFT_EPARSE;
}

/* Spreads power w over [a, b) (local seconds) into the quarter hours. */
static void spread(struct weft_dayahead *out, int64_t a, int64_t b, double w)
{
    for (int64_t t = a; t < b;) {
        int64_t slot = (t - out->start_s) / WEFT_DA_SLOT_S;
        int64_t end = out->start_s + (slot + 1) * WEFT_DA_SLOT_S;
        if (end > b)
            end = b;
        if (slot >= 0 && slot < out->n)
            out->pv_w[slot] += (float)(w * (double)(end - t) / WEFT_DA_SLOT_S);
        t = end;
    }
}

/* Periods: n times (ascending) and the mean power over the period before
 * each; the first period is as long as the second. */
static int periods(struct weft_dayahead *out, const int64_t *t, const double *w, int n, char *err,
                   size_t errcap, const char *what)
{
    if (n < 2) {
        snprintf(err, errcap, "%s: fewer than two times", what);
        return WEFT_EPARSE;
    }
    int64_t step0 = t[1] - t[0], first = t[0] - step0;
    int64_t start = first - (first % WEFT_DA_SLOT_S + WEFT_DA_SLOT_S) % WEFT_DA_SLOT_S;
    int64_t span = t[n - 1] - start;
    if (span > (int64_t)WEFT_DA_MAX_SLOTS * WEFT_DA_SLOT_S) {
        snprintf(err, errcap, "%s: more than %d days", what, WEFT_DA_MAX_SLOTS / 96);
        return WEFT_EPARSE;
    }
    memset(out, 0, sizeof *out);
    out->start_s = start;
    out->n = (int)((span + WEFT_DA_SLOT_S - 1) / WEFT_DA_SLOT_S);
    for (int i = 0; i < n; i++)
        spread(out, i ? t[i - 1] : first, t[i], w[i]);
    return 0;
}

#define MAX_POINTS (WEFT_DA_MAX_SLOTS * 4)

static int number(const cJSON *v, double *x)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return WEFT_EPARSE;
    *x = v->valuedouble;
    return 0;
}

static int open_meteo(const cJSON *root, double w_per_wm2, struct weft_dayahead *out, char *err,
                      size_t errcap, int64_t *ts, double *ws)
{
    const char *blocks[] = {"minutely_15", "hourly"};
    const char *vars[] = {"global_tilted_irradiance", "shortwave_radiation"};
    for (int b = 0; b < 2; b++) {
        const cJSON *blk = cJSON_GetObjectItemCaseSensitive(root, blocks[b]);
        const cJSON *time = cJSON_GetObjectItemCaseSensitive(blk, "time");
        for (int v = 0; v < 2 && cJSON_IsArray(time); v++) {
            const cJSON *val = cJSON_GetObjectItemCaseSensitive(blk, vars[v]);
            if (!cJSON_IsArray(val))
                continue;
            int n = cJSON_GetArraySize(time);
            if (n != cJSON_GetArraySize(val))
                return fail(err, errcap, "open-meteo: %s.%s: not as many values as times",
                            blocks[b], vars[v]);
            if (n > MAX_POINTS)
                return fail(err, errcap, "open-meteo: %s: more than %s values", blocks[b], "3072");
            int i = 0;
            for (const cJSON *a = time->child, *x = val->child; a && x;
                 a = a->next, x = x->next, i++) {
                if (!cJSON_IsString(a) || weft_da_parse_time(a->valuestring, &ts[i]) < 0)
                    return fail(err, errcap, "open-meteo: %s.time: %s is not a time", blocks[b],
                                cJSON_IsString(a) ? a->valuestring : "a value");
                if (i > 0 && ts[i] <= ts[i - 1])
                    return fail(err, errcap,
                                "open-meteo: %s.time: %s does not follow the "
                                "time before",
                                blocks[b], a->valuestring);
                double g = 0;
                if (!cJSON_IsNull(x) && number(x, &g) < 0) /* null: no data, as dark */
                    return fail(err, errcap, "open-meteo: %s.%s: a value is not a number",
                                blocks[b], vars[v]);
                /* The service can report small negative irradiance; a
                 * value beyond any sun is a broken response. */
                if (g > 2000)
                    return fail(err, errcap, "open-meteo: %s.%s: irradiance above 2000 W/m2",
                                blocks[b], vars[v]);
                ws[i] = fmax(g, 0) * w_per_wm2;
            }
            return periods(out, ts, ws, n, err, errcap, "open-meteo");
        }
    }
    snprintf(err, errcap,
             "open-meteo: no minutely_15 or hourly global_tilted_irradiance or "
             "shortwave_radiation");
    return WEFT_EPARSE;
}

static int forecast_solar(const cJSON *root, struct weft_dayahead *out, char *err, size_t errcap,
                          int64_t *ts, double *ws)
{
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "result");
    const cJSON *wh = cJSON_GetObjectItemCaseSensitive(res, "watt_hours_period");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(res, "watts");
    const cJSON *map = cJSON_IsObject(wh) ? wh : w;
    const char *name = map == wh ? "result.watt_hours_period" : "result.watts";
    if (!cJSON_IsObject(map))
        return fail(err, errcap, "forecast.solar: %s%s", "no result.watt_hours_period or ",
                    "result.watts");
    int n = 0;
    for (const cJSON *e = map->child; e; e = e->next, n++) {
        if (n == MAX_POINTS)
            return fail(err, errcap, "forecast.solar: %s: more than %s entries", name, "3072");
        if (weft_da_parse_time(e->string, &ts[n]) < 0)
            return fail(err, errcap, "forecast.solar: %s: \"%s\" is not a time", name, e->string);
        if (n > 0 && ts[n] <= ts[n - 1])
            return fail(err, errcap, "forecast.solar: %s: %s does not follow the time before", name,
                        e->string);
        if (number(e, &ws[n]) < 0 || ws[n] < 0 || ws[n] > 1e8)
            return fail(err, errcap, "forecast.solar: %s: %s has no value in range", name,
                        e->string);
    }
    if (n < 2)
        return fail(err, errcap, "forecast.solar: %s: %s", name, "fewer than two entries");
    /* The service lists each day from its sunrise; a gap between days (the
     * night) is a period with no energy, not one long dim period. */
    memset(out, 0, sizeof *out);
    int64_t start = ts[0] - (ts[0] % WEFT_DA_SLOT_S + WEFT_DA_SLOT_S) % WEFT_DA_SLOT_S;
    if (ts[n - 1] - start > (int64_t)WEFT_DA_MAX_SLOTS * WEFT_DA_SLOT_S)
        return fail(err, errcap, "forecast.solar: %s: more than %s days", name, "8");
    out->start_s = start;
    out->n = (int)((ts[n - 1] - start + WEFT_DA_SLOT_S - 1) / WEFT_DA_SLOT_S);
    for (int i = 1; i < n; i++) {
        int64_t len = ts[i] - ts[i - 1];
        if (map == wh) {
            if (len > 3 * 3600 && ws[i] == 0)
                continue; /* the night */
            spread(out, ts[i - 1], ts[i], ws[i] * 3600.0 / (double)len);
        } else {
            spread(out, ts[i - 1], ts[i], ws[i - 1]);
        }
    }
    return 0;
}

int weft_dayahead_parse(const char *text, size_t len, enum weft_da_format fmt, double w_per_wm2,
                        struct weft_dayahead *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    if (len > WEFT_DA_MAX_TEXT) {
        snprintf(err, errcap, "forecast: %zu bytes is more than the %u allowed", len,
                 WEFT_DA_MAX_TEXT);
        return WEFT_E2BIG;
    }
    if (fmt == WEFT_DA_OPEN_METEO && !(w_per_wm2 > 0 && w_per_wm2 < 1e6)) {
        snprintf(err, errcap, "open-meteo: the array's W per W/m2 must be above 0");
        return WEFT_EINVAL;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (root == NULL) {
        snprintf(err, errcap, "forecast: not JSON");
        return WEFT_EPARSE;
    }
    int64_t ts[MAX_POINTS];
    double ws[MAX_POINTS];
    int rc = fmt == WEFT_DA_OPEN_METEO ? open_meteo(root, w_per_wm2, out, err, errcap, ts, ws)
                                       : forecast_solar(root, out, err, errcap, ts, ws);
    cJSON_Delete(root);
    if (rc < 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int weft_dayahead_at(const struct weft_dayahead *d, int64_t t, double *pv_w)
{
    if (d->n == 0 || t < d->start_s)
        return WEFT_ESTALE;
    int64_t slot = (t - d->start_s) / WEFT_DA_SLOT_S;
    if (slot >= d->n)
        return WEFT_ESTALE;
    *pv_w = d->pv_w[slot];
    return 0;
}

int weft_dayahead_fn(const void *ctx, int64_t now_s, int64_t t, double *pv_w, double *load_w)
{
    (void)now_s;
    (void)load_w;
    return weft_dayahead_at(ctx, t, pv_w);
}
