# shellcheck shell=bash
# One helper library for the black-box tests (tests/*/cases/*.sh) and the
# benchmarks (bench/): start the real binaries on loopback, wait for a
# condition with a deadline, talk to them with curl, stop everything.
# h2o's t/Util.pm is the model: helpers once, one scenario per file.
#
# A case sources it with its arguments:
#     . "$(dirname "$0")/../../lib/weft.sh" "$@"   # BIN TESTS_BIN WORK [TESTDATA]
# and ends with weft_finish. Nothing here sleeps to synchronise: waits are
# wait_for CONDITION with a deadline, polled every 50 ms.

set -u
BIN=${1:?usage: CASE BIN_DIR TESTS_BIN_DIR WORK_DIR [TESTDATA_DIR]}
TBIN=${2:?tests bin dir}
WORK=${3:?work dir}
DATA=${4:-}
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CASE=$(basename "$0" .sh)
PIDS=()
declare -A HOME_PORT STATUS_PORT # by home/node name

rm -rf "$WORK"
mkdir -p "$WORK"

weft_cleanup() {
    [ -n "${KEEP:-}" ] && { echo "keeping pids ${PIDS[*]}"; return; }
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${PG_DIR:-}" ] && { pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop \
        > /dev/null 2>&1; rm -rf "$PG_DIR"; }
}
trap weft_cleanup EXIT

