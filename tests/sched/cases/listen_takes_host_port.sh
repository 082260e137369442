#!/bin/bash
# --listen takes HOST, HOST:PORT and [V6]:PORT (it used to append the port
# again: "cannot listen on 127.0.0.1:8443:8443"), and says so when it and
# --port disagree.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
p=$(free_port)
"$BIN/weft-scheduler" --dev-tls --state-dir "$WORK/a" --listen "127.0.0.1:$p" > "$WORK/a.out" 2> "$WORK/a.err" &
PIDS+=("$!")
wait_for "listening on $p" 10 grep -q "listening on port $p" "$WORK/a.out"
curl -s --cacert "$WORK/a/dev-cert.pem" "https://127.0.0.1:$p/healthz" | grep -q '"status":"ok"' ||
    fail "no answer on 127.0.0.1:$p"
if grep -q '^00000000000000000000000000000001' /proc/net/if_inet6 2>/dev/null; then
    q=$(free_port)
    "$BIN/weft-scheduler" --dev-tls --state-dir "$WORK/b" --listen "[::1]:$q" > "$WORK/b.out" 2> "$WORK/b.err" &
    PIDS+=("$!")
    wait_for "listening on [::1]:$q" 10 grep -q "listening on port $q" "$WORK/b.out"
    # -k: the development certificate names 127.0.0.1; this checks the listening.
    curl -sk -g "https://[::1]:$q/healthz" | grep -q '"status":"ok"' || fail "no answer on [::1]:$q"
fi
out=$("$BIN/weft-scheduler" --dev-tls --state-dir "$WORK/c" --listen 127.0.0.1:1234 --port 4321 2>&1)
[ $? = 2 ] && grep -q "names port 1234 and --port 4321" <<< "$out" || fail "conflict not refused: $out"
out=$("$BIN/weft-scheduler" --dev-tls --state-dir "$WORK/c" --listen "[::1" 2>&1)
[ $? = 2 ] && grep -q "not closed" <<< "$out" || fail "bad listen not refused: $out"
weft_finish
