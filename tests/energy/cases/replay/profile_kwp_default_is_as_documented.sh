#!/bin/bash
# --profile-kwp defaults to 1, as both tools' help says: --pv-kwp alone is a
# plain multiplier, the same as --profile-kwp 1, and unlike the Ausgrid
# array's own 1.04.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
need_testdata
for tool in weft-energy weft-panelsim; do
    "$BIN/$tool" --help 2>&1 | grep -q "defaults to 1" || fail "$tool --help does not state the default"
done
replay() { "$BIN/weft-energy" replay --profile "$PROFILE" --pv-kwp 2 --oracle dp "$@" 2>/dev/null |
    json 'd["compute_wh"]'; }
plain=$(replay) || fail "replay"
one=$(replay --profile-kwp 1)
ausgrid=$(replay --profile-kwp 1.04)
[ -n "$plain" ] && [ "$plain" = "$one" ] || fail "the default is not 1: $plain vs $one"
[ "$plain" != "$ausgrid" ] || fail "--profile-kwp 1.04 changed nothing ($plain)"
weft_finish
