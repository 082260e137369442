#!/bin/bash
# Black-box scheduler tests: the real weft-scheduler over HTTPS on
# loopback, testnode processes as home nodes, curl and openssl as clients.
# Usage: sched_test.sh CASE BIN_DIR TESTS_BIN_DIR WORK_DIR
set -u
case_name=${1:?case}
bin=${2:?bin dir}
tbin=${3:?tests bin dir}
work=${4:?work dir}
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$work"
mkdir -p "$work"
pids=()
cleanup() {
    [ -n "${KEEP:-}" ] && { echo "keeping pids ${pids[*]}"; return; }
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "--- scheduler log (tail)"
    tail -n 40 "$work/sched.err" 2>/dev/null
    exit 1
}

# start_sched [extra flags...]: sets URL, PORT, SCHED_PID
start_sched() {
    : > "$work/sched.out"
    "$bin/weft-scheduler" --dev-tls --state-dir "$work/state" --port "${SCHED_PORT:-0}" \
        --heartbeat-ms "${HEARTBEAT_MS:-200}" --log-level info "$@" \
        > "$work/sched.out" 2>> "$work/sched.err" &
    SCHED_PID=$!
    pids+=("$SCHED_PID")
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*listening on port \([0-9]*\)/\1/p' "$work/sched.out")
        [ -n "$PORT" ] && break
        sleep 0.05
    done
    [ -n "$PORT" ] || fail "scheduler did not start"
    URL="https://127.0.0.1:$PORT"
    CA="$work/state/dev-cert.pem"
}

ctl() { "$bin/weftctl" --state-dir "$work/state" "$@"; }
new_key() { ctl keys create "$@" 2>/dev/null; }
enroll() { ctl nodes enroll "$1" 2>/dev/null; }

# start_node NAME [testnode flags...]: enrolls NAME and starts it; NODE_PID
start_node() {
    local name=$1
    shift
    local tok
    tok=$(enroll "$name") || fail "enroll $name"
    "$tbin/testnode" --url "$URL" --token "$tok" --cacert "$CA" "$@" 2>> "$work/node-$name.err" &
    NODE_PID=$!
    pids+=("$NODE_PID")
}

live_nodes() {
    curl -s --cacert "$CA" "$URL/healthz" | sed -n 's/.*"nodes_live":\([0-9]*\).*/\1/p'
}

wait_nodes() {
    for _ in $(seq 200); do
        [ "$(live_nodes)" = "$1" ] && return 0
        sleep 0.05
    done
    fail "expected $1 live nodes, have $(live_nodes)"
}

# api METHOD PATH [BODY]: prints the body, then a last line with the status
api() {
    local method=$1 path=$2 body=${3-}
    if [ -n "$body" ]; then
        curl -s --cacert "$CA" -X "$method" -H "Authorization: Bearer $KEY" \
            -H 'Content-Type: application/json' -d "$body" -w '\n%{http_code}' "$URL$path"
    else
        curl -s --cacert "$CA" -X "$method" -H "Authorization: Bearer $KEY" \
            -w '\n%{http_code}' "$URL$path"
    fi
}

expect_status() { # expect_status WANT OUTPUT WHAT
    local got
    got=$(printf '%s' "$2" | tail -n 1)
    [ "$got" = "$1" ] || fail "$3: expected HTTP $1, got $got: $(printf '%s' "$2" | head -c 300)"
}

# The text a streamed chat completion delivered, from its SSE events.
stream_text() {
    /usr/bin/python3 -c '
import json, sys
out, done, n = [], False, 0
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("data: "):
        continue
    data = line[6:]
    if data == "[DONE]":
        done = True
        continue
    if done:
        sys.exit("event after [DONE]")
    ev = json.loads(data)
    if "error" in ev:
        sys.exit("stream error: " + ev["error"]["message"])
    for c in ev["choices"]:
        d = c.get("delta", {})
        if d.get("content"):
            out.append(d["content"]); n += 1
if not done:
    sys.exit("no [DONE]")
print("".join(out))
print(n, file=sys.stderr)
'
}

chat_stream() { # chat_stream BODY -> text on stdout
    curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d "$1" "$URL/v1/chat/completions" | stream_text
}

json_get() { # json_get EXPR <<< json   (EXPR in Python, the document is d)
    /usr/bin/python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print($1)"
}

