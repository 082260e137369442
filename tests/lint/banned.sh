#!/bin/sh
# Fails when Weft's own C uses a function on the banned list (unbounded
# copies and formatting, string-to-number calls that cannot report errors,
# the non-reentrant tokenizer), in the spirit of curl's checksrc, or returns
# a bare -1 instead of a WEFT_E* code.
# Usage: banned.sh SOURCE_ROOT
root=${1:?usage: banned.sh SOURCE_ROOT}
cd "$root" || exit 1
pattern='(^|[^A-Za-z0-9_])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|atof|strtok)[[:space:]]*\('
hits=$(find src include tests bench -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) \
           -not -path '*/node_modules/*' -print0 |
       xargs -0 grep -nE "$pattern" || true)
if [ -n "$hits" ]; then
    echo "banned functions used (use snprintf, memcpy with a length, strtol/strtod, strtok_r):"
    echo "$hits"
    exit 1
fi
# Weft's one error convention: a failure is a WEFT_E* code, never a bare
# -1. A callback that answers another library in its own convention says so
# on the line ("return -1; /* curl: failure */").
bare=$(find src include -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) -print0 |
       xargs -0 grep -nE 'return[[:space:]]+-1[[:space:]]*;' |
       grep -vE 'return -1; /\* (curl|http_parser|libuv|OpenSSL|libmodbus|SQLite): ' || true)
if [ -n "$bare" ]; then
    echo "a bare -1 where a WEFT_E* code belongs (weft/error.h):"
    echo "$bare"
    exit 1
fi
echo "no banned functions, no bare -1"
