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
        "oracle_wh", "oracle_share", "always_free_wh", "export_window_wh", "export_window_share", "switches"]
for p in ("weft", "naive", "always"):
    missing = [k for k in keys if k not in d[p]]
    assert not missing, f"{p}: missing {missing}"
w, n, a = d["weft"], d["naive"], d["always"]
assert abs(w["days"] - 275) < 1e-6, w["days"]
print("weft from surplus %.4f, export window %.3f, %.2f starts/day" %
      (w["compute_from_surplus_share"], w["export_window_share"], w["switches"] / w["days"]))
# 0.99 is the goal (bench/energy-replay.sh); with the lossy battery the
# rules without a plan reach 0.984, and this guards against sliding back.
assert w["compute_from_surplus_share"] >= 0.98, w
assert w["switches"] / w["days"] < 10, w
assert n["compute_from_surplus_share"] < w["compute_from_surplus_share"]
assert a["compute_from_surplus_share"] < n["compute_from_surplus_share"]
assert a["compute_wh"] > n["compute_wh"] > w["compute_wh"] > 0
# One bound for the home, and no policy beats it without importing.
assert abs(w["oracle_wh"] - a["oracle_wh"]) < 1e-6 and abs(n["oracle_wh"] - a["oracle_wh"]) < 1e-6
# An imported Wh may spare one PV would have stored at the round trip's
# loss (0.9 by default), so a policy that imports gets that much slack.
for p in (w, n, a):
    assert p["compute_wh"] - p["grid_import_for_compute_wh"] / 0.9 <= p["oracle_wh"] * (1 + 1e-9), p
print("weft oracle_share %.3f" % w["oracle_share"])
# Every figure per month too: July 2011 to March 2012, adding up to the totals.
for p in (w, n, a):
    ms = p["months"]
    assert [m["month"] for m in ms] == ["2011-%02d" % k for k in range(7, 13)] + \
        ["2012-%02d" % k for k in range(1, 4)], [m["month"] for m in ms]
    for k in ("days", "compute_wh", "oracle_wh"):
        tot = sum(m[k] for m in ms)
        assert abs(tot - p[k]) <= 1e-6 * max(1, abs(p[k])), (k, tot, p[k])
    assert sum(m["switches"] for m in ms) == p["switches"]
print("weft oracle_share by month:", " ".join("%.2f" % m["oracle_share"] for m in w["months"]))
PY
weft_finish
