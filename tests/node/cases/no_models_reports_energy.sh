#!/bin/bash
# A node with "models": [] reads its home and reports to the scheduler, takes no
# work, and runs no runner thread.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
# "models": [] is a node that reads its home and reports to the scheduler
# (the issue's idle benchmark measures this node) but takes no work.
start_sched
KEY=$(new_key t)
ADMIN=$(new_key ops --admin)
start_home a
start_weftd a '{"models": []}'
wait_status a 'd["scheduler"]["state"]' live
wait_status a 'd["policy"]["takes_deferrable"]' True
wait_status a 'd["models"]' '[]'
"$BIN/weftctl" node status --status-url "http://127.0.0.1:${STATUS_PORT[a]}" > "$WORK/st.txt" ||
    fail "weftctl node status"
grep -q "^models: none" "$WORK/st.txt" || fail "status text: $(cat "$WORK/st.txt")"
"$BIN/weftctl" --url "$URL" --cacert "$CA" --key "$ADMIN" nodes > "$WORK/nodes.txt" ||
    fail "weftctl nodes"
grep -qE "^a +live" "$WORK/nodes.txt" || fail "nodes: $(cat "$WORK/nodes.txt")"
out=$(api POST /v1/jobs '{"endpoint":"/v1/completions","request":{"model":"stories260K","prompt":"Once","max_tokens":5}}')
id=$(body_of "$out" | json 'd["id"]')
wait_two_heartbeats # the node had its chance to take it
job_is "$id" queued || fail "a node without models took work: $(job_status "$id")"
# No runner thread without models (serves_real_model sees it by this name).
grep -qx weftd-runner /proc/"$NODE_PID"/task/*/comm && fail "a runner thread without models"
kill -TERM "$NODE_PID"
wait "$NODE_PID" || fail "weftd exit status $?"
weft_finish
