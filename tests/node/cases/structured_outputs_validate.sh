#!/bin/bash
# response_format json_schema and json_object on a real weftd: across 100
# seeds at temperature 1 the output always parses and validates against
# the schema, checked by Debian's python3-jsonschema (a validator we did
# not write); a schema outside the subset is a 400 naming the keyword.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
/usr/bin/python3 -c 'import jsonschema' 2> /dev/null || skip "python3-jsonschema is not installed"
node_setup
start_sched
KEY=$(new_key t)
start_home a
start_weftd a '{"compute":{"max_tokens_per_s":0,"threads":1}}'
wait_status a 'd["policy"]["state"]' on
wait_status a 'd["scheduler"]["state"]' live
cat > "$WORK/schema.json" <<'JSON'
{"type":"object","additionalProperties":false,
 "required":["name","age","mood","tags","pet"],
 "properties":{
  "name":{"type":"string","minLength":1,"maxLength":12},
  "age":{"type":"integer"},
  "mood":{"enum":["happy","sad","sleepy"]},
  "score":{"type":"number"},
  "tags":{"type":"array","items":{"type":"string","maxLength":8},"maxItems":3},
  "pet":{"anyOf":[{"type":"null"},
                  {"type":"object","properties":{"kind":{"const":"cat"},"lives":{"type":"integer"}},
                   "required":["kind"],"additionalProperties":false}]},
  "ok":{"type":["boolean","null"]}}}
JSON
schema=$(tr -d '\n' < "$WORK/schema.json")
mkdir -p "$WORK/out"
ask() { # ask SEED FORMAT -> $WORK/out/SEED.json
    curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"model":"stories260K","max_tokens":160,"temperature":1,"seed":'"$1"',"messages":[{"role":"user","content":"Tell me about a girl and her pet."}],"response_format":'"$2"'}' \
        "$URL/v1/chat/completions" > "$WORK/out/$1.json"
}
export -f ask
export CA KEY URL WORK
fmt='{"type":"json_schema","json_schema":{"name":"person","strict":true,"schema":'"$schema"'}}'
seq 1 100 | xargs -P 4 -I{} bash -c 'ask {} '"'$fmt'" || fail "requests"
seq 101 120 | xargs -P 4 -I{} bash -c "ask {} '{\"type\":\"json_object\"}'" || fail "requests"
/usr/bin/python3 - "$WORK" <<'PY' || fail "an output did not validate"
import glob, json, os, sys
import jsonschema
work = sys.argv[1]
schema = json.load(open(os.path.join(work, "schema.json")))
jsonschema.Draft202012Validator.check_schema(schema)
seen = set()
for seed in range(1, 121):
    d = json.load(open(os.path.join(work, "out", f"{seed}.json")))
    assert "choices" in d, (seed, d)
    text = d["choices"][0]["message"]["content"]
    doc = json.loads(text)  # raises when it does not parse
    if seed <= 100:
        jsonschema.validate(doc, schema)
        seen.add(text)
    else:
        assert isinstance(doc, dict), (seed, text)
    # "length" when the closing token was the last one max_tokens allowed.
    assert d["choices"][0]["finish_reason"] in ("stop", "length"), (seed, d["choices"][0])
# The model chose: the documents differ from seed to seed.
assert len(seen) > 50, len(seen)
print("validated", len(seen), "distinct documents")
PY
out=$(api POST /v1/chat/completions '{"model":"stories260K","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"string","pattern":"^a"}}}}')
expect_status 400 "$out" "a pattern"
body_of "$out" | json 'd["error"]["message"]' | grep -q "'pattern' is not supported" || fail "reason: $out"
[ "$(body_of "$out" | json 'd["error"]["param"]')" = response_format.json_schema.schema ] || fail "param: $out"
weft_finish
