#!/bin/sh
# Black-box tests of weft-convert and weft-infer as a user runs them.
# Usage: cli_test.sh CASE BIN_DIR TESTDATA WORK_DIR TESTS_DIR
# Exit 77 (skip) when the shared test data is missing.
set -u
case_=$1 bin=$2 td=$3 work=$4 tests=$5
mkdir -p "$work"
need_data() { [ -d "$td/models" ] || { echo "SKIP: $td/models is missing"; exit 77; }; }
model="$work/stories260K.gguf"
fail() { echo "FAIL: $*"; exit 1; }

convert() {
    need_data
    [ -f "$model" ] || "$bin/weft-convert" llama2c "$td/models/stories260K.bin" \
        "$td/models/tok512.bin" "$model" || fail "weft-convert exited $?"
}

case $case_ in
run_greedy_prints_only_the_story)
    convert
    "$bin/weft-infer" run -m "$model" --temp 0 -n 256 >"$work/out.txt" 2>"$work/err.txt" ||
        fail "weft-infer run exited $?"
    # stdout: exactly the published text and a final newline; timings on stderr.
    printf '\n' >"$work/nl"
    cat "$tests/infer/data/stories260K-greedy.txt" "$work/nl" >"$work/want.txt"
    cmp "$work/out.txt" "$work/want.txt" || { diff "$work/out.txt" "$work/want.txt"; fail "text differs"; }
    grep -q "decode 256 tokens" "$work/err.txt" || fail "no timings on stderr: $(cat "$work/err.txt")"
    ;;
tokenize_reads_stdin)
    # On the vocab-only GGUF, every case of llama.cpp's vectors through the
    # CLI: text on stdin, ids on stdout.
    need_data
    voc="$td/tokenizer/ggml-vocab-llama-spm.gguf"
    /usr/bin/python3 - "$bin/weft-infer" "$voc" <<'PY' || fail "tokenize differs from llama.cpp"
import subprocess, sys
exe, voc = sys.argv[1], sys.argv[2]
cases = open(voc + ".inp", encoding="utf-8").read().split("\n__ggml_vocab_test__\n")[:-1]
wants = open(voc + ".out").read().split("\n")
bad = 0
for text, want in zip(cases, wants):
    got = subprocess.run([exe, "tokenize", "-m", voc], input=text.encode(), check=True,
                         capture_output=True).stdout.decode().strip()
    if got != want.strip():
        print(f"{text!r}: got {got!r}, want {want.strip()!r}")
        bad += 1
print(f"{len(cases)} cases, {bad} differ")
sys.exit(1 if bad or len(cases) < 30 else 0)
PY
    ;;
bad_arguments_are_refused)
    "$bin/weft-infer" run 2>"$work/e1" && fail "run without -m succeeded"
    grep -q -- "-m MODEL.gguf is required" "$work/e1" || fail "message: $(cat "$work/e1")"
    "$bin/weft-infer" run -m x.gguf --temp abc 2>"$work/e2" && fail "bad --temp accepted"
    grep -q 'expected a number' "$work/e2" || fail "message: $(cat "$work/e2")"
    "$bin/weft-infer" run -m "$work/missing.gguf" 2>"$work/e3" && fail "missing model accepted"
    grep -q "missing.gguf: cannot open: No such file" "$work/e3" || fail "message: $(cat "$work/e3")"
    "$bin/weft-convert" synth --shape nope --type f16 "$work/x.gguf" 2>"$work/e4" && fail "bad shape"
    grep -q 'unknown shape "nope"' "$work/e4" || fail "message: $(cat "$work/e4")"
    ;;
synth_model_runs)
    "$bin/weft-convert" synth --shape test-tiny --type q4_0 "$work/tiny-q4_0.gguf" || fail "synth exit $?"
    "$bin/weft-infer" run -m "$work/tiny-q4_0.gguf" -n 8 --seed 1 >/dev/null 2>"$work/err" ||
        fail "run exit $?: $(cat "$work/err")"
    "$bin/weft-infer" info -m "$work/tiny-q4_0.gguf" | grep -q "weights:      Q4_0" || fail "info"
    ;;
*)
    fail "unknown case $case_"
    ;;
esac
echo "ok: $case_"
