/* The error table: codes, messages, names and errno translation. */
#include "harness.h"
#include "weft/error.h"

TEST(system_codes_are_negative_errno)
{
    ASSERT_EQ_INT(WEFT_ENOMEM, -ENOMEM);
    ASSERT_EQ_INT(WEFT_ETIMEDOUT, -ETIMEDOUT);
    ASSERT_EQ_INT(WEFT_ECONNREFUSED, -ECONNREFUSED);
}

TEST(every_code_has_a_distinct_name_and_a_message)
{
    static const int codes[] = {
#define XX(name, value, msg) value,
        WEFT_ERRNO_MAP(XX)
#undef XX
    };
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        ASSERT(codes[i] < 0);
        ASSERT(strcmp(weft_strerror(codes[i]), "unknown error") != 0);
        ASSERT(strncmp(weft_err_name(codes[i]), "WEFT_E", 6) == 0);
        for (size_t j = 0; j < i; j++) {
            ASSERT(codes[i] != codes[j]);
            ASSERT(strcmp(weft_err_name(codes[i]), weft_err_name(codes[j])) != 0);
        }
    }
}

TEST(messages_and_names)
{
    ASSERT_EQ_STR(weft_strerror(0), "success");
    ASSERT_EQ_STR(weft_strerror(WEFT_ETIMEDOUT), "timed out");
    ASSERT_EQ_STR(weft_strerror(WEFT_ECONFIG), "invalid configuration");
    ASSERT_EQ_STR(weft_err_name(WEFT_ESTALE), "WEFT_ESTALE");
    ASSERT_EQ_STR(weft_strerror(-123456), "unknown error");
    ASSERT_EQ_STR(weft_err_name(-123456), "WEFT_EUNKNOWN");
}

TEST(errno_translation)
{
    ASSERT_EQ_INT(weft_err_from_errno(ENOENT), WEFT_ENOENT);
    ASSERT_EQ_INT(weft_err_from_errno(ECONNRESET), WEFT_ECONNRESET);
    /* Not in the table: still a code with a message. */
    ASSERT_EQ_INT(weft_err_from_errno(EDOM), WEFT_EIO);
    ASSERT_EQ_INT(weft_err_from_errno(0), WEFT_EIO);
    ASSERT_EQ_INT(weft_err_from_errno(4001), WEFT_EIO);
}
