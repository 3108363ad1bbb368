#!/usr/bin/env python3
"""The PyTorch batched-decode anchor: torch_anchor.py's minimal GPT-2 made batched, B sequences
decoding together over a preallocated KV cache with the step in one CUDA graph, from B = 1 to 256
(or more), so that gpt2-bench's batch sweep has PyTorch's numbers to stand next to.

On the GPU machine, from the repository root (torch 2.x; nothing is downloaded):

    build/bin/gpt2 --model synthetic:124M 1 2     # once: writes the checkpoint below
    PYTHONUNBUFFERED=1 python3 scripts/torch_batched_anchor.py \\
        --model datasets/cache/synthetic-124M-seed2-gen1.bin \\
        --out reports/runs/torch-batched-anchor.json

It prints a Markdown table (progress lines go to stderr) and writes the JSON (--out) and the
table beside it (.md). torch.compile takes minutes for every B (max-autotune); --skip-compile
leaves it out, --compile-mode default compiles faster. Without a GPU: --self-test-cpu (float32,
eager, no graphs, times nothing; the tiny datasets/cache/synthetic-tiny-seed2-gen1.bin will do).

The model: torch_anchor's MiniGPT2 (llm.c's forward: tanh GELU, layernorm eps 1e-5, tied wte,
logits over wte's V real rows) with a KV cache per layer of shape (B, NH, maxT, hs), in float32
(TF32 off: torch_anchor's tf32_off) or bfloat16 (weights, activations and cache in bfloat16;
attention's softmax in float32; the logits cast to float32).

The workload, for each B of --batch (B = 1 first, added if missing): B rows, each a prompt of
--prompt-len (128) tokens then --new (64) greedy tokens. Row 0's prompt is the same at every B,
(i * 7919 + 13) % V; row b > 0 draws its own from numpy's default_rng(b). A batched prefill
(B, prompt-len), eager, writes the caches at positions 0 .. prompt-len - 1 and gives each row
its first token; then --new decode steps, each taking the B tokens at one common position pos (a
device tensor): k, v written at cache[:, :, pos], attention over the cache's first `prefix`
positions, masked beyond pos (prefix = the smallest power of two >= max(pos + 1, 64), at most
maxT: 256 for positions 128..191), the logits (B, V) in float32 into a static buffer, the greedy
argmax into the static token tensor, pos += 1: ONE CUDA graph (torch.cuda.CUDAGraph) per
(B, prefix), warmed up on a side stream before the capture (torch_anchor's Stepper). Variants:

  graph           the eager step, captured.
  compiled-graph  the step through torch.compile(mode=--compile-mode, dynamic=False; default
                  "max-autotune-no-cudagraphs": no CUDA graphs of inductor's own), then captured
                  the same way; compiled afresh for every B (torch._dynamo.reset() between).

Timing: one untimed run records every row's tokens; then each of --rounds (3) rounds runs the
prefill again (timed apart: prefill_ms_median) and the --new graph replays back to back, one
torch.cuda.synchronize at the end (time.perf_counter). Decode tokens/s = B x new / the replays'
time: median, min and max over the rounds; ms per step = the median time / new.

Batch invariance: row 0's --new decode tokens (the steps' argmaxes) against the B = 1 run's of
the same dtype and variant, position by position: row0_equal = how many agree, row0_first_diff =
the first step (0-based) that differs or null; row0_prefill_token_equal: the prefill's token.
A difference is a measurement, not a failure.

Check (that the batched model is this GPT-2): B = 1, float32, eager, the run's prompt: the
batched prefill's last-position logits and the first decode step's against torch_anchor's
MiniGPT2.prefill over the same tokens, max |diff| <= 1e-3 x max(1, max |logit|); if it fails the
report is written without measurements and the script exits 1. A B whose cache does not fit is
skipped (out of memory in its rows, "oom": true) and the others go on; any other error in a row
makes the exit status 1.
"""
import argparse
import datetime
import gc
import math
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "hf"))
from llmc import load_llmc  # noqa: E402
from torch_anchor import (MiniGPT2, Stepper, causal_attention, compare, prefix_for,  # noqa: E402
                          tf32_off, write_report)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


# ---------------------------------------------------------------------------
# The batched minimal GPT-2.

