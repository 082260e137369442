/* Command-line options from a table, for every Weft tool and daemon: one
 * row per option (its names, what it holds, the range it allows), so a
 * tool states its options once and every tool refuses a bad one the same
 * way: "--rate: expected a whole number from 0 to 100000, got "x"".
 *
 * Options may come in any order and between positional arguments; "--"
 * ends them. A flag takes no value; every other kind takes the next
 * argument.
 *
 * Ownership: strings handed out point into argv. Thread-safety: reentrant.
 */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include <stddef.h>
#include <stdint.h>

enum weft_opt_kind {
    WEFT_OPT_FLAG,   /* int *out = 1 */
    WEFT_OPT_STR,    /* const char **out = the value */
    WEFT_OPT_INT,    /* int *out: a whole number in [lo, hi] */
    WEFT_OPT_NUM,    /* double *out: a number in [lo, hi] */
    WEFT_OPT_FLOAT,  /* float *out: a number in [lo, hi] */
    WEFT_OPT_U64,    /* uint64_t *out: a decimal number of 64 bits */
    WEFT_OPT_CHOICE, /* int *out: the value's index in choices (any case) */
    WEFT_OPT_FUNC,   /* fn(ud, value, err, errcap): 0, or a code with err */
};

struct weft_opt {
    const char *names; /* "--model" or "-m|--model" */
    enum weft_opt_kind kind;
    void *out;
    double lo, hi;                                                    /* INT, NUM, FLOAT */
    const char *const *choices;                                       /* CHOICE: NULL-terminated */
    int (*fn)(void *ud, const char *value, char *err, size_t errcap); /* FUNC */
    void *ud;                                                         /* FUNC */
    int *seen; /* when set, 1 once the option was given */
};

/* Rows, one macro per kind. */
#define WEFT_OPTF(n, o)                                                                            \
    {                                                                                              \
        .names = (n), .kind = WEFT_OPT_FLAG, .out = (o)                                            \
    }
#define WEFT_OPTS(n, o)                                                                            \
    {                                                                                              \
        .names = (n), .kind = WEFT_OPT_STR, .out = (o)                                             \
    }
#define WEFT_OPTI(n, o, l, h)                                                                      \
    {                                                                                              \
        .names = (n), .kind = WEFT_OPT_INT, .out = (o), .lo = (l), .hi = (h)                       \
    }
#define WEFT_OPTN(n, o, l, h)                                                                      \
    {                                                                                              \
        .names = (n), .kind = WEFT_OPT_NUM, .out = (o), .lo = (l), .hi = (h)                       \
    }
#define WEFT_OPTR(n, o, l, h)                                                                      \
    {                                                                                              \
        .names = (n), .kind = WEFT_OPT_FLOAT, .out = (o), .lo = (l), .hi = (h)                     \
    }
#define WEFT_OPTU(n, o)                                                                            \
    {                                                                                              \
        .names = (n), .kind = WEFT_OPT_U64, .out = (o)                                             \
    }
#define WEFT_OPTC(n, o, c)                                                                         \
    {                                                                                              \
        .names = (n), .kind = WEFT_OPT_CHOICE, .out = (o), .choices = (c)                          \
    }
#define WEFT_OPTX(n, f, u)                                                                         \
    {                                                                                              \
        .names = (n), .kind = WEFT_OPT_FUNC, .fn = (f), .ud = (u)                                  \
    }
/* An INT row that also says whether it was given. */
#define WEFT_OPTI_SEEN(n, o, l, h, s)                                                              \
    {                                                                                              \
        .names = (n), .kind = WEFT_OPT_INT, .out = (o), .lo = (l), .hi = (h), .seen = (s)          \
    }
/* The end of a table. */
#define WEFT_OPT_END                                                                               \
    {                                                                                              \
        0                                                                                          \
    }

/* Parses argv[0..argc) (no program name) against opts. Arguments that are
 * not options go to pos[0..*npos), at most poscap of them. 0, or
 * WEFT_EINVAL with err saying what is wrong (unknown option, missing or bad
 * value, too many arguments). */
int weft_opts_parse(int argc, char **argv, const struct weft_opt *opts, const char **pos,
                    int poscap, int *npos, char *err, size_t errcap);

/* The options before the first positional argument (a command: "weftctl
 * --state-dir D keys create NAME"); *used is where the rest begins. 0 or
 * WEFT_EINVAL with err. */
int weft_opts_parse_leading(int argc, char **argv, const struct weft_opt *opts, int *used,
                            char *err, size_t errcap);

/* One value for one row, as weft_opts_parse takes it (flag: how the option
 * was spelled, for the message); for FUNC rows that parse a value the way
 * another row would. */
int weft_opt_value(const struct weft_opt *o, const char *flag, const char *v, char *err,
                   size_t errcap);

#endif /* WEFT_CLI_H */
