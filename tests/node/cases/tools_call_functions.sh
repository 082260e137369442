#!/bin/bash
# Function calling on a real weftd whose model is served with Qwen2.5's
# Llama 3.1's and Hermes' templates: tool_choice required and named make every reply a call whose
# arguments validate against the function's parameters (python3-jsonschema);
# none and a conversation with calls and results answer in text; the openai
# npm client reads the calls, whole and streamed (tests/sched/js/tools.mjs).
. "$(dirname "$0")/../../lib/weft.sh" "$@"
/usr/bin/python3 -c 'import jsonschema' 2> /dev/null || skip "python3-jsonschema is not installed"
node_setup
start_sched
KEY=$(new_key t)
start_home a
start_weftd a '{"compute":{"max_tokens_per_s":0},"models":[{"path":"'"$DATA"'/models/llama-2-tiny-random.gguf","name":"tiny","template":"qwen2.5"},{"path":"'"$DATA"'/models/llama-2-tiny-random.gguf","name":"tiny-llama","template":"llama3.1"},{"path":"'"$DATA"'/models/llama-2-tiny-random.gguf","name":"tiny-hermes","template":"hermes"}]}'
wait_status a 'd["policy"]["state"]' on
wait_status a 'd["scheduler"]["state"]' live
cat > "$WORK/tools.json" <<'JSON'
[{"type":"function","function":{"name":"get_weather","description":"The weather in a city",
  "parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":20},
   "unit":{"enum":["c","f"]}},"required":["city"],"additionalProperties":false}}},
 {"type":"function","function":{"name":"time_now","description":"The time"}}]
JSON
tools=$(tr -d '\n' < "$WORK/tools.json")
mkdir -p "$WORK/out"
ask() { # ask NAME SEED CHOICE [MODEL]
    curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"model":"'"${4:-tiny}"'","max_tokens":120,"seed":'"$2"',"messages":[{"role":"user","content":"What is the weather in Paris?"}],"tools":'"$tools"',"tool_choice":'"$3"'}' \
        "$URL/v1/chat/completions" > "$WORK/out/$1-$2.json"
}
export -f ask
export CA KEY URL WORK tools
seq 1 8 | xargs -P 4 -I{} bash -c "ask required {} '\"required\"'" || fail "requests"
seq 1 4 | xargs -P 4 -I{} bash -c "ask named {} '{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}'" || fail "requests"
seq 1 3 | xargs -P 4 -I{} bash -c "ask none {} '\"none\"'" || fail "requests"
# Llama 3.1's template: the call is the whole reply.
seq 1 4 | xargs -P 4 -I{} bash -c "ask llama {} '\"required\"' tiny-llama" || fail "requests"
seq 1 3 | xargs -P 4 -I{} bash -c "ask hermes {} '\"required\"' tiny-hermes" || fail "requests"
/usr/bin/python3 - "$WORK" <<'PY' || fail "the calls"
import json, os, sys
import jsonschema
work = sys.argv[1]
tools = {t["function"]["name"]: t["function"].get("parameters", {"type": "object"})
         for t in json.load(open(os.path.join(work, "tools.json")))}
names = set()
for kind, n in (("required", 8), ("named", 4), ("none", 3), ("llama", 4), ("hermes", 3)):
    for seed in range(1, n + 1):
        d = json.load(open(os.path.join(work, "out", f"{kind}-{seed}.json")))
        c = d["choices"][0]
        msg = c["message"]
        if kind == "none":
            assert "tool_calls" not in msg and isinstance(msg["content"], str), d
            continue
        assert c["finish_reason"] == "tool_calls", (kind, seed, c)
        assert msg["content"] is None, msg
        assert len(msg["tool_calls"]) == 1, msg
        call = msg["tool_calls"][0]
        assert call["type"] == "function" and call["id"].startswith("call_"), call
        name = call["function"]["name"]
        args = json.loads(call["function"]["arguments"])
        jsonschema.validate(args, tools[name])
        if kind == "named":
            assert name == "get_weather", name
        names.add(name)
print("calls validated; functions called:", sorted(names))
PY
# A conversation with a call and its result renders and answers.
out=$(api POST /v1/chat/completions '{"model":"tiny","max_tokens":20,"tools":'"$tools"',"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"21 C"}]}')
expect_status 200 "$out" "a conversation with a call and its result"
js="$LIB/../sched/js"
if [ -d "$js/node_modules/openai" ]; then
    NODE_EXTRA_CA_CERTS="$CA" WEFT_URL="$URL/v1" WEFT_KEY="$KEY" WEFT_MODEL=tiny \
        timeout 120 node "$js/tools.mjs" || fail "the openai client's tool calls"
fi
weft_finish
