#!/bin/bash
# weft-infer run prints exactly llama2.c's published greedy stories260K text on
# stdout, timings on stderr.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
need_models
convert_stories
"$BIN/weft-infer" run -m "$WORK/stories260K.gguf" --temp 0 -n 256 >"$WORK/out.txt" 2>"$WORK/err.txt" ||
    fail "weft-infer run exited $?"
# stdout: exactly the published text and a final newline; timings on stderr.
printf '\n' >"$WORK/nl"
cat "$LIB/../infer/data/stories260K-greedy.txt" "$WORK/nl" >"$WORK/want.txt"
cmp "$WORK/out.txt" "$WORK/want.txt" || { diff "$WORK/out.txt" "$WORK/want.txt"; fail "text differs"; }
grep -q "decode 256 tokens" "$WORK/err.txt" || fail "no timings on stderr: $(cat "$WORK/err.txt")"
weft_finish
