/* Day profiles from CSV: a bounded, strict reader (every row checked, every
 * error with file, line and column) and interpolation between slots. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/clearsky.h"
#include "weft/dayahead.h"
#include "weft/energy_sim.h"
#include "weft/error.h"

#define LINE_MAX_BYTES 4096
#define MAX_COLS       64

/* "YYYY-MM-DD HH:MM:SS" as seconds, as if UTC, so timestamps need no time
 * zone (the day-ahead parser's, which also takes a T and an offset). */
static int parse_time(const char *s, int64_t *out)
{
    return weft_da_parse_time(s, out);
}

/* Splits a line at commas in place; returns the field count. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (*p == ',') {
            *p = '\0';
            f[n++] = p + 1;
        }
    }
    return n;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static int perr(char *err, size_t errcap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr(char *err, size_t errcap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
    return code;
}

int weft_profile_load(const char *path, const char *load_col, const char *pv_col, double pv_scale,
                      struct weft_profile *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return perr(err, errcap, weft_err_from_errno(errno), "%s: cannot open: %s", path,
                    strerror(errno));
    char line[LINE_MAX_BYTES + 2];
    char *fields[MAX_COLS];
    int rc = 0, lc = -1, pc = -1, ncols = 0, lineno = 1, alloc = 0;
    if (fgets(line, sizeof line, f) == NULL) {
        rc = perr(err, errcap, WEFT_EFORMAT, "%s: empty file", path);
        goto out;
    }
    chomp(line);
    ncols = split(line, fields, MAX_COLS);
    for (int i = 1; i < ncols; i++) {
        if (strcmp(fields[i], load_col) == 0)
            lc = i;
        if (strcmp(fields[i], pv_col) == 0)
            pc = i;
    }
    if (lc < 0 || pc < 0) {
        rc = perr(err, errcap, WEFT_EFORMAT, "%s:1: no column named \"%s\" in the header", path,
                  lc < 0 ? load_col : pv_col);
        goto out;
    }
    int64_t prev = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len > LINE_MAX_BYTES || (len > 0 && line[len - 1] != '\n' && !feof(f))) {
            rc = perr(err, errcap, WEFT_EFORMAT, "%s:%d: line longer than %d bytes", path, lineno,
                      LINE_MAX_BYTES);
            goto out;
        }
        chomp(line);
        if (line[0] == '\0')
            continue;
        if (out->n >= WEFT_PROFILE_MAX_ROWS) {
            rc = perr(err, errcap, WEFT_E2BIG, "%s:%d: more than %d rows", path, lineno,
                      WEFT_PROFILE_MAX_ROWS);
            goto out;
        }
        int nf = split(line, fields, MAX_COLS);
        if (nf != ncols) {
            rc = perr(err, errcap, WEFT_EFORMAT, "%s:%d: %d fields, the header has %d", path,
                      lineno, nf, ncols);
            goto out;
        }
        int64_t t;
        if (parse_time(fields[0], &t) < 0) {
            rc = perr(err, errcap, WEFT_EFORMAT,
                      "%s:%d: expected a timestamp YYYY-MM-DD HH:MM:SS, got \"%.32s\"", path,
                      lineno, fields[0]);
            goto out;
        }
        if (out->n == 0) {
            out->start_s = t;
        } else if (out->n == 1) {
            if (t <= prev || t - prev > 86400) {
                rc = perr(err, errcap, WEFT_EFORMAT, "%s:%d: slot length %lld s is not 1..86400",
                          path, lineno, (long long)(t - prev));
                goto out;
            }
            out->slot_s = (int)(t - prev);
        } else if (t - prev != out->slot_s) {
            rc = perr(err, errcap, WEFT_EFORMAT,
                      "%s:%d: timestamp \"%s\" is %lld s after the last; slots are %d s", path,
                      lineno, fields[0], (long long)(t - prev), out->slot_s);
            goto out;
        }
        prev = t;
        double v[2];
        int cols[2] = {lc, pc};
        for (int k = 0; k < 2; k++) {
            char *end;
            errno = 0;
            v[k] = strtod(fields[cols[k]], &end);
            if (errno || end == fields[cols[k]] || *end || !isfinite(v[k]) || v[k] < 0 ||
                v[k] > 1e6) {
                rc = perr(err, errcap, WEFT_EFORMAT,
                          "%s:%d: column %s: expected a number of kW >= 0, got \"%.32s\"", path,
                          lineno, k ? pv_col : load_col, fields[cols[k]]);
                goto out;
            }
        }
        if (out->n == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            float *l = realloc(out->load_w, (size_t)alloc * sizeof *l);
            if (l)
                out->load_w = l;
            float *pv = realloc(out->pv_w, (size_t)alloc * sizeof *pv);
            if (pv)
                out->pv_w = pv;
            if (!l || !pv) {
                rc = WEFT_ENOMEM;
                goto out;
            }
        }
        out->load_w[out->n] = (float)(v[0] * 1000.0);
        out->pv_w[out->n] = (float)(v[1] * 1000.0 * pv_scale);
        out->n++;
    }
    if (out->n < 2)
        rc = perr(err, errcap, WEFT_EFORMAT, "%s: fewer than two data rows", path);
out:
    fclose(f);
    if (rc < 0)
        weft_profile_free(out);
    return rc;
}

int weft_profile_day(const struct weft_profile *p, const char *spec, double *day, char *err,
                     size_t errcap)
{
    char *end;
    double d = strtod(spec, &end);
    double span = (double)p->n * p->slot_s / 86400.0;
    if (end != spec && *end == '\0' && strchr(spec, '-') == NULL) {
        if (!(d >= 0 && d < span)) {
            snprintf(err, errcap, "day %s: the profile has %.1f days (0 to %.1f)", spec, span,
                     span);
            return WEFT_EINVAL;
        }
        *day = d;
        return 0;
    }
    int y, mo, dd, h = 0, mi = 0, n = 0;
    char sep = 0;
    int got = sscanf(spec, "%4d-%2d-%2d%n%c%2d:%2d%n", &y, &mo, &dd, &n, &sep, &h, &mi, &n);
    if (!(got == 3 || (got == 6 && (sep == 'T' || sep == ' '))) || spec[n] != '\0' || mo < 1 ||
        mo > 12 || dd < 1 || dd > 31 || h > 23 || mi > 59) {
        snprintf(err, errcap,
                 "day %s: a number of days, or a date as YYYY-MM-DD or YYYY-MM-DDTHH:MM", spec);
        return WEFT_EINVAL;
    }
    /* Days since 1970-01-01 of a civil date (the profile's times are taken
     * as if UTC, so this is the same clock). */
    int yy = y - (mo <= 2);
    int era = (yy >= 0 ? yy : yy - 399) / 400;
    int yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    int64_t t = days * 86400 + h * 3600 + mi * 60;
    d = (double)(t - p->start_s) / 86400.0;
    if (!(d >= 0 && d < span)) {
        snprintf(err, errcap, "day %s: outside the profile (%.1f days from its first slot)", spec,
                 span);
        return WEFT_EINVAL;
    }
    *day = d;
    return 0;
}

