#!/bin/bash
# The shipped example config loads; a config with a typo and missing TLS files
# are refused with the key or the file named.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
# The shipped example loads; only TLS and addresses are overridden.
start_sched --config "$LIB/../../configs/weft-scheduler.json" --listen 127.0.0.1
out=$(curl -s --cacert "$CA" -w '\n%{http_code}' "$URL/healthz")
expect_status 200 "$out" "healthz"
# A config with a typo is refused with the key named.
printf '{"heartbeat_msec": 100}' > "$WORK/typo.json"
"$BIN/weft-scheduler" --config "$WORK/typo.json" --dev-tls --state-dir "$WORK/s2" \
    2> "$WORK/typo.err" && fail "typo accepted"
grep -q 'heartbeat_msec: unknown key (did you mean "heartbeat_ms"?)' "$WORK/typo.err" ||
    fail "typo message: $(cat "$WORK/typo.err")"
# Real TLS files that are missing are named.
"$BIN/weft-scheduler" --config "$LIB/../../configs/weft-scheduler.json" \
    --state-dir "$WORK/s3" --port 0 2> "$WORK/tls.err" && fail "missing cert accepted"
grep -q 'fullchain.pem: cannot read: No such file or directory' "$WORK/tls.err" ||
    fail "tls message: $(cat "$WORK/tls.err")"
weft_finish
