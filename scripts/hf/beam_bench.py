#!/usr/bin/env python3
"""Beam search's speed: gpt2 --beams K against transformers' generate(num_beams=K)
(eager) and against greedy decoding of K sequences at once on the same backend.

A prompt of --prompt-len tokens, --new new tokens (end-of-text ignored, so that
every run makes the same number of steps), K in --beams; --rounds runs each,
median and range. Ours: the times gpt2 -v prints (the search alone, without
loading): the forward passes, the search's own host work (log-softmax, top-k,
bookkeeping) and the cache copies of forked beams, each a share of the step.
Usage, from the repository root on the device machine:
  python3 scripts/hf/beam_bench.py --checkpoint datasets/cache/<model>.bin \\
      --model synthetic:124M --backend "pthreads --threads 16" --backend cuda --out DIR
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llmc import load_llmc  # noqa: E402
from oracle import hf_model  # noqa: E402


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "rounds": len(xs)}


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {res.stderr.strip()}")
    return res.stderr


def ours_beams(args, backend, prompt, K):
    cmd = [args.gpt2, "--model", args.model, "--backend", *backend.split(), "--mode", "kv-cache", "--beams",
           str(K), "--ignore-eos", "-n", str(len(prompt) + args.new), "-v", *map(str, prompt)]
    err = run(cmd)
    m = re.search(r"beam search ([\d.]+) s: (\d+) steps, (\d+) beam tokens .*forward ([\d.]+) s, "
                  r"search ([\d.]+) s, cache copies ([\d.]+) s \((\d+)\)", err)
    if not m:
        sys.exit(f"no timing line in: {err}")
    total, steps, tokens, fwd, search, copy, copies = m.groups()
    return {"seconds": float(total), "steps": int(steps), "tokens": int(tokens),
            "forward": float(fwd), "search": float(search), "copy": float(copy),
            "copies": int(copies)}


def ours_greedy(args, backend, prompt, K):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        for _ in range(K):
            f.write(" ".join(map(str, prompt)) + "\n")
        path = f.name
    cmd = [args.gpt2, "--model", args.model, "--backend", *backend.split(), "--mode", "kv-cache", "--rule",
           "greedy", "--prompts", path, "--batch", str(K), "-n", str(len(prompt) + args.new), "-v"]
    err = run(cmd)
    os.unlink(path)
    m = re.search(r"generation ([\d.]+) s: (\d+) steps, (\d+) tokens", err)
    return {"seconds": float(m.group(1)), "steps": int(m.group(2)), "tokens": int(m.group(3))}


def hf_time(model, device, prompt, new, K):
    ids = torch.tensor([prompt], device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), num_beams=K,
                       do_sample=False, max_new_tokens=new, min_new_tokens=new,
                       eos_token_id=50256, pad_token_id=50256, early_stopping=False)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--gpt2", default="build/bin/gpt2")
    ap.add_argument("--backend", action="append", required=True)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--beams", default="4,8")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    cfg, tensors = load_llmc(args.checkpoint)
    prompt = [(i * 7919 + 13) % 50000 for i in range(args.prompt_len)]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    models = {d: hf_model(cfg, tensors, torch.float32).to(d) for d in devices}
    report = {"model": args.model, "prompt_len": args.prompt_len, "new": args.new,
              "rounds": args.rounds, "transformers": transformers.__version__,
              "torch": torch.__version__, "cpu_threads": args.threads,
              "gpu": torch.cuda.get_device_name(0) if "cuda" in devices else None, "rows": []}
    for K in [int(x) for x in args.beams.split(",")]:
        for d in devices:
            hf_time(models[d], d, prompt, 4, K)  # warm-up
            xs = [hf_time(models[d], d, prompt, args.new, K) for _ in range(args.rounds)]
            report["rows"].append({"K": K, "what": f"transformers generate eager, {d}",
                                   "seconds": summary(xs),
                                   "tokens_per_s": K * args.new / statistics.median(xs),
                                   "ms_per_step": 1e3 * statistics.median(xs) / args.new})
            print(report["rows"][-1], flush=True)
        for backend in args.backend:
            ours_beams(args, backend, prompt, K)  # warm-up (graphs, caches)
            runs = [ours_beams(args, backend, prompt, K) for _ in range(args.rounds)]
            med = statistics.median(r["seconds"] for r in runs)
            steps = runs[0]["steps"]
            share = {k: statistics.median(r[k] / r["seconds"] for r in runs)
                     for k in ("forward", "search", "copy")}
            report["rows"].append({"K": K, "what": f"gpt2 --beams, {backend}",
                                   "seconds": summary([r["seconds"] for r in runs]),
                                   "steps": steps, "tokens_per_s": runs[0]["tokens"] / med,
                                   "ms_per_step": 1e3 * med / steps, "shares": share,
                                   "copies": runs[0]["copies"]})
            print(report["rows"][-1], flush=True)
            runs = [ours_greedy(args, backend, prompt, K) for _ in range(args.rounds)]
            med = statistics.median(r["seconds"] for r in runs)
            report["rows"].append({"K": K, "what": f"gpt2 greedy, batch {K}, {backend}",
                                   "seconds": summary([r["seconds"] for r in runs]),
                                   "steps": runs[0]["steps"],
                                   "tokens_per_s": runs[0]["tokens"] / med,
                                   "ms_per_step": 1e3 * med / runs[0]["steps"]})
            print(report["rows"][-1], flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "beam-bench.json"), "w") as f:
        json.dump(report, f, indent=1)
    lines = [f"# Beam search speed: {args.model}, prompt {args.prompt_len}, {args.new} new tokens",
             "", f"transformers {report['transformers']}, torch {report['torch']}, CPU threads "
             f"{args.threads}, GPU {report['gpu']}; median (min-max) of {args.rounds} rounds.", "",
             "| K | run | seconds | ms per step | tokens/s | forward | search | copies |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        s, sh = r["seconds"], r.get("shares")
        lines.append(f"| {r['K']} | {r['what']} | {s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})"
                     f" | {r['ms_per_step']:.2f} | {r['tokens_per_s']:.0f} | "
                     + (f"{100 * sh['forward']:.1f}% | {100 * sh['search']:.1f}% | "
                        f"{100 * sh['copy']:.2f}% ({r['copies']}) |" if sh else " | | |"))
    md = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "beam-bench.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
