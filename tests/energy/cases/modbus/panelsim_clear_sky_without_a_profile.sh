#!/bin/bash
# weft-panelsim --clear-sky LAT,LON: a trial home without a measured
# profile. At noon of midsummer (--day 2026-06-21T12:00, or day 171.5) a
# 5 kWp array in Munich makes kilowatts, at midnight nothing. A malformed
# site, or both a profile and a site, are refused.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
read_at() { # read_at DAY: weft-energy read's JSON of the simulated home at DAY
    "$BIN/weft-panelsim" --clear-sky 48.1,11.6 --pv-kwp 5 --load-w 700 --port 0 --speed 0.001 \
        --day "$1" > "$WORK/sim-$1.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_for "panelsim at $1" 5 grep -q "weft-panelsim: serving" "$WORK/sim-$1.log"
    "$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$(panel_port "$WORK/sim-$1.log")" ||
        fail "read at $1"
    kill "$pid"
}
year=$(date -u +%Y)
read_at "$year-06-21T12:00" > "$WORK/noon.json"
read_at 171.0 > "$WORK/midnight.json"
noon=$(jvalue inverter_ac_w "$WORK/noon.json")
night=$(jvalue inverter_ac_w "$WORK/midnight.json")
[ "$noon" -gt 3000 ] && [ "$noon" -le 6000 ] || fail "midsummer noon PV: $noon W"
[ "$night" = 0 ] || fail "PV at midnight: $night W"
out=$("$BIN/weft-panelsim" --clear-sky 48.1 --port 0 2>&1)
[ $? = 2 ] && grep -q "expected LAT,LON" <<< "$out" || fail "a site without a longitude: $out"
out=$("$BIN/weft-panelsim" --clear-sky 48.1,11.6 --profile x.csv --port 0 2>&1)
[ $? = 2 ] && grep -q "one of --profile" <<< "$out" || fail "a profile and a site: $out"
weft_finish
