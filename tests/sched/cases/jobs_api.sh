#!/bin/bash
# The job API: create with an Idempotency-Key (a replay gets the same job),
# keys see only their jobs, deferrable work waits for surplus, paging, a
# deadline that passes, cancelling, and bad job bodies.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_sched
KEY=$(new_key dev)
OTHER=$(new_key other)
job='{"endpoint":"/v1/chat/completions","completion_window":"1h","request":{"model":"test-model","messages":[{"role":"user","content":"batch me"}],"max_tokens":5,"seed":9}}'
out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Idempotency-Key: k1' \
    -d "$job" -w '\n%{http_code}' "$URL/v1/jobs")
expect_status 202 "$out" "job create"
id=$(body_of "$out" | json 'd["id"]')
[ "$(body_of "$out" | json 'd["status"]')" = queued ] || fail "not queued"
out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Idempotency-Key: k1' \
    -d "$job" -w '\n%{http_code}' "$URL/v1/jobs")
expect_status 200 "$out" "idempotent replay"
[ "$(body_of "$out" | json 'd["id"]')" = "$id" ] || fail "new id on replay"
# Another key neither sees nor cancels it.
out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $OTHER" -w '\n%{http_code}' "$URL/v1/jobs/$id")
expect_status 404 "$out" "other key's job"
# Deferrable work waits for surplus: a node without it does not get it.
start_testnode nosun --no-deferrable
wait_nodes 1
wait_two_heartbeats # the node said it has no surplus; the job was not placed
job_is "$id" queued || fail "ran without surplus: $(job_status "$id")"
start_testnode sunny
wait_nodes 2
wait_job "$id" succeeded
r=$(api GET "/v1/jobs/$id" | head -n 1)
[ "$(json 'len(d["result"]["choices"][0]["message"]["content"].split())' <<< "$r")" = 5 ] ||
    fail "result: $r"
out=$(api DELETE "/v1/jobs/$id")
expect_status 409 "$out" "cancel a finished job"
# Paging: 5 more jobs, pages of 2.
for i in 1 2 3 4 5; do
    api POST /v1/jobs '{"completion_window":"1h","request":{"model":"test-model","messages":[{"role":"user","content":"p'$i'"}],"max_tokens":2}}' > /dev/null
done
seen=0 after=""
for _ in 1 2 3 4; do
    page=$(api GET "/v1/jobs?limit=2${after:+&after=$after}" | head -n 1)
    n=$(json 'len(d["data"])' <<< "$page")
    seen=$((seen + n))
    [ "$(json 'd["has_more"]' <<< "$page")" = True ] || break
    after=$(json 'd["last_id"]' <<< "$page")
done
[ "$seen" = 6 ] || fail "paging saw $seen jobs, want 6"
# A job nobody can run before its deadline expires with a clear status.
kill -9 "$NODE_PID"
soon=$(($(date +%s) + 2))
out=$(api POST /v1/jobs '{"deadline":'"$soon"',"request":{"model":"test-model","messages":[{"role":"user","content":"late"}]}}')
expect_status 202 "$out" "deadline job"
did=$(body_of "$out" | json 'd["id"]')
wait_job "$did" expired 10
d=$(api GET "/v1/jobs/$did" | head -n 1)
[ "$(json 'd["status"]' <<< "$d")" = expired ] || fail "deadline: $d"
json 'd["error"]["message"]' <<< "$d" | grep -q "before its deadline" || fail "reason: $d"
# Cancelling a queued job.
out=$(api POST /v1/jobs '{"request":{"model":"test-model","prompt":"never"},"endpoint":"/v1/completions"}')
cid=$(body_of "$out" | json 'd["id"]')
out=$(api DELETE "/v1/jobs/$cid")
expect_status 200 "$out" "cancel"
[ "$(body_of "$out" | json 'd["status"]')" = cancelled ] || fail "cancel: $out"
# Bad job bodies.
out=$(api POST /v1/jobs '{"completion_window":"soon","request":{"model":"m","prompt":"x"}}')
expect_status 400 "$out" "bad window"
out=$(api POST /v1/jobs '{"request":{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}}')
expect_status 400 "$out" "streamed job"
weft_finish
