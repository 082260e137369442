#!/bin/bash
# weft-panelsim --day takes a local date and time as well as a number of days:
# a profile whose PV runs only from 10:00 to 14:00 on its second day serves
# PV at --day 2012-01-02T12:00 and none at --day 2012-01-02T06:00 (or at
# day 1.25, the same instant); a date outside the profile is refused.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
/usr/bin/python3 - "$WORK/two-days.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write(",GC,GG\n")
    for i in range(96):
        day, h, m = 1 + i // 48, (i % 48) // 2, 30 * (i % 2)
        pv = 2.0 if day == 2 and 10 <= h < 14 else 0.0
        f.write(f"2012-01-{day:02d} {h:02d}:{m:02d}:00,0.5,{pv}\n")
PY
ac_at() { # ac_at DAY: the inverter's AC power the panelsim serves at DAY
    "$BIN/weft-panelsim" --profile "$WORK/two-days.csv" --port 0 --speed 0.001 --day "$1" \
        > "$WORK/sim-$1.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_for "panelsim at $1" 5 grep -q "weft-panelsim: serving" "$WORK/sim-$1.log"
    "$BIN/weft-energy" read --modbus "tcp://127.0.0.1:$(panel_port "$WORK/sim-$1.log")" > "$WORK/r.json" ||
        fail "read at $1"
    kill "$pid"
    jvalue inverter_ac_w "$WORK/r.json"
}
noon=$(ac_at 2012-01-02T12:00)
dawn=$(ac_at 2012-01-02T06:00)
same=$(ac_at 1.25)
[ "$noon" -gt 1000 ] || fail "no PV at noon of day 2: $noon"
[ "$dawn" = 0 ] && [ "$same" = 0 ] || fail "PV at 06:00: $dawn / $same"
out=$("$BIN/weft-panelsim" --profile "$WORK/two-days.csv" --port 0 --day 2012-02-01 2>&1)
[ $? = 2 ] && grep -q "outside the profile" <<< "$out" || fail "a date outside the profile: $out"
weft_finish
