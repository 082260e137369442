#!/bin/bash
# The Batch API with curl: a JSONL file uploaded as multipart/form-data
# and read back byte for byte; bad uploads and bad lines refused, naming
# the line; a batch that waits for surplus, survives a scheduler killed
# with -9, and completes with an output file keyed by custom_id; cancel
# and expiry with their error files; keys see only their own.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_sched
KEY=$(new_key dev)
OTHER=$(new_key other)
line() { # line CUSTOM_ID CONTENT [URL]
    printf '{"custom_id":"%s","method":"POST","url":"%s","body":{"model":"test-model","messages":[{"role":"user","content":"%s"}],"max_tokens":4}}\n' \
        "$1" "${3:-/v1/chat/completions}" "$2"
}
upload() { # upload FILE [PURPOSE]: the body, then the status
    curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -F "purpose=${2:-batch}" \
        -F "file=@$1" -w '\n%{http_code}' "$URL/v1/files"
}
# CRLF line ends and a blank last line are fine.
{ line a "one"; line b "two two"; printf '\r\n'; line c "three"; } | sed 's/}$/}\r/' > "$WORK/in.jsonl"
out=$(upload "$WORK/in.jsonl")
expect_status 200 "$out" "upload"
fid=$(body_of "$out" | json 'd["id"]')
[ "$(body_of "$out" | json 'd["bytes"]')" = "$(stat -c %s "$WORK/in.jsonl")" ] || fail "bytes: $out"
[ "$(body_of "$out" | json 'd["filename"]')" = in.jsonl ] || fail "filename: $out"
curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" "$URL/v1/files/$fid/content" > "$WORK/back"
cmp "$WORK/in.jsonl" "$WORK/back" || fail "the content came back changed"
out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $OTHER" -w '\n%{http_code}' "$URL/v1/files/$fid")
expect_status 404 "$out" "another key's file"
# Bad uploads.
out=$(upload "$WORK/in.jsonl" fine-tune)
expect_status 400 "$out" "purpose fine-tune"
out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -F purpose=batch -w '\n%{http_code}' "$URL/v1/files")
expect_status 400 "$out" "no file part"
out=$(api POST /v1/files '{"purpose":"batch"}')
expect_status 400 "$out" "JSON instead of a form"
body_of "$out" | grep -q multipart/form-data || fail "reason: $out"
head -c 40000000 /dev/zero > "$WORK/big"
out=$(upload "$WORK/big")
expect_status 413 "$out" "over max_file_bytes"
out=$(curl -s --cacert "$CA" -F purpose=batch -F "file=@$WORK/in.jsonl" -w '\n%{http_code}' "$URL/v1/files")
expect_status 401 "$out" "upload without a key"
# Bad lines are refused with the line's number; nothing is queued.
bad_batch() { # bad_batch FILE WANT_IN_MESSAGE
    local o f
    o=$(upload "$1")
    f=$(body_of "$o" | json 'd["id"]')
    o=$(api POST /v1/batches '{"input_file_id":"'"$f"'","endpoint":"/v1/chat/completions","completion_window":"24h"}')
    expect_status 400 "$o" "batch of $1"
    body_of "$o" | json 'd["error"]["message"]' | grep -q "$2" || fail "$1: $o"
}
{ line a x; line a y; } > "$WORK/dup.jsonl"
bad_batch "$WORK/dup.jsonl" "Line 2: custom_id 'a' is used twice"
{ line a x; line b y /v1/completions; } > "$WORK/url.jsonl"
bad_batch "$WORK/url.jsonl" "Line 2: 'url' must be the batch's endpoint"
{ line a x; echo '{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[],"logit_bias":{"1":2}}}'; } > "$WORK/body.jsonl"
bad_batch "$WORK/body.jsonl" "Line 2:"
{ line a x; echo 'not json'; } > "$WORK/json.jsonl"
bad_batch "$WORK/json.jsonl" "Line 2: We could not parse"
out=$(api POST /v1/batches '{"input_file_id":"'"$fid"'","endpoint":"/v1/embeddings","completion_window":"24h"}')
expect_status 400 "$out" "embeddings endpoint"
out=$(api POST /v1/batches '{"input_file_id":"file-nope","endpoint":"/v1/chat/completions","completion_window":"24h"}')
expect_status 400 "$out" "unknown file"
[ "$(api GET /v1/jobs | head -n 1 | json 'len(d["data"])')" = 0 ] || fail "a refused batch queued jobs"
# A batch waits for surplus: a node without it does not run it.
start_testnode nosun --no-deferrable
wait_nodes 1
out=$(api POST /v1/batches '{"input_file_id":"'"$fid"'","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"run":"nightly"}}')
expect_status 200 "$out" "batch create"
bid=$(body_of "$out" | json 'd["id"]')
[ "$(body_of "$out" | json 'd["request_counts"]["total"]')" = 3 ] || fail "counts: $out"
[ "$(body_of "$out" | json 'd["metadata"]["run"]')" = nightly ] || fail "metadata: $out"
out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $OTHER" -w '\n%{http_code}' "$URL/v1/batches/$bid")
expect_status 404 "$out" "another key's batch"
wait_two_heartbeats
batch() { api GET "/v1/batches/$1" | head -n 1; }
[ "$(batch "$bid" | json 'd["status"]')" = in_progress ] || fail "ran without surplus: $(batch "$bid")"
# A scheduler killed with -9 loses none of it.
stop_sched_hard
SCHED_PORT=$PORT start_sched
[ "$(batch "$bid" | json 'd["request_counts"]["total"]')" = 3 ] || fail "after restart: $(batch "$bid")"
start_testnode sunny
batch_is() { [ "$(batch "$1" | json 'd["status"]')" = "$2" ]; }
wait_for "batch completed" 20 batch_is "$bid" completed
b=$(batch "$bid")
[ "$(json 'd["request_counts"]["completed"]' <<< "$b")" = 3 ] || fail "counts: $b"
[ "$(json 'd["error_file_id"]' <<< "$b")" = None ] || fail "error file: $b"
[ "$(json 'd["completed_at"] >= d["created_at"]' <<< "$b")" = True ] || fail "times: $b"
oid=$(json 'd["output_file_id"]' <<< "$b")
api GET "/v1/files/$oid/content" | sed '$d' > "$WORK/out.jsonl"
/usr/bin/python3 - "$WORK/out.jsonl" <<'PY' || fail "output: $(cat "$WORK/out.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert sorted(r["custom_id"] for r in rows) == ["a", "b", "c"], rows
for r in rows:
    assert r["error"] is None and r["response"]["status_code"] == 200, r
    body = r["response"]["body"]
    assert body["object"] == "chat.completion", body
    assert len(body["choices"][0]["message"]["content"].split()) == 4, body
