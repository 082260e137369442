#!/bin/bash
# The Victron GX layout read from weft-panelsim; SunSpec discovery on a GX says
# there is no marker; sentinels read as missing.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
steady_home --layout victron
"$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$port" --layout victron >"$WORK/r.json" ||
    fail "read exit $?"
[ "$(jvalue pv_w "$WORK/r.json")" = "2000" ] || fail "pv_w $(jvalue pv_w "$WORK/r.json")"
[ "$(jvalue load_w "$WORK/r.json")" = "500" ] || fail "load_w"
[ "$(jvalue grid_w "$WORK/r.json")" = "-1500" ] || fail "grid_w $(jvalue grid_w "$WORK/r.json")"
[ "$(jvalue battery_w "$WORK/r.json")" = "0" ] || fail "battery_w"
[ "$(jvalue soc_pct "$WORK/r.json")" = "100" ] || fail "soc"
# No SunSpec marker on a GX: discovery says so.
"$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$port" 2>"$WORK/e" && fail "SunSpec found"
grep -q 'no SunSpec marker' "$WORK/e" || fail "message: $(cat "$WORK/e")"
mbw steady 40502 3 # sentinels
"$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$port" --layout victron >"$WORK/r.json" ||
    fail "read"
[ "$(jvalue grid_w "$WORK/r.json")" = "null" ] || fail "sentinel grid read as a number"
[ "$(jvalue soc_pct "$WORK/r.json")" = "null" ] || fail "sentinel soc read as a number"
stop_steady_home
weft_finish
