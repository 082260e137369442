#!/bin/bash
# No-single-brain benchmarks (issue 18), on loopback with the real binaries
# and a PostgreSQL 15 of their own:
#   latency     routed streamed one-token completions (wrk): SQLite store vs
#               PostgreSQL (where each stream is written, journaled, finished)
#   throughput  routed req/s: one scheduler vs three on one PostgreSQL
#   failover    a scheduler killed mid-stream (kill -9): ms from the kill to
#               the stream's next token through another scheduler, RUNS times
#   heartbeats  NODES simulated nodes (default 10000) spread over three
#               schedulers, one heartbeat per 5 s each, SECONDS_RUN (60)
# Usage: bench/region-bench.sh latency|throughput|failover|heartbeats|all
# Needs: a `make` build, wrk, python3, Debian's postgresql.
set -u
what=${1:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/bin
tbin=$root/build/tests
here=$root/bench/sched
work=$(mktemp -d /tmp/weft-region-bench.XXXXXX)
. "$root/tests/lib/weft.sh" "$bin" "$tbin" "$work"
trap 'weft_cleanup; rm -rf "$WORK"' EXIT

stop_procs() {
    kill -9 "${PIDS[@]}" 2>/dev/null
    wait 2>/dev/null
    PIDS=()
}
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((p/100)*NR+0.999); if(i<1)i=1; print a[i]}'; }
pg_empty() { psql "$PG_URI" -qc "DROP TABLE IF EXISTS api_keys, nodes, node_limits, jobs, journal" 2>/dev/null; }
wrk_stream() { # wrk_stream URL SECONDS CONNS
    WEFT_KEY=$KEY WEFT_STREAM=1 wrk -t1 -c"$3" -d"$2" --latency -s "$here/chat.lua" "$1/v1/chat/completions" |
        grep -E "Requests/sec|^ +(50|90|99)%|Non-2xx"
}

bench_latency() {
    start_pg
    for c in 1 16; do
        echo "== latency, $c connection(s): streamed chat, max_tokens 1, 8 instant nodes"
        echo "-- SQLite store (streams are not stored)"
        rm -rf "$WORK/sched"
        HEARTBEAT_MS=2000 SCHED_LOG=warn start_sched
        KEY=$(new_key bench --rate 0 --concurrency 0)
        for i in 1 2 3 4 5 6 7 8; do start_testnode "fast$i" --fast --concurrency 1; done
        wait_nodes 8
        wrk_stream "$URL" 10s "$c"
        stop_procs
        echo "-- PostgreSQL store (each stream inserted, journaled and finished)"
        pg_empty
        HEARTBEAT_MS=2000 SCHED_LOG=warn start_region 1
        KEY=$(new_key bench --rate 0 --concurrency 0)
        for i in 1 2 3 4 5 6 7 8; do start_testnode "pfast$i" --fast --concurrency 1; done
        wait_nodes 8
        wrk_stream "$URL" 10s "$c"
        stop_procs
        unset WEFT_STORE
    done
}

bench_throughput() {
    start_pg
    for n in 1 3; do
        pg_empty
        echo "== throughput: $n scheduler(s) on one PostgreSQL, 16 connections to each, 9 instant nodes"
        HEARTBEAT_MS=2000 SCHED_LOG=warn start_region "$n"
        KEY=$(new_key bench --rate 0 --concurrency 0)
        for i in 1 2 3 4 5 6 7 8 9; do
            URL=${RURL[$((i % n + 1))]} start_testnode "fast$i" --fast --concurrency 1
        done
        sleep 2
        local wrks=()
        for s in $(seq "$n"); do
            WEFT_KEY=$KEY wrk -t1 -c16 -d10s -s "$here/chat.lua" "${RURL[$s]}/v1/chat/completions" \
                > "$WORK/wrk$s.out" 2>&1 &
            wrks+=("$!")
        done
        wait "${wrks[@]}"
        total=0
        for s in $(seq "$n"); do
            r=$(sed -n 's/^Requests\/sec: *//p' "$WORK/wrk$s.out")
            echo "scheduler $s: $r req/s"
            total=$(awk -v a="$total" -v b="${r:-0}" 'BEGIN{print a+b}')
        done
        echo "total: $total req/s"
        stop_procs
    done
}

