#!/bin/sh
# Fails when Weft's own C uses a function on the banned list (unbounded
# copies and formatting, string-to-number calls that cannot report errors,
# the non-reentrant tokenizer), in the spirit of curl's checksrc.
# Usage: banned.sh SOURCE_ROOT
root=${1:?usage: banned.sh SOURCE_ROOT}
cd "$root" || exit 1
pattern='(^|[^A-Za-z0-9_])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|atof|strtok)[[:space:]]*\('
hits=$(find src include tests -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \) -print0 |
       xargs -0 grep -nE "$pattern" || true)
if [ -n "$hits" ]; then
    echo "banned functions used (use snprintf, memcpy with a length, strtol/strtod, strtok_r):"
    echo "$hits"
    exit 1
fi
echo "no banned functions"
