#!/bin/bash
# Log-probabilities in OpenAI's shapes: chat (content entries with bytes and
# alternatives) and completions (tokens, token_logprobs, top_logprobs,
# text_offset); streamed chunks that add up to the whole; a node that dies
# mid-stream and a scheduler killed with -9 mid-job, after which the
# answer's log-probabilities are the undisturbed run's, token for token.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_sched
KEY=$(new_key dev)
ADMIN=$(new_key ops --admin)
start_testnode steady --token-ms 1
STEADY_PID=$NODE_PID
wait_nodes 1
CHAT='{"model":"test-model","messages":[{"role":"user","content":"how sure are you"}],"max_tokens":12,"seed":77,"logprobs":true,"top_logprobs":3}'
out=$(api POST /v1/chat/completions "$CHAT")
expect_status 200 "$out" "chat with logprobs"
body_of "$out" > "$WORK/ref.json"
/usr/bin/python3 - "$WORK/ref.json" <<'PY' || fail "chat shape: $(cat "$WORK/ref.json")"
import json, math, sys
d = json.load(open(sys.argv[1]))
c = d["choices"][0]
content = c["logprobs"]["content"]
assert len(content) == d["usage"]["completion_tokens"] == 12, len(content)
assert "".join(e["token"] for e in content) == c["message"]["content"]
for e in content:
    assert e["logprob"] <= 0 and bytes(e["bytes"]).decode() == e["token"], e
    tops = e["top_logprobs"]
    assert len(tops) == 3, tops
    assert all(a["logprob"] >= b["logprob"] for a, b in zip(tops, tops[1:])), tops
    assert sum(math.exp(t["logprob"]) for t in tops) <= 1 + 1e-6, tops
    # The chosen token is among the alternatives exactly when it is as
    # likely as the third of them.
    assert (e["logprob"] >= tops[-1]["logprob"] - 1e-6) == any(t["token"] == e["token"] for t in tops) or \
        any(abs(t["logprob"] - e["logprob"]) < 1e-6 for t in tops), e
PY
# Without logprobs the field is null; logprobs false as well.
out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"max_tokens":2,"logprobs":false}')
[ "$(body_of "$out" | json 'd["choices"][0]["logprobs"]')" = None ] || fail "logprobs false: $out"
# Completions' shape.
out=$(api POST /v1/completions '{"model":"test-model","prompt":"count","max_tokens":6,"seed":5,"logprobs":2}')
expect_status 200 "$out" "completions with logprobs"
body_of "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
c = d["choices"][0]
lp = c["logprobs"]
n = len(lp["tokens"])
assert n == 6 == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"]), lp
assert "".join(lp["tokens"]) == c["text"], lp
off = 0
for t, o, top in zip(lp["tokens"], lp["text_offset"], lp["top_logprobs"]):
    assert o == off, (o, off)
    off += len(t.encode())
    assert len(top) == 2 and all(v <= 0 for v in top.values()), top
' || fail "completions shape: $out"
# same_as_ref: the entries of $WORK/last.sse's chunks are ref.json's.
same_as_ref() {
    /usr/bin/python3 - "$WORK/last.sse" "$WORK/ref.json" <<'PY'
import json, sys
got = []
for line in open(sys.argv[1]):
    if line.startswith("data: {"):
        ch = json.loads(line[6:])["choices"]
        if ch and ch[0].get("logprobs"):
            got += ch[0]["logprobs"]["content"]
want = json.load(open(sys.argv[2]))["choices"][0]["logprobs"]["content"]
assert got == want, (len(got), len(want))
PY
}
# Streamed: the chunks' entries are the whole answer's.
stream /v1/chat/completions "${CHAT%\}},\"stream\":true}" > /dev/null 2>&1
same_as_ref || fail "streamed logprobs differ"
# A node killed after 5 tokens: the resumed stream's entries are the
# undisturbed run's (the scheduler kept the first five; the next node made
# the rest).
start_testnode crashy --budget-w 900 --die-after 5 --token-ms 10
wait_nodes 2
wait_ready crashy
stream /v1/chat/completions "${CHAT%\}},\"stream\":true}" > /dev/null 2>&1
grep -q "resuming from token 5" "$WORK/sched.err" || fail "did not resume at token 5"
same_as_ref || fail "logprobs across a failover differ"
# A job whose scheduler is killed (-9) mid-run: the journal kept the
# log-probabilities of the tokens it had; the answer is the undisturbed one.
job='{"priority":"interactive","request":{"model":"test-model","messages":[{"role":"user","content":"a long one"}],"max_tokens":40,"seed":78,"logprobs":true,"top_logprobs":2}}'
ref=$(api POST /v1/jobs "$job" | head -n 1 | json 'd["id"]')
wait_job "$ref" succeeded
start_testnode slow --budget-w 2000 --token-ms 150
wait_nodes 2
wait_ready slow
kill -9 "$STEADY_PID"
jid=$(api POST /v1/jobs "$job" | head -n 1 | json 'd["id"]')
tokens_done() { [ "$(api GET "/v1/jobs/$jid" | head -n 1 | json 'd.get("tokens_done", 0) >= 12')" = True ]; }
wait_for "a dozen tokens" 20 tokens_done
sleep 0.5 # a journal cycle
stop_sched_hard
SCHED_PORT=$PORT start_sched
wait_job "$jid" succeeded 30
api GET "/v1/jobs/$ref" | head -n 1 > "$WORK/a.json"
api GET "/v1/jobs/$jid" | head -n 1 > "$WORK/b.json"
/usr/bin/python3 - "$WORK/a.json" "$WORK/b.json" <<'PY' || fail "logprobs after a scheduler restart differ"
import json, sys
a, b = (json.load(open(p))["result"] for p in sys.argv[1:])
la, lb = (x["choices"][0]["logprobs"]["content"] for x in (a, b))
assert len(la) == 40 and la == lb, (len(la), len(lb))
PY
grep -Eq "job $jid: claimed with [1-9][0-9]* journaled tokens" "$WORK/sched.err" ||
    fail "the restarted scheduler did not take the job back from its journal"
weft_finish
