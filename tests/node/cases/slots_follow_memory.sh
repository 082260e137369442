#!/bin/bash
# Slots are counted from what one costs: a node asked for 8 slots in less
# memory than 8 take runs fewer, says why in its log and on its status
# page, and tells the scheduler its real count; without a cap it takes
# what the memory holds.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
one_home '{"compute":{"max_slots":8,"slot_memory_mb":2,"n_ctx":512}}'
ADMIN=$(new_key ops --admin)
wait_status a 'd["scheduler"]["state"]' live
max=$(status a 'd["slots"]["max"]')
[ "$max" -ge 1 ] && [ "$max" -lt 8 ] || fail "slots: $(status a 'd["slots"]')"
status a 'd["slots"]["why"]' | grep -q "compute.max_slots is 8, but compute.slot_memory_mb (2 MiB) holds only $max at" ||
    fail "why: $(status a 'd["slots"]')"
grep -q "WARN.*compute.max_slots is 8" "$WORK/node-a.err" || fail "no warning in the log"
conc=$(curl -s --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/admin/nodes" |
    json "[n['max_concurrency'] for n in d['data'] if n['name'] == 'a'][0]")
[ "$conc" = "$max" ] || fail "hello said $conc slots, the node has $max"
per=$(status a 'd["slots"]["why"].split(" at ")[1].split(" MiB")[0]')
kill -TERM "$NODE_PID"
wait "$NODE_PID"
# Memory for three and a half at that cost, no cap: three slots.
mb=$(awk -v p="$per" 'BEGIN { printf "%d", 3.5 * p }')
awk -v p="$per" -v m="$mb" 'BEGIN { exit !(3 * p <= m && m < 4 * p) }' || skip "a slot of $per MiB"
HOME_PORT[a2]=${HOME_PORT[a]}
start_weftd a2 "{\"compute\":{\"slot_memory_mb\":$mb,\"n_ctx\":512}}"
wait_status a2 'd["scheduler"]["state"]' live
wait_status a2 'd["slots"]["max"]' 3
status a2 'd["slots"]["why"]' | grep -q "what compute.slot_memory_mb ($mb MiB) holds at $per MiB a slot" ||
    fail "a2 why: $(status a2 'd["slots"]')"
weft_finish