REQ='{"model":"test-model","messages":[{"role":"user","content":"tell me about the sun"}],"max_tokens":24,"seed":1234,"stream":true}'

case "$case_name" in

api_with_curl)
    start_sched
    KEY=$(new_key dev)
    start_node a
    wait_nodes 1
    out=$(api GET /v1/models)
    expect_status 200 "$out" "models"
    [ "$(printf '%s' "$out" | head -n 1 | json_get 'd["data"][0]["id"]')" = test-model ] ||
        fail "models: $out"
    body='{"model":"test-model","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":6,"seed":5}'
    out=$(api POST /v1/chat/completions "$body")
    expect_status 200 "$out" "chat"
    c=$(printf '%s' "$out" | head -n 1)
    [ "$(json_get 'd["object"]' <<< "$c")" = chat.completion ] || fail "chat object: $c"
    [ "$(json_get 'd["choices"][0]["finish_reason"]' <<< "$c")" = length ] || fail "finish: $c"
    [ "$(json_get 'd["usage"]["completion_tokens"]' <<< "$c")" = 6 ] || fail "usage: $c"
    [ "$(json_get 'len(d["choices"][0]["message"]["content"].split())' <<< "$c")" = 6 ] ||
        fail "content: $c"
    # The same request streamed gives the same text (same seed).
    whole=$(json_get 'd["choices"][0]["message"]["content"]' <<< "$c")
    sbody='{"model":"test-model","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":6,"seed":5,"stream":true}'
    streamed=$(chat_stream "$sbody") || fail "stream"
    [ "$whole" = "$streamed" ] || fail "stream text '$streamed' != '$whole'"
    # include_usage adds a usage chunk before [DONE].
    u=$(curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" -d \
        '{"model":"test-model","prompt":"a b c","max_tokens":3,"stream":true,"stream_options":{"include_usage":true}}' \
        "$URL/v1/completions" | grep -c '"usage":{"prompt_tokens":')
    [ "$u" = 1 ] || fail "usage chunk count $u"
    out=$(api POST /v1/completions '{"model":"test-model","prompt":"once upon","max_tokens":4}')
    expect_status 200 "$out" "completions"
    [ "$(printf '%s' "$out" | head -n 1 | json_get 'd["object"]')" = text_completion ] ||
        fail "completion object"
    # Errors in OpenAI's shape with the right status.
    out=$(curl -s --cacert "$CA" -w '\n%{http_code}' "$URL/v1/models")
    expect_status 401 "$out" "no key"
    printf '%s' "$out" | head -n 1 | grep -q '"code":"missing_api_key"' || fail "401 shape: $out"
    out=$(curl -s --cacert "$CA" -H 'Authorization: Bearer wk-nope.nope' -w '\n%{http_code}' \
        "$URL/v1/models")
    expect_status 401 "$out" "wrong key"
    out=$(api POST /v1/chat/completions '{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}')
    expect_status 404 "$out" "unknown model"
    printf '%s' "$out" | grep -q '"code":"model_not_found"' || fail "404 code: $out"
    out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user"')
    expect_status 400 "$out" "bad json"
    out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[],"max_tokens":5}')
    expect_status 400 "$out" "empty messages"
    out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"temperature":9}')
    expect_status 400 "$out" "temperature out of range"
    printf '%s' "$out" | grep -q '"param":"temperature"' || fail "param: $out"
    out=$(api POST /v1/chat/completions '{"model":"test-model","messages":[{"role":"user","content":"x"}],"bogus":1}')
    expect_status 400 "$out" "unknown parameter"
    out=$(api GET /v1/chat/completions)
    expect_status 405 "$out" "wrong method"
    out=$(api GET /v1/nothing)
    expect_status 404 "$out" "unknown path"
    m=$(curl -s --cacert "$CA" "$URL/metrics")
    printf '%s' "$m" | grep -q 'weft_http_requests_total{route="chat_completions",status="200"} 2' ||
        fail "metrics: $(printf '%s' "$m" | grep chat_completions)"
    printf '%s' "$m" | grep -q '^weft_nodes{state="live"} 1' || fail "metrics nodes"
    printf '%s' "$m" | grep -q '^weft_tokens_total 19' || fail "metrics tokens: $(printf '%s' "$m" | grep tokens_total)"
    grep -q 'access 127.0.0.1:[0-9]* "POST /v1/chat/completions" 200' "$work/sched.err" ||
        fail "no access log line"
    ;;

