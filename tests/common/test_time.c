/* Clocks and ISO-8601 formatting. */
#include <time.h>

#include "harness.h"
#include "weft/error.h"
#include "weft/time.h"

TEST(monotonic_clock_advances_across_sleep)
{
    uint64_t a = weft_mono_ms();
    uint64_t an = weft_mono_ns();
    weft_sleep_ms(20);
    uint64_t b = weft_mono_ms();
    ASSERT(b >= a + 20);
    ASSERT(weft_mono_ns() > an);
    ASSERT_EQ_UINT(weft_elapsed_ms(a, b), b - a);
    ASSERT_EQ_UINT(weft_elapsed_ms(b, a), 0);
}

TEST(wall_clock_is_near_time)
{
    int64_t ms = weft_wall_ms();
    int64_t t = (int64_t)time(NULL) * 1000;
    ASSERT(ms - t < 2000 && t - ms < 2000);
}

TEST(utc_formatting)
{
    char s[WEFT_ISO8601_LEN + 1];
    ASSERT_EQ_INT(weft_time_iso8601_utc(0, s, sizeof s), 24);
    ASSERT_EQ_STR(s, "1970-01-01T00:00:00.000Z");
    ASSERT_EQ_INT(weft_time_iso8601_utc(1795538432123LL, s, sizeof s), 24);
    ASSERT_EQ_STR(s, "2026-11-24T16:40:32.123Z");
    ASSERT_EQ_INT(weft_time_iso8601_utc(-1, s, sizeof s), 24);
    ASSERT_EQ_STR(s, "1969-12-31T23:59:59.999Z");
}

TEST(local_formatting_carries_the_offset)
{
    char s[WEFT_ISO8601_LEN + 1];
    ASSERT_EQ_INT(setenv("TZ", "XST-5:30", 1), 0);
    tzset();
    ASSERT_EQ_INT(weft_time_iso8601(1795538432123LL, s, sizeof s), WEFT_ISO8601_LEN);
    ASSERT_EQ_STR(s, "2026-11-24T22:10:32.123+05:30");
    ASSERT_EQ_INT(setenv("TZ", "XST3", 1), 0);
    tzset();
    ASSERT_EQ_INT(weft_time_iso8601(1795538432123LL, s, sizeof s), WEFT_ISO8601_LEN);
    ASSERT_EQ_STR(s, "2026-11-24T13:40:32.123-03:00");
}

TEST(small_buffer_is_refused)
{
    char s[10] = "xxxxxxxxx";
    ASSERT_EQ_INT(weft_time_iso8601_utc(0, s, sizeof s), WEFT_ENOSPC);
    ASSERT_EQ_STR(s, "");
}
