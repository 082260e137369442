/* Command-line options from a table; see include/weft/cli.h. */
#include "weft/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "weft/error.h"

/* Whether arg is one of the '|'-separated names. */
static int named(const char *names, const char *arg)
{
    size_t n = strlen(arg);
    for (const char *p = names; *p;) {
        size_t len = strcspn(p, "|");
        if (len == n && strncmp(p, arg, n) == 0)
            return 1;
        p += len;
        if (*p == '|')
            p++;
    }
    return 0;
}

static int bad(char *err, size_t errcap, const char *flag, const char *what, const char *v)
{
    snprintf(err, errcap, "%s: expected %s, got \"%s\"", flag, what, v);
    return WEFT_EINVAL;
}

static int number(const char *flag, const char *v, double lo, double hi, int whole, double *out,
                  char *err, size_t errcap)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    char what[96];
    snprintf(what, sizeof what, "a %s from %g to %g", whole ? "whole number" : "number", lo, hi);
    if (errno || end == v || *end || !(d >= lo && d <= hi) || (whole && d != (double)(long long)d))
        return bad(err, errcap, flag, what, v);
    *out = d;
    return 0;
}

int weft_opt_value(const struct weft_opt *o, const char *flag, const char *v, char *err,
                   size_t errcap)
{
    double d;
    int rc;
    switch (o->kind) {
    case WEFT_OPT_FLAG:
        *(int *)o->out = 1;
        return 0;
    case WEFT_OPT_STR:
        *(const char **)o->out = v;
        return 0;
    case WEFT_OPT_INT:
        if ((rc = number(flag, v, o->lo, o->hi, 1, &d, err, errcap)) != 0)
            return rc;
        *(int *)o->out = (int)d;
        return 0;
    case WEFT_OPT_NUM:
        return number(flag, v, o->lo, o->hi, 0, (double *)o->out, err, errcap);
    case WEFT_OPT_FLOAT:
        if ((rc = number(flag, v, o->lo, o->hi, 0, &d, err, errcap)) != 0)
            return rc;
        *(float *)o->out = (float)d;
        return 0;
    case WEFT_OPT_U64: {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (errno || end == v || *end || v[0] < '0' || v[0] > '9')
            return bad(err, errcap, flag, "a whole number of 64 bits", v);
        *(uint64_t *)o->out = u;
        return 0;
    }
    case WEFT_OPT_CHOICE: {
        char what[256] = "";
        size_t n = 0;
        for (int i = 0; o->choices[i]; i++) {
            if (strcasecmp(o->choices[i], v) == 0) {
                *(int *)o->out = i;
                return 0;
            }
            if (n < sizeof what) {
                int k = snprintf(what + n, sizeof what - n, "%s%s",
                                 i == 0              ? ""
                                 : o->choices[i + 1] ? ", "
                                                     : " or ",
                                 o->choices[i]);
                n += k > 0 ? (size_t)k : 0;
            }
        }
        return bad(err, errcap, flag, what, v);
    }
    case WEFT_OPT_FUNC:
        return o->fn(o->ud, v, err, errcap);
    }
    return WEFT_EINVAL;
}

/* The loop of both entry points: leading (stop at the first positional
 * argument, its index in *used) or not. */
static int parse(int argc, char **argv, const struct weft_opt *opts, const char **pos, int poscap,
                 int *npos, int leading, int *used, char *err, size_t errcap)
{
    int n = 0, options = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (options && strcmp(a, "--") == 0) {
            options = 0;
            if (leading) {
                *used = i + 1;
                return 0;
            }
            continue;
        }
        if (!options || a[0] != '-' || a[1] == '\0') {
            if (leading) {
                *used = i;
                return 0;
            }
            if (n == poscap) {
                snprintf(err, errcap, "too many arguments (\"%s\")", a);
                return WEFT_EINVAL;
            }
            pos[n++] = a;
            continue;
        }
        const struct weft_opt *o = opts;
        while (o->names && !named(o->names, a))
            o++;
        if (!o->names) {
            snprintf(err, errcap, "unknown option %s", a);
            return WEFT_EINVAL;
        }
        const char *v = NULL;
        if (o->kind != WEFT_OPT_FLAG) {
            if (i + 1 >= argc) {
                snprintf(err, errcap, "%s needs a value", a);
                return WEFT_EINVAL;
            }
            v = argv[++i];
        }
        int rc = weft_opt_value(o, a, v, err, errcap);
        if (rc)
            return rc;
        if (o->seen)
            *o->seen = 1;
    }
    if (npos)
        *npos = n;
    if (used)
        *used = argc;
    return 0;
}

int weft_opts_parse(int argc, char **argv, const struct weft_opt *opts, const char **pos,
                    int poscap, int *npos, char *err, size_t errcap)
{
    return parse(argc, argv, opts, pos, poscap, npos, 0, NULL, err, errcap);
}

int weft_opts_parse_leading(int argc, char **argv, const struct weft_opt *opts, int *used,
                            char *err, size_t errcap)
{
    return parse(argc, argv, opts, NULL, 0, NULL, 1, used, err, errcap);
}