failover_closed_connection)
    start_sched
    KEY=$(new_key dev)
    # The undisturbed run, on a healthy node.
    start_node steady --budget-w 100 --token-ms 2
    wait_nodes 1
    ref=$(chat_stream "$REQ") || fail "reference run"
    # A node with more budget takes the next request and is killed (SIGKILL)
    # after 7 tokens; the request must finish on the steady node.
    start_node crashy --budget-w 900 --die-after 7 --token-ms 10
    wait_nodes 2
    got=$(chat_stream "$REQ" 2> "$work/count") || fail "stream through a crash"
    [ "$got" = "$ref" ] || fail "after a crash: '$got' != '$ref'"
    [ "$(cat "$work/count")" = 24 ] || fail "token events: $(cat "$work/count")"
    grep -q "node crashy is gone: .*connection closed" "$work/sched.err" ||
        fail "crash not seen as a closed connection"
    grep -q "resuming from token 7" "$work/sched.err" || fail "did not resume at token 7"
    curl -s --cacert "$CA" "$URL/metrics" | grep -q 'weft_failovers_total{cause="connection_closed"} 1' ||
        fail "failover metric"
    ;;

failover_silent_node)
    start_sched
    KEY=$(new_key dev)
    start_node steady --budget-w 100 --token-ms 2
    wait_nodes 1
    ref=$(chat_stream "$REQ") || fail "reference run"
    # SIGSTOP after 5 tokens: connections stay open, heartbeats stop. The
    # lease (3 x 200 ms) runs out and the job moves.
    start_node frozen --budget-w 900 --freeze-after 5 --token-ms 10
    wait_nodes 2
    got=$(chat_stream "$REQ" 2> "$work/count") || fail "stream through a freeze"
    [ "$got" = "$ref" ] || fail "after a freeze: '$got' != '$ref'"
    [ "$(cat "$work/count")" = 24 ] || fail "token events: $(cat "$work/count")"
    grep -q "node frozen is gone: no heartbeat for" "$work/sched.err" || fail "silence not seen"
    ;;

yield_resumes_elsewhere)
    start_sched
    KEY=$(new_key dev)
    start_node steady --budget-w 100 --token-ms 2
    wait_nodes 1
    ref=$(chat_stream "$REQ") || fail "reference run"
    # A node that loses its budget after 9 tokens of each job gives it back.
    start_node cloudy --budget-w 900 --yield-after 9 --token-ms 5
    wait_nodes 2
    got=$(chat_stream "$REQ") || fail "stream through a yield"
    [ "$got" = "$ref" ] || fail "after a yield: '$got' != '$ref'"
    grep -q "resuming from token 9 (node yielded" "$work/sched.err" || fail "no yield resume"
    ;;

too_many_failures_fail_cleanly)
    start_sched
    KEY=$(new_key dev)
    # Three nodes that each crash: after max_attempts (3) the client gets a
    # clear error event, not a hang.
    start_node x1 --die-after 2 --token-ms 5
    start_node x2 --die-after 2 --token-ms 5
    start_node x3 --die-after 2 --token-ms 5
    wait_nodes 3
    out=$(curl -sN --max-time 20 --cacert "$CA" -H "Authorization: Bearer $KEY" -d "$REQ" \
        "$URL/v1/chat/completions")
    printf '%s' "$out" | grep -q '"code":"node_failure"' || fail "no node_failure event: $out"
    printf '%s' "$out" | tail -n 2 | grep -q 'data: \[DONE\]' || fail "no [DONE] after the error"
    ;;

