#!/bin/bash
# Accepted jobs survive a scheduler killed mid-way: the next start resumes them
# and each completes exactly once.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
SCHED_PORT=0 start_sched
KEY=$(new_key dev)
ids=()
for i in $(seq 8); do
    out=$(api POST /v1/jobs '{"completion_window":"1h","request":{"model":"test-model","messages":[{"role":"user","content":"job '$i'"}],"max_tokens":6}}')
    expect_status 202 "$out" "job $i"
    ids+=("$(body_of "$out" | json 'd["id"]')")
done
# A node starts on them, then the scheduler dies hard mid-way.
start_testnode slow --token-ms 40 --concurrency 2
wait_metric weft_tokens_total 3 # the node is on them: the kill lands mid-way
stop_sched_hard
kill -9 "$NODE_PID"
SCHED_PORT=$PORT start_sched
grep -q "resumed [0-9]* unfinished job" "$WORK/sched.err" || fail "nothing resumed"
start_testnode fast --token-ms 1
for id in "${ids[@]}"; do
    wait_job "$id" succeeded
done
# Exactly once: every job has one recorded completion (read with Python's
# sqlite3, a reader we did not write).
# Exactly once: every job has one recorded completion.
/usr/bin/python3 - "$WORK/sched/weft.db" <<'EOF' || fail "completion counts"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("select id, completions from jobs").fetchall()
bad = [r for r in rows if r[1] != 1]
assert len(rows) == 8 and not bad, rows
EOF
weft_finish