PY
# A second read finalizes nothing again: the same output file.
[ "$(batch "$bid" | json 'd["output_file_id"]')" = "$oid" ] || fail "output file changed"
# Cancel: queued lines end cancelled, in the error file; a second cancel is refused.
kill -9 "$NODE_PID"
wait_nodes 1
{ line x one; line y two; } > "$WORK/c.jsonl"
cf=$(upload "$WORK/c.jsonl" | head -n 1 | json 'd["id"]')
cb=$(api POST /v1/batches '{"input_file_id":"'"$cf"'","endpoint":"/v1/chat/completions","completion_window":"24h"}' | head -n 1 | json 'd["id"]')
out=$(api POST "/v1/batches/$cb/cancel")
expect_status 200 "$out" "cancel"
[ "$(body_of "$out" | json 'd["status"]')" = cancelled ] || fail "cancel: $out"
eid=$(body_of "$out" | json 'd["error_file_id"]')
[ "$(api GET "/v1/files/$eid/content" | sed '$d' | grep -c '"code":"batch_cancelled"')" = 2 ] ||
    fail "error file: $(api GET "/v1/files/$eid/content")"
out=$(api POST "/v1/batches/$cb/cancel")
expect_status 409 "$out" "cancel twice"
# Expiry: a window nobody can meet.
{ line e one; } > "$WORK/e.jsonl"
ef=$(upload "$WORK/e.jsonl" | head -n 1 | json 'd["id"]')
eb=$(api POST /v1/batches '{"input_file_id":"'"$ef"'","endpoint":"/v1/chat/completions","completion_window":"2s"}' | head -n 1 | json 'd["id"]')
wait_for "batch expired" 15 batch_is "$eb" expired
eid=$(batch "$eb" | json 'd["error_file_id"]')
api GET "/v1/files/$eid/content" | head -n 1 | json 'd["error"]["code"]' | grep -q batch_expired ||
    fail "expired error file"
# Lists: newest first, paged.
page=$(api GET "/v1/batches?limit=2" | head -n 1)
[ "$(json '[b["id"] for b in d["data"]]' <<< "$page")" = "['$eb', '$cb']" ] || fail "list: $page"
[ "$(json 'd["has_more"]' <<< "$page")" = True ] || fail "has_more: $page"
page=$(api GET "/v1/batches?limit=2&after=$cb" | head -n 1)
[ "$(json '[b["id"] for b in d["data"]]' <<< "$page")" = "['$bid']" ] || fail "page 2: $page"
n=$(api GET "/v1/files?purpose=batch_output" | head -n 1 | json 'len(d["data"])')
[ "$n" = 3 ] || fail "output files: $n"
out=$(api DELETE "/v1/files/$fid")
expect_status 200 "$out" "delete"
out=$(api GET "/v1/files/$fid")
expect_status 404 "$out" "deleted file"
# The finished batch still reads, its input file gone.
[ "$(batch "$bid" | json 'd["status"]')" = completed ] || fail "after delete"
weft_finish
