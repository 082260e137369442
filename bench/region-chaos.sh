#!/bin/bash
# Random kill -9 of schedulers under concurrent streams and queued jobs
# (issue 18): three schedulers on one PostgreSQL, four nodes that know all
# three. Each round first runs STREAMS streams undisturbed (the reference
# texts), then the same streams again while a random live scheduler is
# killed every 1-3 s and started again a second later (never the last one
# alive), with JOBS deferrable jobs queued meanwhile. It prints how many
# streams came out identical to their reference and how many jobs completed
# exactly once with an undisturbed rerun's text. SEED picks the kill
# schedule (default: the time).
# Usage: ROUNDS=3 STREAMS=18 JOBS=12 bench/region-chaos.sh
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/weft-region-chaos.XXXXXX)
. "$root/tests/lib/weft.sh" "$root/build/bin" "$root/build/tests" "$work"
# Schedulers restarted by the chaos subshell are known by their pid files.
trap 'kill -9 $(cat "$WORK"/s*.pid 2>/dev/null) 2>/dev/null; weft_cleanup; rm -rf "$WORK"' EXIT
load_pids() { for i in 1 2 3; do RPID[$i]=$(cat "$WORK/s$i.pid"); done; }
ROUNDS=${ROUNDS:-3} STREAMS=${STREAMS:-18} JOBS=${JOBS:-12} SEED=${SEED:-$(date +%s)}
MAX=${MAX_TOKENS:-150}
RANDOM=$SEED
echo "== chaos: $ROUNDS rounds, $STREAMS streams of $MAX tokens and $JOBS jobs each, kill schedule seed $SEED"
start_pg
SCHED_LOG=warn start_region 3
KEY=$(new_key chaos --rate 0 --concurrency 0)
for n in 1 2 3 4; do
    URL=$(region_urls $((n % 3 + 1))) start_testnode "home-$n" --token-ms 30 --concurrency 6
done
sleep 2
streams() { # streams SEED0 OUT
    NODE_EXTRA_CA_CERTS="$CA" WEFT_URLS="$(region_urls 1)" WEFT_KEY="$KEY" WEFT_N=$STREAMS \
        WEFT_MAX_TOKENS=$MAX WEFT_SEED0=$1 timeout 300 node "$root/bench/sched/chaos_streams.mjs" > "$2"
}
alive() { local a=0; for i in 1 2 3; do kill -0 "${RPID[$i]}" 2>/dev/null && a=$((a + 1)); done; echo $a; }
chaos() { # kills until the file $1 exists
    local kills=0
    while [ ! -e "$1" ]; do
        sleep "$((RANDOM % 3 + 1))"
        [ -e "$1" ] && break
        local v=$((RANDOM % 3 + 1))
        if kill -0 "${RPID[$v]}" 2>/dev/null && [ "$(alive)" -ge 2 ]; then
            kill -9 "${RPID[$v]}"
            kills=$((kills + 1))
            sleep 1
            SCHED_LOG=warn start_region_sched "$v"
        fi
    done
    echo "$kills" > "$1.kills"
}
job_req() {
    printf '{"completion_window":"1h","request":{"model":"test-model","seed":%d,"max_tokens":%d,%s}}' \
        "$1" "$MAX" '"messages":[{"role":"user","content":"chaos job"}]'
}
text_of() { # text_of SCHED ID
    curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" "${RURL[$1]}/v1/jobs/$2" |
        json 'd["result"]["choices"][0]["message"]["content"] if d["status"] == "succeeded" else ""'
}
any_live() { for i in 1 2 3; do kill -0 "${RPID[$i]}" 2>/dev/null && { echo "$i"; return; }; done; }
total_same=0 total=0 jobs_ok=0 jobs_total=0 kills_total=0
for r in $(seq "$ROUNDS"); do
    seed0=$((1000 * r))
    streams "$seed0" "$WORK/ref$r" || echo "round $r: reference run failed" >&2
    rm -f "$WORK/done$r"
    ids=()
    for j in $(seq "$JOBS"); do
        s=$((j % 3 + 1))
        out=$(URL=${RURL[$s]} api POST /v1/jobs "$(job_req $((seed0 + 500 + j)))")
        [ "$(printf '%s' "$out" | tail -n 1)" = 202 ] && ids+=("$(body_of "$out" | json 'd["id"]')")
    done
    chaos "$WORK/done$r" &
    CHAOS=$!
    streams "$seed0" "$WORK/got$r"
    touch "$WORK/done$r"
    wait "$CHAOS"
    load_pids
    kills_total=$((kills_total + $(cat "$WORK/done$r.kills")))
    for i in 1 2 3; do kill -0 "${RPID[$i]}" 2>/dev/null || SCHED_LOG=warn start_region_sched "$i"; done
    same=$(paste -d'\n' "$WORK/ref$r" "$WORK/got$r" |
        awk 'NR % 2 == 1 {a = substr($0, index($0, " ") + 1); sub(/^[0-9]+ /, "", a); next}
             {b = substr($0, index($0, " ") + 1); sub(/^[0-9]+ /, "", b); if (a == b && a !~ /^ERROR/) n++}
             END {print n + 0}')
    total_same=$((total_same + same))
    total=$((total + STREAMS))
    # The jobs: each succeeded, with the text an undisturbed rerun gives.
    wait_text() { # wait_text ID -> its text, or "" after 60 s
        local end=$(($(date +%s) + 60)) t=""
        while [ -z "$t" ] && [ "$(date +%s)" -lt "$end" ]; do
            t=$(text_of 1 "$1")
            [ -n "$t" ] || sleep 0.2
        done
        printf '%s' "$t"
    }
    agains=()
    for j in $(seq "${#ids[@]}"); do
        wait_text "${ids[$((j - 1))]}" > "$WORK/job$r.$j" # the chaos run's text
        out=$(URL=${RURL[1]} api POST /v1/jobs "$(job_req $((seed0 + 500 + j)))")
        agains+=("$(body_of "$out" | json 'd["id"]')")
    done
    ok=0
    for j in $(seq "${#ids[@]}"); do
        ref=$(wait_text "${agains[$((j - 1))]}")
        [ -n "$ref" ] && [ "$(cat "$WORK/job$r.$j")" = "$ref" ] && ok=$((ok + 1))
    done
    jobs_ok=$((jobs_ok + ok))
    jobs_total=$((jobs_total + JOBS))
    echo "round $r: $same of $STREAMS streams identical, $ok of $JOBS jobs right; kills $(cat "$WORK/done$r.kills")"
done
bad=$(psql "$PG_URI" -Atc "select count(*) from jobs where id like 'job-%' and state = 2 and completions <> 1")
unfinished=$(psql "$PG_URI" -Atc "select count(*) from jobs where id like 'job-%' and state < 2")
echo "streams identical: $total_same of $total; jobs right: $jobs_ok of $jobs_total; scheduler kills: $kills_total"
echo "jobs with other than one completion: $bad; jobs unfinished: $unfinished"
