#!/bin/bash
# Eight streams over two nodes with four slots each; a cloud over the home
# running a batch of them: its node yields the whole batch, the other home
# resumes every stream, and each text is its undisturbed run's.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
batch_homes
batch_streams
n=$(status a 'len(d["jobs"])')
mbw a 40503 0 # a cloud over home a only
batch_same_texts "through a yield"
y=$(grep -c "yielding" "$WORK/node-a.err")
[ "$y" -ge "$n" ] || fail "node a yielded $y jobs, ran $n"
grep -q "node yielded" "$WORK/sched.err" || fail "scheduler did not see a yield"
wait_status a 'd["slots"]["busy"]' 0
r=$(grep -c "resuming from token" "$WORK/sched.err")
[ "$r" -ge 2 ] || fail "only $r streams resumed elsewhere: not a batch"
weft_finish
