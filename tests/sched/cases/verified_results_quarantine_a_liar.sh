#!/bin/bash
# Verified results: with every job re-run on another node, a node that
# alters its tokens is found (a check that disagrees, settled by a third
# node) and quarantined: no more work, the reason in /v1/admin/nodes,
# /metrics and weftctl, kept across a scheduler killed with -9, lifted by
# weftctl nodes trust --reset. Honest nodes keep their trust. Then a
# canary with a known answer catches a second liar on its first job.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
cat > "$WORK/verify.json" <<'JSON'
{"verify": {"rate": 1, "new_node_rate": 1, "new_node_checks": 0, "min_trust": 0.9}}
JSON
start_sched --config "$WORK/verify.json"
KEY=$(new_key dev)
ADMIN=$(new_key ops --admin)
start_testnode honest1 --token-ms 1
start_testnode honest2 --token-ms 1
start_testnode liar --token-ms 1 --lie-rate 1
LIAR_PID=$NODE_PID
wait_nodes 3
nodes() { curl -s --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/admin/nodes"; }
trust() { nodes | json "json.dumps([n['trust'] for n in d['data'] if n['name'] == '$1'][0])"; }
quarantined() { [ "$(trust "$1" | json 'd["quarantined"]')" = True ]; }
for i in $(seq 1 12); do
    api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"q'"$i"'"}],"max_tokens":6,"seed":'"$i"'}' > /dev/null
done
wait_for "the liar quarantined" 20 quarantined liar
trust liar | json 'd["reason"]' | grep -q "proven wrong" || fail "reason: $(trust liar)"
for h in honest1 honest2; do
    quarantined "$h" && fail "$h quarantined: $(trust "$h")"
done
right() { [ "$(trust honest1 | json 'd["right"] > 0 and d["wrong"] == 0')" = True ]; }
wait_for "honest checks counted" 10 right
metric 'weft_node_quarantined{node="liar"}' | grep -qx 1 || fail "metrics: $(metric 'weft_node_quarantined{node="liar"}')"
metric_at_least 'weft_verifications_total{result="wrong"}' 1 || fail "no wrong result counted"
# A quarantined node gets no work.
for i in $(seq 20 25); do
    out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"after"}],"max_tokens":3}')
    body_of "$out" | json 'd["weft"]["nodes"]' | grep -q liar && fail "the liar served: $out"
done
# A restart keeps the quarantine; weftctl shows it; a reset lifts it.
stop_sched_hard
SCHED_PORT=$PORT start_sched --config "$WORK/verify.json"
wait_nodes 3
quarantined liar || fail "the restart forgot the quarantine: $(trust liar)"
ctl nodes enrolled | grep liar | grep -q "QUARANTINED" || fail "weftctl: $(ctl nodes enrolled)"
ctl nodes trust liar --reset 2> /dev/null || fail "reset"
lifted() { ! quarantined liar; }
wait_for "the quarantine lifted" 10 lifted
# A canary: the answer an honest node gives, then a second liar's first job.
kill -9 "$LIAR_PID"
out=$(api POST /v1/completions '{"model":"test-model","prompt":"canary","max_tokens":5,"seed":42}')
answer=$(body_of "$out" | json 'd["choices"][0]["text"]')
/usr/bin/python3 - "$WORK/canary.json" "$answer" <<'PY'
import json, sys
json.dump({"verify": {"canary_every": 50, "canaries": [
    {"name": "c1", "model": "test-model", "prompt": "canary", "seed": 42, "max_tokens": 5,
     "text": sys.argv[2]}]}}, open(sys.argv[1], "w"))
PY
stop_sched_hard
SCHED_PORT=$PORT start_sched --config "$WORK/canary.json"
start_testnode liar2 --token-ms 1 --lie-rate 1 --budget-w 900
wait_nodes 3
wait_ready liar2
api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"first"}],"max_tokens":3}' > /dev/null
wait_for "the canary caught liar2" 20 quarantined liar2
trust liar2 | json 'd["reason"]' | grep -q "canary 'c1' answered wrong" || fail "reason: $(trust liar2)"
quarantined honest1 && fail "honest1 failed the canary: $(trust honest1)"
weft_finish
