#!/bin/bash
# n > 1: a job per choice, choice i drawing with seed + i, so that each is
# the answer n = 1 gives with that seed; whole and streamed (chunks by
# index, usage summed); a node killed mid-request fails each choice over
# alone; a client that hangs up cancels every choice; jobs refuse n > 1.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_sched
KEY=$(new_key dev)
ADMIN=$(new_key ops --admin)
start_testnode steady --token-ms 1
STEADY_PID=$NODE_PID
wait_nodes 1
req() { # req N SEED [extra fields]
    echo '{"model":"test-model","messages":[{"role":"user","content":"pick a word"}],"max_tokens":8,"n":'"$1"',"seed":'"$2${3-}"'}'
}
content() { json 'd["choices"][0]["message"]["content"]'; }
one9=$(api POST /v1/chat/completions "$(req 1 9)" | head -n 1 | content)
one10=$(api POST /v1/chat/completions "$(req 1 10)" | head -n 1 | content)
one11=$(api POST /v1/chat/completions "$(req 1 11)" | head -n 1 | content)
out=$(api POST /v1/chat/completions "$(req 3 9 ',"logprobs":true')")
expect_status 200 "$out" "n=3"
body_of "$out" > "$WORK/three.json"
/usr/bin/python3 - "$WORK/three.json" "$one9" "$one10" "$one11" <<'PY' || fail "n=3: $(cat "$WORK/three.json")"
import json, sys
d = json.load(open(sys.argv[1]))
ch = d["choices"]
assert [c["index"] for c in ch] == [0, 1, 2], ch
assert [c["message"]["content"] for c in ch] == sys.argv[2:5], ch
assert all(len(c["logprobs"]["content"]) == 8 and c["finish_reason"] == "length" for c in ch)
assert d["usage"]["completion_tokens"] == 24, d["usage"]
assert d["id"].startswith("chatcmpl-"), d["id"]
PY
# Streamed: chunks name their choice; each choice's text is the whole one's.
stream /v1/chat/completions "$(req 3 9 ',"stream":true,"stream_options":{"include_usage":true}')" > /dev/null 2>&1
/usr/bin/python3 - "$WORK/last.sse" "$WORK/three.json" <<'PY' || fail "streamed n=3"
import json, sys
text, finish, usage, ids, done = {}, {}, None, set(), False
for line in open(sys.argv[1]):
    if line.startswith("data: [DONE]"):
        done = True
    elif line.startswith("data: {"):
        ev = json.loads(line[6:])
        ids.add(ev["id"])
        if ev.get("usage"):
            usage = ev["usage"]
        for c in ev["choices"]:
            text[c["index"]] = text.get(c["index"], "") + (c["delta"].get("content") or "")
            if c["finish_reason"]:
                finish[c["index"]] = c["finish_reason"]
want = json.load(open(sys.argv[2]))["choices"]
assert done and len(ids) == 1, ids
assert [text[i] for i in range(3)] == [c["message"]["content"] for c in want], text
assert finish == {0: "length", 1: "length", 2: "length"}, finish
assert usage["completion_tokens"] == 24, usage
PY
# Completions too.
out=$(api POST /v1/completions '{"model":"test-model","prompt":"a","max_tokens":3,"n":2,"seed":4}')
[ "$(body_of "$out" | json '[c["index"] for c in d["choices"]]')" = "[0, 1]" ] || fail "completions n=2: $out"
# A node killed after 5 tokens: its choices move on alone and the answer
# is the undisturbed one.
start_testnode crashy --budget-w 900 --die-after 5 --token-ms 10
wait_nodes 2
wait_ready crashy
out=$(api POST /v1/chat/completions "$(req 3 9 ',"logprobs":true')")
expect_status 200 "$out" "n=3 across a failover"
body_of "$out" | /usr/bin/python3 -c '
import json, sys
got = json.load(sys.stdin)
want = json.load(open(sys.argv[1]))
assert [c["message"]["content"] for c in got["choices"]] == [c["message"]["content"] for c in want["choices"]]
assert [c["logprobs"] for c in got["choices"]] == [c["logprobs"] for c in want["choices"]]
assert got["weft"]["resumed"] and "crashy" in got["weft"]["nodes"], got["weft"]
' "$WORK/three.json" || fail "after the failover: $out"
# A client that hangs up mid-stream cancels every choice.
start_testnode slow --budget-w 2000 --token-ms 300
wait_nodes 2
wait_ready slow
kill -9 "$STEADY_PID"
timeout 1 curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "$(req 4 1 ',"stream":true')" "$URL/v1/chat/completions" > /dev/null || true
cancelled() { [ "$(grep -c "cancelled: client went away" "$WORK/sched.err")" -ge 4 ]; }
wait_for "4 choices cancelled" 10 cancelled
# Jobs and batches take one choice.
out=$(api POST /v1/jobs '{"request":'"$(req 2 1)"'}')
expect_status 400 "$out" "a job with n=2"
[ "$(body_of "$out" | json 'd["error"]["param"]')" = request.n ] || fail "param: $out"
weft_finish
