#!/bin/bash
# weftd against a stand-in libnvidia-ml.so.1: the draw from NVML, the limit
# following the budget within the GPU's range only where allowed, the default
# back at exit, and the ledger summing the GPU's energy counter.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
# weftd against a stand-in libnvidia-ml.so.1 (tests/node/fake_nvml.c: a
# 100-250 W GPU drawing 87 W, default limit 200 W, calls logged): the draw
# comes from NVML, the limit follows the budget within the GPU's range
# only where the homeowner allowed it, the default is back at exit, and
# the ledger sums the GPU's energy counter.
fake=${WEFT_FAKE_NVML_DIR:-}
[ -f "$fake/libnvidia-ml.so.1" ] || fail "no fake NVML in '$fake'"
export LD_LIBRARY_PATH=$fake${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
start_sched
KEY=$(new_key t)
start_home a
start_home b
start_home c
FAKE_NVML_LOG=$WORK/nvml-a.log start_weftd a '{"compute":{"gpu_power_limit":true}}'
limited=$NODE_PID
FAKE_NVML_LOG=$WORK/nvml-b.log FAKE_NVML_ENERGY_MW=150000 start_weftd b
FAKE_NVML_NO_GPU=1 start_weftd c
wait_status a 'd["gpu"]["nvml"]' True
wait_status a 'd["gpu"]["power_w"] == 87 and d["energy"]["compute_w"] == 87' True
# Sunny, max_compute_w 300: the limit goes to the GPU's 250 W maximum.
wait_status a 'd["policy"]["budget_w"]' 300
wait_status a 'd["gpu"]["limit_w"]' 250
grep -qx "set 250000" "$WORK/nvml-a.log" || fail "nvml log: $(cat "$WORK/nvml-a.log")"
# A cloud: budget 0, the limit drops to the GPU's 100 W minimum.
mbw a 40503 0
wait_status a 'd["gpu"]["limit_w"]' 100
"$BIN/weftctl" node status --status-url "http://127.0.0.1:${STATUS_PORT[a]}" > "$WORK/st.txt" ||
    fail "weftctl node status"
grep -q "^gpu: NVML.*, 87 W, limit 100 W" "$WORK/st.txt" || fail "status text: $(cat "$WORK/st.txt")"
# Not allowed to (the default): NVML is read, no limit is ever set.
wait_status b 'd["gpu"]["power_w"]' 87
wait_status b 'd["gpu"]["limit_w"]' None
# A driver without a GPU: the estimate, and the status says why.
wait_status c 'd["gpu"]["nvml"]' False
status c 'd["gpu"]["note"]' | grep -q "NVML found no GPU" || fail "note: $(status c 'd["gpu"]')"
# SIGTERM: the default limit is put back before NVML is shut down.
kill -TERM "$limited"
wait "$limited" || fail "weftd exit status $?"
[ "$(tail -n 2 "$WORK/nvml-a.log" | tr '\n' ' ')" = "set 200000 shutdown " ] ||
    fail "nvml log at exit: $(cat "$WORK/nvml-a.log")"
[ "$(head -n 1 "$WORK/nvml-a.log")" = init ] || fail "nvml log: $(cat "$WORK/nvml-a.log")"
grep -q "^set" "$WORK/nvml-b.log" && fail "node b set a limit: $(cat "$WORK/nvml-b.log")"
# A job on b (a and c under clouds). b's counter runs at 150 W while its
# samples read 87 W: the ledger's Wh over the client's time must be the
# counter's 150 W, give or take the ends of the job against the client's.
mbw c 40503 0
wait_status c 'd["policy"]["budget_w"]' 0
wait_status b 'd["scheduler"]["state"] == "live" and d["policy"]["takes_deferrable"]' True
secs=$(curl -s -o "$WORK/job.json" -w '%{time_total}' --cacert "$CA" -H "Authorization: Bearer $KEY" \
    -d '{"model":"stories260K","prompt":"Once upon a time","max_tokens":60,"temperature":0}' \
    "$URL/v1/completions") || fail "completion on b"
grep -q '"completion_tokens":60' "$WORK/job.json" || fail "completion: $(cat "$WORK/job.json")"
wait_status b 'd["ledger"]["total"]["jobs"]' 1
w=$(status b 'round(d["ledger"]["total"]["wh"] * 3600 / '"$secs"')')
[ "$w" -ge 120 ] && [ "$w" -le 170 ] || fail "ledger: $w W over ${secs} s, want about 150: $(status b 'd["ledger"]')"
[ "$(status b 'd["ledger"]["total"]["surplus_share"] == 1')" = True ] || fail "surplus share: $(status b 'd["ledger"]')"
weft_finish