jobs_api)
    start_sched
    KEY=$(new_key dev)
    OTHER=$(new_key other)
    job='{"endpoint":"/v1/chat/completions","completion_window":"1h","request":{"model":"test-model","messages":[{"role":"user","content":"batch me"}],"max_tokens":5,"seed":9}}'
    out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Idempotency-Key: k1' \
        -d "$job" -w '\n%{http_code}' "$URL/v1/jobs")
    expect_status 202 "$out" "job create"
    id=$(printf '%s' "$out" | head -n 1 | json_get 'd["id"]')
    [ "$(printf '%s' "$out" | head -n 1 | json_get 'd["status"]')" = queued ] || fail "not queued"
    out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Idempotency-Key: k1' \
        -d "$job" -w '\n%{http_code}' "$URL/v1/jobs")
    expect_status 200 "$out" "idempotent replay"
    [ "$(printf '%s' "$out" | head -n 1 | json_get 'd["id"]')" = "$id" ] || fail "new id on replay"
    # Another key neither sees nor cancels it.
    out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $OTHER" -w '\n%{http_code}' "$URL/v1/jobs/$id")
    expect_status 404 "$out" "other key's job"
    # Deferrable work waits for surplus: a node without it does not get it.
    start_node nosun --no-deferrable
    wait_nodes 1
    sleep 0.5
    [ "$(api GET "/v1/jobs/$id" | head -n 1 | json_get 'd["status"]')" = queued ] ||
        fail "ran without surplus"
    start_node sunny
    wait_nodes 2
    for _ in $(seq 100); do
        st=$(api GET "/v1/jobs/$id" | head -n 1 | json_get 'd["status"]')
        [ "$st" = succeeded ] && break
        sleep 0.05
    done
    [ "$st" = succeeded ] || fail "job status $st"
    r=$(api GET "/v1/jobs/$id" | head -n 1)
    [ "$(json_get 'len(d["result"]["choices"][0]["message"]["content"].split())' <<< "$r")" = 5 ] ||
        fail "result: $r"
    out=$(api DELETE "/v1/jobs/$id")
    expect_status 409 "$out" "cancel a finished job"
    # Paging: 5 more jobs, pages of 2.
    for i in 1 2 3 4 5; do
        api POST /v1/jobs '{"completion_window":"1h","request":{"model":"test-model","messages":[{"role":"user","content":"p'$i'"}],"max_tokens":2}}' > /dev/null
    done
    seen=0 after=""
    for _ in 1 2 3 4; do
        page=$(api GET "/v1/jobs?limit=2${after:+&after=$after}" | head -n 1)
        n=$(json_get 'len(d["data"])' <<< "$page")
        seen=$((seen + n))
        [ "$(json_get 'd["has_more"]' <<< "$page")" = True ] || break
        after=$(json_get 'd["last_id"]' <<< "$page")
    done
    [ "$seen" = 6 ] || fail "paging saw $seen jobs, want 6"
    # A job nobody can run before its deadline expires with a clear status.
    kill -9 "$NODE_PID"
    soon=$(/usr/bin/python3 -c 'import time; print(round(time.time() + 1.5, 3))')
    out=$(api POST /v1/jobs '{"deadline":'"$soon"',"request":{"model":"test-model","messages":[{"role":"user","content":"late"}]}}')
    expect_status 202 "$out" "deadline job"
    did=$(printf '%s' "$out" | head -n 1 | json_get 'd["id"]')
    sleep 2.5
    d=$(api GET "/v1/jobs/$did" | head -n 1)
    [ "$(json_get 'd["status"]' <<< "$d")" = expired ] || fail "deadline: $d"
    json_get 'd["error"]["message"]' <<< "$d" | grep -q "before its deadline" || fail "reason: $d"
    # Cancelling a queued job.
    out=$(api POST /v1/jobs '{"request":{"model":"test-model","prompt":"never"},"endpoint":"/v1/completions"}')
    cid=$(printf '%s' "$out" | head -n 1 | json_get 'd["id"]')
    out=$(api DELETE "/v1/jobs/$cid")
    expect_status 200 "$out" "cancel"
    [ "$(printf '%s' "$out" | head -n 1 | json_get 'd["status"]')" = cancelled ] || fail "cancel: $out"
    # Bad job bodies.
    out=$(api POST /v1/jobs '{"completion_window":"soon","request":{"model":"m","prompt":"x"}}')
    expect_status 400 "$out" "bad window"
    out=$(api POST /v1/jobs '{"request":{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}}')
    expect_status 400 "$out" "streamed job"
    ;;

