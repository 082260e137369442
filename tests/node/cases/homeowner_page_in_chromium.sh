#!/bin/bash
# The homeowner's page on weftd's status port: in headless Chromium
# (tests/sched/js/homeowner_page.mjs), and with curl for what a browser
# would not send: a foreign Host (DNS rebinding) gets 403 everywhere; a
# control without the secret 401, with a foreign Origin 403, as a form
# (not JSON) 415; with the secret from `weftctl node page`'s link, 200.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
js="$LIB/../sched/js"
node_setup
start_sched
KEY=$(new_key t)
start_home a
start_weftd a
wait_status a 'd["policy"]["state"]' on
wait_status a 'd["scheduler"]["state"]' live
S="http://127.0.0.1:${STATUS_PORT[a]}"
LINK=$("$BIN/weftctl" node page --node-dir "$WORK/state-a" --status-url "$S") || fail "node page"
secret=${LINK#*#secret=}
[ ${#secret} = 64 ] || fail "the link: $LINK"
[ "$(stat -c %a "$WORK/state-a/control.secret")" = 600 ] || fail "the secret file is not 0600"

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code -H 'Host: evil.example' "$S/status")" = 403 ] || fail "a foreign Host read the status"
[ "$(code -H 'Host: weft.evil.example:9464' "$S/")" = 403 ] || fail "a foreign Host got the page"
[ "$(code "$S/")" = 200 ] || fail "the page"
curl -s -D - -o /dev/null "$S/" | grep -qi "^content-security-policy: default-src 'none'; script-src 'self'" ||
    fail "no CSP on the page"
post() { curl -s -o /dev/null -w '%{http_code}' -X POST "$S/control" "$@"; }
[ "$(post -H 'Content-Type: application/json' -d '{"paused":true}')" = 401 ] || fail "no secret"
[ "$(post -H 'Content-Type: application/json' -H "X-Weft-Secret: ${secret:0:63}x" -d '{"paused":true}')" = 401 ] ||
    fail "a wrong secret"
[ "$(post -H 'Content-Type: application/json' -H "X-Weft-Secret: $secret" -H 'Origin: http://evil.example' \
    -d '{"paused":true}')" = 403 ] || fail "a foreign Origin"
[ "$(post -H 'Content-Type: text/plain' -H "X-Weft-Secret: $secret" -d '{"paused":true}')" = 415 ] ||
    fail "a form body"
[ "$(post -H 'Content-Type: application/json' -H "X-Weft-Secret: $secret" -d '{"max_w":9999}')" = 400 ] ||
    fail "a cap above max_compute_w"
status_is a 'd["override"]["paused"]' False || fail "a refused control changed the node"
[ "$(post -H 'Content-Type: application/json' -H "X-Weft-Secret: $secret" -d '{"max_w":120}')" = 200 ] ||
    fail "a good control"
wait_status a 'd["override"]["max_w"]' 120
[ "$(post -H 'Content-Type: application/json' -H "X-Weft-Secret: $secret" -d '{"max_w":null}')" = 200 ] ||
    fail "lifting the cap"
wait_status a 'd["override"]["max_w"]' None
# Quiet hours from the page replace the config's, and a pause outlives a restart.
[ "$(post -H 'Content-Type: application/json' -H "X-Weft-Secret: $secret" \
    -d '{"quiet_hours":[{"start":"25:00","end":"07:00"}]}')" = 400 ] || fail "a bad quiet hour"
[ "$(post -H 'Content-Type: application/json' -H "X-Weft-Secret: $secret" \
    -d '{"quiet_hours":[{"start":"22:30","end":"07:00"}],"paused":true}')" = 200 ] || fail "quiet hours"
wait_status a 'd["override"]["quiet_hours"], d["override"]["paused"]' "(['22:30-07:00'], True)"
kill -TERM "$NODE_PID"
wait "$NODE_PID" || fail "weftd did not stop cleanly"
"$BIN/weftd" --config "$WORK/a.json" > "$WORK/node-a.out" 2>> "$WORK/node-a.err" &
NODE_PID=$!
PIDS+=("$NODE_PID")
wait_for "weftd again" 10 grep -q "status on port" "$WORK/node-a.out"
STATUS_PORT[a]=$(sed -n 's/.*status on port \([0-9]*\)/\1/p' "$WORK/node-a.out")
S="http://127.0.0.1:${STATUS_PORT[a]}"
wait_status a 'd["override"]["quiet_hours"], d["override"]["paused"], d["policy"]["reason"]' \
    "(['22:30-07:00'], True, 'paused by the homeowner')"
LINK=$("$BIN/weftctl" node page --node-dir "$WORK/state-a" --status-url "$S")
[ "$(post -H 'Content-Type: application/json' -H "X-Weft-Secret: $secret" \
    -d '{"quiet_hours":[],"paused":false}')" = 200 ] || fail "clearing the quiet hours"
wait_status a 'd["override"]["quiet_hours"], d["policy"]["state"]' "([], 'on')"

if [ -d "$js/node_modules/playwright-core" ] && [ -x /usr/bin/chromium ]; then
    LINK="$LINK" STATUS="$S" SHOT="$WORK/homeowner-page.png" timeout 120 node "$js/homeowner_page.mjs" ||
        fail "the page in Chromium"
    [ -s "$WORK/homeowner-page.png" ] || fail "no screenshot"
else
    echo "no Chromium or playwright-core: the browser half is skipped" >&2
fi
weft_finish
