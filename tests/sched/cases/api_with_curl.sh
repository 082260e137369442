#!/bin/bash
# The OpenAI-compatible API with curl: models, chat and completions whole and
# streamed (same seed, same text), usage, errors in OpenAI's shape with the right
# status, 404 and 405, metrics and the access log.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_sched
KEY=$(new_key dev)
start_testnode a
wait_nodes 1
out=$(api GET /v1/models)
expect_status 200 "$out" "models"
[ "$(body_of "$out" | json 'd["data"][0]["id"]')" = test-model ] ||
    fail "models: $out"
body='{"model":"test-model","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":6,"seed":5}'
out=$(api POST /v1/chat/completions "$body")
expect_status 200 "$out" "chat"
c=$(printf '%s' "$out" | head -n 1)
[ "$(json 'd["object"]' <<< "$c")" = chat.completion ] || fail "chat object: $c"
[ "$(json 'd["choices"][0]["finish_reason"]' <<< "$c")" = length ] || fail "finish: $c"
[ "$(json 'd["usage"]["completion_tokens"]' <<< "$c")" = 6 ] || fail "usage: $c"
[ "$(json 'len(d["choices"][0]["message"]["content"].split())' <<< "$c")" = 6 ] ||
    fail "content: $c"
# Weft's extension: served once, by the one node, not resumed.
[ "$(json '(d["weft"]["attempts"], d["weft"]["resumed"], len(d["weft"]["nodes"]))' <<< "$c")" = \
    "(1, False, 1)" ] || fail "weft object: $c"
# The same request streamed gives the same text (same seed).
whole=$(json 'd["choices"][0]["message"]["content"]' <<< "$c")
sbody='{"model":"test-model","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":6,"seed":5,"stream":true}'
streamed=$(stream /v1/chat/completions "$sbody") || fail "stream"
[ "$whole" = "$streamed" ] || fail "stream text '$streamed' != '$whole'"
[ "$(final_weft 'w["attempts"], w["resumed"]')" = "(1, False)" ] ||
    fail "the last chunk's weft object: $(final_weft 'w')"
# include_usage adds a usage chunk before [DONE].
u=$(curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" -d \
    '{"model":"test-model","prompt":"a b c","max_tokens":3,"stream":true,"stream_options":{"include_usage":true}}' \
    "$URL/v1/completions" | grep -c '"usage":{"prompt_tokens":')
[ "$u" = 1 ] || fail "usage chunk count $u"
out=$(api POST /v1/completions '{"model":"test-model","prompt":"once upon","max_tokens":4}')
expect_status 200 "$out" "completions"
[ "$(body_of "$out" | json 'd["object"]')" = text_completion ] ||
    fail "completion object"
# Errors in OpenAI's shape with the right status.
out=$(curl -s --cacert "$CA" -w '\n%{http_code}' "$URL/v1/models")
expect_status 401 "$out" "no key"
printf '%s' "$out" | head -n 1 | grep -q '"code":"missing_api_key"' || fail "401 shape: $out"
out=$(curl -s --cacert "$CA" -H 'Authorization: Bearer wk-nope.nope' -w '\n%{http_code}' \
    "$URL/v1/models")
expect_status 401 "$out" "wrong key"
out=$(api POST /v1/chat/completions '{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}')
expect_status 404 "$out" "unknown model"
printf '%s' "$out" | grep -q '"code":"model_not_found"' || fail "404 code: $out"
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user"')
expect_status 400 "$out" "bad json"
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[],"max_tokens":5}')
expect_status 400 "$out" "empty messages"
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"temperature":9}')
expect_status 400 "$out" "temperature out of range"
printf '%s' "$out" | grep -q '"param":"temperature"' || fail "param: $out"
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"bogus":1}')
expect_status 400 "$out" "unknown parameter"
out=$(api GET /v1/chat/completions)
expect_status 405 "$out" "wrong method"
out=$(api GET /v1/nothing)
expect_status 404 "$out" "unknown path"
m=$(curl -s --cacert "$CA" "$URL/metrics")
printf '%s' "$m" | grep -q 'weft_http_requests_total{route="chat_completions",status="200"} 2' ||
    fail "metrics: $(printf '%s' "$m" | grep chat_completions)"
printf '%s' "$m" | grep -q '^weft_nodes{state="live"} 1' || fail "metrics nodes"
printf '%s' "$m" | grep -q '^weft_tokens_total 19' || fail "metrics tokens: $(printf '%s' "$m" | grep tokens_total)"
grep -q 'access 127.0.0.1:[0-9]* "POST /v1/chat/completions" 200' "$WORK/sched.err" ||
    fail "no access log line"
weft_finish
