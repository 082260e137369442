#!/usr/bin/python3
"""Writes the GGUF seed corpus for fuzz_gguf into tests/fuzz/corpus/gguf/:
small files that reach deep into the reader, the vocab loaders and the
model loader. Independent of Weft's own writer on purpose.

Usage: tests/fuzz/make_gguf_seeds.py
"""
import os
import random
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "gguf")
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def val(t, v):
    if t == STR:
        return s(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(val(et, i) for i in items)
    fmt = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
           U64: "Q", I64: "q", F64: "d"}[t]
    return struct.pack("<" + fmt, v)


def gguf(kvs, tensors):
    """kvs: [(key, type, value)]; tensors: [(name, [ne...], ggml_type, bytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += s(k) + struct.pack("<I", t) + val(t, v)
    off, blobs = 0, []
    for name, ne, typ, data in tensors:
        off = (off + 31) // 32 * 32
        out += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", typ, off)
        blobs.append((off, data))
        off += len(data)
    out += b"\0" * ((32 - len(out) % 32) % 32)
    base = len(out)
    for o, data in blobs:
        out += b"\0" * (base + o - len(out)) + data
    return out


def f32s(n, seed):
    vals, x = [], seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) % 2**31
        vals.append((x / 2**31 - 0.5) * 0.5)
    return struct.pack("<%df" % n, *vals)


def spm_vocab(extra=()):
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    toks += ["\u2581", "\u2581H", "\u2581Hello", "e", "l", "o", "\u2581w", "orld", "H", "ll"]
    toks += list(extra)
    types = [2, 3, 3] + [6] * 256 + [1] * (len(toks) - 259)
    return [
        ("tokenizer.ggml.model", STR, "llama"),
        ("tokenizer.ggml.tokens", ARR, (STR, toks)),
        ("tokenizer.ggml.scores", ARR, (F32, [float(-i) for i in range(len(toks))])),
        ("tokenizer.ggml.token_type", ARR, (I32, types)),
        ("tokenizer.ggml.bos_token_id", U32, 1),
        ("tokenizer.ggml.eos_token_id", U32, 2),
    ], len(toks)


def main():
    os.makedirs(OUT, exist_ok=True)
    every = [("general.alignment", U32, 32), ("a", U8, 7), ("b", I8, -7), ("c", U16, 9),
             ("d", I16, -9), ("e", U32, 11), ("f", I32, -11), ("g", F32, 0.5), ("h", BOOL, True),
             ("i", STR, "text"), ("j", U64, 2**40), ("k", I64, -2**40), ("l", F64, 2.5),
             ("m", ARR, (ARR, [(I32, [1, 2]), (STR, ["x"])])), ("n", ARR, (U8, []))]
    open(os.path.join(OUT, "every-type.gguf"), "wb").write(
        gguf(every, [("t", [4, 2], 0, f32s(8, 1)), ("q", [32], 8, b"\x00\x3c" + bytes(range(32)))]))

    # One tensor of each quantized type, two rows of random bytes.
    sizes = {2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 10: (256, 84),
             11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 20: (32, 18),
             23: (256, 136)}
    rnd = random.Random(5)
    quants = [("q%d" % t, [blk, 2], t, bytes(rnd.randrange(256) for _ in range(2 * size)))
              for t, (blk, size) in sorted(sizes.items())]
    open(os.path.join(OUT, "every-quant.gguf"), "wb").write(gguf([], quants))

    kv, n = spm_vocab()
    open(os.path.join(OUT, "vocab-spm.gguf"), "wb").write(gguf(kv, []))

    bpe = ["H", "e", "l", "o", "\u0120", "w", "r", "d", "He", "ll", "llo", "Hello", "\u0120w",
           "or", "\u0120wor", "ld", "\u0120world", "!", "3", "'s"]
    open(os.path.join(OUT, "vocab-bpe.gguf"), "wb").write(gguf([
        ("tokenizer.ggml.model", STR, "gpt2"),
        ("tokenizer.ggml.pre", STR, "gpt-2"),
        ("tokenizer.ggml.tokens", ARR, (STR, bpe)),
        ("tokenizer.ggml.merges", ARR, (STR, ["H e", "l l", "ll o", "He llo", "\u0120 w", "o r",
                                              "\u0120w or", "l d", "\u0120wor ld"])),
    ], []))

    # The same vocabulary under the pre-tokenizers with their own code
    # paths: Llama 3's matcher and whole-word lookup, a PCRE2 list, and a
    # user-defined token cut out of the text before either.
    for pre in ["llama-bpe", "deepseek-coder", "default"]:
        open(os.path.join(OUT, "vocab-bpe-%s.gguf" % pre), "wb").write(gguf([
            ("tokenizer.ggml.model", STR, "gpt2"),
            ("tokenizer.ggml.pre", STR, pre),
            ("tokenizer.ggml.tokens", ARR, (STR, bpe + ["ok"])),
            ("tokenizer.ggml.token_type", ARR, (I32, [1] * len(bpe) + [4])),
            ("tokenizer.ggml.merges", ARR, (STR, ["H e", "l l", "ll o", "He llo"])),
        ], []))

    # A one-layer llama, n_embd 32, 2 heads (1 kv head), ff 64, F32 and F16.
    E, FF, KV = 32, 64, 16
    meta = [("general.architecture", STR, "llama"), ("llama.context_length", U32, 16),
            ("llama.embedding_length", U32, E), ("llama.block_count", U32, 1),
            ("llama.feed_forward_length", U32, FF), ("llama.attention.head_count", U32, 2),
            ("llama.attention.head_count_kv", U32, 1),
            ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5)] + kv
    ones = struct.pack("<%df" % E, *([1.0] * E))
    t = [("token_embd.weight", [E, n], 0, f32s(E * n, 2)), ("output_norm.weight", [E], 0, ones),
         ("blk.0.attn_norm.weight", [E], 0, ones), ("blk.0.ffn_norm.weight", [E], 0, ones),
         ("blk.0.attn_q.weight", [E, E], 0, f32s(E * E, 3)),
         ("blk.0.attn_k.weight", [E, KV], 0, f32s(E * KV, 4)),
         ("blk.0.attn_v.weight", [E, KV], 0, f32s(E * KV, 5)),
         ("blk.0.attn_output.weight", [E, E], 0, f32s(E * E, 6)),
         ("blk.0.ffn_gate.weight", [E, FF], 0, f32s(E * FF, 7)),
         ("blk.0.ffn_up.weight", [E, FF], 0, f32s(E * FF, 8)),
         ("blk.0.ffn_down.weight", [FF, E], 1, bytes(FF * E * 2))]
    open(os.path.join(OUT, "tiny-llama.gguf"), "wb").write(gguf(meta, t))


if __name__ == "__main__":
    main()
