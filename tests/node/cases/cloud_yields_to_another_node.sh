#!/bin/bash
# A cloud over one home mid-stream: its node yields, another home's node
# resumes, and the text is the undisturbed run's.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
REQ='{"model":"stories260K","prompt":"Once upon a time","max_tokens":60,"temperature":0.9,"seed":4242,"stream":true}'
stream_on_a -1
mbw a 40503 0 # a cloud over home a only
same_text "through a yield"
grep -q "yielding" "$WORK/node-a.err" || fail "node a did not yield"
grep -q "node yielded" "$WORK/sched.err" || fail "scheduler did not see a yield"
weft_finish
