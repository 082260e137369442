#!/bin/bash
# weftctl region init (issue 20, for an operator): a state directory, trial
# TLS material, the first admin and developer keys and a config; the lines
# it prints work as printed: the scheduler starts from the config, the curl
# line and the openai client line answer, the enrollment line gives a token.
# A second run leaves the region alone.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
p=$(free_port)
PATH="$BIN:$PATH"
weftctl --state-dir "$WORK/r" region init --port "$p" > "$WORK/init.out" 2> "$WORK/init.err" ||
    fail "region init: $(cat "$WORK/init.err")"
line() { grep -m1 "$1" "$WORK/init.out" | sed 's/^ *//'; }
start=$(line '^  weft-scheduler ')
[ -n "$start" ] || fail "no start line: $(cat "$WORK/init.out")"
$start > "$WORK/sched.out" 2> "$WORK/sched.err" &
PIDS+=("$!")
wait_for "the scheduler from the printed line" 10 grep -q "listening on port $p" "$WORK/sched.out"
models=$(eval "$(line '^  curl ')") || fail "the curl line"
[ "$(json 'd["object"]' <<< "$models")" = list ] || fail "the curl line answered: $models"
tok=$(eval "$(line 'nodes enroll')" 2>/dev/null)
[ "${tok#wn-}" != "$tok" ] || fail "the enrollment line gave: $tok"
weftctl --state-dir "$WORK/r" keys list | grep -q "admin .*admin" || fail "no admin key"
weftctl --state-dir "$WORK/r" keys list | grep -q "developer .*rate=600/min" || fail "no developer key"
js="$LIB/../sched/js"
if [ -d "$js/node_modules/openai" ]; then
    out=$(cd "$js" && eval "$(line 'node --input-type')") || fail "the openai line: $out"
    [ "$out" = "[]" ] || fail "the openai line printed: $out"
fi
out=$(weftctl --state-dir "$WORK/r" region init --port "$p" 2>&1)
[ $? = 1 ] && grep -q "set up" <<< "$out" || fail "a second init: $out"
weft_finish
