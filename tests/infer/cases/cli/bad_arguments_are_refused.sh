#!/bin/bash
# weft-infer and weft-convert refuse bad arguments with a clear message.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
"$BIN/weft-infer" run 2>"$WORK/e1" && fail "run without -m succeeded"
grep -q -- "-m MODEL.gguf is required" "$WORK/e1" || fail "message: $(cat "$WORK/e1")"
"$BIN/weft-infer" run -m x.gguf --temp abc 2>"$WORK/e2" && fail "bad --temp accepted"
grep -q 'expected a number' "$WORK/e2" || fail "message: $(cat "$WORK/e2")"
"$BIN/weft-infer" run -m "$WORK/missing.gguf" 2>"$WORK/e3" && fail "missing model accepted"
grep -q "missing.gguf: cannot open: No such file" "$WORK/e3" || fail "message: $(cat "$WORK/e3")"
"$BIN/weft-convert" synth --shape nope --type f16 "$WORK/x.gguf" 2>"$WORK/e4" && fail "bad shape"
grep -q 'unknown shape "nope"' "$WORK/e4" || fail "message: $(cat "$WORK/e4")"
weft_finish
