#!/bin/bash
# Every panelsim fault mode reaches the reader: not-implemented sentinels and bad
# scale factors read as missing (never 0), a silent device times out, a
# dropping one is named.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
steady_home
mbw steady 40502 3 # sentinels: values become missing, never 0
"$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$port" >"$WORK/r.json" || fail "read"
[ "$(jvalue meter_w "$WORK/r.json")" = "null" ] || fail "sentinel meter read as a number"
[ "$(jvalue soc_pct "$WORK/r.json")" = "null" ] || fail "sentinel soc read as a number"
mbw steady 40502 4 # garbage scale factors
"$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$port" >"$WORK/r.json" || fail "read"
[ "$(jvalue meter_w "$WORK/r.json")" = "null" ] || fail "bad-sf meter read as a number"
mbw steady 40502 1 # silent: requests time out
"$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$port" --timeout-ms 300 2>"$WORK/e" &&
    fail "a silent device answered"
grep -q "Connection timed out" "$WORK/e" || fail "message: $(cat "$WORK/e")"
stop_steady_home
steady_home --fault drop
"$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$port" --timeout-ms 500 2>"$WORK/e" &&
    fail "a dropping device answered"
grep -q "tcp://127.0.0.1:$port unit 1" "$WORK/e" || fail "message: $(cat "$WORK/e")"
stop_steady_home
weft_finish
