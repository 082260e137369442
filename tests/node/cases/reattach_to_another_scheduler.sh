#!/bin/bash
# weftd's scheduler dies (kill -9) while weftd runs a job: weftd says hello
# to the next scheduler of the region (one PostgreSQL) and re-attaches the
# job's upload there. The job is taken over at the next token, not run again
# (no new assignment of it), and its text is an undisturbed run's.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
start_pg
HEARTBEAT_MS=300 start_region 2
KEY=$(new_key t)
start_home a
start_weftd a '{"scheduler":{"urls":["'"${RURL[1]}"'","'"${RURL[2]}"'"]}}'
wait_status a 'd["policy"]["state"]' on 10
wait_status a 'd["scheduler"]["url"]' "${RURL[1]}"
JOB='{"endpoint":"/v1/completions","completion_window":"1h","request":{"model":"stories260K","prompt":"Once upon a time","max_tokens":150,"temperature":0.9,"seed":77}}'
URL=${RURL[1]}
out=$(api POST /v1/jobs "$JOB")
expect_status 202 "$out" "the job"
id=$(body_of "$out" | json 'd["id"]')
wait_status a "d['job'] is not None and d['job']['tokens'] > 15" True 20
stop_region_sched 1
URL=${RURL[2]}
wait_job "$id" succeeded 30
grep -q "job $id: re-attaching its upload" "$WORK/node-a.err" || fail "weftd did not re-attach"
grep -q "job $id: adopted from node a" "$WORK/s2.err" || fail "scheduler 2 did not adopt the job"
if grep -q "job $id -> node" "$WORK/s2.err"; then
    fail "scheduler 2 ran the job again instead of taking it over"
fi
got=$(api GET "/v1/jobs/$id" | head -n 1 | json 'd["result"]["choices"][0]["text"]')
out=$(api POST /v1/jobs "$JOB")
expect_status 202 "$out" "the reference job"
ref_id=$(body_of "$out" | json 'd["id"]')
wait_job "$ref_id" succeeded 30
ref=$(api GET "/v1/jobs/$ref_id" | head -n 1 | json 'd["result"]["choices"][0]["text"]')
[ -n "$ref" ] && [ "$got" = "$ref" ] || fail "re-attached text differs: '$got' != '$ref'"
weft_finish
