/* Time helpers.
 *
 * Two clocks, never mixed: the monotonic clock measures durations, leases,
 * timeouts and delays (it never jumps when NTP or the homeowner changes the
 * date); the wall clock stamps logs and records and decides "is it off-peak
 * now". Every function here is thread-safe and allocates nothing.
 */
#ifndef WEFT_TIME_H
#define WEFT_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time since an arbitrary point (CLOCK_MONOTONIC). */
uint64_t weft_mono_ns(void);
uint64_t weft_mono_us(void);
uint64_t weft_mono_ms(void);

/* Wall-clock time since the Unix epoch (CLOCK_REALTIME). */
int64_t weft_wall_ms(void);

/* Sleeps at least ms milliseconds, resuming after signal interruptions. */
void weft_sleep_ms(uint64_t ms);

/* Elapsed milliseconds from `since` to `now` on the monotonic clock; 0 if
 * `now` is earlier (a caller's stale stamp must never make a negative age). */
static inline uint64_t weft_elapsed_ms(uint64_t since_ms, uint64_t now_ms)
{
    return now_ms > since_ms ? now_ms - since_ms : 0;
}

/* Writes wall time `ms` (Unix epoch milliseconds) as ISO-8601 local time with
 * milliseconds and UTC offset, e.g. "2026-11-24T15:40:32.123+01:00", into
 * out[cap]. Returns the length written (without the NUL), or WEFT_ENOSPC if
 * cap is below WEFT_ISO8601_LEN + 1 (out is then left as an empty string when
 * cap > 0). */
#define WEFT_ISO8601_LEN 29
int weft_time_iso8601(int64_t ms, char *out, size_t cap);

/* Same, in UTC with a "Z" suffix: "2026-11-24T15:40:32.123Z". */
int weft_time_iso8601_utc(int64_t ms, char *out, size_t cap);

#endif /* WEFT_TIME_H */
