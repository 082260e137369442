#!/bin/bash
# A cloud over one home mid-stream: its node yields, another home's node
# resumes, and the text is the undisturbed run's.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
REQ='{"model":"stories260K","prompt":"Once upon a time","max_tokens":60,"temperature":0.9,"seed":4242,"stream":true}'
two_homes
wait_status a 'd["policy"]["state"]' on
wait_status a 'd["scheduler"]["state"]' live
wait_ready a # preferred, and parked: the request goes to it
(stream /v1/completions "$REQ" --repr > "$WORK/got" 2> "$WORK/got.err") &
spid=$!
wait_status a 'd["job"] is not None' True 5
mbw a 40503 0 # a cloud over home a only
wait "$spid" || fail "stream through a yield: $(cat "$WORK/got.err")"
got=$(cat "$WORK/got")
[ "$got" = "$ref" ] || fail "after a yield: $got != $ref"
grep -q "yielding" "$WORK/node-a.err" || fail "node a did not yield"
grep -q "node yielded" "$WORK/sched.err" || fail "scheduler did not see a yield"
weft_finish
