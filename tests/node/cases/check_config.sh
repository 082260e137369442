#!/bin/bash
# weftd --check-config: a typo named with a suggestion, plain http refused, a
# good config valid, and the shipped example passing the schema.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
printf '{"scheduler":{"urls":["https://x:1"],"token":"t"},"models":[{"path":"%s"}],"energy":{"modbus":"tcp://127.0.0.1:1"},"polcy":{}}' \
    "$WORK/stories260K.gguf" > "$WORK/bad.json"
"$BIN/weftd" --check-config "$WORK/bad.json" 2> "$WORK/bad.err" && fail "typo accepted"
grep -q 'polcy: unknown key (did you mean "policy"?)' "$WORK/bad.err" || fail "$(cat "$WORK/bad.err")"
printf '{"scheduler":{"urls":["http://example.com"],"token":"t"},"models":[{"path":"%s"}],"energy":{"modbus":"tcp://127.0.0.1:1"}}' \
    "$WORK/stories260K.gguf" > "$WORK/plain.json"
"$BIN/weftd" --check-config "$WORK/plain.json" 2> "$WORK/plain.err" && fail "plain http accepted"
grep -q "must be https://" "$WORK/plain.err" || fail "$(cat "$WORK/plain.err")"
printf '{"scheduler":{"urls":["https://x:1"],"token":"t"},"models":[{"path":"%s"}],"energy":{"modbus":"tcp://127.0.0.1:1"}}' \
    "$WORK/stories260K.gguf" > "$WORK/good.json"
"$BIN/weftd" --check-config "$WORK/good.json" > "$WORK/good.out" || fail "good config refused"
grep -q "is valid" "$WORK/good.out" || fail "$(cat "$WORK/good.out")"
# The shipped example passes the schema; only its model file is absent here.
"$BIN/weftd" --check-config "$LIB/../../configs/weftd.json" > /dev/null 2> "$WORK/ex.err"
grep -q "models\[0\].path: cannot read" "$WORK/ex.err" || fail "example config: $(cat "$WORK/ex.err")"
weft_finish
