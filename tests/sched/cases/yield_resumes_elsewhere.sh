#!/bin/bash
# A node loses its power budget mid-job and yields it: another node resumes it
# from the token where it stopped, with the same text as without the yield.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
REQ='{"model":"test-model","messages":[{"role":"user","content":"tell me about the sun"}],"max_tokens":24,"seed":1234,"stream":true}'
start_sched
KEY=$(new_key dev)
ADMIN=$(new_key ops --admin)
start_testnode steady --budget-w 100 --token-ms 2
wait_nodes 1
ref=$(stream /v1/chat/completions "$REQ") || fail "reference run"
# A node that loses its budget after 9 tokens of each job gives it back.
start_testnode cloudy --budget-w 900 --yield-after 9 --token-ms 5
wait_nodes 2
wait_ready cloudy # preferred, and parked: the request goes to it
got=$(stream /v1/chat/completions "$REQ") || fail "stream through a yield"
[ "$got" = "$ref" ] || fail "after a yield: '$got' != '$ref'"
grep -q "resuming from token 9 (node yielded" "$WORK/sched.err" || fail "no yield resume"
weft_finish
