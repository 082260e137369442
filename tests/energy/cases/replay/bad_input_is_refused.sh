#!/bin/bash
# weft-energy replay refuses a bad CSV, a contradictory config, a bad time and
# an unknown policy, each with a clear message.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
printf ',GC,GG\n2011-07-01 00:00:00,0.3,0.0\n2011-07-01 00:30:00,abc,0.0\n' >"$WORK/bad.csv"
"$BIN/weft-energy" replay --profile "$WORK/bad.csv" 2>"$WORK/e1" && fail "bad csv accepted"
grep -q 'bad.csv:3: column GC: expected a number of kW >= 0, got "abc"' "$WORK/e1" ||
    fail "message: $(cat "$WORK/e1")"
printf '{"priority_soc": 20, "reserve_soc": 40}' >"$WORK/p.json"
printf ',GC,GG\n2011-07-01 00:00:00,0.3,0.0\n2011-07-01 00:30:00,0.3,0.0\n' >"$WORK/ok.csv"
"$BIN/weft-energy" replay --profile "$WORK/ok.csv" --config "$WORK/p.json" 2>"$WORK/e2" &&
    fail "bad config accepted"
grep -q 'p.json: (top level): reserve_soc (40) must not exceed priority_soc (20)' "$WORK/e2" ||
    fail "message: $(cat "$WORK/e2")"
printf '{"quiet_hours": [{"start": "25:00", "end": "06:00"}]}' >"$WORK/q.json"
"$BIN/weft-energy" replay --profile "$WORK/ok.csv" --config "$WORK/q.json" 2>"$WORK/e3" &&
    fail "bad time accepted"
grep -q 'q.json: quiet_hours\[0\]: expected times as "HH:MM" (00:00..23:59), got "25:00"' \
    "$WORK/e3" || fail "message: $(cat "$WORK/e3")"
"$BIN/weft-energy" replay --profile "$WORK/ok.csv" --policy greedy 2>"$WORK/e4" && fail "policy"
grep -q "expected weft, naive, always or all" "$WORK/e4" || fail "message: $(cat "$WORK/e4")"
weft_finish