bench_failover() {
    local runs=${RUNS:-20}
    start_pg
    pg_empty
    echo "== failover: $runs runs; store_lease_ms ${STORE_LEASE_MS:-1500}; a stream through scheduler 1 (60 tokens, 20 ms each) killed after token 10, resumed on scheduler 2"
    STORE_LEASE_MS=${STORE_LEASE_MS:-1500} HEARTBEAT_MS=200 SCHED_LOG=warn start_region 2
    KEY=$(new_key bench --rate 0 --concurrency 0)
    URL=${RURL[2]} start_testnode steady --token-ms 20 --budget-w 100
    : > "$WORK/gaps"
    for r in $(seq "$runs"); do
        URL=${RURL[1]} start_testnode "victim$r" --token-ms 20 --budget-w 900
        URL=${RURL[1]} wait_nodes 1
        /usr/bin/python3 "$here/region_failover.py" "$CA" "$KEY" "${RPORT[1]}" "${RPID[1]}" \
            "${RPORT[2]}" 60 10 >> "$WORK/gaps" || echo "run $r failed" >&2
        kill -9 "$NODE_PID" 2>/dev/null
        STORE_LEASE_MS=${STORE_LEASE_MS:-1500} HEARTBEAT_MS=200 SCHED_LOG=warn start_region_sched 1
    done
    echo "runs $(wc -l < "$WORK/gaps"), with a wrong token count: $(awk '$2 != 60' "$WORK/gaps" | wc -l)"
    echo "kill to next token, ms: p50 $(cut -d' ' -f1 "$WORK/gaps" | pct 50)  p99 $(cut -d' ' -f1 "$WORK/gaps" | pct 99)  max $(cut -d' ' -f1 "$WORK/gaps" | pct 100)"
    echo "resume requests answered 503 first (mean): $(awk '{s+=$3} END {printf "%.1f", s/NR}' "$WORK/gaps")"
    stop_procs
}

bench_heartbeats() {
    local nodes=${NODES:-10000} secs=${SECONDS_RUN:-60}
    start_pg
    pg_empty
    echo "== heartbeats: $nodes nodes over 3 schedulers on one PostgreSQL, one heartbeat each per 5 s, $secs s"
    HEARTBEAT_MS=5000 SCHED_LOG=warn start_region 3
    local per=$((nodes / 3))
    for s in 1 2 3; do
        /usr/bin/python3 "$here/enroll_many.py" "$PG_URI" "$per" 127.0.0.1 "${RPORT[$s]}" "$CA" \
            "node$s-" > "$WORK/tokens$s" || exit 1
    done
    declare -A t0
    for s in 1 2 3; do t0[$s]=$(awk '{print $14+$15}' "/proc/${RPID[$s]}/stat"); done
    local wrks=()
    for s in 1 2 3; do
        WEFT_TOKENS=$WORK/tokens$s WEFT_HB_MS=5000 timeout $((secs + 30)) wrk -t1 -c"$per" -d"${secs}s" \
            --timeout 10s -s "$here/heartbeat.lua" "${RURL[$s]}/v1/node/heartbeat" > "$WORK/wrk$s.out" 2>&1 &
        wrks+=("$!")
    done
    wait "${wrks[@]}"
    tick=$(getconf CLK_TCK)
    for s in 1 2 3; do
        t1=$(awk '{print $14+$15}' "/proc/${RPID[$s]}/stat")
        hb=$(curl -s --cacert "$CA" "${RURL[$s]}/metrics" | sed -n 's/^weft_heartbeats_total //p')
        echo "scheduler $s: heartbeats $hb, CPU $(awk -v a="${t0[$s]}" -v b="$t1" -v t="$tick" -v x="$secs" 'BEGIN{printf "%.1f%%", (b-a)/t/x*100}'), RSS $(grep VmRSS "/proc/${RPID[$s]}/status" | awk '{print $2/1024 " MiB"}'), $(curl -s --cacert "$CA" "${RURL[$s]}/healthz")"
    done
    stop_procs
}

case $what in
latency) bench_latency ;;
throughput) bench_throughput ;;
failover) bench_failover ;;
heartbeats) bench_heartbeats ;;
all) bench_latency; bench_throughput; bench_failover; bench_heartbeats ;;
*) echo "usage: $0 latency|throughput|failover|heartbeats|all" >&2; exit 2 ;;
esac
