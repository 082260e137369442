#!/bin/sh
# weft-energy replay as a user runs it, on the real Ausgrid profile: the
# JSON has every metric, the weft policy keeps compute on surplus, and bad
# input is refused with a clear message.
# Usage: replay_test.sh CASE BIN_DIR TESTDATA WORK_DIR
set -u
case_=$1 bin=$2 td=$3 work=$4
mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
csv="$td/energy/ausgrid-c12-2011-07_2012-03.csv"
case $case_ in
weft_policy_on_ausgrid)
    [ -f "$csv" ] || { echo "SKIP: $csv is missing"; exit 77; }
    "$bin/weft-energy" replay --profile "$csv" --pv-kwp 6 --profile-kwp 1.04 --battery-kwh 10 \
        --gpu-max-w 350 --gpu-min-w 100 --policy all >"$work/out.json" || fail "exit $?"
    /usr/bin/python3 - "$work/out.json" <<'PY' || fail "metrics"
import json, sys
d = json.load(open(sys.argv[1]))
keys = ["days", "compute_wh", "grid_import_for_compute_wh", "compute_from_surplus_share",
        "reachable_surplus_wh", "surplus_captured_share", "switches"]
for p in ("weft", "naive", "always"):
    missing = [k for k in keys if k not in d[p]]
    assert not missing, f"{p}: missing {missing}"
w, n, a = d["weft"], d["naive"], d["always"]
assert abs(w["days"] - 275) < 1e-6, w["days"]
print("weft from surplus %.4f, captured %.3f, %.2f starts/day" %
      (w["compute_from_surplus_share"], w["surplus_captured_share"], w["switches"] / w["days"]))
assert w["compute_from_surplus_share"] >= 0.99, w
assert w["switches"] / w["days"] < 10, w
assert n["compute_from_surplus_share"] < w["compute_from_surplus_share"]
assert a["compute_from_surplus_share"] < n["compute_from_surplus_share"]
assert a["compute_wh"] > n["compute_wh"] > w["compute_wh"] > 0
PY
    ;;
bad_input_is_refused)
    printf ',GC,GG\n2011-07-01 00:00:00,0.3,0.0\n2011-07-01 00:30:00,abc,0.0\n' >"$work/bad.csv"
    "$bin/weft-energy" replay --profile "$work/bad.csv" 2>"$work/e1" && fail "bad csv accepted"
    grep -q 'bad.csv:3: column GC: expected a number of kW >= 0, got "abc"' "$work/e1" ||
        fail "message: $(cat "$work/e1")"
    printf '{"priority_soc": 20, "reserve_soc": 40}' >"$work/p.json"
    printf ',GC,GG\n2011-07-01 00:00:00,0.3,0.0\n2011-07-01 00:30:00,0.3,0.0\n' >"$work/ok.csv"
    "$bin/weft-energy" replay --profile "$work/ok.csv" --config "$work/p.json" 2>"$work/e2" &&
        fail "bad config accepted"
    grep -q 'p.json: (top level): reserve_soc (40) must not exceed priority_soc (20)' "$work/e2" ||
        fail "message: $(cat "$work/e2")"
    printf '{"quiet_hours": [{"start": "25:00", "end": "06:00"}]}' >"$work/q.json"
    "$bin/weft-energy" replay --profile "$work/ok.csv" --config "$work/q.json" 2>"$work/e3" &&
        fail "bad time accepted"
    grep -q 'q.json: quiet_hours\[0\]: expected times as "HH:MM" (00:00..23:59), got "25:00"' \
        "$work/e3" || fail "message: $(cat "$work/e3")"
    "$bin/weft-energy" replay --profile "$work/ok.csv" --policy greedy 2>"$work/e4" && fail "policy"
    grep -q "expected weft, naive, always or all" "$work/e4" || fail "message: $(cat "$work/e4")"
    ;;
*) fail "unknown case $case_" ;;
esac
echo "ok: $case_"