fail() {
    echo "FAIL ($CASE): $*"
    for f in "$WORK"/*.err; do
        [ -f "$f" ] || continue
        echo "--- $f (tail)"
        tail -n 25 "$f"
    done
    exit 1
}

skip() {
    echo "SKIP: $*"
    exit 77
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND until it succeeds; fails
# the case, saying WHAT, when SECONDS pass first.
wait_for() {
    local what=$1 secs=$2
    shift 2
    local end=$(($(date +%s%N) + secs * 1000000000))
    until "$@" 2>/dev/null; do
        [ "$(date +%s%N)" -lt "$end" ] || fail "waited ${secs} s for: $what"
        sleep 0.05
    done
}

json() { /usr/bin/python3 "$LIB/weftjson.py" get "$1"; } # json EXPR < document (d)
free_port() { /usr/bin/python3 "$LIB/weftjson.py" free-port; }

# ---- PostgreSQL ------------------------------------------------------------

# pg_as CMD...: runs a PostgreSQL program as an unprivileged user (the
# server refuses root): nobody when we are root, else ourselves.
pg_as() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# start_pg: a PostgreSQL of our own (initdb in a temp dir, trust auth for
# user weft on a loopback port). Sets PG_BIN, PG_DIR, PG_PORT, PG_URI.
start_pg() {
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)
    [ -x "$PG_BIN/initdb" ] || skip "no PostgreSQL server (scripts/install-deps installs it)"
    PG_DIR=$(mktemp -d /tmp/weft-pg.XXXXXX)
    [ "$(id -u)" -eq 0 ] && chown nobody "$PG_DIR"
    pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U weft -A trust --no-sync > "$PG_DIR/initdb.log" 2>&1 ||
        fail "initdb: $(tail -n 5 "$PG_DIR/initdb.log")"
    PG_PORT=$(free_port)
    pg_start
    PG_URI="postgresql://weft@127.0.0.1:$PG_PORT/postgres"
}
pg_start() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR" \
        start > /dev/null || fail "PostgreSQL did not start: $(tail -n 5 "$PG_DIR/server.log")"
}
# pg_restart: stops the server the hard way (as a crash would) and starts it.
pg_restart() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop > /dev/null 2>&1
    pg_start
}

# ---- the scheduler ---------------------------------------------------------

# start_sched [flags...]: a scheduler with a dev certificate in $WORK/sched,
# on SCHED_PORT (default: any), heartbeats every HEARTBEAT_MS (200). Sets
# SCHED_PID, PORT, URL, CA.
start_sched() {
    : > "$WORK/sched.out"
    "$BIN/weft-scheduler" --dev-tls --state-dir "$WORK/sched" --port "${SCHED_PORT:-0}" \
        --heartbeat-ms "${HEARTBEAT_MS:-200}" --log-level "${SCHED_LOG:-info}" "$@" \
        > "$WORK/sched.out" 2>> "$WORK/sched.err" &
    SCHED_PID=$!
    PIDS+=("$SCHED_PID")
    wait_for "the scheduler's port" 10 grep -q "listening on port" "$WORK/sched.out"
    PORT=$(sed -n 's/.*listening on port \([0-9]*\)/\1/p' "$WORK/sched.out")
    URL="https://127.0.0.1:$PORT"
    CA="$WORK/sched/dev-cert.pem"
}

# stop_sched_hard: SIGKILL, as a crash would.
stop_sched_hard() {
    kill -9 "$SCHED_PID"
    wait "$SCHED_PID" 2>/dev/null
}

# ---- a region: several schedulers on one PostgreSQL --------------------------

# start_region_sched I [flags...]: scheduler I of a region on start_pg's
# PostgreSQL, on RPORT[I] (default: any), sharing scheduler 1's dev
# certificate; leases of STORE_LEASE_MS (1000). Sets RPID[I], RPORT[I],
# RURL[I].
declare -A RPID RPORT RURL
start_region_sched() {
    local i=$1
    shift
    mkdir -p "$WORK/s$i"
    [ "$i" = 1 ] || cp "$WORK"/s1/dev-*.pem "$WORK/s$i/"
    : > "$WORK/s$i.out"
    "$BIN/weft-scheduler" --dev-tls --state-dir "$WORK/s$i" --store "$PG_URI" \
        --store-lease-ms "${STORE_LEASE_MS:-1000}" --port "${RPORT[$i]:-0}" \
        --heartbeat-ms "${HEARTBEAT_MS:-200}" --log-level "${SCHED_LOG:-info}" "$@" \
        > "$WORK/s$i.out" 2>> "$WORK/s$i.err" &
    RPID[$i]=$!
    PIDS+=("${RPID[$i]}")
    echo "${RPID[$i]}" > "$WORK/s$i.pid" # for a caller that started it in a subshell
    wait_for "scheduler $i's port" 10 grep -q "listening on port" "$WORK/s$i.out"
    RPORT[$i]=$(sed -n 's/.*listening on port \([0-9]*\)/\1/p' "$WORK/s$i.out")
    RURL[$i]="https://127.0.0.1:${RPORT[$i]}"
}
# start_region N [flags...]: schedulers 1..N; URL is the first's, CA theirs,
# and weftctl works on the shared store (WEFT_STORE).
start_region() {
    local n=$1
    shift
    for i in $(seq "$n"); do start_region_sched "$i" "$@"; done
    URL=${RURL[1]}
    CA="$WORK/s1/dev-cert.pem"
    export WEFT_STORE=$PG_URI
}
# region_urls FIRST: every scheduler's URL, comma-separated, from FIRST on.
region_urls() {
    local n=${#RURL[@]} first=$1 out="" i
    for k in $(seq 0 $((n - 1))); do
        i=$(((first - 1 + k) % n + 1))
        out="$out${out:+,}${RURL[$i]}"
    done
    printf '%s' "$out"
}
# stop_region_sched I: SIGKILL, as a crash would.
stop_region_sched() {
    kill -9 "${RPID[$1]}"
    wait "${RPID[$1]}" 2>/dev/null
}

ctl() { "$BIN/weftctl" --state-dir "$WORK/sched" "$@"; }
new_key() { ctl keys create "$@" 2>/dev/null; } # new_key NAME [flags] -> the secret
enroll() { ctl nodes enroll "$1" 2>/dev/null; }  # enroll NAME -> the node's token

healthz() { curl -s --cacert "$CA" "$URL/healthz"; }
live_nodes() { healthz | json 'd["nodes_live"]'; }
nodes_are() { [ "$(live_nodes)" = "$1" ]; }
wait_nodes() { wait_for "$1 live nodes" 10 nodes_are "$1"; }

# metric NAME: the value of a sample line of /metrics ("" when absent).
metric() {
    curl -s --cacert "$CA" "$URL/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
metric_at_least() { # metric_at_least NAME N
    local v
    v=$(metric "$1")
    [ -n "$v" ] && awk -v a="$v" -v b="$2" 'BEGIN {exit !(a >= b)}'
}
wait_metric() { wait_for "$1 >= $2" "${3:-10}" metric_at_least "$1" "$2"; }

# Two heartbeats from now: every node has told the scheduler what it may
# take since, and the scheduler has tried to place what is queued.
wait_two_heartbeats() {
    local n
    n=$(metric weft_heartbeats_total)
    wait_metric weft_heartbeats_total $((${n:-0} + 2))
}

# node_ready NAME: the scheduler would hand the node work now: a poll of
# its is parked and its last heartbeat offered a budget and interactive
# work (admin key in ADMIN).
node_ready() {
    curl -s --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/admin/nodes" |
        json "[n['waiting'] and n['interactive'] and n['budget_w'] > 0
               for n in d['data'] if n['name'] == '$1'] == [True]" | grep -qx True
}
wait_ready() { wait_for "node $1 ready for work" 10 node_ready "$1"; }

# api METHOD PATH [BODY]: the body, then a last line with the status (KEY).
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
body_of() { printf '%s' "$1" | head -n 1; } # the body of api's output
expect_status() { # expect_status WANT OUTPUT WHAT
    local got
    got=$(printf '%s' "$2" | tail -n 1)
    [ "$got" = "$1" ] || fail "$3: expected HTTP $1, got $got: $(printf '%s' "$2" | head -c 300)"
}

job_status() { api GET "/v1/jobs/$1" | head -n 1 | json 'd["status"]'; }
job_is() { [ "$(job_status "$1")" = "$2" ]; }
wait_job() { wait_for "job $1 $2" "${3:-10}" job_is "$1" "$2"; } # wait_job ID STATUS [S]

# stream PATH BODY [--repr]: the text of a streamed completion (chat or
# text) on stdout, the count of its token events on stderr; the raw events
# stay in $WORK/last.sse.
stream() {
    curl -sN --cacert "$CA" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d "$2" "$URL$1" | tee "$WORK/last.sse" | /usr/bin/python3 "$LIB/weftjson.py" sse ${3:+"$3"}
}
# final_weft EXPR: EXPR over the `weft` object of $WORK/last.sse's last
# chunk (the one with finish_reason), as Python (w).
final_weft() {
    /usr/bin/python3 - "$WORK/last.sse" "$1" <<'PY'
import json, sys
w = None
for line in open(sys.argv[1]):
    if line.startswith("data: {"):
        ev = json.loads(line[6:])
        if ev.get("choices") and ev["choices"][0].get("finish_reason"):
            w = ev.get("weft")
print(eval(sys.argv[2], {"w": w}))
PY
}

# ---- testnode (scripted tokens) --------------------------------------------

# failover_run VICTIM [testnode flags...]: the undisturbed run of $REQ on a
# steady node (little budget) in $ref; then VICTIM (more budget, and the
# flags that make it fail), ready for work, takes the same request: its text
# must be $ref, and its token events are counted in $WORK/count. KEY and
# ADMIN are set.
failover_run() {
    local victim=$1
    shift
    start_sched
    KEY=$(new_key dev)
    ADMIN=$(new_key ops --admin)
    start_testnode steady --budget-w 100 --token-ms 2
    wait_nodes 1
    ref=$(stream /v1/chat/completions "$REQ" 2>/dev/null) || fail "reference run"
    start_testnode "$victim" --budget-w 900 "$@"
    wait_nodes 2
    wait_ready "$victim" # preferred, and parked: the request goes to it
    local got
    got=$(stream /v1/chat/completions "$REQ" 2> "$WORK/count") || fail "stream through $victim"
    [ "$got" = "$ref" ] || fail "through $victim: '$got' != '$ref'"
}

# start_testnode NAME [testnode flags...]: enrolls NAME, starts it; NODE_PID.
start_testnode() {
    local name=$1
    shift
    local tok
    tok=$(enroll "$name") || fail "enroll $name"
    "$TBIN/testnode" --url "$URL" --token "$tok" --cacert "$CA" "$@" 2>> "$WORK/node-$name.err" &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
}

# ---- homes and weftd --------------------------------------------------------

need_testdata() {
    [ -f "$DATA/models/stories260K.bin" ] ||
        skip "$DATA/models/stories260K.bin not found (../shared/testdata)"
    PROFILE=$DATA/energy/ausgrid-c12-2011-07_2012-03.csv
}

# stories260K as GGUF in $WORK (llama2.c's checkpoint, converted).
convert_stories() {
    "$BIN/weft-convert" llama2c "$DATA/models/stories260K.bin" "$DATA/models/tok512.bin" \
        "$WORK/stories260K.gguf" > /dev/null 2>&1 || fail "convert"
}

mb_answers() { mbpoll -m tcp -a 1 -t 4 -r 40001 -c 2 -1 -p "$1" 127.0.0.1 > /dev/null 2>&1; }

# panel_port FILE: the port weft-panelsim's "serving ... on HOST:PORT" line
# in FILE names.
panel_port() { sed -n 's/^weft-panelsim: serving .* on .*:\([0-9]*\) (speed.*/\1/p' "$1"; }

# start_home NAME [panelsim flags]: a sunny noon with a full battery, on the
# free port it picks, HOME_PORT[NAME].
start_home() {
    local name=$1
    shift
    : > "$WORK/panel-$name.err"
    "$BIN/weft-panelsim" --profile "$PROFILE" --port 0 --day 30.5 --pv-kwp 6 --soc 97 "$@" \
        > /dev/null 2>> "$WORK/panel-$name.err" &
    PIDS+=($!)
    wait_for "home $name serving" 10 grep -q "weft-panelsim: serving" "$WORK/panel-$name.err"
    HOME_PORT[$name]=$(panel_port "$WORK/panel-$name.err")
    wait_for "home $name's Modbus server" 10 mb_answers "${HOME_PORT[$name]}"
}

# mbw NAME REGISTER VALUE: writes a holding register (mbpoll counts from 1:
# 40503 is address 40502).
mbw() {
    mbpoll -m tcp -a 1 -t 4 -r "$2" -1 -p "${HOME_PORT[$1]}" 127.0.0.1 "$3" > /dev/null ||
        fail "mbpoll write $2 on $1"
}

# start_weftd NAME [json merged into its config]: weftd for home NAME;
# NODE_PID, STATUS_PORT[NAME].
start_weftd() {
    local name=$1 extra=${2:-'{}'}
    local tok
    tok=$(enroll "$name") || fail "enroll $name"
    /usr/bin/python3 "$LIB/weftjson.py" node-config "$WORK/$name.json" "$URL" "$tok" "$CA" \
        "$WORK" "${HOME_PORT[$name]}" "$name" "$extra" || fail "config for $name"
    "$BIN/weftd" --config "$WORK/$name.json" > "$WORK/node-$name.out" 2>> "$WORK/node-$name.err" &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    wait_for "weftd $name's status port" 10 grep -q "status on port" "$WORK/node-$name.out"
    STATUS_PORT[$name]=$(sed -n 's/.*status on port \([0-9]*\)/\1/p' "$WORK/node-$name.out")
}

# status NAME EXPR: a Python expression over weftd NAME's status JSON (d).
status() { curl -s "http://127.0.0.1:${STATUS_PORT[$1]}/status" | json "$2"; }
status_is() { [ "$(status "$1" "$2")" = "$3" ]; }
wait_status() { # wait_status NAME EXPR WANT [SECONDS]
    local s=${4:-10}
    status_is "$1" "$2" "$3" 2>/dev/null && return 0
    wait_for "$1: $2 == $3 (it is '$(status "$1" "$2" 2>/dev/null)')" "$s" status_is "$1" "$2" "$3"
}

# ---- the end of a case --------------------------------------------------------

# The scheduler stops cleanly on SIGTERM (exit 0, its loop closed, no leak
# in sanitizer builds), and no process left a sanitizer report.
weft_finish() {
    if [ -n "${SCHED_PID:-}" ] && kill -0 "$SCHED_PID" 2>/dev/null; then
        kill -TERM "$SCHED_PID"
        wait "$SCHED_PID"
        local rc=$?
        [ "$rc" = 0 ] || fail "the scheduler exited with $rc on SIGTERM"
    fi
    if grep -lE "AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer" "$WORK"/*.err \
        2>/dev/null; then
        fail "sanitizer report above"
    fi
    echo "ok: $CASE"
}

# ---- the node cases' common ground ------------------------------------------

# node_setup: the test data, stories260K as GGUF, heartbeats every 300 ms.
node_setup() {
    need_testdata
    convert_stories
    HEARTBEAT_MS=${HEARTBEAT_MS:-300}
}

# two_homes: a scheduler; home b's node (little budget) with the undisturbed
# run of $REQ in $ref; then home a's node, which is preferred (NODE_PID).
# KEY and ADMIN are set.
two_homes() {
    start_sched
    KEY=$(new_key t)
    ADMIN=$(new_key ops --admin)
    start_home b
    start_weftd b '{"policy":{"max_compute_w":100}}'
    wait_status b 'd["policy"]["state"]' on
    wait_status b 'd["scheduler"]["state"]' live
    ref=$(stream /v1/completions "$REQ" --repr 2>/dev/null) || fail "reference run"
    start_home a
    start_weftd a
}

# one_home [json]: a scheduler (KEY set), home a and its weftd.
one_home() {
    start_sched
    KEY=$(new_key t)
    start_home a
    start_weftd a "$@"
}

# stream_on_a TOKENS: two_homes, then $REQ streamed in the background (text
# to $WORK/got, SPID) once home a's node is preferred and parked; returns when
# a's job has more than TOKENS tokens.
stream_on_a() {
    two_homes
    wait_status a 'd["policy"]["state"]' on
    wait_status a 'd["scheduler"]["state"]' live
    wait_ready a
    (stream /v1/completions "$REQ" --repr > "$WORK/got" 2> "$WORK/got.err") &
    SPID=$!
    wait_status a "d['job'] is not None and d['job']['tokens'] > $1" True 5
}

# same_text WHAT: the background stream ended and its text is $ref.
same_text() {
    wait "$SPID" || fail "stream $1: $(cat "$WORK/got.err")"
    [ "$(cat "$WORK/got")" = "$ref" ] || fail "$1: $(cat "$WORK/got") != $ref"
}

# ---- batches: eight streams over two homes with four slots each -------------

# batch_homes: a scheduler; home b's node (little budget, four slots) with
# the undisturbed run of each of eight requests (REQS, prompts, lengths,
# temperatures and seeds that differ), one at a time, in refs; then home
# a's node (four slots), preferred and parked. KEY and ADMIN are set.
batch_homes() {
    local prompts=("Once upon a time" "The little dog" "Lily had a red ball" "Tom" \
        "One day a bird" "The sun was hot" "Max and Mia" "In the big park")
    start_sched
    KEY=$(new_key t)
    ADMIN=$(new_key ops --admin)
    start_home b
    start_weftd b '{"policy":{"max_compute_w":100},"compute":{"max_slots":4}}'
    wait_status b 'd["policy"]["state"]' on
    wait_status b 'd["scheduler"]["state"]' live
    wait_status b 'd["slots"]["max"]' 4
    for i in 0 1 2 3 4 5 6 7; do
        REQS[i]="{\"model\":\"stories260K\",\"prompt\":\"${prompts[i]}\",\"max_tokens\":$((40 + 3 * i)),\"temperature\":$([ $((i % 3)) = 0 ] && echo 0 || echo 0.9),\"seed\":$((700 + i)),\"stream\":true}"
        refs[i]=$(stream /v1/completions "${REQS[i]}" --repr 2>/dev/null) || fail "reference run $i"
    done
    start_home a
    start_weftd a '{"compute":{"max_slots":4,"max_tokens_per_s":15}}' # slow: a batch to catch
    wait_status a 'd["policy"]["state"]' on
    wait_status a 'd["scheduler"]["state"]' live
    wait_ready a
}

# batch_streams: the eight requests at once in the background (texts in
# $WORK/got.N); returns when home a runs at least two of them in one batch,
# each past its third token.
batch_streams() {
    for i in 0 1 2 3 4 5 6 7; do
        (stream /v1/completions "${REQS[i]}" --repr > "$WORK/got.$i" 2> "$WORK/got.$i.err") &
        SPIDS[i]=$!
    done
    wait_status a "len(d['jobs']) >= 2 and min(j['tokens'] for j in d['jobs']) > 3" True 10
}

# batch_same_texts WHAT: every stream ended with its undisturbed run's text.
batch_same_texts() {
    for i in 0 1 2 3 4 5 6 7; do
        wait "${SPIDS[i]}" || fail "stream $i $1: $(cat "$WORK/got.$i.err")"
        [ "$(cat "$WORK/got.$i")" = "${refs[i]}" ] ||
            fail "stream $i $1: $(cat "$WORK/got.$i") != ${refs[i]}"
    done
}

# ---- the energy cases' common ground -----------------------------------------

# steady_home [panelsim flags]: weft-panelsim on a home with a steady 2 kW
# of PV, 0.5 kW of load and a full battery, so every reading is known
# exactly (the meter shows 1.5 kW of export); HOME_PORT[steady], port, SIM_PID.
steady_home() {
    printf ',GC,GG\n2012-01-01 00:00:00,0.5,2.0\n2012-01-01 00:30:00,0.5,2.0\n2012-01-01 01:00:00,0.5,2.0\n' \
        > "$WORK/steady.csv"
    : > "$WORK/sim.log"
    "$BIN/weft-panelsim" --profile "$WORK/steady.csv" --port 0 --soc 100 "$@" \
        > "$WORK/sim.log" 2>&1 &
    SIM_PID=$!
    PIDS+=("$SIM_PID")
    # It prints this line once it listens; every fault mode gets that far.
    wait_for "panelsim serving" 5 grep -q "weft-panelsim: serving" "$WORK/sim.log"
    port=$(panel_port "$WORK/sim.log")
    HOME_PORT[steady]=$port
}
stop_steady_home() {
    kill "$SIM_PID"
    wait "$SIM_PID" 2>/dev/null
}

# jvalue KEY FILE: a top-level value of a JSON file, "null" for null,
# numbers to 3 places.
jvalue() {
    json "'null' if d['$1'] is None else round(d['$1'], 3)" < "$2"
}

# need_models: the shared test data's models, or skip.
need_models() {
    [ -d "$DATA/models" ] || skip "$DATA/models is missing (../shared/testdata)"
}
