#!/bin/bash
# The meter stops answering: within the stale timeout the budget is 0 with the
# reason shown, and queued work is not taken.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
one_home
wait_status a 'd["policy"]["takes_deferrable"]' True
mbw a 40502 1 # the meter stops answering
# Within the 2 s stale timeout (+ a poll) the budget is 0, and why.
wait_status a 'd["policy"]["budget_w"]' 0 4
wait_status a 'd["policy"]["takes_deferrable"]' False
status a 'd["policy"]["reason"]' | grep -qiE "stale|missing" ||
    fail "reason: $(status a 'd["policy"]["reason"]')"
status a 'd["energy"]["error"]' | grep -q "timed out" || fail "energy error: $(status a 'd["energy"]["error"]')"
out=$(api POST /v1/jobs '{"endpoint":"/v1/completions","request":{"model":"stories260K","prompt":"Once","max_tokens":5}}')
id=$(body_of "$out" | json 'd["id"]')
wait_two_heartbeats # the node had its chance to take it
job_is "$id" queued || fail "work taken with a silent meter: $(job_status "$id")"
weft_finish
