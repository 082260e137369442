#!/bin/bash
# The operator's dashboard (/ui) in headless Chromium
# (tests/sched/js/dashboard.mjs): every node live, then one killed with
# SIGKILL shown gone within its lease. With curl: the page and its files
# need no key and carry a strict CSP; /v1/admin/region and
# /v1/admin/events need an admin key; the events are server-sent JSON.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
js="$LIB/../sched/js"
start_sched
KEY=$(new_key dev)
ADMIN=$(new_key ops --admin)
start_testnode a
start_testnode b
B_PID=$NODE_PID
start_testnode c
wait_nodes 3
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$URL/ui")" = 200 ] || fail "GET /ui"
curl -s -D - -o /dev/null --cacert "$CA" "$URL/ui/dashboard.js" | grep -qi "^content-security-policy: default-src 'none'" ||
    fail "no CSP on the dashboard's script"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$URL/ui/nothing.js")" = 404 ] || fail "a missing file"
for k in "" "$KEY"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" ${k:+-H "Authorization: Bearer $k"} \
        "$URL/v1/admin/region")
    [ "$code" = 401 ] || [ "$code" = 403 ] || fail "the region without an admin key: $code"
done
# Some work, for the usage by key.
text=$(stream /v1/completions '{"model":"test-model","prompt":"hi","max_tokens":5,"stream":true}' 2>/dev/null)
[ -n "$text" ] || fail "no completion"
KEYID=${KEY#wk-}
KEYID=${KEYID%%.*}
curl -s --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/admin/region" > "$WORK/region.json"
[ "$(json 'd["nodes_live"], sorted(n["name"] for n in d["nodes"]), "failovers" in d["last_hour"]' \
    < "$WORK/region.json")" = "(3, ['a', 'b', 'c'], True)" ] || fail "the region: $(cat "$WORK/region.json")"
[ "$(json '[(u["key"], u["jobs"], u["tokens"]) for u in d["usage"]], d["energy"]["wh"] >= 0' \
    < "$WORK/region.json")" = "([('$KEYID', 1, 5)], True)" ] || fail "usage by key: $(cat "$WORK/region.json")"
timeout 3 curl -sN --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/admin/events" > "$WORK/events.txt"
grep -m1 '^data: {' "$WORK/events.txt" | cut -c7- | json 'd["nodes_live"]' | grep -qx 3 ||
    fail "no event: $(head -c 300 "$WORK/events.txt")"

if [ -d "$js/node_modules/playwright-core" ] && [ -x /usr/bin/chromium ]; then
    lease=$(( ${HEARTBEAT_MS:-200} * 3 ))
    coproc DASH { UI="$URL/ui#key=$ADMIN" NODES=a,b,c GONE=b SHOT="$WORK/dashboard.png" LEASE_MS=$lease KEYID=$KEYID \
        timeout 120 node "$js/dashboard.mjs" 2> "$WORK/dash.err"; }
    read -r line <&"${DASH[0]}" || fail "the dashboard did not load: $(cat "$WORK/dash.err")"
    [ "$line" = kill ] || fail "the dashboard said: $line $(cat "$WORK/dash.err")"
    kill -9 "$B_PID"
    echo go >&"${DASH[1]}"
    wait "$DASH_PID" || fail "the dashboard in Chromium: $(cat "$WORK/dash.err")"
    cat "$WORK/dash.err" >&2
    [ -s "$WORK/dashboard.png" ] || fail "no screenshot"
else
    echo "no Chromium or playwright-core: the browser half is skipped" >&2
fi
weft_finish
