#!/bin/bash
# weftd killed (SIGKILL) mid-stream: another node resumes and the text is the
# undisturbed run's.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
REQ='{"model":"stories260K","prompt":"Once upon a time","max_tokens":60,"temperature":0.9,"seed":4242,"stream":true}'
stream_on_a 10
kill -9 "$NODE_PID"
same_text "through kill -9"
grep -q "node a is gone" "$WORK/sched.err" || fail "death not seen"
weft_finish
