/* libFuzzer target: command lines against an option table with every kind
 * of row. The input is argv, NUL-separated. Promises: no crash; a refusal
 * is WEFT_EINVAL with a message; what is accepted is inside the rows'
 * bounds, and positional arguments never pass their room. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft/cli.h"
#include "weft/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(void *ud, const char *v, char *err, size_t errcap)
{
    (void)v;
    (void)err;
    (void)errcap;
    ++*(int *)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *copy = malloc(size + 1);
    char *argv[256];
    int argc = 0;
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (char *p = copy; p < copy + size && argc < 256; p += strlen(p) + 1)
        argv[argc++] = p;
    static const char *const choices[] = {"a", "bb", "ccc", NULL};
    int flag = 0, n = -1, choice = -1, calls = 0;
    double d = -2;
    float f = -2;
    uint64_t u = 0;
    const char *s = NULL;
    const struct weft_opt opts[] = {
        WEFT_OPTF("-f|--flag", &flag),
        WEFT_OPTI("-n", &n, 0, 100),
        WEFT_OPTN("--d", &d, -1, 1),
        WEFT_OPTR("--f", &f, 0, 2),
        WEFT_OPTU("--u", &u),
        WEFT_OPTS("--s", &s),
        WEFT_OPTC("--c", &choice, choices),
        WEFT_OPTX("--x", count, &calls),
        WEFT_OPT_END,
    };
    const char *pos[3];
    int npos = -1;
    char err[160] = "";
    int rc = weft_opts_parse(argc, argv, opts, pos, 3, &npos, err, sizeof err);
    if (rc != 0 && (rc != WEFT_EINVAL || !err[0]))
        abort();
    if (rc == 0 && (npos < 0 || npos > 3 || (n != -1 && (n < 0 || n > 100)) ||
                    (d != -2 && !(d >= -1 && d <= 1)) || (f != -2 && !(f >= 0 && f <= 2)) ||
                    choice > 2 || flag > 1))
        abort();
    int used = -1;
    rc = weft_opts_parse_leading(argc, argv, opts, &used, err, sizeof err);
    if (rc == 0 && (used < 0 || used > argc))
        abort();
    free(copy);
    return 0;
}
