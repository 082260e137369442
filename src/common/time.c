/* Monotonic and wall clocks, and ISO-8601 formatting for logs and records. */
#include "weft/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "weft/error.h"

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    /* clock_gettime cannot fail for these clock ids on Linux; a zero reading
     * would only make durations look short, never negative. */
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t weft_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t weft_mono_us(void)
{
    return weft_mono_ns() / 1000u;
}

uint64_t weft_mono_ms(void)
{
    return weft_mono_ns() / 1000000u;
}

int64_t weft_wall_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void weft_sleep_ms(uint64_t ms)
{
    struct timespec req = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    struct timespec rem;
    while (nanosleep(&req, &rem) != 0)
        req = rem;
}

/* Splits epoch milliseconds into whole seconds and a 0..999 remainder that
 * is never negative, also for times before 1970. */
static void split_ms(int64_t ms, time_t *sec, int *milli)
{
    int64_t s = ms / 1000;
    int64_t r = ms % 1000;
    if (r < 0) {
        r += 1000;
        s -= 1;
    }
    *sec = (time_t)s;
    *milli = (int)r;
}

static int format_time(const struct tm *tm, int milli, long gmtoff, int utc, char *out, size_t cap)
{
    if (cap < WEFT_ISO8601_LEN + 1) {
        if (cap > 0)
            out[0] = '\0';
        return WEFT_ENOSPC;
    }
    char zone[8];
    if (utc) {
        zone[0] = 'Z';
        zone[1] = '\0';
    } else {
        long off = gmtoff / 60;
        char sign = off < 0 ? '-' : '+';
        off = labs(off);
        snprintf(zone, sizeof zone, "%c%02ld:%02ld", sign, (off / 60) % 100, off % 60);
    }
    int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%s", tm->tm_year + 1900,
                     tm->tm_mon + 1, tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec, milli, zone);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return WEFT_ENOSPC;
    }
    return n;
}

int weft_time_iso8601(int64_t ms, char *out, size_t cap)
{
    time_t sec;
    int milli;
    struct tm tm;
    split_ms(ms, &sec, &milli);
    if (localtime_r(&sec, &tm) == NULL) {
        if (cap > 0)
            out[0] = '\0';
        return WEFT_ERANGE;
    }
    return format_time(&tm, milli, tm.tm_gmtoff, 0, out, cap);
}

int weft_time_iso8601_utc(int64_t ms, char *out, size_t cap)
{
    time_t sec;
    int milli;
    struct tm tm;
    split_ms(ms, &sec, &milli);
    if (gmtime_r(&sec, &tm) == NULL) {
        if (cap > 0)
            out[0] = '\0';
        return WEFT_ERANGE;
    }
    return format_time(&tm, milli, 0, 1, out, cap);
}
