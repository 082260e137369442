#!/bin/bash
# Every node crashes: after max_attempts the client gets a clear node_failure
# event and [DONE], not a hang.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
REQ='{"model":"test-model","messages":[{"role":"user","content":"tell me about the sun"}],"max_tokens":24,"seed":1234,"stream":true}'
start_sched
KEY=$(new_key dev)
# Three nodes that each crash: after max_attempts (3) the client gets a
# clear error event, not a hang.
start_testnode x1 --die-after 2 --token-ms 5
start_testnode x2 --die-after 2 --token-ms 5
start_testnode x3 --die-after 2 --token-ms 5
wait_nodes 3
out=$(curl -sN --max-time 20 --cacert "$CA" -H "Authorization: Bearer $KEY" -d "$REQ" \
    "$URL/v1/chat/completions")
printf '%s' "$out" | grep -q '"code":"node_failure"' || fail "no node_failure event: $out"
printf '%s' "$out" | tail -n 2 | grep -q 'data: \[DONE\]' || fail "no [DONE] after the error"
weft_finish
