#!/bin/bash
# weft-energy replay --svg: a well-formed SVG (Python's XML parser) with a
# polyline for each of PV, load, compute, grid and the battery's charge,
# whose points, turned back into values through the scale each polyline
# carries, are the series the same run printed in its JSON. --svg with
# every policy at once, and a --from outside the profile, are refused.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
need_testdata
prof="$DATA/energy/ausgrid-c12-2011-07_2012-03.csv"
"$BIN/weft-energy" replay --profile "$prof" --profile-kwp 1.04 --pv-kwp 5 --battery-kwh 10 \
    --svg "$WORK/r.svg" --from 2011-12-18 --days 3 > "$WORK/r.json" 2> "$WORK/r.err" ||
    fail "replay --svg: $(cat "$WORK/r.err")"
/usr/bin/python3 - "$WORK/r.svg" "$WORK/r.json" <<'PY' || fail "the SVG and the JSON disagree"
import json, sys
import xml.etree.ElementTree as ET
svg = ET.parse(sys.argv[1]).getroot()          # raises on a malformed document
series = json.load(open(sys.argv[2]))["series"]
assert series["span_s"] == 3 * 86400 and series["from_s"] == 170 * 86400, series["from_s"]
ns = "{http://www.w3.org/2000/svg}"
lines = {p.get("data-series"): p for p in svg.iter(ns + "polyline")}
assert set(lines) == {"pv_w", "load_w", "compute_w", "grid_w", "soc_pct"}, set(lines)
span, bucket = series["span_s"], series["bucket_s"]
for name, p in lines.items():
    y0, y1 = float(p.get("data-y0")), float(p.get("data-y1"))
    top, height = float(p.get("data-top")), float(p.get("data-height"))
    left, width = float(p.get("data-left")), float(p.get("data-width"))
    assert float(p.get("data-bucket-s")) == bucket
    want = series[name]
    pts = [tuple(map(float, xy.split(","))) for xy in p.get("points").split()]
    assert len(pts) == sum(v is not None for v in want), (name, len(pts))
    tol = 0.06 * (y1 - y0) / height + 0.06       # 0.05 px and 0.05 of JSON rounding
    for x, y in pts:
        i = round((x - left) / width * span / bucket - 0.5)
        v = y0 + (1 - (y - top) / height) * (y1 - y0)
        assert abs(v - want[i]) <= tol, (name, i, v, want[i])
    assert max(v for v in want if v is not None) > (0 if name != "grid_w" else -1e9)
print("series drawn as printed:", {k: len(v) for k, v in series.items() if isinstance(v, list)})
PY
out=$("$BIN/weft-energy" replay --profile "$prof" --policy all --svg "$WORK/x.svg" 2>&1)
[ $? = 2 ] && grep -q "one policy" <<< "$out" || fail "--svg with --policy all: $out"
out=$("$BIN/weft-energy" replay --profile "$prof" --svg "$WORK/x.svg" --from 2013-01-01 2>&1)
[ $? = 2 ] && grep -q "outside the profile" <<< "$out" || fail "--from outside: $out"
weft_finish
