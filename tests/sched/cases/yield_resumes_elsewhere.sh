#!/bin/bash
# A node loses its power budget mid-job and yields it: another node resumes it
# from the token where it stopped, with the same text as without the yield.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
REQ='{"model":"test-model","messages":[{"role":"user","content":"tell me about the sun"}],"max_tokens":24,"seed":1234,"stream":true}'
# A node that loses its budget after 9 tokens of each job gives it back.
failover_run cloudy --yield-after 9 --token-ms 5
grep -q "resuming from token 9 (node yielded" "$WORK/sched.err" || fail "no yield resume"
weft_finish
