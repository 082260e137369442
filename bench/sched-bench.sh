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
# The tests' helpers: start_sched, start_testnode, wait_nodes, cleanup.
. "$root/tests/lib/weft.sh" "$bin" "$tbin" "$work"
trap 'weft_cleanup; rm -rf "$WORK"' EXIT

start() { # start HEARTBEAT_MS: a fresh scheduler and a key without limits
    rm -rf "$WORK/sched"
    HEARTBEAT_MS=$1 SCHED_LOG=warn start_sched
    KEY=$(new_key bench --rate 0 --concurrency 0)
}

stop_all() {
    kill -9 "${PIDS[@]}" 2>/dev/null
    wait 2>/dev/null
    PIDS=()
}

pct() { # pct P < numbers  -> the P-th percentile (nearest rank)
    sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((p/100)*NR+0.999); if(i<1)i=1; print a[i]}'
}

bench_latency() {
    local c=${CONNS:-16}
    echo "== latency: wrk, 1 thread, $c connections, 10 s each; 8 instant nodes (testnode --fast)"
    start 2000
    for i in 1 2 3 4 5 6 7 8; do start_testnode "fast$i" --fast --concurrency 1; done
    wait_nodes 8
    echo "-- direct: GET /healthz (same TLS + HTTP stack, no routing)"
    wrk -t1 -c"$c" -d10s --latency "$URL/healthz" | grep -E "Requests/sec|^ +(50|90|99)%"
    echo "-- routed: POST /v1/chat/completions, max_tokens 1, through a node"
    WEFT_KEY=$KEY wrk -t1 -c"$c" -d10s --latency -s "$here/chat.lua" "$URL/v1/chat/completions" |
        grep -E "Requests/sec|^ +(50|90|99)%|Non-2xx"
    stop_all
}

bench_failover() {
    local runs=${RUNS:-50}
    for mode in closed silent; do
        echo "== failover ($mode): $runs runs, heartbeat 200 ms (lease 600 ms), victim dies after token 5"
        start 200
        start_testnode steady --budget-w 50 --token-ms 1
        wait_nodes 1
        : > "$WORK/gaps"
        for r in $(seq "$runs"); do
            if [ $mode = closed ]; then
                start_testnode "victim$r" --budget-w 900 --die-after 5 --token-ms 5
            else
                start_testnode "victim$r" --budget-w 900 --freeze-after 5 --token-ms 5
            fi
            wait_nodes 2
            /usr/bin/python3 "$here/failover.py" 127.0.0.1 "$PORT" "$CA" "$KEY" 12 >> "$WORK/gaps" ||
                echo "run $r failed" >&2
            kill -9 "$NODE_PID" 2>/dev/null
            wait_nodes 1
        done
        n=$(wc -l < "$WORK/gaps")
        bad=$(awk '$2 != 12' "$WORK/gaps" | wc -l)
        echo "runs $n, with a wrong token count: $bad"
        echo "gap ms: p50 $(cut -d' ' -f1 "$WORK/gaps" | pct 50)  p99 $(cut -d' ' -f1 "$WORK/gaps" | pct 99)  max $(cut -d' ' -f1 "$WORK/gaps" | pct 100)"
        stop_all
    done
}

bench_heartbeats() {
    local nodes=${NODES:-10000} secs=${SECONDS_RUN:-60}
    echo "== heartbeats: $nodes nodes, one heartbeat each per 5 s, $secs s, over $nodes TLS connections"
    start 5000
    /usr/bin/python3 "$here/enroll_many.py" "$WORK/sched/weft.db" "$nodes" 127.0.0.1 "$PORT" "$CA" \
        > "$WORK/tokens" || exit 1
    echo "nodes live after hello: $(curl -s --cacert "$CA" "$URL/healthz")"
    hb0=$(curl -s --cacert "$CA" "$URL/metrics" | sed -n 's/^weft_heartbeats_total //p')
    t0=$(awk '{print $14+$15}' "/proc/$SCHED_PID/stat")
    WEFT_TOKENS=$WORK/tokens WEFT_HB_MS=5000 timeout $((secs + 30)) wrk -t2 -c"$nodes" -d"${secs}s" \
        --timeout 10s -s "$here/heartbeat.lua" "$URL/v1/node/heartbeat" > "$WORK/wrk.out" 2>&1
    t1=$(awk '{print $14+$15}' "/proc/$SCHED_PID/stat")
    hb1=$(curl -s --cacert "$CA" "$URL/metrics" | sed -n 's/^weft_heartbeats_total //p')
    tick=$(getconf CLK_TCK)
    echo "heartbeats handled: $((hb1 - hb0)) in $secs s = $(( (hb1 - hb0) / secs ))/s"
    echo "scheduler CPU: $(awk -v a="$t0" -v b="$t1" -v t="$tick" -v s="$secs" 'BEGIN{printf "%.1f%% of one core", (b-a)/t/s*100}')"
    echo "scheduler RSS: $(grep VmRSS "/proc/$SCHED_PID/status" | awk '{print $2/1024 " MiB"}')"
    echo "after: $(curl -s --cacert "$CA" "$URL/healthz")"
    grep -E "Requests/sec|Socket errors|Latency|Non-2xx" "$WORK/wrk.out"
}

case $what in
latency) bench_latency ;;
failover) bench_failover ;;
heartbeats) bench_heartbeats ;;
all) bench_latency; bench_failover; bench_heartbeats ;;
*) echo "usage: $0 latency|failover|heartbeats|all" >&2; exit 2 ;;
esac
