#!/bin/bash
# weft-energy replay on the real Ausgrid profile: every metric is there, the
# weft policy stays on surplus and switches rarely, and beats naive and always.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
csv="$DATA/energy/ausgrid-c12-2011-07_2012-03.csv"
[ -f "$csv" ] || skip "$csv is missing"
"$BIN/weft-energy" replay --profile "$csv" --pv-kwp 6 --profile-kwp 1.04 --battery-kwh 10 \
    --gpu-max-w 350 --gpu-min-w 100 --policy all >"$WORK/out.json" || fail "exit $?"
/usr/bin/python3 - "$WORK/out.json" <<'PY' || fail "metrics"
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
weft_finish
