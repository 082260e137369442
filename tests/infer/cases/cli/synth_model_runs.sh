#!/bin/bash
# weft-convert synth writes a model weft-infer runs and describes, in every
# type weft-convert writes. test-tiny's rows are 64 wide: the 32-element
# types fill them, the 256-element (K and IQ4_XS) types only the FFN's down
# rows (the rest fall back to F16), so those run but report F16 weights.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
for t in f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 iq4_nl q2_k q3_k q4_k q5_k q6_k iq4_xs; do
    m="$WORK/tiny-$t.gguf"
    "$BIN/weft-convert" synth --shape test-tiny --type "$t" "$m" || fail "$t: synth exit $?"
    "$BIN/weft-infer" run -m "$m" -n 8 --seed 1 >/dev/null 2>"$WORK/err" ||
        fail "$t: run exit $?: $(cat "$WORK/err")"
    case $t in
    q4_0 | q4_1 | q5_0 | q5_1 | iq4_nl | q8_0)
        want=$(echo "$t" | tr a-z A-Z)
        "$BIN/weft-infer" info -m "$m" | grep -q "weights:      $want," ||
            fail "$t: info says $("$BIN/weft-infer" info -m "$m" | grep weights:)"
        ;;
    esac
done
weft_finish