int weft_profile_clearsky(const struct weft_site *site, int64_t start_s, int days, double load_w,
                          struct weft_profile *out)
{
    memset(out, 0, sizeof *out);
    if (days < 1 || days > 3660 || !(load_w >= 0 && load_w < 1e6))
        return WEFT_EINVAL;
    struct weft_clearsky *cs = malloc(sizeof *cs); /* 140 KiB: not for the stack */
    if (!cs)
        return WEFT_ENOMEM;
    int rc = weft_clearsky_init(cs, site);
    if (rc) {
        free(cs);
        return rc;
    }
    out->n = days * 96;
    out->slot_s = 900;
    out->start_s = start_s;
    out->load_w = malloc(sizeof(float) * (size_t)out->n);
    out->pv_w = malloc(sizeof(float) * (size_t)out->n);
    if (!out->load_w || !out->pv_w) {
        free(cs);
        weft_profile_free(out);
        return WEFT_ENOMEM;
    }
    for (int i = 0; i < out->n; i++) {
        out->load_w[i] = (float)load_w;
        out->pv_w[i] = (float)weft_clearsky_at(cs, start_s + (int64_t)i * 900);
    }
    free(cs);
    return 0;
}

void weft_profile_free(struct weft_profile *p)
{
    free(p->load_w);
    free(p->pv_w);
    memset(p, 0, sizeof *p);
}

double weft_profile_seconds(const struct weft_profile *p)
{
    return (double)p->n * p->slot_s;
}

void weft_profile_at(const struct weft_profile *p, double t_s, double *load_w, double *pv_w)
{
    /* Slot i's mean power sits at its midpoint, (i + 0.5) * slot. */
    double x = t_s / p->slot_s - 0.5;
    if (x <= 0) {
        *load_w = p->load_w[0];
        *pv_w = p->pv_w[0];
        return;
    }
    int i = (int)x;
    if (i >= p->n - 1) {
        *load_w = p->load_w[p->n - 1];
        *pv_w = p->pv_w[p->n - 1];
        return;
    }
    double f = x - i;
    *load_w = p->load_w[i] + (p->load_w[i + 1] - p->load_w[i]) * f;
    *pv_w = p->pv_w[i] + (p->pv_w[i + 1] - p->pv_w[i]) * f;
}

int weft_profile_minute(const struct weft_profile *p, double t_s)
{
    int64_t s = p->start_s + (int64_t)t_s;
    return (int)(((s % 86400) + 86400) % 86400 / 60);
}