jobs_survive_restart)
    SCHED_PORT=0 start_sched
    KEY=$(new_key dev)
    ids=()
    for i in $(seq 8); do
        out=$(api POST /v1/jobs '{"completion_window":"1h","request":{"model":"test-model","messages":[{"role":"user","content":"job '$i'"}],"max_tokens":6}}')
        expect_status 202 "$out" "job $i"
        ids+=("$(printf '%s' "$out" | head -n 1 | json_get 'd["id"]')")
    done
    # A node starts on them, then the scheduler dies hard mid-way.
    start_node slow --token-ms 40 --concurrency 2
    sleep 0.6
    kill -9 "$SCHED_PID"
    wait "$SCHED_PID" 2>/dev/null
    kill -9 "$NODE_PID"
    SCHED_PORT=$PORT start_sched
    grep -q "resumed [0-9]* unfinished job" "$work/sched.err" || fail "nothing resumed"
    start_node fast --token-ms 1
    for id in "${ids[@]}"; do
        for _ in $(seq 200); do
            st=$(api GET "/v1/jobs/$id" | head -n 1 | json_get 'd["status"]')
            [ "$st" = succeeded ] && break
            sleep 0.05
        done
        [ "$st" = succeeded ] || fail "job $id: $st after restart"
    done
    # Exactly once: every job has one recorded completion.
    /usr/bin/python3 - "$work/state/weft.db" <<'EOF' || fail "completion counts"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("select id, completions from jobs").fetchall()
bad = [r for r in rows if r[1] != 1]
assert len(rows) == 8 and not bad, rows
EOF
    ;;

