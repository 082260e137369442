#!/bin/bash
# Eight streams over two nodes with four slots each; the node running a
# batch of them is killed (SIGKILL): every stream's text is its undisturbed
# run's, the resumed ones included.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
node_setup
batch_homes
batch_streams
kill -9 "$NODE_PID"
batch_same_texts "through kill -9"
grep -q "node a is gone" "$WORK/sched.err" || fail "death not seen"
r=$(grep -c "resuming from token" "$WORK/sched.err")
[ "$r" -ge 2 ] || fail "only $r streams resumed elsewhere: not a batch"
weft_finish
