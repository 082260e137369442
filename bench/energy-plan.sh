#!/bin/sh
# The battery plan's table in docs/BENCHMARKS.md: the dev profile's weft
# policy with the true future, with synthetic day-ahead PV (bench/dayahead-
# synth.py; sigma 0 is the true PV) and with the home's own history, each at
# the defaults and with reserve 0 and no margin. One line per run:
# forecast | settings | compute kWh | import kWh | from surplus | oracle share
# | switches/day. Usage: bench/energy-plan.sh   (after `make`; about 2 min)
set -eu
cd "$(dirname "$0")/.."
td=${WEFT_TESTDATA:-../shared/testdata}
csv="$td/energy/ausgrid-c12-2011-07_2012-03.csv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo '{}' > "$tmp/defaults.json"
echo '{"reserve_soc": 0, "plan_margin_pct": 0}' > "$tmp/r0m0.json"
echo '{"reserve_soc": 0, "plan_margin_pct": 0, "plan_load_sigma": 0}' > "$tmp/r0m0s0.json"
row() { # row NAME SETTINGS ARGS...
    name=$1 set=$2
    shift 2
    build/bin/weft-energy replay --profile "$csv" --pv-kwp 6 --profile-kwp 1.04 \
        --battery-kwh 10 --battery-kw 5 --gpu-max-w 350 --gpu-min-w 100 --policy weft \
        --config "$tmp/$set.json" "$@" > "$tmp/out.json"
    /usr/bin/python3 -c '
import json, sys
x = json.load(open(sys.argv[3]))
print("| %s | %s | %.1f | %.2f | %.4f | %.3f | %.2f |" % (sys.argv[1], sys.argv[2],
      x["compute_wh"] / 1e3, x["grid_import_for_compute_wh"] / 1e3,
      x["compute_from_surplus_share"], x["oracle_share"], x["switches_per_day"]))' \
        "$name" "$set" "$tmp/out.json"
}
for s in defaults r0m0; do row "true future" $s --forecast true; done
for sg in 0 0.1 0.2 0.3 0.5; do
    bench/dayahead-synth.py "$csv" "$sg" 1 > "$tmp/da.csv"
    for s in defaults r0m0; do row "day-ahead sigma $sg" $s --forecast-file "$tmp/da.csv"; done
    [ "$sg" = 0 ] && row "day-ahead sigma 0" r0m0s0 --forecast-file "$tmp/da.csv"
done
for seed in 2 3; do
    bench/dayahead-synth.py "$csv" 0.3 $seed > "$tmp/da.csv"
    row "day-ahead sigma 0.3 seed $seed" r0m0 --forecast-file "$tmp/da.csv"
done
for s in defaults r0m0 r0m0s0; do row "history" $s --forecast history; done
# The clear-sky layer at the customer's area (Ausgrid serves Sydney and
# the Hunter; the array's tilt and azimuth are not published: a guess of
# 20 degrees facing north), standard time UTC+10.
for s in defaults r0m0; do
    row "history + clear sky" $s --forecast history --site -33.87,151.21,20,180,10
done
