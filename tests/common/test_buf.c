/* Growable buffer: growth, formatting, the hard bound, consume and steal. */
#include <stdint.h>

#include "harness.h"
#include "weft/buf.h"
#include "weft/error.h"

TEST(appends_and_stays_terminated)
{
    struct weft_buf b;
    weft_buf_init(&b, 1 << 20);
    ASSERT_NULL(b.data);
    ASSERT_EQ_INT(weft_buf_append_str(&b, "hello"), 0);
    ASSERT_EQ_INT(weft_buf_append_byte(&b, ' '), 0);
    ASSERT_EQ_INT(weft_buf_appendf(&b, "%s %d", "world", 42), 0);
    ASSERT_EQ_UINT(b.len, 14);
    ASSERT_EQ_STR(b.data, "hello world 42");
    ASSERT_EQ_INT(weft_buf_append(&b, "", 0), 0);
    ASSERT_EQ_UINT(b.len, 14);
    weft_buf_free(&b);
    ASSERT_NULL(b.data);
    ASSERT_EQ_UINT(b.max, 1 << 20);
}

TEST(grows_across_many_appends)
{
    struct weft_buf b;
    weft_buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        ASSERT_EQ_INT(weft_buf_appendf(&b, "%04d,", i % 10000), 0);
    ASSERT_EQ_UINT(b.len, 50000);
    ASSERT(b.cap >= b.len);
    ASSERT(strncmp(b.data + 5 * 9999, "9999,", 5) == 0);
    weft_buf_free(&b);
}

TEST(hard_bound_rejects_and_keeps_contents)
{
    struct weft_buf b;
    weft_buf_init(&b, 10);
    ASSERT_EQ_INT(weft_buf_append_str(&b, "0123456789"), 0);
    ASSERT_EQ_UINT(b.cap, 10);
    ASSERT_EQ_INT(weft_buf_append_byte(&b, 'x'), WEFT_E2BIG);
    ASSERT_EQ_INT(weft_buf_appendf(&b, "%d", 1), WEFT_E2BIG);
    ASSERT_EQ_INT(weft_buf_reserve(&b, SIZE_MAX), WEFT_E2BIG);
    ASSERT_EQ_STR(b.data, "0123456789");
    weft_buf_reset(&b);
    ASSERT_EQ_UINT(b.len, 0);
    ASSERT_EQ_STR(b.data, "");
    ASSERT_EQ_INT(weft_buf_append_str(&b, "abc"), 0);
    weft_buf_free(&b);
}

TEST(consume_drops_from_the_front)
{
    struct weft_buf b;
    weft_buf_init(&b, 100);
    ASSERT_EQ_INT(weft_buf_append_str(&b, "frame1frame2"), 0);
    weft_buf_consume(&b, 6);
    ASSERT_EQ_STR(b.data, "frame2");
    weft_buf_consume(&b, 100);
    ASSERT_EQ_UINT(b.len, 0);
    ASSERT_EQ_STR(b.data, "");
    weft_buf_free(&b);
}

TEST(steal_hands_over_storage)
{
    struct weft_buf b;
    weft_buf_init(&b, 100);
    size_t len = 99;
    ASSERT_NULL(weft_buf_steal(&b, &len));
    ASSERT_EQ_UINT(len, 0);
    ASSERT_EQ_INT(weft_buf_append_str(&b, "mine"), 0);
    char *p = weft_buf_steal(&b, &len);
    ASSERT_EQ_STR(p, "mine");
    ASSERT_EQ_UINT(len, 4);
    ASSERT_NULL(b.data);
    ASSERT_EQ_UINT(b.len, 0);
    free(p);
}
