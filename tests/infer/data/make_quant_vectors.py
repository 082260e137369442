#!/usr/bin/python3
"""Writes quant_vectors.bin: random blocks of every quantized type weft
reads, with the floats that llama.cpp's gguf-py dequantizes them to. The
test (tests/infer/test_quant.c, peer_dequantizer_vectors) checks weft's
dequantizers against them, so a layout we misread fails against a reader
we did not write.

Needs gguf-py (llama.cpp's gguf-py/ directory, or `pip install gguf`) on
PYTHONPATH and numpy; it is not run by the build. Usage:
    PYTHONPATH=/path/to/llama.cpp/gguf-py make_quant_vectors.py OUT

Format, all little-endian: "WQV1", u32 record count, then per record
u32 ggml type, u32 element count n, u32 byte count, the bytes, n f32.
"""
import struct
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
         "IQ4_NL", "IQ4_XS"]


def main(out):
    rng = np.random.default_rng(20261201)
    records = []
    for name in TYPES:
        t = T[name]
        block, size = quants.GGML_QUANT_SIZES[t]
        nb = 2 if block == 256 else 8
        # Random bytes are random half floats too; draw until none of them
        # is an infinity or NaN, so every element has a finite value.
        for _ in range(1000):
            raw = rng.integers(0, 256, size=nb * size, dtype=np.uint8)
            with np.errstate(all="ignore"):
                ref = quants.dequantize(raw, t).astype(np.float32).ravel()
            if np.all(np.isfinite(ref)):
                break
        else:
            sys.exit(f"{name}: no finite draw")
        records.append(struct.pack("<III", int(t), nb * block, raw.size) + raw.tobytes() +
                       ref.astype("<f4").tobytes())
    with open(out, "wb") as f:
        f.write(b"WQV1" + struct.pack("<I", len(records)) + b"".join(records))


if __name__ == "__main__":
    main(sys.argv[1])
