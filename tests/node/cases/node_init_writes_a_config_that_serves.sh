#!/bin/bash
# weftctl node init (issue 20, for a homeowner): answers typed at its
# questions (here piped to its stdin) give a config that weftd accepts and
# that serves; it read the inverter and said the grid's sign in words; a "no"
# to the sign question flips the grid reading; with --yes a missing answer is
# named instead of asked.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
start_sched
KEY=$(new_key t)
start_home a
TOKEN=$(enroll a)
answers() { # scheduler, token, address, layout, export negative?, reserve, quiet, models, state
    printf '%s\n' "$URL" "$TOKEN" "tcp://127.0.0.1:${HOME_PORT[a]}" "" "$1" 30 "23:00-06:00" \
        "$WORK/stories260K.gguf" "$WORK/state-a"
}
answers y | "$BIN/weftctl" node init --out "$WORK/a.json" --ca "$CA" > "$WORK/init.out" \
    2> "$WORK/init.err" || fail "node init: $(cat "$WORK/init.err")"
grep -q "found a SunSpec device: Weft" "$WORK/init.err" || fail "no device: $(cat "$WORK/init.err")"
grep -qE "grid: +-?[0-9]+ W \((negative: exporting|positive: importing|zero: neither)" "$WORK/init.err" ||
    fail "the grid's sign not said: $(cat "$WORK/init.err")"
grep -q "stories260K.gguf: .* MiB of weights, and .* MiB for each job" "$WORK/init.err" ||
    fail "the model not sized: $(cat "$WORK/init.err")"
"$BIN/weftd" --check-config "$WORK/a.json" > /dev/null 2> "$WORK/check.err" ||
    fail "weftd refused the config: $(cat "$WORK/check.err")"
[ "$(json 'd["policy"]["reserve_soc"], d["policy"]["quiet_hours"][0]["start"], "grid_sign" in d["energy"]' \
    < "$WORK/a.json")" = "(30, '23:00', False)" ] || fail "answers not in the config: $(cat "$WORK/a.json")"
# It serves: the same config, with the test's quick timings and a free status port.
/usr/bin/python3 - "$WORK/a.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["status"] = {"listen": "127.0.0.1", "port": 0}
c["energy"].update({"poll_ms": 200, "timeout_ms": 300})
c["policy"].update({"enable_delay_s": 1, "disable_delay_s": 1, "quiet_hours": []})
c["compute"] = {"threads": 1}
json.dump(c, open(sys.argv[1], "w"))
PY
"$BIN/weftd" --config "$WORK/a.json" > "$WORK/node-a.out" 2>> "$WORK/node-a.err" &
PIDS+=("$!")
wait_for "weftd's status port" 10 grep -q "status on port" "$WORK/node-a.out"
STATUS_PORT[a]=$(sed -n 's/.*status on port \([0-9]*\)/\1/p' "$WORK/node-a.out")
wait_status a 'd["scheduler"]["state"]' live 10
wait_status a 'd["policy"]["state"]' on 10
text=$(stream /v1/completions '{"model":"stories260K","prompt":"Once","max_tokens":8,"stream":true}' 2>/dev/null)
[ -n "$text" ] || fail "the node from node init did not serve"
# "No" to the sign question: weftd flips the grid reading.
answers n | "$BIN/weftctl" node init --out "$WORK/b.json" --ca "$CA" > /dev/null 2> "$WORK/b.err" ||
    fail "node init (n): $(cat "$WORK/b.err")"
[ "$(json 'd["energy"]["grid_sign"]' < "$WORK/b.json")" = -1 ] || fail "grid_sign not flipped"
# --yes: nothing is asked, and what is missing is named.
out=$("$BIN/weftctl" node init --yes --out "$WORK/c.json" --scheduler "$URL" \
    --modbus "tcp://127.0.0.1:${HOME_PORT[a]}" < /dev/null 2>&1)
[ $? = 2 ] && grep -q "needs --token" <<< "$out" || fail "--yes without a token: $out"
weft_finish
