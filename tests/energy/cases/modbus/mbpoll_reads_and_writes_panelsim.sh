#!/bin/bash
# mbpoll (a client we did not write) reads the SunSpec marker and model chain of
# weft-panelsim and writes the node's draw, which moves the meter.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
steady_home
# mbpoll counts registers from 1: reference 40001 is address 40000.
out=$(mbpoll -m tcp -a 1 -t 4 -r 40001 -c 4 -1 -p "$port" 127.0.0.1) || fail "mbpoll read"
echo "$out" | grep -q '\[40001\]:[[:space:]]*21365' || fail "no 'Su': $out"
echo "$out" | grep -q '\[40002\]:[[:space:]]*28243' || fail "no 'nS': $out"
echo "$out" | grep -q '\[40003\]:[[:space:]]*1$' || fail "model 1 not first: $out"
echo "$out" | grep -q '\[40004\]:[[:space:]]*66' || fail "model 1 length: $out"
# The node's compute draw, written by a client we did not write, moves
# the meter: 400 W less export.
mbw steady 40501 400
"$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$port" >"$WORK/r.json" || fail "read"
[ "$(jvalue meter_w "$WORK/r.json")" = "-1100" ] || fail "meter_w $(jvalue meter_w "$WORK/r.json")"
stop_steady_home
weft_finish
