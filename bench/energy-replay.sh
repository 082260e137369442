#!/bin/sh
# Policy benchmark: the 9-month Ausgrid replay with PV scaled to 6 kWp, a
# 10 kWh / 5 kW battery and a 350 W GPU (min 100 W), for the weft, naive and
# always-on policies in one run; prints the JSON and the wall time.
# Usage: bench/energy-replay.sh   (after `make`)
set -eu
cd "$(dirname "$0")/.."
td=${WEFT_TESTDATA:-../shared/testdata}
/usr/bin/time -f "wall %e s, max RSS %M KB" build/bin/weft-energy replay \
    --profile "$td/energy/ausgrid-c12-2011-07_2012-03.csv" --pv-kwp 6 --profile-kwp 1.04 \
    --battery-kwh 10 --battery-kw 5 --gpu-max-w 350 --gpu-min-w 100 --policy all "$@"
