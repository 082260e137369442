#!/bin/bash
# Each architecture's pass against an independent float64 numpy forward pass
# (tests/infer/ref_llama.py, written from the published definitions) on a
# random-weight model with its real structure: Llama; Qwen2 (Q/K/V bias,
# NEOX RoPE); Qwen3 (per-head Q/K RMSNorm, heads wider than n_embd / n_head);
# Phi-3 (fused Q/K/V and gate/up, LongRoPE's long factors and scale, and a
# sliding window of 4 that the 9 tokens cross); Gemma 2 (embedding scale,
# GELU, post norms, soft-capped scores and logits, windows in every other
# layer); Gemma 3 (Q/K norms, five sliding layers on base 10000, then a
# global one).
# Logits of the last of 9 tokens within 1e-4 relative, in F32 and in F16.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
for shape in test-tiny test-tiny-qwen2 test-tiny-qwen3 test-tiny-phi3 test-tiny-gemma2 \
    test-tiny-gemma3; do
    for type in f32 f16; do
        m="$WORK/$shape-$type.gguf"
        "$BIN/weft-convert" synth --shape "$shape" --type "$type" --seed 7 "$m" ||
            fail "$shape: synth exit $?"
        out=$(/usr/bin/python3 "$LIB/../infer/ref_llama.py" "$BIN/weft-infer" "$m" \
            1,15,300,299,42,7,511,3,260 2>&1)
        rc=$?
        [ $rc -eq 77 ] && skip "$out"
        [ $rc -eq 0 ] || fail "$shape $type: $out"
        echo "$shape $type: $out"
    done
done
weft_finish
