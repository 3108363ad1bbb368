#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from the
project's own fixtures: small files, a few KB each, committed. Run from the
repository root: python3 tests/fuzz/make_corpus.py. Not part of the build."""
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(*parts):
    with open(os.path.join(ROOT, *parts), "rb") as f:
        return f.read()


# A tiny GPT-2: V = 3 (padded to 4), C = 4, maxT = 2, one layer, 2 heads.
V, VP, C, T, L, NH = 3, 4, 4, 2, 1, 2
LLMC = [("wte", VP * C), ("wpe", T * C), ("ln1w", L * C), ("ln1b", L * C),
        ("qkvw", L * 3 * C * C), ("qkvb", L * 3 * C), ("attprojw", L * C * C),
        ("attprojb", L * C), ("ln2w", L * C), ("ln2b", L * C), ("fcw", L * 4 * C * C),
        ("fcb", L * 4 * C), ("fcprojw", L * C * 4 * C), ("fcprojb", L * C),
        ("lnfw", C), ("lnfb", C)]


def values(n, k):
    return [((i * 7 + k) % 11 - 5) / 8.0 for i in range(n)]


def checkpoint(version):
    header = [0] * 256
    header[:8] = [20240326, version, T, V, L, NH, C, 0 if version == 1 else VP]
    body = b""
    for k, (name, n) in enumerate(LLMC):
        if version == 1 and name == "wte":
            n = V * C
        vals = values(n, k)
        if version == 5:
            body += b"".join(struct.pack("<f", v)[2:] for v in vals)
        else:
            body += struct.pack("<%df" % n, *vals)
    return struct.pack("<256i", *header) + body


for v in (1, 3, 5):
    put("checkpoint", "tiny-v%d.bin" % v, checkpoint(v))
put("checkpoint", "short.bin", checkpoint(3)[:1000])


HF = [("wte.weight", [V, C]), ("wpe.weight", [T, C]),
      ("h.0.ln_1.weight", [C]), ("h.0.ln_1.bias", [C]),
      ("h.0.attn.c_attn.weight", [C, 3 * C]), ("h.0.attn.c_attn.bias", [3 * C]),
      ("h.0.attn.c_proj.weight", [C, C]), ("h.0.attn.c_proj.bias", [C]),
      ("h.0.ln_2.weight", [C]), ("h.0.ln_2.bias", [C]),
      ("h.0.mlp.c_fc.weight", [C, 4 * C]), ("h.0.mlp.c_fc.bias", [4 * C]),
      ("h.0.mlp.c_proj.weight", [4 * C, C]), ("h.0.mlp.c_proj.bias", [C]),
      ("ln_f.weight", [C]), ("ln_f.bias", [C])]


def safetensors(dtype, prefix="", extra=()):
    size = {"F32": 4, "F16": 2, "BF16": 2}[dtype]
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for k, (name, shape) in enumerate(list(HF) + list(extra)):
        n = 1
        for d in shape:
            n *= d
        vals = values(n, k)
        if dtype == "F32":
            raw = struct.pack("<%df" % n, *vals)
        elif dtype == "F16":
            raw = struct.pack("<%de" % n, *vals)
        else:
            raw = b"".join(struct.pack("<f", v)[2:] for v in vals)
        header[prefix + name] = {"dtype": dtype, "shape": shape,
                                 "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


CONFIG = json.loads(read("datasets", "fixtures", "hf-tiny", "float32", "config.json"))
CONFIG.update({"n_embd": C, "n_head": NH, "n_layer": L, "n_positions": T, "n_ctx": T,
               "vocab_size": V})
config = json.dumps(CONFIG, indent=2).encode()


def with_config(cfg, file):  # fuzz_safetensors' input: 2 bytes k, config.json (k - 1 bytes), file
    if cfg is None:
        return b"\0\0" + file
    return struct.pack("<H", len(cfg) + 1) + cfg + file


put("safetensors", "f32-config", with_config(config, safetensors("F32")))
put("safetensors", "f16-config", with_config(config, safetensors("F16", "transformer.")))
put("safetensors", "bf16-no-config", with_config(None, safetensors("BF16")))
put("safetensors", "lm-head-masks", with_config(config, safetensors(
    "F32", "", [("h.0.attn.bias", [1, 1]), ("lm_head.weight", [V, C])])))
put("hf_config", "fixture-tiny.json", config)
put("hf_config", "minimal.json", '{"n_head": 4, "model_type": "gpt2"}')
put("hf_config", "empty.json", "{}")

prompts = read("datasets", "prompts.txt").decode()
put("prompts", "prompts-head.txt", "\n".join(prompts.splitlines()[:40]) + "\n")
put("prompts", "small.txt", "# two prompts\na 10 464 2068\nb 5 1 2 3\n")
for rule in ("greedy", "sample-t0.8-k40-seed2"):
    text = read("datasets", "goldens", "synthetic-tiny-seed2.%s.txt" % rule).decode()
    put("goldens", rule + "-head.txt", "\n".join(text.splitlines()[:24]) + "\n")

for name in ("code", "contractions", "emoji", "invalid", "multilingual"):
    put("tokenizer_encode", name + ".txt", read("datasets", "tokenizer", "corpus", name + ".txt")[:600])
put("tokenizer_encode", "endoftext.txt", "a<|endoftext|>b <|endoftext|><|endo")
put("tokenizer_encode", "nul-and-bad-utf8.bin", b"x\0y\xff\xfe\xc3(\xe2\x82 \xf0\x9f\x98\x80\r\n")
ids = [15496, 11, 616, 3290, 318, 13779, 50256, 198, 220, 10, 256, 50255, 39752, 0, 255]
put("tokenizer_decode", "ids.bin", b"".join(struct.pack("<H", i + 32) for i in ids))
put("tokenizer_decode", "emoji-bytes.bin",
    b"".join(struct.pack("<H", i + 32) for i in [8582, 247, 222, 12520, 238, 109]))
put("tokenizer_decode", "out-of-range.bin", struct.pack("<HH", 0, 50257 + 32))

for i, t in enumerate(["4", "1..4", "1,2,4,8", "1..16:2", "1,2..8:2,16", "1024", "0", "4..1"]):
    put("thread_list", "t%d" % i, t)
for i, t in enumerate(["31373 612 338 635 281", "464,2068", " 464, 2068\n", "-1", "99999999999",
                       "1.5", ""]):
    put("token_list", "t%d" % i, t)
for i, t in enumerate(["float32", "bfloat16", "bf16", "fp16"]):
    put("precision", "p%d" % i, t)
for i, t in enumerate(["median", "greedy", "sample-seed1", "sample-t0.8-k40-seed2",
                       "sample-t1.2-p0.9-seed3", "sample-t0.8-k40-p0.95-seed7", "all",
                       "median,greedy,sample-t0.5", "sample-t0"]):
    put("rule", "r%d" % i, t)
