#!/usr/bin/env python3
"""The independent oracle: Hugging Face transformers' GPT2LMHeadModel (PyTorch) on
the same llm.c checkpoint as the frozen reference.

It compares, on every golden prompt and step,
  - the logits: the reference's (dumped by `gpt2-goldens dump`, along the golden
    tokens) against HF's, computed in float64 on the CPU and in float32 (TF32
    off) on the GPU if there is one: max and mean absolute difference;
  - the greedy continuations: HF's own greedy generation from each prompt (its
    own path, not the golden one) against the reference's greedy goldens; and
    HF's median-rule decisions along the median goldens.

Needs torch and transformers (the device machine has both; nothing is
downloaded). Usage, from the repository root:
  build/bin/gpt2-goldens dump --model synthetic:124M --out /tmp/dump
  python3 scripts/hf/oracle.py --checkpoint datasets/cache/<model>.bin \
      --model-name synthetic:124M:seed=2 --dump /tmp/dump --out reports/oracle
Writes <out>/hf-oracle-<model>.json and .md and prints the Markdown.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llmc import load_llmc  # noqa: E402 (the scripts' one checkpoint reader)

def hf_model(cfg, t, dtype):
    config = GPT2Config(vocab_size=cfg["V"], n_positions=cfg["maxT"], n_embd=cfg["C"],
                        n_layer=cfg["L"], n_head=cfg["NH"], activation_function="gelu_new",
                        layer_norm_epsilon=1e-5, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0, tie_word_embeddings=True)
    model = GPT2LMHeadModel(config)
    wte, wpe, ln1w, ln1b, qkvw, qkvb, apw, apb, ln2w, ln2b, fcw, fcb, fpw, fpb, lnfw, lnfb = t
    V = cfg["V"]
    sd = {"transformer.wte.weight": wte[:V], "transformer.wpe.weight": wpe,
          "transformer.ln_f.weight": lnfw, "transformer.ln_f.bias": lnfb}
    for l in range(cfg["L"]):
        p = f"transformer.h.{l}."
        # HF's Conv1D stores weights (in, out): the transpose of llm.c's (out, in).
        sd.update({p + "ln_1.weight": ln1w[l], p + "ln_1.bias": ln1b[l],
                   p + "attn.c_attn.weight": qkvw[l].T, p + "attn.c_attn.bias": qkvb[l],
                   p + "attn.c_proj.weight": apw[l].T, p + "attn.c_proj.bias": apb[l],
                   p + "ln_2.weight": ln2w[l], p + "ln_2.bias": ln2b[l],
                   p + "mlp.c_fc.weight": fcw[l].T, p + "mlp.c_fc.bias": fcb[l],
                   p + "mlp.c_proj.weight": fpw[l].T, p + "mlp.c_proj.bias": fpb[l]})
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if k != "lm_head.weight" and not k.endswith(".attn.bias")
               and not k.endswith(".attn.masked_bias")]
    if missing or unexpected:
        sys.exit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    return model.to(dtype).eval()


def read_prompts(path):
    prompts = []
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        f = line.split()
        prompts.append((f[0], int(f[1]), [int(x) for x in f[2:]]))
    return prompts


def read_goldens(path):
    meta, steps = {}, []
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        if "\t" not in line:
            k, v = line.rstrip("\n").split(": ", 1)
            meta[k] = v
            continue
        f = line.rstrip("\n").split("\t")
        steps.append((f[0], int(f[1]), int(f[2])))
    return meta, steps


def tag(name):
    return name.replace(":", "-").replace("=", "")


@torch.no_grad()
def logits_along(model, device, tokens, dtype):
    ids = torch.tensor([tokens], device=device)
    out = model(ids).logits[0].to(torch.float64).cpu().numpy()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--model-name", required=True, help="e.g. synthetic:124M:seed=2")
    ap.add_argument("--dump", required=True, help="folder written by gpt2-goldens dump")
    ap.add_argument("--prompts", default="datasets/prompts.txt")
    ap.add_argument("--goldens", default="datasets/goldens")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    t0 = time.time()
    cfg, tensors = load_llmc(args.checkpoint)
    prompts = read_prompts(args.prompts)
    by_id = {p[0]: p for p in prompts}
    V = cfg["V"]
    oracles = [("float64 CPU", hf_model(cfg, tensors, torch.float64), "cpu")]
    if torch.cuda.is_available():
        oracles.append(("float32 GPU", hf_model(cfg, tensors, torch.float32).cuda(), "cuda"))
    result = {"model": args.model_name, "checkpoint": os.path.basename(args.checkpoint),
              "config": cfg, "torch": torch.__version__, "transformers": transformers.__version__,
              "python": platform.python_version(),
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
              "hf_parameters": sum(p.numel() for p in oracles[0][1].parameters()),
              "rules": {}}
    for rule in ("median", "greedy"):
        meta, steps = read_goldens(os.path.join(args.goldens, f"{tag(args.model_name)}.{rule}.txt"))
        ours = np.fromfile(os.path.join(args.dump, f"{tag(args.model_name)}.{rule}.logits.f32"),
                           dtype="<f4").reshape(len(steps), V).astype(np.float64)
        golden = {}
        for row, (pid, step, token) in enumerate(steps):
            golden.setdefault(pid, []).append((step, token, row))
        rr = {"steps": len(steps), "oracles": {}}
        for name, model, device in oracles:
            max_diff, sum_diff, count, scale = 0.0, 0.0, 0, 0.0
            worst = None
            decisions_agree = 0
            for pid, seq in golden.items():
                _, n, prompt = by_id[pid]
                tokens = prompt + [t for _, t, _ in seq]
                logits = logits_along(model, device, tokens[:-1], None)  # (len-1, V)
                for step, token, row in seq:
                    hf = logits[len(prompt) - 1 + step]
                    d = np.abs(hf - ours[row])
                    if d.max() > max_diff:
                        max_diff, worst = float(d.max()), f"{pid}/{step}"
                    sum_diff += float(d.sum())
                    count += d.size
                    scale = max(scale, float(np.abs(hf).max()))
                    if rule == "greedy":
                        decision = int(np.argmax(hf))
                    else:
                        p = np.exp(hf - hf.max())
                        p /= p.sum()
                        decision = int(np.argmax(np.cumsum(p) > 0.5))
                    decisions_agree += decision == token
            entry = {"max_abs_logit_diff": max_diff, "at": worst, "mean_abs_logit_diff": sum_diff / count,
                     "max_abs_logit": scale, "decisions_agree": decisions_agree}
            if rule == "greedy":
                # HF's own greedy continuation from each prompt, on its own path.
                same = 0
                diffs = []
                for pid, seq in golden.items():
                    _, n, prompt = by_id[pid]
                    ids = torch.tensor([prompt], device=device)
                    out = model.generate(ids, max_new_tokens=n - len(prompt), do_sample=False,
                                         pad_token_id=0, attention_mask=torch.ones_like(ids))
                    hf_tokens = out[0, len(prompt):].tolist()
                    want = [t for _, t, _ in seq]
                    if hf_tokens == want:
                        same += 1
                    else:
                        diffs.append({"prompt": pid, "ours": want, "hf": hf_tokens})
                entry["greedy_continuations_identical"] = f"{same}/{len(golden)}"
                entry["greedy_differences"] = diffs
            rr["oracles"][name] = entry
        result["rules"][rule] = rr
    result["seconds"] = round(time.time() - t0, 1)

    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"hf-oracle-{tag(args.model_name)}")
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=2)
    md = [f"# HF transformers oracle: {args.model_name}", "",
          f"- checkpoint: {result['checkpoint']} (llm.c version {cfg['version']}; {result['hf_parameters']} parameters in HF's GPT2LMHeadModel)",
          f"- torch {result['torch']}, transformers {result['transformers']}, Python {result['python']}, GPU: {result['gpu']}",
          f"- the reference's logits: `gpt2-goldens dump` (kv-cache along the golden tokens; the same bits as recomputing)",
          "", "| rule | oracle | steps | max abs logit diff (at) | mean abs diff | max abs logit | decisions agree | HF greedy continuation = ours |",
          "|---|---|---:|---:|---:|---:|---:|---|"]
    for rule, rr in result["rules"].items():
        for name, e in rr["oracles"].items():
            md.append(f"| {rule} | {name} | {rr['steps']} | {e['max_abs_logit_diff']:.3g} ({e['at']}) | "
                      f"{e['mean_abs_logit_diff']:.3g} | {e['max_abs_logit']:.3g} | "
                      f"{e['decisions_agree']}/{rr['steps']} | {e.get('greedy_continuations_identical', '-')} |")
    md.append("")
    for rule, rr in result["rules"].items():
        for name, e in rr["oracles"].items():
            for d in e.get("greedy_differences", []):
                md.append(f"- {name}: {d['prompt']}: ours {d['ours']}, HF {d['hf']}")
    with open(stem + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
