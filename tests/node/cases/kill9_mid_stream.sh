#!/bin/bash
# weftd killed (SIGKILL) mid-stream: another node resumes and the text is the
# undisturbed run's.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
REQ='{"model":"stories260K","prompt":"Once upon a time","max_tokens":60,"temperature":0.9,"seed":4242,"stream":true}'
two_homes
victim=$NODE_PID
wait_status a 'd["policy"]["state"]' on
wait_status a 'd["scheduler"]["state"]' live
wait_ready a # preferred, and parked: the request goes to it
(stream /v1/completions "$REQ" --repr > "$WORK/got" 2> "$WORK/got.err") &
spid=$!
wait_status a 'd["job"] is not None and d["job"]["tokens"] > 10' True 5
kill -9 "$victim"
wait "$spid" || fail "stream through kill -9: $(cat "$WORK/got.err")"
got=$(cat "$WORK/got")
[ "$got" = "$ref" ] || fail "after kill -9: $got != $ref"
grep -q "node a is gone" "$WORK/sched.err" || fail "death not seen"
weft_finish