bad_input_keeps_server_up)
    cat > "$work/cfg.json" <<'EOF'
{"limits": {"header_timeout_ms": 500, "max_header_bytes": 4096, "max_body_bytes": 65536}}
EOF
    start_sched --config "$work/cfg.json"
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
    head -c 100000 /dev/zero | tr '\0' ' ' > "$work/big.json"
    out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" --data-binary @"$work/big.json" \
        -w '\n%{http_code}' "$URL/v1/chat/completions")
    expect_status 413 "$out" "oversized body"
    out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Transfer-Encoding: chunked' \
        --data-binary @"$work/big.json" -w '\n%{http_code}' "$URL/v1/chat/completions")
    expect_status 413 "$out" "oversized chunked body"
    raw 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' |
        head -n 1 | grep -q '^HTTP/1.1 400' || fail "CL+TE smuggling"
    deep=$(printf '%.0s[' $(seq 40))
    out=$(api POST /v1/chat/completions "{\"model\":\"m\",\"messages\":$deep")
    expect_status 400 "$out" "deep JSON"
    # Slow headers: a client that never finishes them gets 408 at the bound
    # (500 ms here), long before it gives up itself.
    ( (printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n'; sleep 4) |
        timeout 5 openssl s_client -quiet -connect "127.0.0.1:$PORT" > "$work/slow.out" 2>/dev/null & )
    for _ in $(seq 25); do
        grep -q '^HTTP/1.1 408' "$work/slow.out" && break
        sleep 0.1
    done
    grep -q '^HTTP/1.1 408' "$work/slow.out" || fail "slow headers: no 408 within 2.5 s"
    # Not TLS at all, then TLS garbage: the connection closes, nothing else.
    plain() { # sends stdin over plain TCP, waits up to 3 s for the close
        timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'; cat >&3; timeout 3 cat <&3' \
            > /dev/null 2>&1 || true
    }
    printf 'GET / HTTP/1.1\r\n\r\n' | plain
    head -c 4096 /dev/urandom | plain
    # Many half-open connections, then a normal request still works.
    for _ in $(seq 50); do
        (printf 'GET /he' | timeout 2 openssl s_client -quiet -connect "127.0.0.1:$PORT" > /dev/null 2>&1 &)
    done
    sleep 0.5
    out=$(curl -s --cacert "$CA" -w '\n%{http_code}' "$URL/healthz")
    expect_status 200 "$out" "healthz after abuse"
    kill -0 "$SCHED_PID" || fail "scheduler died"
    # Plain HTTP is refused off loopback.
    "$bin/weft-scheduler" --plain-http --listen 0.0.0.0 --port 0 --state-dir "$work/state2" \
        > /dev/null 2> "$work/plain.err" && fail "plain HTTP on 0.0.0.0 was accepted"
    grep -q "only on a loopback address" "$work/plain.err" || fail "plain http message"
    ;;

keys_and_nodes)
    start_sched
    KEY=$(new_key limited --rate 5 --concurrency 1)
    out=""
    for _ in $(seq 6); do out=$(api GET /v1/models); done
    expect_status 429 "$out" "rate limit"
    printf '%s' "$out" | grep -q rate_limit_exceeded || fail "429 code"
    ctl keys list | grep -q limited || fail "keys list"
    ctl keys revoke limited 2> /dev/null || fail "revoke"
    # Checked credentials are remembered for a second (authcache.c).
    sleep 1.1
    out=$(api GET /v1/models)
    expect_status 401 "$out" "revoked key"
    # Keys are stored hashed: the secret is nowhere in the database.
    secret=${KEY#*.}
    ! grep -qa "$secret" "$work/state/weft.db"* || fail "secret found in the store"
    # Node tokens: a wrong token is refused; a node cannot touch another's job.
    out=$(curl -s --cacert "$CA" -H 'Authorization: Bearer wn-000000000000.ffff' \
        -d '{"models":[]}' -w '\n%{http_code}' "$URL/v1/node/hello")
    expect_status 401 "$out" "bad node token"
    KEY=$(new_key dev)
    start_node busy --token-ms 200
    wait_nodes 1
    curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" -d "$REQ" "$URL/v1/chat/completions" > /dev/null &
    pids+=($!)
    sleep 0.5
    jid=$(grep -o 'job chatcmpl-[0-9a-f]* -> node busy' "$work/sched.err" | head -n 1 | cut -d' ' -f2)
    [ -n "$jid" ] || fail "no job placed"
    intruder=$(enroll intruder)
    curl -s --cacert "$CA" -H "Authorization: Bearer $intruder" -d '{"models":[{"name":"test-model"}]}' \
        "$URL/v1/node/hello" > /dev/null
    out=$(curl -s --cacert "$CA" -H "Authorization: Bearer $intruder" \
        -d '{"i":0,"id":1,"text":"x"}' -w '\n%{http_code}' "$URL/v1/node/jobs/$jid/stream")
    expect_status 404 "$out" "foreign job"
    ADMIN=$(new_key ops --admin)
    "$bin/weftctl" --url "$URL" --key "$ADMIN" --cacert "$CA" nodes | grep -q '^busy  *live' ||
        fail "weftctl nodes"
    out=$(api GET /v1/admin/nodes)
    expect_status 403 "$out" "admin route with a normal key"
    ;;

example_config_starts)
    # The shipped example loads; only TLS and addresses are overridden.
    start_sched --config "$here/../../configs/weft-scheduler.json" --listen 127.0.0.1
    out=$(curl -s --cacert "$CA" -w '\n%{http_code}' "$URL/healthz")
    expect_status 200 "$out" "healthz"
    # A config with a typo is refused with the key named.
    printf '{"heartbeat_msec": 100}' > "$work/typo.json"
    "$bin/weft-scheduler" --config "$work/typo.json" --dev-tls --state-dir "$work/s2" \
        2> "$work/typo.err" && fail "typo accepted"
    grep -q 'heartbeat_msec: unknown key (did you mean "heartbeat_ms"?)' "$work/typo.err" ||
        fail "typo message: $(cat "$work/typo.err")"
    # Real TLS files that are missing are named.
    "$bin/weft-scheduler" --config "$here/../../configs/weft-scheduler.json" \
        --state-dir "$work/s3" --port 0 2> "$work/tls.err" && fail "missing cert accepted"
    grep -q 'fullchain.pem: cannot read: No such file or directory' "$work/tls.err" ||
        fail "tls message: $(cat "$work/tls.err")"
    ;;

openai_npm_client)
    js="$here/js"
    if [ ! -d "$js/node_modules/openai" ]; then
        echo "the openai npm package is not installed (scripts/install-deps installs it)"
        exit 77
    fi
    start_sched
    KEY=$(new_key dev)
    start_node a --token-ms 1
    wait_nodes 1
    NODE_EXTRA_CA_CERTS="$CA" WEFT_URL="$URL/v1" WEFT_KEY="$KEY" \
        timeout 60 node "$js/client_test.mjs" || fail "openai client test"
    ;;

*)
    echo "unknown case $case_name"
    exit 2
    ;;
esac
# The scheduler must stop cleanly on SIGTERM: exit 0, loop closed with no
# handle open, and (in sanitizer builds) no leak or error report.
if [ -n "${SCHED_PID:-}" ] && kill -0 "$SCHED_PID" 2>/dev/null; then
    kill -TERM "$SCHED_PID"
    wait "$SCHED_PID"
    rc=$?
    [ "$rc" = 0 ] || fail "scheduler exited with $rc on SIGTERM"
fi
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer" "$work/sched.err"; then
    fail "sanitizer report in the scheduler log"
fi
echo "ok: $case_name"
