#!/bin/bash
# weft-energy read against weft-panelsim (SunSpec): every reading of a steady home
# exactly.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
steady_home
"$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$port" >"$WORK/r.json" || fail "read exit $?"
[ "$(jvalue meter_w "$WORK/r.json")" = "-1500" ] || fail "meter_w $(jvalue meter_w "$WORK/r.json")"
[ "$(jvalue inverter_ac_w "$WORK/r.json")" = "2000" ] || fail "ac_w"
[ "$(jvalue soc_pct "$WORK/r.json")" = "100" ] || fail "soc"
[ "$(jvalue battery_w "$WORK/r.json")" = "0" ] || fail "battery_w"
grep -q '"manufacturer":.*"Weft"' "$WORK/r.json" || fail "model 1"
stop_steady_home
weft_finish
