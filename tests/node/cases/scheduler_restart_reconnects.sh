#!/bin/bash
# The scheduler dies twice, a job accepted between: the node reconnects and the
# job completes.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
one_home
wait_status a 'd["scheduler"]["state"]' live
stop_sched_hard
wait_status a 'd["scheduler"]["state"] != "live"' True 6
# Accepted while the node is away, then the scheduler comes back.
SCHED_PORT=$PORT start_sched
out=$(api POST /v1/jobs '{"endpoint":"/v1/completions","request":{"model":"stories260K","prompt":"Once","max_tokens":8}}')
id=$(body_of "$out" | json 'd["id"]')
stop_sched_hard
SCHED_PORT=$PORT start_sched
wait_status a 'd["scheduler"]["state"]' live 20
wait_job "$id" succeeded 10
weft_finish
