#!/bin/bash
# Bad input over TLS (bad methods, headers, versions, oversized headers and
# bodies, CL+TE smuggling, deep JSON, slow headers, not-TLS and TLS garbage,
# half-open connections): clear refusals, and the scheduler stays up.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
cat > "$WORK/cfg.json" <<'EOF'
{"limits": {"header_timeout_ms": 500, "max_header_bytes": 4096, "max_body_bytes": 65536}}
EOF
start_sched --config "$WORK/cfg.json"
KEY=$(new_key dev)
raw() { # raw BYTES -> the server's answer over TLS
    printf '%b' "$1" | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$PORT" 2>/dev/null
}
raw 'BLAH / HTTP/1.1\r\n\r\n' | head -n 1 | grep -q '^HTTP/1.1 400' || fail "bad method"
raw 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n' | head -n 1 | grep -q '^HTTP/1.1 400' ||
    fail "bad header line"
raw 'GET / HTTP/3.0\r\n\r\n' | head -n 1 | grep -q '^HTTP/1.1 [45]0' || fail "bad version"
big=$(head -c 6000 /dev/zero | tr '\0' a)
raw "GET /healthz HTTP/1.1\r\nX-Big: $big\r\n\r\n" | head -n 1 | grep -q '^HTTP/1.1 431' ||
    fail "oversized headers"
head -c 100000 /dev/zero | tr '\0' ' ' > "$WORK/big.json"
out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" --data-binary @"$WORK/big.json" \
    -w '\n%{http_code}' "$URL/v1/chat/completions")
expect_status 413 "$out" "oversized body"
out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Transfer-Encoding: chunked' \
    --data-binary @"$WORK/big.json" -w '\n%{http_code}' "$URL/v1/chat/completions")
expect_status 413 "$out" "oversized chunked body"
raw 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' |
    head -n 1 | grep -q '^HTTP/1.1 400' || fail "CL+TE smuggling"
deep=$(printf '%.0s[' $(seq 40))
out=$(api POST /v1/chat/completions "{\"model\":\"m\",\"messages\":$deep")
expect_status 400 "$out" "deep JSON"
# Slow headers: a client that never finishes them gets 408 at the bound
# (500 ms here), long before it gives up itself.
( (printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n'; sleep 4) |
    timeout 5 openssl s_client -quiet -connect "127.0.0.1:$PORT" > "$WORK/slow.out" 2>/dev/null & )
wait_for "408 for slow headers within 2.5 s" 3 grep -q '^HTTP/1.1 408' "$WORK/slow.out"
# Not TLS at all, then TLS garbage: the connection closes, nothing else.
plain() { # sends stdin over plain TCP, waits up to 3 s for the close
    timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'; cat >&3; timeout 3 cat <&3' \
        > /dev/null 2>&1 || true
}
printf 'GET / HTTP/1.1\r\n\r\n' | plain
head -c 4096 /dev/urandom | plain
# Many half-open connections, then a normal request still works.
n408=$(metric 'weft_http_requests_total{route="other",status="408"}')
for _ in $(seq 50); do
    (printf 'GET /he' | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" > /dev/null 2>&1 &)
done
# Each gets its 408 at the header bound, and the server goes on.
wait_metric 'weft_http_requests_total{route="other",status="408"}' $((${n408:-0} + 50)) 20
out=$(curl -s --cacert "$CA" -w '\n%{http_code}' "$URL/healthz")
expect_status 200 "$out" "healthz after abuse"
kill -0 "$SCHED_PID" || fail "scheduler died"
# A caller without a valid credential is answered at the headers, before
# its body is read: 2 MiB without a key (or with a wrong node token) is a
# 401, not a 413 after reading a megabyte (issue 17, finding 9).
head -c 2097152 /dev/zero | tr '\0' 'a' > "$WORK/big"
out=$(curl -s --cacert "$CA" -w '\n%{http_code}' --data-binary @"$WORK/big" "$URL/v1/chat/completions")
expect_status 401 "$out" "a big body without a key"
out=$(curl -s --cacert "$CA" -H 'Authorization: Bearer wn-000000000000.ffff' -w '\n%{http_code}' \
    --data-binary @"$WORK/big" "$URL/v1/node/heartbeat")
expect_status 401 "$out" "a big body with a wrong node token"
# Plain HTTP is refused off loopback.
"$BIN/weft-scheduler" --plain-http --listen 0.0.0.0 --port 0 --state-dir "$WORK/state2" \
    > /dev/null 2> "$WORK/plain.err" && fail "plain HTTP on 0.0.0.0 was accepted"
grep -q "only on a loopback address" "$WORK/plain.err" || fail "plain http message"
weft_finish
