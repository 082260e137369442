#!/bin/bash
# weftd benchmarks (issue 6), real binaries on loopback:
#   idle      RSS and CPU of weftd without a model and with stories260K
#             loaded, no work, a scheduler and a simulated home:
#             SECONDS_RUN (default 60) s each
#   ready     time from exec to READY=1 on $NOTIFY_SOCKET, RUNS (default 10)
#   failover  a weftd killed (SIGKILL) mid-stream: the client's longest gap
#             between two tokens, RUNS (default 20) kills
#   duty      generation speed at budgets below compute.busy_w (the duty
#             cycle, no GPU limit): a 200-token stream at each budget
#   batch     one node (synthetic TinyLlama-1.1B Q4_0, 2 threads, 16 slots):
#             STREAMS (default "1 4 16") completions at once, aggregate
#             tok/s, time to first token, and the ledger's Wh per token
# WEFTD_ENV (e.g. LD_LIBRARY_PATH=DIR, to try another libcurl) is added to
# weftd's environment in idle and ready.
# Usage: bench/node-bench.sh idle|ready|failover|duty|batch|all
# Needs: a `make` build, ../shared/testdata, python3, mbpoll.
set -u
what=${1:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/bin
data=${WEFT_TESTDATA:-$root/../shared/testdata}
work=$(mktemp -d /tmp/weft-node-bench.XXXXXX)
# The tests' helpers: start_sched, start_home, enroll, wait_ready, cleanup.
DATA=$data
. "$root/tests/lib/weft.sh" "$bin" "$root/build/tests" "$work" "$data"
trap 'weft_cleanup; rm -rf "$work"' EXIT
need_testdata
convert_stories
HEARTBEAT_MS=2000 SCHED_LOG=notice start_sched
KEY=$(new_key b --rate 0 --concurrency 0)
ADMIN=$(new_key ops --admin)

home() { # home -> MB (a sunny noon)
    start_home h
    MB=${HOME_PORT[h]}
}

config() { # config NAME MB EXTRA_COMPUTE_JSON [MAX_COMPUTE_W] [MODELS_JSON]
    local tok models=${5:-[\{\"path\": \"$work/stories260K.gguf\"\}]}
    tok=$(enroll "$1")
    cat > "$work/$1.json" <<EOF
{"scheduler": {"urls": ["https://127.0.0.1:$PORT"], "token": "$tok", "ca_file": "$CA"},
 "models": $models,
 "energy": {"modbus": "tcp://127.0.0.1:$2", "poll_ms": 1000},
 "policy": {"enable_delay_s": 1, "disable_delay_s": 1, "min_run_w": 50, "max_compute_w": ${4:-300}},
 "compute": {"threads": 1 $3},
 "state_dir": "$work/state-$1", "status": {"listen": "127.0.0.1", "port": 0}, "log_level": "warn"}
EOF
}

idle_one() { # idle_one LABEL MODELS_JSON ("" for stories260K)
    local secs=${SECONDS_RUN:-60}
    config "idle$1" "$MB" "" 300 "$2"
    # shellcheck disable=SC2086
    env ${WEFTD_ENV:-} "$bin/weftd" --config "$work/idle$1.json" > "$work/idle.out" 2> "$work/idle.err" &
    local pid=$!
    PIDS+=("$pid")
    sleep 5
    # CPU time in ns from the scheduler's own accounting (schedstat), summed
    # over threads: clock ticks are too coarse for a process this quiet.
    local t0 t1
    t0=$(cat /proc/"$pid"/task/*/schedstat | awk '{s += $1} END {print s}')
    sleep "$secs"
    t1=$(cat /proc/"$pid"/task/*/schedstat | awk '{s += $1} END {print s}')
    echo "== idle, $1: 1 s energy poll, 2 s heartbeat; $secs s${WEFTD_ENV:+ (env $WEFTD_ENV)}"
    echo "CPU: $(awk -v a="$t0" -v b="$t1" -v s="$secs" 'BEGIN{printf "%.3f%% of one core (%.2f ms/s)", (b-a)/s/1e7, (b-a)/s/1e6}')"
    echo "RSS: $(grep VmRSS "/proc/$pid/status" | awk '{printf "%.1f MiB", $2/1024}')  threads: $(ls /proc/$pid/task | wc -l)  libraries: $(grep -c '\.so.*r-xp\|r-xp.*\.so' "/proc/$pid/maps")"
    awk '/^(Rss|Pss|Private_Clean|Private_Dirty|Anonymous):/ {printf "%s %.1f MiB  ", $1, $2/1024} END {print ""}' "/proc/$pid/smaps_rollup"
    # Where the resident set is: the largest mappings by file (KiB).
    awk '/^[0-9a-f]+-[0-9a-f]+ / {n = split($6, a, "/"); f = $6 == "" ? "[anon]" : a[n]}
         /^Rss:/ {r[f] += $2} END {for (f in r) if (r[f] >= 100) printf "%d %s\n", r[f], f}' \
        "/proc/$pid/smaps" | sort -rn | awk '{printf "  %s %d KiB", $2, $1} END {print ""}'
    kill -9 "$pid"
    wait "$pid" 2> /dev/null
}

bench_idle() {
    home
    idle_one "no model" "[]"
    idle_one "stories260K loaded" ""
}

bench_ready() {
    local runs=${RUNS:-10}
    home
    config ready "$MB" ""
    echo "== ready: exec to READY=1 (config, model loaded, status socket bound), $runs runs${WEFTD_ENV:+ (env $WEFTD_ENV)}"
    /usr/bin/python3 - "$bin/weftd" "$work/ready.json" "$runs" "$work/notify.sock" <<'EOF'
import os, socket, subprocess, sys, time
weftd, cfg, runs, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
times = []
for _ in range(runs):
    if os.path.exists(path): os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(path); s.settimeout(20)
    t0 = time.monotonic()
    extra = dict(kv.split("=", 1) for kv in os.environ.get("WEFTD_ENV", "").split())
    p = subprocess.Popen([weftd, "--config", cfg], env=dict(os.environ, NOTIFY_SOCKET=path, **extra),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        msg = s.recv(4096)
        if b"READY=1" in msg: break
    times.append((time.monotonic() - t0) * 1000)
    p.terminate(); p.wait(); s.close()
times.sort()
print(f"ms: min {times[0]:.1f}  median {times[len(times)//2]:.1f}  max {times[-1]:.1f}")
EOF
}

bench_failover() {
    local runs=${RUNS:-20}
    echo "== failover: weftd (stories260K, 40 tok/s ceiling) killed after ~20 tokens, $runs runs"
    home
    config steady "$MB" ', "max_tokens_per_s": 40' 100
    "$bin/weftd" --config "$work/steady.json" > /dev/null 2>&1 &
    PIDS+=($!)
    : > "$work/gaps"
    for r in $(seq "$runs"); do
        config "v$r" "$MB" ', "max_tokens_per_s": 40' 300
        "$bin/weftd" --config "$work/v$r.json" > "$work/v.out" 2>/dev/null &
        local v=$!
        PIDS+=("$v")
        wait_ready "v$r"
        ( sleep 0.6; kill -9 "$v" ) & # ~20 tokens in at 40 tok/s: the benchmark's kill

        /usr/bin/python3 "$root/bench/sched/failover.py" 127.0.0.1 "$PORT" "$CA" "$KEY" 60 \
            --model stories260K >> "$work/gaps" || echo "run $r failed" >&2
        wait "$v" 2>/dev/null
    done
    sort -n "$work/gaps" | awk '{a[NR]=$1} END {printf "gap ms (40 tok/s = 25 ms normal): p50 %.1f  p90 %.1f  max %.1f  (runs %d)\n", a[int(NR*0.5+0.5)], a[int(NR*0.9+0.5)], a[NR], NR}'
    awk '$2 != 60' "$work/gaps" | wc -l | xargs echo "runs with a wrong token count:"
    echo "node deaths the scheduler saw: $(grep -c 'is gone' "$work/sched.err"), jobs resumed: $(grep -c 'resuming' "$work/sched.err")"
}

bench_duty() {
    echo "== duty: one node, busy_w 120 W, budgets 120/90/60 W (duty 1, 0.75, 0.5); a 200-token stream each, ${REPS:-3} reps"
    home
    local full=""
    for w in 120 90 60; do
        config "d$w" "$MB" ', "busy_w": 120' "$w"
        "$bin/weftd" --config "$work/d$w.json" > /dev/null 2> "$work/d$w.err" &
        local p=$!
        PIDS+=("$p")
        wait_ready "d$w"
        local rates=""
        for _ in $(seq "${REPS:-3}"); do
            rates="$rates $(/usr/bin/python3 "$root/bench/sched/failover.py" 127.0.0.1 "$PORT" "$CA" "$KEY" 200 \
                --model stories260K | awk '{print $3}')"
        done
        local med
        med=$(echo "$rates" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        [ -z "$full" ] && full=$med
        echo "budget $w W: tok/s median $med (runs:$rates), $(awk -v a="$med" -v f="$full" 'BEGIN{printf "%.2f", a/f}') of full"
        kill "$p"
        wait "$p" 2> /dev/null
    done
}

bench_batch() {
    local m=$work/tinyllama-q4_0.gguf
    "$bin/weft-convert" synth --shape tinyllama-1.1b --type q4_0 "$m" > /dev/null 2>&1 || return 1
    echo "== batch: one node, synthetic TinyLlama-1.1B Q4_0, 2 threads, n_ctx 512, 16 slots, busy_w 120 W (estimate); 64 tokens a stream"
    home
    config batch "$MB" ', "n_ctx": 512, "max_slots": 16, "busy_w": 120' 300 \
        "[{\"path\": \"$m\", \"name\": \"tl\"}]"
    sed -i 's/"threads": 1/"threads": 2/' "$work/batch.json"
    "$bin/weftd" --config "$work/batch.json" > "$work/batch.out" 2> "$work/batch.err" &
    local p=$!
    PIDS+=("$p")
    wait_for "the batch node's status port" 60 grep -q "status on port" "$work/batch.out"
    local sp
    sp=$(sed -n 's/.*status on port \([0-9]*\)/\1/p' "$work/batch.out")
    wait_for "the batch node ready" 60 node_ready batch
    ledger() { curl -s "http://127.0.0.1:$sp/status" | json 'd["ledger"]["total"]["wh"], d["ledger"]["total"]["tokens"]' | tr -d '(),'; }
    for n in ${STREAMS:-1 4 16}; do
        local before after
        before=$(ledger)
        local line
        line=$(/usr/bin/python3 "$root/bench/sched/concurrent.py" 127.0.0.1 "$PORT" "$CA" "$KEY" "$n" 64 tl)
        wait_for "the node idle" 30 node_ready batch
        sleep 1.5 # the last job's upload and ledger step
        after=$(ledger)
        echo "streams $n: $line  $(awk -v b="$before" -v a="$after" 'BEGIN{split(b, x, " "); split(a, y, " "); t = y[2] - x[2]; if (t > 0) printf "mWh/token %.3f (%d tokens in the ledger)", 1000 * (y[1] - x[1]) / t, t}')"
    done
    kill "$p"
    wait "$p" 2> /dev/null
}

case $what in
idle) bench_idle ;;
ready) bench_ready ;;
failover) bench_failover ;;
duty) bench_duty ;;
batch) bench_batch ;;
all) bench_idle; bench_ready; bench_failover; bench_duty; bench_batch ;;
*) echo "usage: $0 idle|ready|failover|duty|batch|all" >&2; exit 2 ;;
esac