class BatchedGPT2(MiniGPT2):
    """MiniGPT2 (its weights, layernorm and MLP) over B sequences at one common position: a KV
    cache per layer of shape (B, NH, maxT, hs), the tokens (B,), the logits (B, V) float32.

    step(prefix): the B tokens self.tok at position self.pos -> self.logits; then self.tok =
    each row's argmax, self.pos += 1. Attends over the cache's first `prefix` positions.
    prefill(tokens): tokens (B, T) at positions 0..T-1 -> the last position's logits (B, V).
    start(tokens): the prefill, then self.tok = its argmax and self.pos = T.
    """

    def __init__(self, cfg, t, B, dtype, device):
        super().__init__(cfg, t, dtype, device)
        self.B = B
        hs = self.C // self.NH
        for b in self.blocks:  # in place of the single sequence's (NH, maxT, hs)
            for name in ("k_cache", "v_cache"):
                b.register_buffer(name, torch.zeros(B, self.NH, self.maxT, hs, dtype=dtype,
                                                    device=device))
        self.register_buffer("tok", torch.zeros(B, dtype=torch.long, device=device))
        self.register_buffer("logits", torch.zeros(B, self.V, dtype=torch.float32,
                                                   device=device))

    def step(self, prefix: int):
        B, NH, C = self.B, self.NH, self.C
        hs = C // NH
        x = F.embedding(self.tok, self.wte) + self.wpe.index_select(0, self.pos)  # (B, C)
        masked = self.positions[:prefix] > self.pos  # (prefix,) True beyond pos
        for b in self.blocks:
            qkv = F.linear(self.ln(x, b.ln1w, b.ln1b), b.qkvw, b.qkvb)  # (B, 3C)
            q, k, v = qkv.view(B, 3, NH, 1, hs).unbind(1)  # (B, NH, 1, hs) each
            b.k_cache[:, :, self.pos] = k
            b.v_cache[:, :, self.pos] = v
            att = (q @ b.k_cache[:, :, :prefix].transpose(2, 3)) * (1.0 / math.sqrt(hs))
            att = att.float().masked_fill(masked, float("-inf")).softmax(-1).to(x.dtype)
            y = (att @ b.v_cache[:, :, :prefix]).reshape(B, C)  # (B, NH, 1, hs) -> (B, C)
            x = self.mlp(x + F.linear(y, b.apw, b.apb), b)
        logits = F.linear(self.ln(x, self.lnfw, self.lnfb), self.wte)  # (B, V)
        self.logits.copy_(logits.float())
        self.tok.copy_(logits.argmax(-1))
        self.pos.add_(1)

    def prefill(self, tokens):
        B, T = tokens.shape
        assert B == self.B, f"{B} rows for a cache of {self.B}"
        NH, C = self.NH, self.C
        hs = C // NH
        x = F.embedding(tokens, self.wte) + self.wpe[:T]  # (B, T, C)
        for b in self.blocks:
            qkv = F.linear(self.ln(x, b.ln1w, b.ln1b), b.qkvw, b.qkvb)  # (B, T, 3C)
            q, k, v = qkv.view(B, T, 3, NH, hs).permute(2, 0, 3, 1, 4).unbind(0)  # (B, NH, T, hs)
            b.k_cache[:, :, :T] = k
            b.v_cache[:, :, :T] = v
            y = causal_attention(q.flatten(0, 1), k.flatten(0, 1), v.flatten(0, 1))
            y = y.reshape(B, NH, T, hs).transpose(1, 2).reshape(B, T, C)
            x = self.mlp(x + F.linear(y, b.apw, b.apb), b)
        return F.linear(self.ln(x[:, -1], self.lnfw, self.lnfb), self.wte).float()  # (B, V)

    def start(self, tokens):
        logits = self.prefill(tokens)
        self.tok.copy_(logits.argmax(-1))
        self.pos.fill_(tokens.shape[1])
        return logits


class BatchedStepper(Stepper):
    """torch_anchor's Stepper, capturing only the graphs of the decode's positions (the
    prompt goes through the batched prefill, not the step)."""

    def prepare_positions(self, first, last):
        if self.graphs is not None:
            for p in sorted({prefix_for(q, self.model.maxT) for q in range(first, last + 1)}):
                self._graph(p)


def make_prompts(B, T, V):
    """B prompts of T tokens: row 0's the same at every B, row b's drawn by default_rng(b)."""
    rows = [[(i * 7919 + 13) % V for i in range(T)]]
    rows += [np.random.default_rng(b).integers(0, V, T).tolist() for b in range(1, B)]
    return rows


def kv_cache_gib(cfg, B, dtype):
    itemsize = torch.empty(0, dtype=dtype).element_size()
    return 2 * cfg["L"] * B * cfg["maxT"] * cfg["C"] * itemsize / 2**30


