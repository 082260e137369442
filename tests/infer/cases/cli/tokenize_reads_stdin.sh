#!/bin/bash
# weft-infer tokenize agrees with llama.cpp's tokenizer vectors on the SPM vocab.
. "$(dirname "$0")/../../../lib/weft.sh" "$@"
# On the vocab-only GGUF, every case of llama.cpp's vectors through the
# CLI: text on stdin, ids on stdout.
need_models
voc="$DATA/tokenizer/ggml-vocab-llama-spm.gguf"
/usr/bin/python3 - "$BIN/weft-infer" "$voc" <<'PY' || fail "tokenize differs from llama.cpp"
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
weft_finish
