#!/bin/bash
# Streamed completions outlive their schedulers: three schedulers on one
# PostgreSQL, three clients (the official openai npm client, wrapped by
# tests/sched/js/resumable.mjs) stream through the first, which is killed
# with kill -9 mid-stream; they resume on the second, which is killed in turn;
# they finish on the third. Each client resumes with GET
# /v1/jobs/{id}/stream?after=N, and each text must be exactly the text of an
# undisturbed run of its request. Then a finished stream is read again from a
# token in the middle.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
js="$LIB/../sched/js"
[ -d "$js/node_modules/openai" ] ||
    skip "the openai npm package is not installed (scripts/install-deps installs it)"
start_pg
start_region 3
KEY=$(new_key dev) || fail "key"
for n in 1 2 3; do
    URL=$(region_urls "$n") start_testnode "home-$n" --token-ms 40 --concurrency 3
done
MAX=80
req() { # req SEED
    printf '{"model":"test-model","max_tokens":%d,"seed":%d,"stream":true,%s}' "$MAX" "$1" \
        '"messages":[{"role":"user","content":"a stream that outlives its scheduler"}]'
}
URL=${RURL[3]}
wait_for "a node on scheduler 3" 10 nodes_are 1
declare -A ref
for c in 1 2 3; do
    ref[$c]=$(stream /v1/chat/completions "$(req $((4240 + c)))" 2>/dev/null) || fail "reference $c"
    [ -n "${ref[$c]}" ] || fail "empty reference $c"
done
URL=${RURL[1]}
wait_for "a node on scheduler 1" 10 nodes_are 1
pids=()
for c in 1 2 3; do
    NODE_EXTRA_CA_CERTS="$CA" WEFT_URLS="$(region_urls 1)" WEFT_KEY="$KEY" WEFT_SEED=$((4240 + c)) \
        WEFT_MAX_TOKENS=$MAX WEFT_PROGRESS="$WORK/progress$c" \
        timeout 90 node "$js/resume_test.mjs" > "$WORK/js$c.out" 2> "$WORK/js$c.err" &
    pids+=("$!")
done
chunks() { cat "$WORK/progress$1" 2>/dev/null || echo 0; }
all_at_least() { for c in 1 2 3; do [ "$(chunks $c)" -ge "$1" ] || return 1; done; }
wait_for "the streams under way on scheduler 1" 20 all_at_least 6
stop_region_sched 1
wait_for "the streams under way again" 30 all_at_least 30
stop_region_sched 2
for c in 1 2 3; do
    wait "${pids[$((c - 1))]}" || fail "client $c failed: $(tail -n 5 "$WORK/js$c.err")"
    [ "$(grep -c "^resuming on" "$WORK/js$c.err")" -ge 2 ] ||
        fail "client $c did not resume twice: $(cat "$WORK/js$c.err")"
    got=$(cat "$WORK/js$c.out")
    [ "$got" = "${ref[$c]}" ] || fail "client $c: resumed text differs:
  got: $got
  ref: ${ref[$c]}"
done
# Read one again, finished, from token 10 on: the tail of the same text.
id=$(psql "$PG_URI" -Atc "select id from jobs where id like 'chatcmpl-%' and state = 2 and
    request like '%4241%' order by created_ms desc limit 1")
[ -n "$id" ] || fail "the stream's job is not in the store"
URL=${RURL[3]}
whole=$(curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" "$URL/v1/jobs/$id/stream?after=0" |
    /usr/bin/python3 "$LIB/weftjson.py" sse 2>/dev/null)
[ "$whole" = "${ref[1]}" ] || fail "replay from 0: '$whole' != '${ref[1]}'"
tail10=$(curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" "$URL/v1/jobs/$id/stream?after=10" |
    /usr/bin/python3 "$LIB/weftjson.py" sse 2>/dev/null)
[ -n "$tail10" ] && [ "${#tail10}" -lt "${#whole}" ] && [ "${whole%"$tail10"}$tail10" = "$whole" ] ||
    fail "replay from 10 is not the tail of the text: '$tail10'"
weft_finish
