#!/bin/bash
# Verified results (issue 17): how long, and how many jobs, until a node
# that alters the tokens of LIE of its jobs is quarantined, at each
# verification rate. Three honest nodes and one liar (testnode --fast
# --lie-rate), one-token chat completions from wrk in one-second bursts
# until the liar is quarantined or CAP_S seconds pass. DETECTED_S has a
# burst's resolution (1 s); JOBS are the client requests answered by then,
# CHECKS the verification runs sent (re-runs, tie-breaks).
# Usage: bench/verify-bench.sh [LIE_RATES] [VERIFY_RATES]
#   (defaults "0.01 0.1 1" and "0.01 0.05 0.2"; CAP_S=120, CONNS=8)
# Needs: a `make` build, wrk.
set -u
lies=${1:-0.01 0.1 1}
rates=${2:-0.01 0.05 0.2}
cap=${CAP_S:-120}
conns=${CONNS:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/weft-verify-bench.XXXXXX)
. "$root/tests/lib/weft.sh" "$root/build/bin" "$root/build/tests" "$work"
trap 'weft_cleanup; rm -rf "$WORK"' EXIT
metric_or_0() { local v; v=$(metric "$1"); echo "${v:-0}"; }
quarantined() {
    curl -s --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/admin/nodes" |
        json "[n['trust']['quarantined'] for n in d['data'] if n['name'] == 'liar'] == [True]"
}
printf "%-8s %-8s %-12s %-10s %-10s %s\n" LIE VERIFY DETECTED_S JOBS CHECKS NOTE
for lie in $lies; do
    for rate in $rates; do
        rm -rf "$WORK/sched"
        printf '{"verify":{"rate":%s,"new_node_rate":%s,"new_node_checks":0}}\n' "$rate" "$rate" \
            > "$WORK/verify.json"
        HEARTBEAT_MS=500 SCHED_LOG=warn start_sched --config "$WORK/verify.json"
        KEY=$(new_key bench --rate 0 --concurrency 0)
        ADMIN=$(new_key ops --admin)
        for h in 1 2 3; do start_testnode "honest$h" --fast --concurrency 2; done
        start_testnode liar --fast --concurrency 2 --lie-rate "$lie"
        wait_nodes 4
        t0=$(date +%s.%N)
        note=""
        while :; do
            WEFT_KEY=$KEY wrk -t1 -c"$conns" -d1s -s "$root/bench/sched/chat.lua" \
                "$URL/v1/chat/completions" > /dev/null 2>&1
            [ "$(quarantined)" = True ] && break
            if [ "$(echo "$(date +%s.%N) - $t0 > $cap" | bc)" = 1 ]; then
                note="not caught within ${cap} s"
                break
            fi
        done
        t1=$(date +%s.%N)
        done_jobs=$(metric_or_0 'weft_http_requests_total{route="chat_completions",status="200"}')
        runs=$(metric_or_0 'weft_verifications_total{result="runs"}')
        printf "%-8s %-8s %-12.1f %-10d %-10d %s\n" "$lie" "$rate" "$(echo "$t1 - $t0" | bc)" \
            "$done_jobs" "$runs" "$note"
        kill -9 "${PIDS[@]}" 2> /dev/null
        wait 2> /dev/null
        PIDS=()
    done
done
