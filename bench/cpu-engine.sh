#!/bin/sh
# CPU engine benchmark: memory bandwidth, then prefill and decode tok/s for
# stories260K and synthetic TinyLlama-1.1B in F16, Q8_0, Q4_0 and Q4_K (TYPES), each with
# decode as a fraction of the bandwidth bound (weight bytes per token /
# measured read bandwidth). With LLAMA_BENCH=/path/to/llama-bench, the same
# GGUF files are also run through llama.cpp for a side-by-side figure.
#
# Usage: bench/cpu-engine.sh [WORK_DIR=/tmp/weft-bench]   (after `make`)
# Env:   THREADS (default: all CPUs), PROMPT (128), GEN (64), REPS (3), ROUNDS (3),
#        TYPES (weft-convert --type names; default "f16 q8_0 q4_0 q4_k")
set -eu
cd "$(dirname "$0")/.."
work=${1:-/tmp/weft-bench}
bin=build/bin
td=${WEFT_TESTDATA:-../shared/testdata}
threads=${THREADS:-$(nproc)}
pp=${PROMPT:-128} tg=${GEN:-64} reps=${REPS:-3}
mkdir -p "$work"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
bw_line=$("$bin/membw" 1024 "$threads" 5)
echo "$bw_line"
bw=$(echo "$bw_line" | sed 's/read bandwidth: \([0-9.]*\) GB\/s.*/\1/')

[ -f "$work/stories260K.gguf" ] || "$bin/weft-convert" llama2c "$td/models/stories260K.bin" \
    "$td/models/tok512.bin" "$work/stories260K.gguf"
types=${TYPES:-f16 q8_0 q4_0 q4_k}
for t in $types; do
    [ -f "$work/tinyllama-$t.gguf" ] ||
        "$bin/weft-convert" synth --shape tinyllama-1.1b --type "$t" "$work/tinyllama-$t.gguf"
done

# The same read through a mapping of the first model file (F16 by default, the largest): what the CPU
# backend would stream at with --mapped (docs/engine.md).
set -- $types
"$bin/membw" 2048 "$threads" 3 "$work/tinyllama-$1.gguf"

# The VM's bandwidth drifts by tens of percent within minutes, so Weft and
# llama.cpp alternate, ROUNDS times per model, and each figure is the
# median over rounds (each round itself the median of REPS runs).
rounds=${ROUNDS:-3}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

printf '\n%-22s %12s %12s %10s %9s\n' model "prefill t/s" "decode t/s" "GB/token" "of bound"
for m in stories260K $(for t in $types; do printf 'tinyllama-%s ' "$t"; done); do
    : > "$work/w.pf"; : > "$work/w.dc"; : > "$work/l.pf"; : > "$work/l.dc"
    gb=0
    for r in $(seq "$rounds"); do
        out=$("$bin/weft-infer" bench -m "$work/$m.gguf" -p "$pp" -n "$tg" -r "$reps" --threads "$threads" 2>&1)
        echo "$out" | sed -n 's/^prefill .*: \([0-9.]*\) tok\/s.*/\1/p' >> "$work/w.pf"
        echo "$out" | sed -n 's/^decode .*: \([0-9.]*\) tok\/s.*/\1/p' >> "$work/w.dc"
        gb=$(echo "$out" | sed -n 's/.*| \([0-9.]*\) GB read per token.*/\1/p')
        if [ -n "${LLAMA_BENCH:-}" ]; then
            l=$("$LLAMA_BENCH" -m "$work/$m.gguf" -p "$pp" -n "$tg" -r "$reps" -t "$threads" 2>/dev/null)
            echo "$l" | awk -F'|' '/ pp[0-9]/ { gsub(/ /, "", $8); split($8, a, "±"); print a[1] }' >> "$work/l.pf"
            echo "$l" | awk -F'|' '/ tg[0-9]/ { gsub(/ /, "", $8); split($8, a, "±"); print a[1] }' >> "$work/l.dc"
        fi
    done
    for who in weft llama.cpp; do
        f=w
        [ "$who" = weft ] || f=l
        [ -s "$work/$f.dc" ] || continue
        pf=$(median < "$work/$f.pf") dc=$(median < "$work/$f.dc")
        frac=$(awk -v d="$dc" -v g="$gb" -v b="$bw" 'BEGIN { if (g > 0.01) printf "%.0f%%", 100 * d * g / b; else print "-" }')
        printf '%-22s %12s %12s %10s %9s   (rounds: %s)\n' "$who $m" "$pf" "$dc" "$gb" "$frac" \
            "$(tr '\n' ' ' < "$work/$f.dc")"
    done
done
echo
echo "prefill: $pp tokens, decode: $tg tokens, median of $rounds rounds of $reps runs, $threads threads"
