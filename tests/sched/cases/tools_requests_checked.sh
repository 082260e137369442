#!/bin/bash
# Tool requests the scheduler answers itself: a model whose template has no
# tool support (400 tools_not_supported, tool turns included); a named
# function not in tools; parameters outside the grammar's subset; max_tokens
# too few for a forced call; and auto on a template with tools, where a
# reply without a call is plain content.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_sched
KEY=$(new_key dev)
start_testnode plain --models test-model
wait_nodes 1
T='[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}}}]'
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"tools":'"$T"'}')
expect_status 400 "$out" "tools on chatml"
[ "$(body_of "$out" | json 'd["error"]["code"]')" = tools_not_supported ] || fail "code: $out"
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"},{"role":"tool","content":"r"}]}')
expect_status 400 "$out" "a tool turn on chatml"
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"tools":'"$T"',"tool_choice":"none"}')
expect_status 200 "$out" "tools with tool_choice none"
kill -9 "$NODE_PID"
start_testnode qwen --models test-model:qwen2.5
wait_for "the qwen node alone" 10 nodes_are 1
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"tools":'"$T"',"max_tokens":4}')
expect_status 200 "$out" "auto"
[ "$(body_of "$out" | json '("tool_calls" in d["choices"][0]["message"], d["choices"][0]["finish_reason"])')" = "(False, 'length')" ] ||
    fail "auto without a call: $out"
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"tools":'"$T"',"tool_choice":{"type":"function","function":{"name":"g"}}}')
expect_status 400 "$out" "an unknown named function"
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"string","pattern":"a"}}}}}],"tool_choice":"required"}')
expect_status 400 "$out" "parameters with a pattern"
body_of "$out" | json 'd["error"]["message"]' | grep -q "'pattern' is not supported" || fail "reason: $out"
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"tools":'"$T"',"tool_choice":"required","max_tokens":10}')
expect_status 400 "$out" "max_tokens too few for a call"
[ "$(body_of "$out" | json 'd["error"]["param"]')" = max_tokens ] || fail "param: $out"
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"tools":[]}')
expect_status 400 "$out" "empty tools"
weft_finish
