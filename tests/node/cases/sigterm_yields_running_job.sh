#!/bin/bash
# weftd stopped (SIGTERM) mid-stream: it yields its job, exits 0 within the
# bound, and the text is the undisturbed run's.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
REQ='{"model":"stories260K","prompt":"Once upon a time","max_tokens":60,"temperature":0.9,"seed":4242,"stream":true}'
two_homes
leaving=$NODE_PID
wait_status a 'd["policy"]["state"]' on
wait_status a 'd["scheduler"]["state"]' live
wait_ready a # preferred, and parked: the request goes to it
(stream /v1/completions "$REQ" --repr > "$WORK/got" 2> "$WORK/got.err") &
spid=$!
wait_status a 'd["job"] is not None and d["job"]["tokens"] > 10' True 5
t0=$(date +%s%N)
kill -TERM "$leaving"
wait "$leaving"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 0 ] || fail "weftd exit status $rc on SIGTERM"
[ "$ms" -lt 10000 ] || fail "weftd took $ms ms to stop"
wait "$spid" || fail "stream through a stop: $(cat "$WORK/got.err")"
got=$(cat "$WORK/got")
[ "$got" = "$ref" ] || fail "after SIGTERM: $got != $ref"
grep -q "stopping: yielding job" "$WORK/node-a.err" || fail "no yield on stop"
grep -q "node yielded" "$WORK/sched.err" || fail "the scheduler saw no yield"
weft_finish
