#!/bin/bash
# Scheduler benchmarks (issue 5), on loopback with the real binaries:
#   latency     routed one-token completions/s and latency (wrk) against an
#               instant endpoint on the same TLS/HTTP stack (/healthz)
#   failover    client-side gap at a node's death, closed connection and
#               silent node, RUNS kills each (default 50)
#   heartbeats  NODES simulated nodes (default 10000), one heartbeat per
#               5 s each, for SECONDS (default 60): scheduler CPU and RSS
# Usage: bench/sched-bench.sh latency|failover|heartbeats|all
# Needs: a `make` build (build/bin, build/tests/testnode), wrk, python3.
set -u
what=${1:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/bin
tbin=$root/build/tests
here=$root/bench/sched
work=$(mktemp -d /tmp/weft-sched-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

start_sched() { # start_sched HEARTBEAT_MS
    rm -rf "$work/state"
    : > "$work/sched.out"
    "$bin/weft-scheduler" --dev-tls --state-dir "$work/state" --port 0 --heartbeat-ms "$1" \
        --log-level warn > "$work/sched.out" 2> "$work/sched.err" &
    SCHED_PID=$!
    pids+=("$SCHED_PID")
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*listening on port \([0-9]*\)/\1/p' "$work/sched.out")
        [ -n "$PORT" ] && break
        sleep 0.05
    done
    URL=https://127.0.0.1:$PORT
    CA=$work/state/dev-cert.pem
    KEY=$("$bin/weftctl" --state-dir "$work/state" keys create bench --rate 0 --concurrency 0 2>/dev/null)
}

node() { # node NAME flags...
    local name=$1
    shift
    local tok
    tok=$("$bin/weftctl" --state-dir "$work/state" nodes enroll "$name" 2>/dev/null)
    "$tbin/testnode" --url "$URL" --token "$tok" --cacert "$CA" "$@" 2>/dev/null &
    NODE_PID=$!
    pids+=("$NODE_PID")
}

wait_live() {
    for _ in $(seq 400); do
        [ "$(curl -s --cacert "$CA" "$URL/healthz" | sed -n 's/.*"nodes_live":\([0-9]*\).*/\1/p')" = "$1" ] && return 0
        sleep 0.025
    done
    echo "nodes did not come up" >&2
    exit 1
}

pct() { # pct P < numbers  -> the P-th percentile (nearest rank)
    sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((p/100)*NR+0.999); if(i<1)i=1; print a[i]}'
}

bench_latency() {
    local c=${CONNS:-16}
    echo "== latency: wrk, 1 thread, $c connections, 10 s each; 8 instant nodes (testnode --fast)"
    start_sched 2000
    for i in 1 2 3 4 5 6 7 8; do node "fast$i" --fast --concurrency 1; done
    wait_live 8
    echo "-- direct: GET /healthz (same TLS + HTTP stack, no routing)"
    wrk -t1 -c"$c" -d10s --latency "$URL/healthz" | grep -E "Requests/sec|^ +(50|90|99)%"
    echo "-- routed: POST /v1/chat/completions, max_tokens 1, through a node"
    WEFT_KEY=$KEY wrk -t1 -c"$c" -d10s --latency -s "$here/chat.lua" "$URL/v1/chat/completions" |
        grep -E "Requests/sec|^ +(50|90|99)%|Non-2xx"
    kill -9 "${pids[@]}" 2>/dev/null
    pids=()
}

bench_failover() {
    local runs=${RUNS:-50}
    for mode in closed silent; do
        echo "== failover ($mode): $runs runs, heartbeat 200 ms (lease 600 ms), victim dies after token 5"
        start_sched 200
        node steady --budget-w 50 --token-ms 1
        wait_live 1
        : > "$work/gaps"
        for r in $(seq "$runs"); do
            if [ $mode = closed ]; then
                node "victim$r" --budget-w 900 --die-after 5 --token-ms 5
            else
                node "victim$r" --budget-w 900 --freeze-after 5 --token-ms 5
            fi
            wait_live 2
            /usr/bin/python3 "$here/failover.py" 127.0.0.1 "$PORT" "$CA" "$KEY" 12 >> "$work/gaps" ||
                echo "run $r failed" >&2
            kill -9 "$NODE_PID" 2>/dev/null
            wait_live 1
        done
        n=$(wc -l < "$work/gaps")
        bad=$(awk '$2 != 12' "$work/gaps" | wc -l)
        echo "runs $n, with a wrong token count: $bad"
        echo "gap ms: p50 $(cut -d' ' -f1 "$work/gaps" | pct 50)  p99 $(cut -d' ' -f1 "$work/gaps" | pct 99)  max $(cut -d' ' -f1 "$work/gaps" | pct 100)"
        kill -9 "${pids[@]}" 2>/dev/null
        pids=()
    done
}

bench_heartbeats() {
    local nodes=${NODES:-10000} secs=${SECONDS_RUN:-60}
    echo "== heartbeats: $nodes nodes, one heartbeat each per 5 s, $secs s, over $nodes TLS connections"
    start_sched 5000
    /usr/bin/python3 "$here/enroll_many.py" "$work/state/weft.db" "$nodes" 127.0.0.1 "$PORT" "$CA" \
        > "$work/tokens" || exit 1
    echo "nodes live after hello: $(curl -s --cacert "$CA" "$URL/healthz")"
    hb0=$(curl -s --cacert "$CA" "$URL/metrics" | sed -n 's/^weft_heartbeats_total //p')
    t0=$(awk '{print $14+$15}' "/proc/$SCHED_PID/stat")
    WEFT_TOKENS=$work/tokens WEFT_HB_MS=5000 timeout $((secs + 30)) wrk -t2 -c"$nodes" -d"${secs}s" \
        --timeout 10s -s "$here/heartbeat.lua" "$URL/v1/node/heartbeat" > "$work/wrk.out" 2>&1
    t1=$(awk '{print $14+$15}' "/proc/$SCHED_PID/stat")
    hb1=$(curl -s --cacert "$CA" "$URL/metrics" | sed -n 's/^weft_heartbeats_total //p')
    tick=$(getconf CLK_TCK)
    echo "heartbeats handled: $((hb1 - hb0)) in $secs s = $(( (hb1 - hb0) / secs ))/s"
    echo "scheduler CPU: $(awk -v a="$t0" -v b="$t1" -v t="$tick" -v s="$secs" 'BEGIN{printf "%.1f%% of one core", (b-a)/t/s*100}')"
    echo "scheduler RSS: $(grep VmRSS "/proc/$SCHED_PID/status" | awk '{print $2/1024 " MiB"}')"
    echo "after: $(curl -s --cacert "$CA" "$URL/healthz")"
    grep -E "Requests/sec|Socket errors|Latency|Non-2xx" "$work/wrk.out"
}

case $what in
latency) bench_latency ;;
failover) bench_failover ;;
heartbeats) bench_heartbeats ;;
all) bench_latency; bench_failover; bench_heartbeats ;;
*) echo "usage: $0 latency|failover|heartbeats|all" >&2; exit 2 ;;
esac
