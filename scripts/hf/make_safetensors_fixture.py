#!/usr/bin/env python3
"""Writes the hf-tiny fixture: a small random GPT-2 saved by Hugging Face's own writer.

transformers builds a GPT2LMHeadModel (2 layers, 4 heads, 64 channels, 64 positions, a
vocabulary of 1000: V is not a multiple of 128, so the loader's padding is exercised), every
parameter drawn from a seeded generator (LayerNorm gains around 1, biases non-zero, so that a
tensor put in the wrong place changes the logits). save_pretrained writes it as model.safetensors
and config.json, in float32, bfloat16 and float16. For each, the logits HF computes in float32
(eval mode, CPU, eager attention; the half-precision weights are widened exactly to float32
first) for three fixed prompts, every position, go beside it.

tests/reference/hf_fixture_test.cpp loads these files with the project's loader and holds the
frozen reference's logits to HF's: the loader is held to a file written by an independent writer.

Usage: python3 scripts/hf/make_safetensors_fixture.py OUTDIR [--force]
  then commit OUTDIR as datasets/fixtures/hf-tiny/ (about 2.2 MB).
Needs torch, transformers and safetensors; downloads nothing (the weights are random).

OUTDIR/
  fixture.json                 prompts, shapes, versions, the tensors each file holds
  float32/model.safetensors    F32 weights           float32/config.json
  float32/hf_logits.f32        HF's logits: for each prompt in order, (T, vocab_size) float32 LE
  bfloat16/...                 the same model rounded to BF16, and HF's logits for it
  float16/...                  the same model rounded to F16, and HF's logits for it
"""

import argparse
import copy
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded, ever
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SEED = 20240326
CONFIG = dict(vocab_size=1000, n_positions=64, n_embd=64, n_layer=2, n_head=4)
# A single token, a short prompt touching both ends of the vocabulary, and a full context of 64.
PROMPTS_FIXED = [[7], [999, 0, 500, 42, 7, 123, 64]]
LONG_PROMPT_LENGTH = 64


def prompts(torch):
    g = torch.Generator().manual_seed(SEED + 1)
    long = torch.randint(0, CONFIG["vocab_size"], (LONG_PROMPT_LENGTH,), generator=g).tolist()
    return PROMPTS_FIXED + [long]


def build_model(torch, transformers):
    config = transformers.GPT2Config(
        **CONFIG,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=True,
        bos_token_id=CONFIG["vocab_size"] - 1,
        eos_token_id=CONFIG["vocab_size"] - 1,
    )
    try:
        config._attn_implementation = "eager"  # the textbook attention; sdpa would do as well
    except Exception:  # noqa: BLE001 - older or newer transformers: keep its default
        pass
    torch.manual_seed(SEED)
    model = transformers.GPT2LMHeadModel(config)
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        # named_parameters() lists the tied lm_head once, as transformer.wte.weight.
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.copy_(1.0 + 0.2 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.1 * noise)
            elif name.endswith("wte.weight"):
                p.copy_(0.3 * noise)  # logits spread with std of about 2
            else:
                p.copy_(0.1 * noise)  # wpe and the Conv1D weights
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr(), "untied"
    return model.eval()


def save(model, directory):
    try:
        model.save_pretrained(directory, safe_serialization=True)
    except TypeError:  # transformers 5 writes safetensors only, and dropped the argument
        model.save_pretrained(directory)
    path = os.path.join(directory, "model.safetensors")
    if not os.path.exists(path):
        sys.exit(f"save_pretrained wrote no {path}: {sorted(os.listdir(directory))}")
    return path


def logits_of(torch, model, all_prompts):
    rows = []
    with torch.no_grad():
        for prompt in all_prompts:
            out = model(torch.tensor([prompt], dtype=torch.long)).logits[0]  # (T, V)
            rows.append(out.to(torch.float32).contiguous())
    return torch.cat(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", help="where to write (e.g. datasets/fixtures/hf-tiny)")
    parser.add_argument("--force", action="store_true", help="replace OUTDIR if it exists")
    args = parser.parse_args()

    import numpy as np
    import safetensors
    import torch
    import transformers
    from safetensors import safe_open

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    outdir = os.path.abspath(args.outdir)
    if os.path.exists(outdir) and os.listdir(outdir) and not args.force:
        sys.exit(f"{outdir} exists and is not empty (--force replaces it)")
    parent = os.path.dirname(outdir)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".hf-tiny-", dir=parent)  # renamed into place at the end

    all_prompts = prompts(torch)
    model = build_model(torch, transformers)
    manifest = {
        "about": "A random GPT-2 written by Hugging Face transformers/safetensors, and the logits "
        "HF computes for it (scripts/hf/make_safetensors_fixture.py). Do not edit: regenerate.",
        "seed": SEED,
        "config": dict(CONFIG, activation_function="gelu_new", layer_norm_epsilon=1e-5),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "safetensors": safetensors.__version__,
            "numpy": np.__version__,
        },
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "prompts": all_prompts,
        "logits_layout": "float32 little-endian; for each prompt in order, every position: "
        "(T, vocab_size) row-major",
        "variants": [],
    }
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16),
                        ("float16", torch.float16)):
        stored = copy.deepcopy(model).to(dtype).eval()
        directory = os.path.join(work, name)
        path = save(stored, directory)
        # The float32 computation over exactly the stored weights (widening is exact).
        reference = copy.deepcopy(stored).to(torch.float32).eval()
        logits = logits_of(torch, reference, all_prompts)
        # HF reads back what it wrote, to the same logits.
        attn = getattr(model.config, "_attn_implementation", None)
        reloaded = transformers.GPT2LMHeadModel.from_pretrained(
            directory, **({"attn_implementation": attn} if attn else {}))
        again = logits_of(torch, reloaded.to(torch.float32).eval(), all_prompts)
        diff = (logits - again).abs().max().item()
        if diff > 1e-5 * logits.abs().max().item():
            sys.exit(f"{name}: HF's reloaded model gives other logits (max diff {diff})")
        logits_path = os.path.join(directory, "hf_logits.f32")
        with open(logits_path, "wb") as f:
            f.write(logits.numpy().astype("<f4").tobytes())
        tensors = {}
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata()
            for key in sorted(f.keys()):
                t = f.get_slice(key)
                tensors[key] = [t.get_dtype(), list(t.get_shape())]
        with open(path, "rb") as f:
            sha256 = hashlib.sha256(f.read()).hexdigest()
        manifest["variants"].append({
            "name": name,
            "dir": name,
            "logits_file": f"{name}/hf_logits.f32",
            "safetensors_bytes": os.path.getsize(path),
            "safetensors_sha256": sha256,
            "metadata": metadata,
            "tensors": tensors,
            "logit_std": float(logits.std()),
            "logit_max_abs": float(logits.abs().max()),
        })
        print(f"{name}: {os.path.getsize(path)} bytes, {len(tensors)} tensors, "
              f"logits {tuple(logits.shape)} std {logits.std().item():.3f}")
    with open(os.path.join(work, "fixture.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    if os.path.exists(outdir):
        shutil.rmtree(outdir)
    os.rename(work, outdir)
    print(f"wrote {outdir}")


if __name__ == "__main__":
    main()
