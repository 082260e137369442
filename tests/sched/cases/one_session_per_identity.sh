#!/bin/bash
# One identity, one live session: a second process with the same node token
# is refused (409 session_conflict) while the first is connected, and
# cannot knock its jobs back to the queue; once the first dies, the second
# takes over.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_sched
KEY=$(new_key dev)
TOKEN=$(enroll roof)
"$TBIN/testnode" --url "$URL" --token "$TOKEN" --cacert "$CA" --token-ms 50 2>> "$WORK/node-first.err" &
FIRST=$!
PIDS+=("$FIRST")
wait_nodes 1
# A stream under way on the first process...
curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"model":"test-model","messages":[{"role":"user","content":"long"}],"max_tokens":40,"stream":true}' \
    "$URL/v1/chat/completions" > "$WORK/stream.sse" &
STREAM=$!
sleep 0.5
# ...and a second process with the same token.
"$TBIN/testnode" --url "$URL" --token "$TOKEN" --cacert "$CA" --token-ms 1 2>> "$WORK/node-second.err" &
SECOND=$!
PIDS+=("$SECOND")
refused() { grep -q "node roof: refused a second session" "$WORK/sched.err"; }
wait_for "the second session refused" 10 refused
wait "$STREAM"
grep -q '"finish_reason":"length"' "$WORK/stream.sse" || fail "the first process's stream: $(tail -c 300 "$WORK/stream.sse")"
grep -q "resuming from token" "$WORK/sched.err" && fail "the second process knocked the job back to the queue"
[ "$(metric 'weft_http_requests_total{route="node_hello",status="409"}')" -ge 1 ] ||
    fail "no 409 for the second hello"
# The first dies: the second is taken.
kill -9 "$FIRST"
second_serves() {
    api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"max_tokens":2}' |
        tail -n 1 | grep -qx 200
}
wait_for "the second process serving" 15 second_serves
weft_finish
