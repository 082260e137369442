#!/bin/bash
# A node freezes (SIGSTOP) mid-stream with its connections open: the heartbeat
# lease runs out, the job moves, and the text is the undisturbed run's.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
REQ='{"model":"test-model","messages":[{"role":"user","content":"tell me about the sun"}],"max_tokens":24,"seed":1234,"stream":true}'
start_sched
KEY=$(new_key dev)
ADMIN=$(new_key ops --admin)
start_testnode steady --budget-w 100 --token-ms 2
wait_nodes 1
ref=$(stream /v1/chat/completions "$REQ") || fail "reference run"
# SIGSTOP after 5 tokens: connections stay open, heartbeats stop. The
# lease (3 x 200 ms) runs out and the job moves.
start_testnode frozen --budget-w 900 --freeze-after 5 --token-ms 10
wait_nodes 2
wait_ready frozen # preferred, and parked: the request goes to it
got=$(stream /v1/chat/completions "$REQ" 2> "$WORK/count") || fail "stream through a freeze"
[ "$got" = "$ref" ] || fail "after a freeze: '$got' != '$ref'"
[ "$(cat "$WORK/count")" = 24 ] || fail "token events: $(cat "$WORK/count")"
grep -q "node frozen is gone: no heartbeat for" "$WORK/sched.err" || fail "silence not seen"
weft_finish
