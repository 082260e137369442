#!/bin/sh
# Batched decode on the CPU: aggregate tok/s of B sequences stepping
# together (weft_session_step: each weight matrix read once per step for all
# of them), B = 1 2 4 8 16, for synthetic TinyLlama-1.1B in each of TYPES.
# With LLAMA_BATCHED_BENCH=/path/to/llama-batched-bench the same files go
# through llama.cpp too (its S_TG t/s column, 16-token prompts, GEN tokens
# per sequence), Weft and llama.cpp alternating per batch size.
#
# Usage: bench/batch.sh [WORK_DIR=/tmp/weft-bench]   (after `make`)
# Env:   THREADS (all CPUs), GEN (32), REPS (3), TYPES ("q4_0 q8_0 q4_k"), BATCHES ("1 2 4 8 16")
set -eu
cd "$(dirname "$0")/.."
work=${1:-/tmp/weft-bench}
bin=build/bin
threads=${THREADS:-$(nproc)}
tg=${GEN:-32} reps=${REPS:-3}
types=${TYPES:-q4_0 q8_0 q4_k}
batches=${BATCHES:-1 2 4 8 16}
mkdir -p "$work"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $threads threads"
for t in $types; do
    f="$work/tinyllama-$t.gguf"
    [ -f "$f" ] || "$bin/weft-convert" synth --shape tinyllama-1.1b --type "$t" "$f"
    printf '\n%-10s %6s %14s %14s\n' "$t" batch "weft tok/s" "llama.cpp tok/s"
    base=""
    for b in $batches; do
        w=$("$bin/weft-infer" bench -m "$f" -p 16 -n "$tg" -r "$reps" --batch "$b" --threads "$threads" 2>/dev/null |
            sed -n 's/^batched decode.*: \([0-9.]*\) tok\/s aggregate.*/\1/p')
        l=-
        if [ -n "${LLAMA_BATCHED_BENCH:-}" ]; then
            # |    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s | ...
            l=$("$LLAMA_BATCHED_BENCH" -m "$f" -c $((b * (16 + tg) + 64)) -b 512 -ub 512 -npp 16 -ntg "$tg" \
                -npl "$b" -t "$threads" 2>/dev/null | awk -F'|' '$2 ~ /^ *16 *$/ { gsub(/ /, "", $9); print $9 }')
        fi
        [ -n "$base" ] || base=$w
        printf '%-10s %6s %14s %14s   (%.2fx batch 1)\n' "" "$b" "$w" "$l" \
            "$(awk -v a="$w" -v b="$base" 'BEGIN { print a / b }')"
    done
done
echo
echo "weft: weft-infer bench --batch B -p 16 -n $tg -r $reps (median); llama.cpp: llama-batched-bench -npp 16 -ntg $tg"