# ---------------------------------------------------------------------------
# The check against torch_anchor's single-sequence model.

@torch.no_grad()
def check_model(cfg, tensors, device, B, prompt_len, steps):
    """Float32, eager: every row's logits after the batched prefill and after each of `steps`
    decode steps, against MiniGPT2.prefill over that row's tokens so far. -> (compare()'s dict
    over them all, row 0's tokens: the prefill's, then each step's)."""
    model = BatchedGPT2(cfg, tensors, B, torch.float32, device)
    mini = MiniGPT2(cfg, tensors, torch.float32, device)
    prompts = make_prompts(B, prompt_len, cfg["V"])
    ours = [model.start(torch.tensor(prompts, device=device))]
    fed = [model.tok.clone()]
    for i in range(steps):
        model.step(prefix_for(prompt_len + i, model.maxT))
        ours.append(model.logits.clone())
        fed.append(model.tok.clone())
    ours = torch.stack(ours, 1)  # (B, steps + 1, V)
    fed = torch.stack(fed, 1).tolist()  # (B, steps + 1): the token each step took, then the last
    theirs = torch.stack([
        torch.stack([mini.prefill(torch.tensor(prompts[b] + fed[b][:i], device=device))
                     for i in range(steps + 1)])
        for b in range(B)])
    return compare(ours, theirs, torch.float32), fed[0]


# ---------------------------------------------------------------------------
# The measurements.

def decode(model, fn, prompts, new, rounds):
    """`fn` (a step of model) captured; one untimed run, then `rounds` timed ones. -> (the
    row's measurements, row 0's tokens: the prefill's, then the `new` steps')."""
    T = prompts.shape[1]
    stepper = BatchedStepper(model, fn, graphs=True)
    stepper.prepare_positions(T, T + new - 1)  # before any prefill: the warm-ups write the cache
    steps = torch.empty(new, model.B, dtype=torch.long, device=prompts.device)
    model.start(prompts)
    first = int(model.tok[0])
    for i in range(new):
        stepper.run(T + i)
        steps[i].copy_(model.tok)
    decode_s, prefill_s, repeated = [], [], True
    for _ in range(rounds):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.start(prompts)
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        for i in range(new):
            stepper.run(T + i)
        torch.cuda.synchronize()
        decode_s.append(time.perf_counter() - t1)
        prefill_s.append(t1 - t0)
        repeated = repeated and torch.equal(model.tok, steps[-1])
    tps = [model.B * new / s for s in decode_s]
    return {"tokens_per_s_median": statistics.median(tps), "tokens_per_s_min": min(tps),
            "tokens_per_s_max": max(tps), "tokens_per_s_samples": tps,
            "ms_per_step_median": statistics.median(decode_s) * 1e3 / new,
            "prefill_ms_median": statistics.median(prefill_s) * 1e3,
            "prefixes": sorted(stepper.graphs), "rounds_end_on_same_tokens": repeated,
            }, [first] + steps[:, 0].tolist()


def describe(e):
    return f"{type(e).__name__}: {e}"


def run_batch(args, cfg, tensors, dtype, B, row0_at_1, results):
    """Both variants at batch size B; row0_at_1: variant -> row 0's tokens at B = 1."""
    name = next(k for k, v in DTYPES.items() if v == dtype)
    variants = ["graph"] + ([] if args.skip_compile else ["compiled-graph"])
    base = {"dtype": name, "batch": B, "kv_cache_gib": round(kv_cache_gib(cfg, B, dtype), 3)}
    try:
        model = BatchedGPT2(cfg, tensors, B, dtype, "cuda")
        prompts = torch.tensor(make_prompts(B, args.prompt_len, cfg["V"]), device="cuda")
    except torch.cuda.OutOfMemoryError as e:
        error = describe(e)
        print(f"{name} B={B}: out of memory, skipped", file=sys.stderr, flush=True)
        results += [dict(base, variant=v, error=error, oom=True) for v in variants]
        return
    for variant in variants:
        row = dict(base, variant=variant, row0_equal=None, row0_first_diff=None)
        label = f"{name} {variant} B={B}"
        print(f"{label}: ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            fn = model.step if variant == "graph" else torch.compile(
                model.step, mode=args.compile_mode, dynamic=False)
            measured, row0 = decode(model, fn, prompts, args.new, args.rounds)
            row.update(measured, row0_tokens=row0)
            if B == 1:
                row0_at_1[variant] = row0
            ref = row0_at_1.get(variant)
            if ref is not None:
                row["row0_prefill_token_equal"] = row0[0] == ref[0]
                pairs = list(zip(row0[1:], ref[1:]))
                row["row0_equal"] = sum(a == b for a, b in pairs)
                row["row0_first_diff"] = next((i for i, (a, b) in enumerate(pairs) if a != b),
                                              None)
        except torch.cuda.OutOfMemoryError as e:
            row.update(error=describe(e), oom=True)
        except Exception as e:  # reported in the row and in the exit status
            row["error"] = describe(e)
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        if row.get("error"):
            print(f"{label}: FAILED: {row['error'].splitlines()[0]}", file=sys.stderr, flush=True)
        else:
            print(f"{label}: {row['tokens_per_s_median']:.0f} tokens/s "
                  f"({row['tokens_per_s_min']:.0f}-{row['tokens_per_s_max']:.0f}), "
                  f"{row['ms_per_step_median']:.3f} ms/step, row 0 {row0_cell(row, args.new)} "
                  f"({row['wall_s']:.0f} s)", file=sys.stderr, flush=True)
        results.append(row)


