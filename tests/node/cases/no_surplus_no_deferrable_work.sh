#!/bin/bash
# No surplus, no deferrable work; the sun comes out, and after the enable delay
# the node takes the queued job.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
start_sched
KEY=$(new_key t)
start_home a
mbw a 40503 0 # a dark sky before the node starts
start_weftd a
wait_status a 'd["scheduler"]["state"]' live
wait_status a 'd["policy"]["takes_deferrable"]' False
out=$(api POST /v1/jobs '{"endpoint":"/v1/completions","request":{"model":"stories260K","prompt":"Once","max_tokens":10}}')
id=$(body_of "$out" | json 'd["id"]')
wait_two_heartbeats # the node had its chance to take it
job_is "$id" queued || fail "ran without surplus: $(job_status "$id")"
status a 'd["policy"]["reason"]' | grep -q "not enough surplus" || fail "reason: $(status a 'd["policy"]["reason"]')"
# The sun comes out: after the 1 s enable delay the node takes it.
mbw a 40503 100
wait_job "$id" succeeded 10
grep -q "policy: starting" "$WORK/node-a.err" || fail "no enable delay seen"
weft_finish
