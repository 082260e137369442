#!/bin/sh
# Everything the CUDA backend needs from a GPU machine, in one go: an
# engine-only build (compiler + CUDA toolkit, nothing else), the gpu-labelled
# tests, compute-sanitizer memcheck over the GPU test cases, the D2D copy
# bandwidth, and decode/prefill/batched figures for synthetic 1B shapes.
# Full logs go to OUT; a short table is printed last.
#
# Usage: bench/gpu.sh OUT [TESTDATA]   (TESTDATA default .carry/testdata:
#        ../shared does not travel to the GPU box; copy it into the checkout)
set -u
out=${1:?usage: bench/gpu.sh OUT [TESTDATA]}
td=${2:-.carry/testdata}
mkdir -p "$out"
cd "$(dirname "$0")/.."
b=build-gpu
models=${MODELS:-$b/models}
mkdir -p "$models"

step() { echo "== $*"; }
step "build (engine only, CUDA)"
cmake -S . -B "$b" -G Ninja -DWEFT_ENGINE_ONLY=ON -DCMAKE_BUILD_TYPE=Release >"$out/cmake.log" 2>&1 &&
    ninja -C "$b" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
nvidia-smi >"$out/nvidia-smi.txt" 2>&1
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)

step "gpu tests"
WEFT_TESTDATA=$(cd "$td" 2>/dev/null && pwd || echo "$td") \
    ctest --test-dir "$b" -L gpu --output-on-failure >"$out/tests.log" 2>&1
tests_rc=$?
tests=$(grep -E "tests passed|tests failed" "$out/tests.log" | tail -1)

step "compute-sanitizer memcheck"
ms=skipped
if command -v compute-sanitizer >/dev/null; then
    ms=clean
    for t in logits_match_cpu_f16 logits_match_cpu_q4_k logits_match_cpu_q6_k \
        batched_decode_matches_one_at_a_time resumed_generation_continues_identically; do
        WEFT_TESTDATA=$(cd "$td" 2>/dev/null && pwd || echo "$td") \
            compute-sanitizer --tool memcheck --error-exitcode 9 \
            "$b/tests/infer_cuda_test_cuda" "$t" >>"$out/memcheck.log" 2>&1
        rc=$?
        [ $rc -ne 0 ] && [ $rc -ne 77 ] && ms="errors (see memcheck.log)"
    done
fi

step "bandwidth"
"$b/bin/cudabw" >"$out/cudabw.txt" 2>&1
bw=$(sed -n 's/.*: \([0-9.]*\) GB\/s moved.*/\1/p' "$out/cudabw.txt")

step "decode and prefill"
rows=""
for shape in tinyllama-1.1b llama-3.2-1b; do
    for type in f16 q8_0 q4_0; do
        f=$models/$shape-$type.gguf
        [ -f "$f" ] || "$b/bin/weft-convert" synth --shape "$shape" --type "$type" "$f" \
            >>"$out/convert.log" 2>&1
        log=$out/bench-$shape-$type.txt
        "$b/bin/weft-infer" bench -m "$f" --backend cuda -p 512 -n 128 -r 5 --batch 8 >"$log" 2>&1
        gb=$(sed -n 's/.*| \([0-9.]*\) GB read per token.*/\1/p' "$log")
        pp=$(sed -n 's/^prefill [0-9]* tokens: \([0-9.]*\) tok.*/\1/p' "$log")
        tg=$(sed -n 's/^decode  [0-9]* tokens: \([0-9.]*\) tok.*/\1/p' "$log")
        b8=$(sed -n 's/^batched decode.*: \([0-9.]*\) tok\/s aggregate.*/\1/p' "$log")
        roof=$(awk -v g="$gb" -v t="$tg" -v w="$bw" 'BEGIN{ if (w > 0 && g > 0) printf "%.0f %%", 100 * g * t / w; else print "?" }')
        x8=$(awk -v a="$b8" -v t="$tg" 'BEGIN{ if (t > 0) printf "%.1fx", a / t; else print "?" }')
        rows="$rows$(printf '| %s %s | %s | %s | %s | %s | %s |' "$shape" "$type" "$pp" "$tg" "$roof" "$b8" "$x8")
"
    done
done

echo
echo "GPU: $gpu"
echo "D2D copy: $bw GB/s moved (cudabw); tests: $tests (rc $tests_rc); memcheck: $ms"
echo "| model | prefill 512 tok/s | decode tok/s | of roofline | batch 8 aggregate tok/s | batch 8 / batch 1 |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s' "$rows"