def free_cuda(compiled):
    gc.collect()
    if compiled:
        from torch import _dynamo
        _dynamo.reset()  # drops the compiled steps (and their guards on this model)
    torch.cuda.empty_cache()


# ---------------------------------------------------------------------------
# Reports.

def row0_cell(row, new):
    if row.get("row0_equal") is None:
        return "-"
    cell = f"{row['row0_equal']}/{new}"
    if row["row0_first_diff"] is not None:
        cell += f", first diff at step {row['row0_first_diff']}"
    if not row.get("row0_prefill_token_equal", True):
        cell += ", prefill token differs"
    return cell


def markdown(report):
    c, new = report["check"], report["new"]
    out = [f"# PyTorch batched-decode anchor: {report['checkpoint']}", "",
           f"- GPU: {report['gpu']}; torch {report['torch']} (CUDA {report['torch_cuda']}), "
           f"Python {report['python']}",
           f"- when: {report['timestamp']}; command: `{report['command']}`",
           f"- workload: B sequences, each a prompt of {report['prompt_len']} tokens (one batched "
           f"prefill, eager, untimed) then {new} greedy decode steps, one CUDA graph per (B, "
           f"prefix); decode tokens/s = B x {new} / the replays' time, median (min-max) of "
           f"{report['rounds']} rounds; float32 with TF32 off; torch.compile mode: "
           f"{report['compile_mode'] or 'not run (--skip-compile)'}",
           f"- check (B = 1, float32, eager, prefill and first step against torch_anchor's "
           f"MiniGPT2): max |logit diff| {c['max_abs_diff']:.2g}, tolerance "
           f"{c['tolerance']:.2g}: {'passed' if c['passed'] else 'FAILED'}", "",
           "| dtype | variant | B | decode tokens/s median (min-max) | ms/step | "
           "row 0 tokens equal to B=1 |",
           "|---|---|---:|---:|---:|---|"]
    for r in report["results"]:
        if r.get("oom"):
            cells = "out of memory, skipped | - | -"
        elif r.get("error"):
            cells = f"FAILED: {r['error'].splitlines()[0][:120].replace('|', '/')} | - | -"
        else:
            cells = (f"{r['tokens_per_s_median']:.0f} ({r['tokens_per_s_min']:.0f}-"
                     f"{r['tokens_per_s_max']:.0f}) | {r['ms_per_step_median']:.3f} | "
                     f"{row0_cell(r, new)}")
        out.append(f"| {r['dtype']} | {r['variant']} | {r['batch']} | {cells} |")
    out += ["", f"Row 0 has the same prompt at every B: its {new} decode tokens against the B = 1 "
            "run's (same dtype and variant), position by position; the first differing step is "
            "0-based. ms/step: the median round's replays / new. The prefill is not in the "
            "decode's time (prefill_ms_median in the JSON)."]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------

def self_test_cpu(args, cfg, tensors):
    """Float32 on the CPU, eager: B = 1 and 3 against MiniGPT2, and row 0 the same at both."""
    prompt_len, steps = min(args.prompt_len, 8), min(args.new, 3)
    ok, row0 = True, {}
    for B in (1, 3):
        check, row0[B] = check_model(cfg, tensors, "cpu", B, prompt_len, steps)
        print(f"B={B} (prompt {prompt_len}, {steps} steps) against MiniGPT2: max |diff| "
              f"{check['max_abs_diff']:.3g} (tolerance {check['tolerance']:.3g})")
        ok = ok and check["passed"]
    same = row0[1] == row0[3]
    print(f"row 0's tokens at B=3 {'equal' if same else 'DIFFER FROM'} B=1's: {row0[3]}")
    ok = ok and same
    print("self-test:", "passed" if ok else "FAILED")
    return 0 if ok else 1


