#!/bin/bash
# No single brain: three schedulers on one PostgreSQL and four nodes that know
# all three. Deferrable jobs are accepted on every scheduler; then schedulers
# are killed with kill -9 one after another, mid-run and mid-queue, and
# PostgreSQL itself is killed and restarted mid-run. Every acknowledged job
# must complete exactly once (psql counts the completions), with the text an
# undisturbed run of the same request gives.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_pg
start_region 3
KEY=$(new_key dev) || fail "key"
N=24
ids=()
req() { # req I: job I's request (its own seed, so a rerun must give its text)
    printf '{"completion_window":"1h","request":{"model":"test-model","seed":%d,'`
        `'"messages":[{"role":"user","content":"region job %d"}],"max_tokens":24}}' \
        $((7000 + $1)) "$1"
}
for i in $(seq $N); do
    s=$((i % 3 + 1))
    out=$(URL=${RURL[$s]} api POST /v1/jobs "$(req "$i")")
    expect_status 202 "$out" "job $i on scheduler $s"
    ids+=("$(body_of "$out" | json 'd["id"]')")
done
for n in 1 2 3 4; do
    URL=$(region_urls $((n % 3 + 1))) start_testnode "home-$n" --token-ms 40 --concurrency 2
done

tokens_on() { curl -s --cacert "$CA" "${RURL[$1]}/metrics" | awk '$1 == "weft_tokens_total" {print $2}'; }
tokens_at_least() { [ "$(tokens_on "$1")" -ge "$2" ] 2>/dev/null; }
# Scheduler 1 dies while its node streams.
wait_for "tokens through scheduler 1" 20 tokens_at_least 1 10
stop_region_sched 1
# PostgreSQL dies and comes back while schedulers 2 and 3 stream.
base=$(tokens_on 2)
wait_for "tokens through scheduler 2" 20 tokens_at_least 2 $((base + 20))
pg_restart
# Scheduler 2 dies too; 3 is left with every node.
base=$(tokens_on 2)
wait_for "more tokens through scheduler 2" 20 tokens_at_least 2 $((base + 20))
stop_region_sched 2
done_state() { # the job's status as scheduler 3 sees it
    curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" "${RURL[3]}/v1/jobs/$1" | json 'd["status"]'
}
job_done_on_3() { [ "$(done_state "$1")" = succeeded ]; }
for id in "${ids[@]}"; do
    wait_for "job $id succeeded" 60 job_done_on_3 "$id"
done
# Exactly once, read by psql, a reader we did not write.
bad=$(psql "$PG_URI" -Atc "select count(*) from jobs where id like 'job-%' and completions <> 1")
[ "$bad" = 0 ] || fail "$bad jobs without exactly one completion"
left=$(psql "$PG_URI" -Atc "select count(*) from journal")
[ "$left" = 0 ] || fail "$left journal rows left behind by finished jobs"
# The right text: each job again, undisturbed, on scheduler 3.
text_of() {
    curl -s --cacert "$CA" -H "Authorization: Bearer $KEY" "${RURL[3]}/v1/jobs/$1" |
        json 'd["result"]["choices"][0]["message"]["content"]'
}
i=0
for id in "${ids[@]}"; do
    i=$((i + 1))
    out=$(URL=${RURL[3]} api POST /v1/jobs "$(req "$i")")
    expect_status 202 "$out" "rerun $i"
    again=$(body_of "$out" | json 'd["id"]')
    wait_for "rerun $i" 30 job_done_on_3 "$again"
    [ "$(text_of "$id")" = "$(text_of "$again")" ] ||
        fail "job $i: '$(text_of "$id")' != undisturbed '$(text_of "$again")'"
done
if grep -h "differs from the script" "$WORK"/node-*.err; then
    fail "a node was sent resume tokens its script would not have made"
fi
grep -q "claimed with [0-9]* journaled tokens" "$WORK"/s*.err ||
    fail "no job resumed from the journal"
weft_finish
