#!/bin/bash
# The soak benchmark (issue 17): DURATION seconds (default 600) on loopback
# of everything hostile at once, beside steady honest traffic:
#   - SLOW slow clients (default 1000) sending headers a byte a second,
#     reopened as the scheduler closes them (bench/sched/slow_clients.py);
#   - a pipelining flood: 50 TLS connections sending 2,000 GET /metrics
#     each without reading, for 5 s at a time, over and over
#     (tests/sched/flood.py);
#   - node churn: every 10 s one of 4 testnodes is killed (-9) and started
#     again;
#   - honest traffic: wrk, 4 connections of one-token chat completions.
# Reports the scheduler's RSS (start, peak, end) against the configured
# reply budget (limits: 64 MiB across connections), its open descriptors
# before, at their peak and after, and the honest requests' latency.
# Usage: bench/soak.sh   (DURATION=600 SLOW=1000). Needs: a `make` build, wrk.
set -u
dur=${DURATION:-600}
slow=${SLOW:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/weft-soak.XXXXXX)
. "$root/tests/lib/weft.sh" "$root/build/bin" "$root/build/tests" "$work"
trap 'weft_cleanup; rm -rf "$WORK"' EXIT
ulimit -n 8192 2> /dev/null || true
SCHED_LOG=warn start_sched
KEY=$(new_key soak --rate 0 --concurrency 0)
declare -A TOK NPID
for i in 1 2 3 4; do
    TOK[$i]=$(enroll "n$i")
    "$TBIN/testnode" --url "$URL" --token "${TOK[$i]}" --cacert "$CA" --token-ms 2 \
        2>> "$WORK/node-$i.err" &
    NPID[$i]=$!
    PIDS+=("${NPID[$i]}")
done
wait_nodes 4
fds() { ls "/proc/$SCHED_PID/fd" | wc -l; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$SCHED_PID/status"; }
fd0=$(fds)
rss0=$(rss)
echo "soak: ${dur} s, $slow slow clients, flood, churn, honest wrk; scheduler pid $SCHED_PID"
# The sampler.
( peak=0 fpeak=0
  while kill -0 "$SCHED_PID" 2> /dev/null; do
      r=$(rss); f=$(fds)
      [ "${r:-0}" -gt "$peak" ] && peak=$r
      [ "${f:-0}" -gt "$fpeak" ] && fpeak=$f
      echo "$peak $fpeak" > "$WORK/peaks"
      sleep 1
  done ) &
SAMPLER=$!
/usr/bin/python3 "$root/bench/sched/slow_clients.py" 127.0.0.1 "$PORT" "$CA" "$slow" "$dur" \
    > "$WORK/slow.out" 2>&1 &
SLOWP=$!
( end=$(($(date +%s) + dur))
  while [ "$(date +%s)" -lt "$end" ]; do
      /usr/bin/python3 "$root/tests/sched/flood.py" 127.0.0.1 "$PORT" "$CA" "$SCHED_PID" 50 2000 \
          /metrics 5 0 >> "$WORK/flood.out" 2>&1
  done ) &
FLOODP=$!
( end=$(($(date +%s) + dur)) i=1
  while [ "$(date +%s)" -lt "$end" ]; do
      sleep 10
      kill -9 "${NPID[$i]}" 2> /dev/null
      "$TBIN/testnode" --url "$URL" --token "${TOK[$i]}" --cacert "$CA" --token-ms 2 \
          2>> "$WORK/node-$i.err" &
      NPID[$i]=$!
      echo "$!" >> "$WORK/churned"
      i=$((i % 4 + 1))
  done ) &
CHURNP=$!
WEFT_KEY=$KEY wrk -t1 -c4 -d"${dur}s" --latency -s "$root/bench/sched/chat.lua" \
    "$URL/v1/chat/completions" > "$WORK/wrk.out" 2>&1
wait "$SLOWP" "$FLOODP" "$CHURNP" 2> /dev/null
sleep 15 # slow connections time out, memory goes back
read -r peak fpeak < "$WORK/peaks"
echo "rss: start $((rss0 / 1024)) MiB, peak $((peak / 1024)) MiB, after $(( $(rss) / 1024 )) MiB (reply budget 64 MiB)"
echo "fds: before $fd0, peak $fpeak, after $(fds)"
echo "slow clients (opened closed failed): $(cat "$WORK/slow.out")"
echo "flood rounds: $(wc -l < "$WORK/flood.out"); node restarts: $(wc -l < "$WORK/churned" 2> /dev/null || echo 0)"
grep -E "Requests/sec|^ +(50|90|99)%|Non-2xx|requests in" "$WORK/wrk.out"
kill "$SAMPLER" 2> /dev/null
# The nodes the churn restarted are the churn subshell's, not in PIDS.
for p in $(cat "$WORK/churned" 2> /dev/null) "${NPID[@]}"; do kill -9 "$p" 2> /dev/null; done
