#!/usr/bin/env python3
"""Beam search against Hugging Face transformers: generate(num_beams=K) on the
same llm.c checkpoint as gpt2 --beams, sequence for sequence and score for
score.

For every K in --beams, length penalty in --length-penalties and early_stopping
mode (false, true, never), transformers' GPT2LMHeadModel.generate runs each
prompt (float32; on the CPU and, if there is one, on the GPU with TF32 off;
do_sample=False, num_return_sequences=K, output_scores, eos = pad = 50256),
and `gpt2 --beams K --num-return K --json` runs the same prompts on each of
--backend's backends. A hypothesis agrees when its tokens equal transformers'
and its score is within --tolerance; a difference is explained when our run's
margin (the smallest score gap at any of the search's choices) is below
--near-tie: a reordered sum can flip such a choice.

Needs torch and transformers (the device machine has both). Usage, from the
repository root:
  python3 scripts/hf/beam_oracle.py --checkpoint datasets/cache/<model>.bin \\
      --model synthetic:124M --gpt2 build/bin/gpt2 \\
      --backend "pthreads --threads 16" --backend "cuda" --out reports/studies/beam-search
Writes <out>/hf-beams.json and hf-beams.md and prints the Markdown.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llmc import load_llmc  # noqa: E402
from oracle import hf_model, read_prompts  # noqa: E402

EOS = 50256


def hf_beams(model, device, prompt, new, K, lp, es):
    ids = torch.tensor([prompt], device=device)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), num_beams=K,
                             num_return_sequences=K, do_sample=False, length_penalty=lp,
                             early_stopping=es, max_new_tokens=new, output_scores=True,
                             return_dict_in_generate=True, eos_token_id=EOS, pad_token_id=EOS)
    seqs = []
    for row in out.sequences[:, len(prompt):].tolist():
        # Finished sequences end with end-of-text, then padding (also 50256).
        if EOS in row:
            row = row[: row.index(EOS) + 1]
        seqs.append(row)
    return seqs, [float(s) for s in out.sequences_scores.tolist()]


def ours(gpt2, model, backend, prompts, new, K, lp, es):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for p in prompts:
            f.write(" ".join(map(str, p)) + "\n")
        path = f.name
    n = len(prompts[0]) + new
    cmd = [gpt2, "--model", model, "--backend", *backend.split(), "--mode", "kv-cache", "--beams", str(K),
           "--num-return", str(K), "--length-penalty", str(lp), "--early-stopping",
           str(es).lower(), "--json", "--prompts", path, "-n", str(n)]
    t0 = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True)
    os.unlink(path)
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {res.stderr.strip()}")
    return [json.loads(line) for line in res.stdout.splitlines()], time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--model", required=True, help="our spec of the same model, e.g. synthetic:124M")
    ap.add_argument("--gpt2", default="build/bin/gpt2")
    ap.add_argument("--backend", action="append", default=None,
                    help="gpt2 options naming a backend, e.g. 'pthreads --threads 16' (repeatable)")
    ap.add_argument("--prompts", default="datasets/prompts.txt")
    ap.add_argument("--prompt-len", type=int, default=6, help="prompts of this many tokens")
    ap.add_argument("--count", type=int, default=6, help="prompts taken")
    ap.add_argument("--new", type=int, default=12, help="new tokens at most")
    ap.add_argument("--beams", default="2,4,8")
    ap.add_argument("--length-penalties", default="0,1,2")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--near-tie", type=float, default=1e-3)
    ap.add_argument("--no-gpu", action="store_true")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    backends = args.backend or ["reference"]
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    t_start = time.time()
    cfg, tensors = load_llmc(args.checkpoint)
    # The prompts of the set's lab prompts cut or grown to --prompt-len tokens
    # (one length, so that one gpt2 call runs them all).
    prompts = []
    for _, _, toks in read_prompts(args.prompts):
        if len(toks) >= 2 and len(prompts) < args.count and len(toks) <= 9:
            prompts.append((toks * args.prompt_len)[: args.prompt_len])
    devices = [("CPU", "cpu")]
    if torch.cuda.is_available() and not args.no_gpu:
        devices.append(("GPU", "cuda"))
    models = {d: hf_model(cfg, tensors, torch.float32).to(d) for _, d in devices}
    result = {"model": args.model, "checkpoint": os.path.basename(args.checkpoint),
              "transformers": transformers.__version__, "torch": torch.__version__,
              "python": platform.python_version(),
              "gpu": torch.cuda.get_device_name(0) if len(devices) > 1 else None,
              "prompts": prompts, "new_tokens": args.new, "tolerance": args.tolerance,
              "near_tie": args.near_tie, "rows": []}
    for K in [int(x) for x in args.beams.split(",")]:
        for lp in [float(x) for x in args.length_penalties.split(",")]:
            for es in (False, True, "never"):
                theirs = {}
                for name, d in devices:
                    theirs[name] = [hf_beams(models[d], d, p, args.new, K, lp, es) for p in prompts]
                for backend in backends:
                    got, seconds = ours(args.gpt2, args.model, backend, prompts, args.new, K, lp, es)
                    for name, _ in devices:
                        row = {"K": K, "length_penalty": lp, "early_stopping": str(es).lower(),
                               "backend": backend, "oracle": f"transformers float32 {name}",
                               "hypotheses": 0, "equal": 0, "explained": 0, "unexplained": 0,
                               "max_score_diff": 0.0, "gpt2_seconds": round(seconds, 2),
                               "differences": []}
                        for p, (seqs, scores), g in zip(prompts, theirs[name], got):
                            margin = g["margin"] if g["margin"] is not None else float("inf")
                            for rank, (hs, hsc) in enumerate(zip(seqs, scores)):
                                o = g["sequences"][rank]
                                row["hypotheses"] += 1
                                if o["tokens"] == hs:
                                    diff = abs(o["score"] - hsc)
                                    row["max_score_diff"] = max(row["max_score_diff"], diff)
                                    if diff <= args.tolerance:
                                        row["equal"] += 1
                                        continue
                                kind = "explained" if margin < args.near_tie else "unexplained"
                                row[kind] += 1
                                row["differences"].append(
                                    {"prompt": p, "rank": rank, "ours": o["tokens"],
                                     "ours_score": o["score"], "theirs": hs, "theirs_score": hsc,
                                     "margin": margin, "kind": kind})
                        result["rows"].append(row)
                        print(f"K={K} lp={lp} es={es} {backend} vs {name}: {row['equal']}/"
                              f"{row['hypotheses']} equal, {row['explained']} near ties, "
                              f"{row['unexplained']} unexplained, max score diff "
                              f"{row['max_score_diff']:.2e}", flush=True)
    result["seconds"] = round(time.time() - t_start, 1)
    result["passed"] = all(r["unexplained"] == 0 for r in result["rows"])
    os.makedirs(args.out, exist_ok=True)
    md = markdown(result)
    with open(os.path.join(args.out, "hf-beams.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.out, "hf-beams.md"), "w") as f:
        f.write(md)
    print(md)
    return 0 if result["passed"] else 1


def markdown(r):
    lines = [f"# Beam search against transformers {r['transformers']} (torch {r['torch']})", "",
             f"Model {r['model']} ({r['checkpoint']}); {len(r['prompts'])} prompts of "
             f"{len(r['prompts'][0])} tokens, at most {r['new_tokens']} new tokens; GPU "
             f"{r['gpu']}. A hypothesis is equal when its tokens match and its score is within "
             f"{r['tolerance']:g}; a difference is explained when the search's margin is below "
             f"{r['near_tie']:g}.", "",
             "| K | length penalty | early stopping | backend | oracle | hypotheses | equal | "
             "near ties | unexplained | max score diff |",
             "|---:|---:|---|---|---|---:|---:|---:|---:|---:|"]
    for x in r["rows"]:
        lines.append(f"| {x['K']} | {x['length_penalty']:g} | {x['early_stopping']} | "
                     f"{x['backend']} | {x['oracle']} | {x['hypotheses']} | {x['equal']} | "
                     f"{x['explained']} | {x['unexplained']} | {x['max_score_diff']:.1e} |")
    total = sum(x["hypotheses"] for x in r["rows"])
    equal = sum(x["equal"] for x in r["rows"])
    lines += ["", f"Total: {equal} of {total} hypotheses equal; "
              f"{sum(x['explained'] for x in r['rows'])} near ties; "
              f"{sum(x['unexplained'] for x in r['rows'])} unexplained. "
              f"{'PASSED' if r['passed'] else 'FAILED'} ({r['seconds']} s).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
