#!/bin/bash
# weftd stopped (SIGTERM) mid-stream: it yields its job, exits 0 within the
# bound, and the text is the undisturbed run's.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
REQ='{"model":"stories260K","prompt":"Once upon a time","max_tokens":60,"temperature":0.9,"seed":4242,"stream":true}'
stream_on_a 10
t0=$(date +%s%N)
kill -TERM "$NODE_PID"
wait "$NODE_PID"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 0 ] || fail "weftd exit status $rc on SIGTERM"
[ "$ms" -lt 10000 ] || fail "weftd took $ms ms to stop"
same_text "through a stop"
grep -q "stopping: yielding job" "$WORK/node-a.err" || fail "no yield on stop"
grep -q "node yielded" "$WORK/sched.err" || fail "the scheduler saw no yield"
weft_finish
