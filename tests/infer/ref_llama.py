#!/usr/bin/python3
"""An independent float64 reference for the logits of Llama, Qwen2, Qwen3,
Phi-3, Gemma 2 and Gemma 3.

Reads a GGUF file with its own small parser (numpy only, no Weft code), runs
the Llama forward pass in float64, and compares the logits of the last
position with what `weft-infer logits` prints for the same tokens.

Usage: ref_llama.py WEFT_INFER MODEL.gguf [TOKEN,TOKEN,...]
Exit 0 when max|weft - ref| <= 1e-4 * max|ref|, 1 when not, 77 when numpy
or the model file is missing (ctest reports a skip).
"""
import os
import struct
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("SKIP: numpy is not installed (Debian: python3-numpy)")
    sys.exit(77)

GGML_F32, GGML_F16 = 0, 1


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.d, self.o)
        self.o += struct.calcsize("<" + fmt)
        return v[0]

    def string(self):
        n = self.take("Q")
        s = self.d[self.o:self.o + n]
        self.o += n
        return s.decode("utf-8", "replace")

    def value(self, t):
        scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q",
                  11: "q", 12: "d"}
        if t in scalar:
            return self.take(scalar[t])
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("I"), self.take("Q")
            return [self.value(et) for _ in range(n)]
        raise ValueError(f"unknown GGUF value type {t}")


