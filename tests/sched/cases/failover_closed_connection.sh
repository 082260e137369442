#!/bin/bash
# A node crashes (SIGKILL) mid-stream: its connection closes, the job resumes on
# another node from the client's tokens, and the client's text is the
# undisturbed run's, every token once.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
REQ='{"model":"test-model","messages":[{"role":"user","content":"tell me about the sun"}],"max_tokens":24,"seed":1234,"stream":true}'
# A node with more budget takes the request and is killed (SIGKILL) after 7
# tokens; the request must finish on the steady node.
failover_run crashy --die-after 7 --token-ms 10
[ "$(cat "$WORK/count")" = 24 ] || fail "token events: $(cat "$WORK/count")"
grep -q "node crashy is gone: .*connection closed" "$WORK/sched.err" ||
    fail "crash not seen as a closed connection"
grep -q "resuming from token 7" "$WORK/sched.err" || fail "did not resume at token 7"
[ "$(metric 'weft_failovers_total{cause="connection_closed"}')" = 1 ] || fail "failover metric"
# The client can tell: the last chunk's weft object names both nodes.
[ "$(final_weft 'w["resumed"], w["attempts"], w["nodes"]')" = "(True, 2, ['crashy', 'steady'])" ] ||
    fail "weft object: $(final_weft 'w')"
weft_finish
