/* A small test harness in the spirit of libuv's test/task.h.
 *
 * A test file defines cases with TEST(name) { ... } and links harness.c,
 * which supplies main(). CMake registers every TEST(name) it finds in the
 * source as its own ctest test, run as `<binary> <name>`, so each case is
 * one process: a crash or a leak (under ASan) is pinned to one case.
 * Without an argument the binary runs all its cases in order.
 *
 * Exit codes: 0 pass, 1 fail, 77 skip (ctest's SKIP_RETURN_CODE).
 * Asserts print what they compared and where, then exit(1).
 */
#ifndef WEFT_TEST_HARNESS_H
#define WEFT_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/error.h"

typedef void (*harness_fn)(void);
void harness_register(const char *name, harness_fn fn);
/* A fresh directory for the running case (removed on success); its path. */
const char *harness_tmpdir(void);
/* Writes len bytes of text to name in harness_tmpdir() (failing the case
 * when it cannot); the path, valid until the next call. */
const char *harness_write_file(const char *name, const char *text, size_t len);
/* $WEFT_TESTDATA or ../shared/testdata relative to the source tree; skips
 * the case with a clear message when the folder is missing. */
const char *harness_testdata(void);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        harness_register(#name, test_##name);                                                      \
    }                                                                                              \
    static void test_##name(void)

#define TEST_SKIP(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "SKIP: ");                                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(77);                                                                                  \
    } while (0)

#define TEST_FAIL_(...)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            TEST_FAIL_("assertion failed: %s", #cond);                                             \
    } while (0)

#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                                  \
    } while (0)

#define ASSERT_EQ_UINT(a, b)                                                                       \
    do {                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);             \
        if (a_ != b_)                                                                              \
            TEST_FAIL_("%s == %s: %llu != %llu", #a, #b, a_, b_);                                  \
    } while (0)

#define ASSERT_GE_INT(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (!(a_ >= b_))                                                                           \
            TEST_FAIL_("%s >= %s: %lld < %lld", #a, #b, a_, b_);                                   \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                             \
        if (!(a_ - b_ <= t_ && b_ - a_ <= t_))                                                     \
            TEST_FAIL_("%s ~= %s: %.17g vs %.17g (tolerance %g)", #a, #b, a_, b_, t_);             \
    } while (0)

#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                       \
            TEST_FAIL_("%s == %s:\n  got:      \"%s\"\n  expected: \"%s\"", #a, #b,                \
                       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                    \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                                  \
            TEST_FAIL_("%s does not contain \"%s\":\n  \"%s\"", #hay, n_, h_ ? h_ : "(null)");     \
    } while (0)

/* A call that returns Weft's error convention: ASSERT_OK wants 0 (or a
 * count), ASSERT_ERR one code; both print the codes' names on failure. */
#define ASSERT_OK(call)                                                                            \
    do {                                                                                           \
        long long rc_ = (long long)(call);                                                         \
        if (rc_ < 0)                                                                               \
            TEST_FAIL_("%s: %s (%lld: %s)", #call, weft_err_name((int)rc_), rc_,                   \
                       weft_strerror((int)rc_));                                                   \
    } while (0)

#define ASSERT_ERR(call, want)                                                                     \
    do {                                                                                           \
        long long rc_ = (long long)(call), w_ = (long long)(want);                                 \
        if (rc_ != w_)                                                                             \
            TEST_FAIL_("%s: %s (%lld), want %s (%lld)", #call,                                     \
                       rc_ < 0 ? weft_err_name((int)rc_) : "success", rc_, weft_err_name((int)w_), \
                       w_);                                                                        \
    } while (0)

#define ASSERT_NULL(p)     ASSERT((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT((p) != NULL)

#endif /* WEFT_TEST_HARNESS_H */
