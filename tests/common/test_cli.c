/* Options from a table: every kind, names with aliases, positional
 * arguments between options, "--", and each refusal with its message. */
#include <stdlib.h>

#include "harness.h"
#include "weft/cli.h"

struct got {
    int flag, n, choice, seen_n;
    const char *s;
    double d;
    float f;
    uint64_t u;
    char list[64];
};

static int add(void *ud, const char *v, char *err, size_t errcap)
{
    struct got *g = ud;
    if (!*v) {
        snprintf(err, errcap, "--stop: must not be empty");
        return WEFT_EINVAL;
    }
    size_t n = strlen(g->list);
    snprintf(g->list + n, sizeof g->list - n, "%s%s", n ? "," : "", v);
    return 0;
}

static const char *const colours[] = {"red", "green", "blue", NULL};

/* argv as main() gets it: writable strings (freed with args_free). */
static char **args(int argc, const char *const *src)
{
    char **a = calloc((size_t)argc + 1, sizeof *a);
    for (int i = 0; i < argc; i++)
        a[i] = strdup(src[i]);
    return a;
}

static void args_free(int argc, char **a)
{
    for (int i = 0; i < argc; i++)
        free(a[i]);
    free(a);
}

/* Parses src as argv; the copies stay in *argv (the strings handed out
 * point into them) until the caller frees them. */
static int parse(struct got *g, int argc, const char *const *src, const char **pos, int *npos,
                 char *err, char ***argv)
{
    *argv = args(argc, src);
    memset(g, 0, sizeof *g);
    const struct weft_opt opts[] = {
        WEFT_OPTF("--flag", &g->flag),
        WEFT_OPTI_SEEN("-n|--count", &g->n, 0, 100, &g->seen_n),
        WEFT_OPTS("--name", &g->s),
        WEFT_OPTN("--ratio", &g->d, -1, 1),
        WEFT_OPTR("--temp", &g->f, 0, 2),
        WEFT_OPTU("--seed", &g->u),
        WEFT_OPTC("--colour", &g->choice, colours),
        WEFT_OPTX("--stop", add, g),
        WEFT_OPT_END,
    };
    return weft_opts_parse(argc, *argv, opts, pos, 2, npos, err, 160);
}

TEST(every_kind_and_positionals)
{
    const char *const argv[] = {"a.gguf",   "-n",   "7",       "--flag",
                                "--name",   "x",    "--ratio", "-0.5",
                                "--temp",   "1.5",  "--seed",  "18446744073709551615",
                                "--colour", "blue", "--stop",  "s1",
                                "--stop",   "s2",   "--",      "-b"};
    struct got g;
    const char *pos[2];
    int npos = -1;
    char err[160];
    char **copy;
    ASSERT_OK(parse(&g, 20, argv, pos, &npos, err, &copy));
    ASSERT_EQ_INT(g.n, 7);
    ASSERT_EQ_INT(g.seen_n, 1);
    ASSERT_EQ_INT(g.flag, 1);
    ASSERT_EQ_STR(g.s, "x");
    ASSERT(g.d == -0.5 && g.f == 1.5f);
    ASSERT_EQ_UINT(g.u, 18446744073709551615ull);
    ASSERT_EQ_INT(g.choice, 2);
    ASSERT_EQ_STR(g.list, "s1,s2");
    ASSERT_EQ_INT(npos, 2);
    ASSERT_EQ_STR(pos[0], "a.gguf");
    ASSERT_EQ_STR(pos[1], "-b"); /* after "--", not an option */
    args_free(20, copy);
}

TEST(refusals_say_why)
{
    static const struct {
        int argc;
        const char *argv[3];
        const char *msg;
    } cases[] = {
        {1, {"--nope"}, "unknown option --nope"},
        {1, {"--count"}, "--count needs a value"},
        {2, {"-n", "1.5"}, "-n: expected a whole number from 0 to 100, got \"1.5\""},
        {2, {"-n", "101"}, "-n: expected a whole number from 0 to 100, got \"101\""},
        {2, {"--ratio", "abc"}, "--ratio: expected a number from -1 to 1, got \"abc\""},
        {2, {"--temp", "nan"}, "--temp: expected a number from 0 to 2, got \"nan\""},
        {2, {"--seed", "-1"}, "--seed: expected a whole number of 64 bits, got \"-1\""},
        {2, {"--seed", "18446744073709551616"}, "--seed: expected a whole number of 64 bits"},
        {2, {"--colour", "pink"}, "--colour: expected red, green or blue, got \"pink\""},
        {2, {"--stop", ""}, "--stop: must not be empty"},
        {3, {"a", "b", "c"}, "too many arguments (\"c\")"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct got g;
        const char *pos[2];
        int npos;
        char err[160] = "";
        char **copy;
        ASSERT_ERR(parse(&g, cases[i].argc, cases[i].argv, pos, &npos, err, &copy), WEFT_EINVAL);
        ASSERT_CONTAINS(err, cases[i].msg);
        args_free(cases[i].argc, copy);
    }
}
