#!/bin/bash
# A streamed completion outlives its scheduler: three schedulers on one
# PostgreSQL, a client (the official openai npm client, wrapped by
# tests/sched/js/resumable.mjs) streams through the first, which is killed
# with kill -9 mid-stream. The client resumes on the next scheduler with
# GET /v1/jobs/{id}/stream?after=N; its text must be exactly the text of an
# undisturbed run of the same request. Then the finished stream is read
# again from a token in the middle.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
js="$LIB/../sched/js"
[ -d "$js/node_modules/openai" ] ||
    skip "the openai npm package is not installed (scripts/install-deps installs it)"
start_pg
start_region 3
KEY=$(new_key dev) || fail "key"
for n in 1 2 3; do
    URL=$(region_urls "$n") start_testnode "home-$n" --token-ms 50 --concurrency 2
done
MAX=40
REQ='{"model":"test-model","max_tokens":'$MAX',"seed":4242,"stream":true,
      "messages":[{"role":"user","content":"a stream that outlives its scheduler"}]}'
URL=${RURL[3]}
wait_for "a node on scheduler 3" 10 nodes_are 1
ref=$(stream /v1/chat/completions "$REQ" 2>/dev/null) || fail "reference run"
[ -n "$ref" ] || fail "empty reference"
URL=${RURL[1]}
wait_for "a node on scheduler 1" 10 nodes_are 1
NODE_EXTRA_CA_CERTS="$CA" WEFT_URLS="$(region_urls 1)" WEFT_KEY="$KEY" WEFT_SEED=4242 \
    WEFT_MAX_TOKENS=$MAX WEFT_PROGRESS="$WORK/progress" \
    timeout 60 node "$js/resume_test.mjs" > "$WORK/js.out" 2> "$WORK/js.err" &
JS=$!
chunks_at_least() { [ "$(cat "$WORK/progress" 2>/dev/null || echo 0)" -ge "$1" ]; }
wait_for "the stream under way on scheduler 1" 20 chunks_at_least 8
stop_region_sched 1
wait "$JS" || fail "the client failed: $(tail -n 5 "$WORK/js.err")"
grep -q "^resuming on" "$WORK/js.err" || fail "the client never resumed: $(cat "$WORK/js.err")"
got=$(cat "$WORK/js.out")
[ "$got" = "$ref" ] || fail "resumed text differs:
  got: $got
  ref: $ref"
# Read it again, finished, from token 10 on: the tail of the same text.
id=$(psql "$PG_URI" -Atc "select id from jobs where id like 'chatcmpl-%' and state = 2 and
    request like '%outlives%' order by created_ms desc limit 1")
[ -n "$id" ] || fail "the stream's job is not in the store"
URL=${RURL[2]}
whole=$(curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" "$URL/v1/jobs/$id/stream?after=0" |
    /usr/bin/python3 "$LIB/weftjson.py" sse 2>/dev/null)
[ "$whole" = "$ref" ] || fail "replay from 0: '$whole' != '$ref'"
tail10=$(curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" "$URL/v1/jobs/$id/stream?after=10" |
    /usr/bin/python3 "$LIB/weftjson.py" sse 2>/dev/null)
[ -n "$tail10" ] && [ "${#tail10}" -lt "${#ref}" ] && [ "${ref%"$tail10"}$tail10" = "$ref" ] ||
    fail "replay from 10 is not the tail of the text: '$tail10'"
weft_finish
