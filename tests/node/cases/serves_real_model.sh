#!/bin/bash
# weftd serves stories260K: llama2.c's published greedy text, the ledger (the
# draw estimate over the client's time), the runner thread, weftctl node
# status, and a clean SIGTERM with the ledger on disk.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
one_home
wait_status a 'd["policy"]["state"]' on
wait_status a 'd["scheduler"]["state"]' live
# Greedy from "Once upon a time": llama2.c's published stories260K text.
out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -w '\n%{time_total}' \
    -d '{"model":"stories260K","prompt":"Once upon a time","max_tokens":20,"temperature":0}' \
    "$URL/v1/completions")
secs=${out##*$'\n'}
out=${out%$'\n'*}
text=$(printf '%s' "$out" | json 'd["choices"][0]["text"]')
want=", there was a little girl named Lily. She loved to play outside in the park."
[ "${#text}" -ge 50 ] && [ "${want#"$text"}" != "$want" ] || fail "greedy text: $out"
wait_status a 'd["ledger"]["total"]["tokens"]' 20
grep -qx weftd-runner /proc/"$NODE_PID"/task/*/comm || fail "no thread named weftd-runner"
# Without an NVIDIA driver the draw is the configured estimate, and the
# status says so; with one, it is measured.
if [ -e /dev/nvidiactl ]; then
    wait_status a 'd["gpu"]["nvml"]' True
else
    wait_status a 'd["gpu"]["nvml"]' False
    status a 'd["gpu"]["note"]' | grep -q "estimated" || fail "gpu note: $(status a 'd["gpu"]')"
    # The estimate: busy_w 120 at full duty (budget 300 W) over the job,
    # which lies (all but the last upload) inside the client's time.
    w=$(status a 'round(d["ledger"]["total"]["wh"] * 3600 / '"$secs"')')
    [ "$w" -ge 80 ] && [ "$w" -le 135 ] || fail "ledger: $w W over $secs s: $(status a 'd["ledger"]')"
fi
"$BIN/weftctl" node status --status-url "http://127.0.0.1:${STATUS_PORT[a]}" > "$WORK/st.txt" ||
    fail "weftctl node status"
grep -q "^policy: on" "$WORK/st.txt" || fail "status text: $(cat "$WORK/st.txt")"
grep -q "scheduler: .* (live)" "$WORK/st.txt" || fail "status text: $(cat "$WORK/st.txt")"
grep -q "^models: stories260K (" "$WORK/st.txt" || fail "status text: $(cat "$WORK/st.txt")"
grep -qE "^slots: 0 of [0-9]+ busy \(what half the available memory" "$WORK/st.txt" || fail "status text: $(cat "$WORK/st.txt")"
# A clean stop: SIGTERM, exit 0, the ledger on disk.
kill -TERM "$NODE_PID"
wait "$NODE_PID"
[ $? = 0 ] || fail "weftd exit status"
grep -qE '"tokens":[[:space:]]*20,' "$WORK/state-a/ledger.json" || fail "ledger: $(cat "$WORK/state-a/ledger.json")"
weft_finish