def load_gguf(path):
    data = open(path, "rb").read()
    r = Reader(data)
    assert r.take("I") == 0x46554747, "not GGUF"
    version = r.take("I")
    assert version in (2, 3)
    n_tensors, n_kv = r.take("Q"), r.take("Q")
    meta = {}
    for _ in range(n_kv):
        k = r.string()
        meta[k] = r.value(r.take("I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.take("I")
        ne = [r.take("Q") for _ in range(nd)]
        infos.append((name, ne, r.take("I"), r.take("Q")))
    align = meta.get("general.alignment", 32)
    base = (r.o + align - 1) // align * align
    tensors = {}
    for name, ne, typ, off in infos:
        count = int(np.prod(ne))
        if typ == GGML_F32:
            a = np.frombuffer(data, np.float32, count, base + off)
        elif typ == GGML_F16:
            a = np.frombuffer(data, np.float16, count, base + off)
        else:
            raise ValueError(f"{name}: type {typ} not handled by the reference")
        # GGUF lists ne[0] first (the row length); numpy wants rows first.
        tensors[name] = a.astype(np.float64).reshape(list(reversed(ne)))
    return meta, tensors


def rmsnorm(x, w, eps):
    return w * (x / np.sqrt(np.mean(x * x) + eps))


def rope(v, n_heads, head_dim, n_rot, pos, base, neox, div=None, scale=1.0):
    """Rotates pairs of each head's first n_rot dimensions by
    pos * base^(-2i/n_rot) / div[i]: (2i, 2i+1) in the normal layout,
    (i, i + n_rot/2) in NEOX's (GPT-NeoX, Qwen, Phi-3); LongRoPE also scales
    cos and sin by `scale`."""
    v = v.reshape(n_heads, head_dim).copy()
    half = n_rot // 2
    for i in range(half):
        theta = pos * base ** (-2 * i / n_rot) / (div[i] if div is not None else 1.0)
        c, s = np.cos(theta) * scale, np.sin(theta) * scale
        a, b = (i, i + half) if neox else (2 * i, 2 * i + 1)
        x0, x1 = v[:, a].copy(), v[:, b].copy()
        v[:, a] = x0 * c - x1 * s
        v[:, b] = x0 * s + x1 * c
    return v.reshape(-1)


# What each architecture adds to Llama's block, from its published
# definition (Hugging Face transformers' modeling_qwen2.py / modeling_qwen3.py):
# Qwen2 biases the Q/K/V projections and rotates NEOX-style; Qwen3 drops the
# bias and RMS-normalises each head of Q and K before RoPE.
# Phi-3 (modeling_phi3.py) fuses Q/K/V into one projection and gate/up into
# another (gate first), rotates NEOX-style with LongRoPE factors (the long
# ones once the context passes the original length, cos/sin scaled), and
# may attend within a sliding window only.
# Gemma 2 and 3 (modeling_gemma2.py / modeling_gemma3.py) scale the
# embedding by sqrt(n_embd), gate with GELU (tanh), norm each block's output
# before the residual, soft-cap scores and logits (Gemma 2), and slide the
# window in all layers but every 2nd (Gemma 2) or 6th (Gemma 3), whose
# sliding layers rotate with base 10000. GGUF stores Gemma's norms as 1 + w,
# as llama.cpp's converter writes them, so they multiply as they are here.
ARCHS = {"llama": dict(neox=False, bias=False, qk_norm=False),
         "qwen2": dict(neox=True, bias=True, qk_norm=False),
         "qwen3": dict(neox=True, bias=False, qk_norm=True),
         "phi3": dict(neox=True, bias=False, qk_norm=False),
         "gemma2": dict(neox=True, bias=False, qk_norm=False, gemma=True, pattern=2),
         "gemma3": dict(neox=True, bias=False, qk_norm=True, gemma=True, pattern=6,
                        swa_base=10000.0)}


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(meta, t, tokens):
    a = meta["general.architecture"]
    arch = ARCHS[a]
    n_layer = meta[f"{a}.block_count"]
    n_embd = meta[f"{a}.embedding_length"]
    n_head = meta[f"{a}.attention.head_count"]
    n_kv = meta.get(f"{a}.attention.head_count_kv", n_head)
    eps = meta.get(f"{a}.attention.layer_norm_rms_epsilon", 1e-5)
    base = meta.get(f"{a}.rope.freq_base", 10000.0)
    hd = meta.get(f"{a}.attention.key_length", n_embd // n_head)
    n_rot = meta.get(f"{a}.rope.dimension_count", hd)
    group = n_head // n_kv
    n_ctx = min(meta[f"{a}.context_length"], 4096)  # weft-infer's default context
    orig = meta.get(f"{a}.rope.scaling.original_context_length", meta[f"{a}.context_length"])
    div = t.get("rope_freqs.weight")
    if "rope_factors_long.weight" in t:
        div = t["rope_factors_long.weight" if n_ctx > orig else "rope_factors_short.weight"]
    scale = meta.get(f"{a}.rope.scaling.attn_factor", 1.0)
    swa = meta.get(f"{a}.attention.sliding_window", 0)
    gemma = arch.get("gemma", False)
    cap = meta.get(f"{a}.attn_logit_softcapping", 0)
    final_cap = meta.get(f"{a}.final_logit_softcapping", 0)
    qscale = 1 / np.sqrt(hd)
    if gemma and n_layer in (46, 62):  # the 27B models: query_pre_attn_scalar n_embd/n_head
        qscale = 1 / np.sqrt(n_embd / n_head)
    keys = [[] for _ in range(n_layer)]
    vals = [[] for _ in range(n_layer)]
    for pos, tok in enumerate(tokens):
        x = t["token_embd.weight"][tok].copy()
        if gemma:
            x = x * np.sqrt(n_embd)
        for l in range(n_layer):
            p = f"blk.{l}."
            pattern = arch.get("pattern", 0)
            sliding = swa > 0 and (pattern == 0 or (l + 1) % pattern != 0)
            lbase = arch["swa_base"] if sliding and "swa_base" in arch else base
            h = rmsnorm(x, t[p + "attn_norm.weight"], eps)
            if p + "attn_qkv.weight" in t:
                qkv = t[p + "attn_qkv.weight"] @ h
                q, k, v = np.split(qkv, [n_head * hd, (n_head + n_kv) * hd])
            else:
                q, k, v = (t[p + f"attn_{n}.weight"] @ h for n in "qkv")
            if arch["bias"]:
                q, k, v = (y + t[p + f"attn_{n}.bias"] for y, n in zip((q, k, v), "qkv"))
            if arch["qk_norm"]:
                q = np.concatenate([rmsnorm(r, t[p + "attn_q_norm.weight"], eps)
                                    for r in q.reshape(n_head, hd)])
                k = np.concatenate([rmsnorm(r, t[p + "attn_k_norm.weight"], eps)
                                    for r in k.reshape(n_kv, hd)])
            q = rope(q, n_head, hd, n_rot, pos, lbase, arch["neox"], div, scale)
            k = rope(k, n_kv, hd, n_rot, pos, lbase, arch["neox"], div, scale)
            keys[l].append(k.reshape(n_kv, hd))
            vals[l].append(v.reshape(n_kv, hd))
            K, V = np.stack(keys[l]), np.stack(vals[l])
            if sliding:  # only positions t with pos - t < swa
                K, V = K[max(0, pos - swa + 1):], V[max(0, pos - swa + 1):]
            out = np.zeros((n_head, hd))
            for hh in range(n_head):
                sc = K[:, hh // group, :] @ q.reshape(n_head, hd)[hh] * qscale
                if cap:
                    sc = cap * np.tanh(sc / cap)
                w = np.exp(sc - sc.max())
                out[hh] = (w / w.sum()) @ V[:, hh // group, :]
            o = t[p + "attn_output.weight"] @ out.reshape(-1)
            if gemma:
                o = rmsnorm(o, t[p + "post_attention_norm.weight"], eps)
            x = x + o
            h = rmsnorm(x, t[p + "ffn_norm.weight"], eps)
            if p + "ffn_gate.weight" in t:
                g = t[p + "ffn_gate.weight"] @ h
                u = t[p + "ffn_up.weight"] @ h
            else:
                g, u = np.split(t[p + "ffn_up.weight"] @ h, 2)
            act = gelu_tanh(g) if gemma else g / (1 + np.exp(-g))
            f = t[p + "ffn_down.weight"] @ (act * u)
            if gemma:
                f = rmsnorm(f, t[p + "post_ffw_norm.weight"], eps)
            x = x + f
    x = rmsnorm(x, t["output_norm.weight"], eps)
    out_w = t.get("output.weight", t["token_embd.weight"])
    logits = out_w @ x
    if final_cap:
        logits = final_cap * np.tanh(logits / final_cap)
    return logits


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    exe, model = sys.argv[1], sys.argv[2]
    toks = sys.argv[3] if len(sys.argv) > 3 else "1,15043,3186,29892,445,338,263,1243"
    if not os.path.exists(model):
        print(f"SKIP: {model} is missing")
        return 77
    meta, tensors = load_gguf(model)
    ids = [int(x) for x in toks.split(",")]
    ref = forward(meta, tensors, ids)
    got = subprocess.run([exe, "logits", "-m", model, "--tokens", toks, "--threads", "2"],
                         check=True, capture_output=True, text=True).stdout.split()
    got = np.array([float(x) for x in got])
    if got.shape != ref.shape:
        print(f"FAIL: {got.shape[0]} logits from weft-infer, {ref.shape[0]} from the reference")
        return 1
    err = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
    print(f"{len(ids)} tokens, {ref.shape[0]} logits: max |weft - ref| / max |ref| = {err:.3g}")
    if not err <= 1e-4:
        print("FAIL: relative error above 1e-4")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