def parse_list(text, what, convert):
    try:
        return [convert(x.strip()) for x in text.split(",") if x.strip()]
    except (KeyError, ValueError):
        sys.exit(f"--{what}: cannot read {text!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="datasets/cache/synthetic-124M-seed2-gen1.bin",
                    help="llm.c checkpoint (version 3 or 1 float32, 5 bfloat16)")
    ap.add_argument("--batch", default="1,8,32,128,256", help="batch sizes (1 is always run)")
    ap.add_argument("--prompt-len", type=int, default=128, help="prompt tokens per row")
    ap.add_argument("--new", type=int, default=64, help="decode steps (new tokens per row)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds (median)")
    ap.add_argument("--dtype", default="float32,bfloat16", help="float32, bfloat16 or both")
    ap.add_argument("--skip-compile", action="store_true", help="no compiled-graph rows")
    ap.add_argument("--compile-mode", default="max-autotune-no-cudagraphs",
                    choices=["max-autotune-no-cudagraphs", "default"],
                    help="torch.compile mode; none that makes CUDA graphs of its own: ours "
                         "capture the step")
    ap.add_argument("--out", help="write the JSON here (and the Markdown beside it, .md)")
    ap.add_argument("--self-test-cpu", action="store_true",
                    help="check the batched model on the CPU (float32, eager); times nothing")
    args = ap.parse_args()
    batches = parse_list(args.batch, "batch", int)
    dtypes = parse_list(args.dtype, "dtype", DTYPES.__getitem__)
    if min(batches, default=0) < 1 or not dtypes:
        sys.exit("--batch: sizes of at least 1; --dtype: float32, bfloat16 or both")
    batches = [1] + [b for b in dict.fromkeys(batches) if b != 1]
    if args.new < 1 or args.rounds < 1 or args.prompt_len < 1:
        sys.exit("--prompt-len, --new and --rounds must be at least 1")
    cfg, tensors = load_llmc(args.model)
    if args.self_test_cpu:
        with torch.no_grad():
            return self_test_cpu(args, cfg, tensors)
    if not torch.cuda.is_available():
        sys.exit("no CUDA device (try --self-test-cpu)")
    if args.prompt_len + args.new > cfg["maxT"]:
        sys.exit(f"the model holds {cfg['maxT']} positions")
    tf32 = tf32_off()

    check, _ = check_model(cfg, tensors, "cuda", 1, args.prompt_len, 1)
    free_cuda(False)
    print(f"check against MiniGPT2: max |diff| {check['max_abs_diff']:.3g} (tolerance "
          f"{check['tolerance']:.3g}): {'passed' if check['passed'] else 'FAILED'}",
          file=sys.stderr, flush=True)
    results = []
    if check["passed"]:
        with torch.no_grad():
            for dtype in dict.fromkeys(dtypes):
                row0_at_1 = {}
                for B in batches:
                    run_batch(args, cfg, tensors, dtype, B, row0_at_1, results)
                    free_cuda(not args.skip_compile)
    report = {
        "kind": "torch-batched-anchor",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "checkpoint": os.path.basename(args.model), "checkpoint_bytes": os.path.getsize(args.model),
        "config": cfg, "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
        "torch_cuda": torch.version.cuda, "python": platform.python_version(),
        "tf32_off": tf32, "prompt_len": args.prompt_len, "new": args.new, "rounds": args.rounds,
        "batches": batches, "compile_mode": None if args.skip_compile else args.compile_mode,
        "prompts": "row 0: (i * 7919 + 13) % V; row b > 0: numpy default_rng(b).integers(0, V)",
        "check": dict(check, what="B = 1 float32 eager: the prefill's last logits and the first "
                      "step's against torch_anchor's MiniGPT2.prefill"),
        "results": results}
    md = markdown(report)
    print(md)
    if args.out:
        write_report(args.out, report, md)
    if not check["passed"]:
        print("FAILED: the batched model's logits are not MiniGPT2's", file=sys.stderr)
        return 1
    failed = [r for r in results if r.get("error") and not r.get("oom")]
    for r in failed:
        print(f"FAILED: {r['dtype']} {r['variant']} B={r['batch']}: {r['error']}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
