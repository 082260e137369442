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
# Hosts that only look like loopback (issue 17): the node token would go
# off the machine in the clear. Parsed as libcurl parses them.
url_config() { # url_config URL FILE
    printf '{"scheduler":{"urls":["%s"],"token":"t"},"models":[{"path":"%s"}],"energy":{"modbus":"tcp://127.0.0.1:1"}}' \
        "$1" "$WORK/stories260K.gguf" > "$2"
}
for u in "http://127.0.0.1@evil.example" "http://127.evil.example" "http://127.0.0.1.nip.io:8080" \
    "http://[::ffff:8.8.8.8]" "http://localhost.evil.example" "ftp://127.0.0.1"; do
    url_config "$u" "$WORK/fake.json"
    "$BIN/weftd" --check-config "$WORK/fake.json" 2> "$WORK/fake.err" && fail "$u accepted"
    grep -qE "must be https://|names a user" "$WORK/fake.err" || fail "$u: $(cat "$WORK/fake.err")"
done
url_config "http//x" "$WORK/fake.json"
"$BIN/weftd" --check-config "$WORK/fake.json" 2> "$WORK/fake.err" && fail "a non-URL accepted"
for u in "http://127.0.0.1:8080" "http://127.1.2.3" "http://[::1]:9" "http://localhost:9" "https://sched.example:8443"; do
    url_config "$u" "$WORK/real.json"
    "$BIN/weftd" --check-config "$WORK/real.json" > /dev/null 2> "$WORK/real.err" ||
        fail "$u refused: $(cat "$WORK/real.err")"
done
printf '{"scheduler":{"urls":["https://x:1"],"token":"t"},"models":[{"path":"%s"}],"energy":{"modbus":"tcp://127.0.0.1:1"}}' \
    "$WORK/stories260K.gguf" > "$WORK/good.json"
"$BIN/weftd" --check-config "$WORK/good.json" > "$WORK/good.out" || fail "good config refused"
grep -q "is valid" "$WORK/good.out" || fail "$(cat "$WORK/good.out")"
# The shipped example passes the schema; only its model file is absent here.
"$BIN/weftd" --check-config "$LIB/../../configs/weftd.json" > /dev/null 2> "$WORK/ex.err"
grep -q "models\[0\].path: cannot read" "$WORK/ex.err" || fail "example config: $(cat "$WORK/ex.err")"
weft_finish
