#!/bin/bash
# weft-convert synth writes a model weft-infer runs and describes.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
"$BIN/weft-convert" synth --shape test-tiny --type q4_0 "$WORK/tiny-q4_0.gguf" || fail "synth exit $?"
"$BIN/weft-infer" run -m "$WORK/tiny-q4_0.gguf" -n 8 --seed 1 >/dev/null 2>"$WORK/err" ||
    fail "run exit $?: $(cat "$WORK/err")"
"$BIN/weft-infer" info -m "$WORK/tiny-q4_0.gguf" | grep -q "weights:      Q4_0" || fail "info"
weft_finish
