#!/bin/bash
# PostgreSQL goes away under a running scheduler: a stream already under way
# finishes, /healthz and /metrics say the store is unreachable, new jobs and
# new streams get 503 (never a 2xx without a durable write), the scheduler
# stays up; when the database is back, new work is accepted and runs.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_pg
start_region 1
KEY=$(new_key dev) || fail "key"
URL=${RURL[1]}
start_testnode home --token-ms 25
wait_nodes 1
store_is() { [ "$(healthz | json 'd["store"]')" = "$1" ]; }
wait_for "store ok" 10 store_is ok
JOB='{"completion_window":"1h","request":{"model":"test-model","messages":[{"role":"user","content":"x"}],"max_tokens":4}}'
REQ='{"model":"test-model","max_tokens":60,"stream":true,"messages":[{"role":"user","content":"during an outage"}]}'
(stream /v1/chat/completions "$REQ" > "$WORK/during.txt" 2> "$WORK/during.count") &
SPID=$!
wait_metric weft_tokens_total 5
pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop > /dev/null 2>&1
wait_for "store unreachable" 10 store_is unreachable
[ "$(metric weft_store_up)" = 0 ] || fail "weft_store_up is not 0 during the outage"
out=$(api POST /v1/jobs "$JOB")
expect_status 503 "$out" "a job during the outage"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d "$REQ" "$URL/v1/chat/completions")
[ "$code" = 503 ] || fail "a stream during the outage got $code"
wait "$SPID" || fail "the stream under way broke"
[ "$(cat "$WORK/during.count")" = 60 ] || fail "the stream under way got $(cat "$WORK/during.count") tokens"
pg_start
wait_for "store ok again" 15 store_is ok
[ "$(metric weft_store_up)" = 1 ] || fail "weft_store_up is not 1 after the outage"
out=$(api POST /v1/jobs "$JOB")
expect_status 202 "$out" "a job after the outage"
wait_job "$(body_of "$out" | json 'd["id"]')" succeeded
weft_finish
