#!/bin/bash
# weftctl store migrate: a SQLite scheduler's keys, node tokens, finished and
# queued jobs move to PostgreSQL. The old key and node token work on a
# scheduler of the shared store, the finished job keeps its result, the queued
# ones complete there, a queued batch and its file move and complete there,
# and a second migration copies nothing.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_sched
KEY=$(new_key dev)
TOKEN=$(enroll roof)
start_testnode other --token-ms 1
wait_nodes 1
out=$(api POST /v1/jobs '{"completion_window":"1h","request":{"model":"test-model","messages":[{"role":"user","content":"before"}],"max_tokens":5}}')
expect_status 202 "$out" "first job"
done_id=$(body_of "$out" | json 'd["id"]')
wait_job "$done_id" succeeded
result=$(api GET "/v1/jobs/$done_id" | head -n 1 | json 'd["result"]["choices"][0]["message"]["content"]')
kill -9 "$NODE_PID"
ids=()
for i in 1 2 3; do
    out=$(api POST /v1/jobs '{"completion_window":"1h","request":{"model":"test-model","messages":[{"role":"user","content":"queued '$i'"}],"max_tokens":5}}')
    expect_status 202 "$out" "queued job $i"
    ids+=("$(body_of "$out" | json 'd["id"]')")
done
# A batch of two lines, queued: its file, its row and its lines move too.
for c in a b; do
    echo '{"custom_id":"'$c'","method":"POST","url":"/v1/completions","body":{"model":"test-model","prompt":"'$c'","max_tokens":3}}'
done > "$WORK/in.jsonl"
fid=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -F purpose=batch -F "file=@$WORK/in.jsonl" \
    "$URL/v1/files" | json 'd["id"]')
out=$(api POST /v1/batches '{"input_file_id":"'"$fid"'","endpoint":"/v1/completions","completion_window":"1h"}')
expect_status 200 "$out" "batch"
bid=$(body_of "$out" | json 'd["id"]')
stop_sched_hard

start_pg
"$BIN/weftctl" --state-dir "$WORK/sched" store migrate --to "$PG_URI" > "$WORK/migrate.out" 2>&1 ||
    fail "migrate: $(cat "$WORK/migrate.out")"
grep -q "copied 1 keys, 2 nodes, 2 node limits, 6 jobs, 1 files, 1 batches (0 rows were there already)" "$WORK/migrate.out" ||
    fail "first migration: $(cat "$WORK/migrate.out")"
"$BIN/weftctl" --state-dir "$WORK/sched" store migrate --to "$PG_URI" > "$WORK/migrate2.out" 2>&1 ||
    fail "second migrate: $(cat "$WORK/migrate2.out")"
grep -q "copied 0 keys, 0 nodes, 2 node limits, 0 jobs, 0 files, 0 batches (11 rows were there already)" \
    "$WORK/migrate2.out" || fail "second migration: $(cat "$WORK/migrate2.out")"

start_region 1
URL=${RURL[1]}
[ "$(api GET "/v1/jobs/$done_id" | head -n 1 | json 'd["result"]["choices"][0]["message"]["content"]')" = "$result" ] ||
    fail "the finished job's result did not move"
"$TBIN/testnode" --url "$URL" --token "$TOKEN" --cacert "$CA" --token-ms 1 2>> "$WORK/node-roof.err" &
PIDS+=("$!")
for id in "${ids[@]}"; do
    wait_job "$id" succeeded 20
done
batch_done() { [ "$(api GET "/v1/batches/$bid" | head -n 1 | json 'd["request_counts"]["completed"]')" = 2 ]; }
wait_for "the batch completed on PostgreSQL" 20 batch_done
curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" "$URL/v1/files/$fid/content" |
    cmp - "$WORK/in.jsonl" || fail "the input file changed"
bad=$(psql "$PG_URI" -Atc "select count(*) from jobs where completions <> 1")
[ "$bad" = 0 ] || fail "$bad jobs without exactly one completion"
weft_finish
