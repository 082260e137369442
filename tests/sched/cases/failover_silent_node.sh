#!/bin/bash
# A node freezes (SIGSTOP) mid-stream with its connections open: the heartbeat
# lease runs out, the job moves, and the text is the undisturbed run's.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
REQ='{"model":"test-model","messages":[{"role":"user","content":"tell me about the sun"}],"max_tokens":24,"seed":1234,"stream":true}'
# SIGSTOP after 5 tokens: connections stay open, heartbeats stop. The lease
# (3 x 200 ms) runs out and the job moves.
failover_run frozen --freeze-after 5 --token-ms 10
[ "$(cat "$WORK/count")" = 24 ] || fail "token events: $(cat "$WORK/count")"
grep -q "node frozen is gone: no heartbeat for" "$WORK/sched.err" || fail "silence not seen"
weft_finish
