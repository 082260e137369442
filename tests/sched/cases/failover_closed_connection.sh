#!/bin/bash
# A node crashes (SIGKILL) mid-stream: its connection closes, the job resumes on
# another node from the client's tokens, and the client's text is the
# undisturbed run's, every token once.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
REQ='{"model":"test-model","messages":[{"role":"user","content":"tell me about the sun"}],"max_tokens":24,"seed":1234,"stream":true}'
start_sched
KEY=$(new_key dev)
ADMIN=$(new_key ops --admin)
# The undisturbed run, on a healthy node.
start_testnode steady --budget-w 100 --token-ms 2
wait_nodes 1
ref=$(stream /v1/chat/completions "$REQ") || fail "reference run"
# A node with more budget takes the next request and is killed (SIGKILL)
# after 7 tokens; the request must finish on the steady node.
start_testnode crashy --budget-w 900 --die-after 7 --token-ms 10
wait_nodes 2
wait_ready crashy # preferred, and parked: the request goes to it
got=$(stream /v1/chat/completions "$REQ" 2> "$WORK/count") || fail "stream through a crash"
[ "$got" = "$ref" ] || fail "after a crash: '$got' != '$ref'"
[ "$(cat "$WORK/count")" = 24 ] || fail "token events: $(cat "$WORK/count")"
grep -q "node crashy is gone: .*connection closed" "$WORK/sched.err" ||
    fail "crash not seen as a closed connection"
grep -q "resuming from token 7" "$WORK/sched.err" || fail "did not resume at token 7"
curl -s --cacert "$CA" "$URL/metrics" | grep -q 'weft_failovers_total{cause="connection_closed"} 1' ||
    fail "failover metric"
weft_finish
