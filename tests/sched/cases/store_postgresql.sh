#!/bin/bash
# The store's unit cases (tests/sched/test_store.c) once more, on a real
# PostgreSQL 15 this case starts: both backends keep one contract.
. "$(dirname "$0")/../../lib/weft.sh" "$@"
start_pg
WEFT_TEST_PG=$PG_URI "$TBIN/sched_store_test_store" > "$WORK/store.out" 2>&1 ||
    fail "store cases on PostgreSQL: $(tail -n 20 "$WORK/store.out")"
grep -q "leases_hand_jobs_over_with_their_journal" "$WORK/store.out" ||
    fail "the lease case did not run: $(tail -n 5 "$WORK/store.out")"
grep -q "a_batch_is_written_whole_counted_from_its_jobs_and_finalized_once" "$WORK/store.out" ||
    fail "the batch case did not run: $(tail -n 5 "$WORK/store.out")"
weft_finish
