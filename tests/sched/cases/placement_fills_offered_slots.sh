#!/bin/bash
# A node says it could run four jobs (hello) but its budget offers two
# (heartbeat "slots"): the scheduler never runs more than two there at
# once, puts the rest on the other node, and every stream completes.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_sched
KEY=$(new_key dev)
ADMIN=$(new_key ops --admin)
start_testnode big --concurrency 4 --slots 2 --budget-w 900 --token-ms 40
start_testnode small --concurrency 4 --budget-w 100 --token-ms 40
wait_nodes 2
nodes() { curl -s --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/admin/nodes"; }
offers_two() { nodes | json "[n['slots'] for n in d['data'] if n['name'] == 'big'] == [2]" | grep -qx True; }
wait_for "big offers two slots" 10 offers_two
REQ='{"model":"test-model","messages":[{"role":"user","content":"sun"}],"max_tokens":30,"seed":SEED,"stream":true}'
for i in 1 2 3 4 5 6; do
    (stream /v1/chat/completions "${REQ/SEED/$i}" > "$WORK/out.$i" 2> /dev/null) &
    SP[i]=$!
done
most=0 small_ran=0
for _ in $(seq 60); do
    r=$(nodes | json "[n['running'] for n in d['data'] if n['name'] == 'big'][0]")
    s=$(nodes | json "[n['running'] for n in d['data'] if n['name'] == 'small'][0]")
    [ "$r" -gt "$most" ] && most=$r
    [ "$s" -gt 0 ] && small_ran=1
    sleep 0.05
done
for i in 1 2 3 4 5 6; do
    wait "${SP[i]}" || fail "stream $i"
    [ -s "$WORK/out.$i" ] || fail "stream $i: no text"
done
[ "$most" -le 2 ] || fail "big ran $most jobs at once, offered 2"
[ "$most" = 2 ] || fail "big never ran two at once ($most)"
[ "$small_ran" = 1 ] || fail "nothing went to small"
weft_finish
