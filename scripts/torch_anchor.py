#!/usr/bin/env python3
"""The PyTorch anchor: GPT-2 in PyTorch on the same llm.c checkpoint as gpt2-bench, timed side
by side in one run, so that the cuda backend's numbers have something to stand next to.

On the GPU machine, from the repository root (torch 2.x and transformers there; nothing is
downloaded):

    build/bin/gpt2 --model synthetic:124M 1 2     # once: writes the checkpoint below
    PYTHONUNBUFFERED=1 python3 scripts/torch_anchor.py \\
        --model datasets/cache/synthetic-124M-seed2-gen1.bin --out reports/runs/torch-anchor.json

It prints a Markdown table and writes the JSON (--out) and the table beside it (.md).
torch.compile takes minutes (max-autotune); --skip-compile leaves it out, --compile-mode default
is faster to compile. Without a GPU: --self-test-cpu (float32, eager, no graphs; checks the
minimal model against HF's and its own prefill on the CPU, times nothing).

For float32 (TF32 off: torch.backends.{,cuda.matmul.,cudnn.}fp32_precision = "ieee", or before
PyTorch 2.9 cuda.matmul.allow_tf32 = cudnn.allow_tf32 = False) and bfloat16 (weights,
activations and KV cache in bfloat16; softmax in float32, layernorm as PyTorch computes it), it
measures:

  hf-generate     Hugging Face transformers' GPT2LMHeadModel.generate, eager (no compile):
                  greedy, use_cache, the prompt [31373, 612, 338, 635, 281] (lab-hello),
                  min_new_tokens = max_new_tokens = --new (64). ms per new token = the whole
                  generate call / --new: it includes the prompt's prefill.
  graph           a minimal GPT-2 written below over the same weights, with a KV cache
                  preallocated for the model's 1024 positions; its one-token decode step (every
                  layer, the logits, the greedy argmax, the next position) is captured in ONE
                  CUDA graph (torch.cuda.CUDAGraph) with the token and the position in device
                  tensors. The step attends over the smallest power-of-two prefix of the cache,
                  at least 64, that holds pos + 1 positions (masked beyond pos): one graph per
                  prefix length, 64 and 128 for positions 5..68. ms per token = --new replays
                  (positions 5 .. 4 + --new, after the prompt went through the same step,
                  untimed) / --new. Two loops:
                    device: replays back to back, one synchronize at the end;
                    host:   after each replay the logits (float32) are copied to pinned host
                            memory and the host waits for them, as gpt2-bench's backends
                            return every step's logits to the host.
  compiled-graph  the same step through torch.compile(mode=--compile-mode, dynamic=False;
                  default "max-autotune-no-cudagraphs": inductor's kernels and autotuned
                  matmuls, no CUDA graphs of its own), then captured in one CUDA graph per
                  prefix length as above (our capture, not inductor's "reduce-overhead").
  prefill         time to the first token of a --prefill (1024) token prompt: datasets/
                  prompts.txt's long-900 repeated to 1024 tokens. The forward pass over all of
                  them (KV cache written), the last position's logits, the argmax, the token on
                  the host; HF's forward (eager, logits of the last position only where
                  transformers has logits_to_keep), the minimal model eager, and compiled
                  (same mode, no graph). tokens/s = prompt tokens / that time.

Every timing is the median of --rounds (5) rounds after an untimed one, with
torch.cuda.synchronize and time.perf_counter.

Checks (so that the anchor computes this GPT-2 and not something else): the minimal model's
logits, through each captured graph, at every position of the prompt and the --new steps, and
its prefill's last logits, against HF's forward on the same tokens: max |diff| <= 1e-3 x
max(1, max |logit|) in float32; in bfloat16 the difference is reported and fails only beyond
10% of the largest |logit| (a different computation, not rounding). A failed check or a failed
measurement is reported in its row and the script exits 1.
"""
import argparse
import datetime
import json
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
sys.path.insert(0, os.path.join(HERE, "hf"))
from llmc import load_llmc  # noqa: E402 (the scripts' one llm.c checkpoint reader)
LAB_PROMPT = [31373, 612, 338, 635, 281]
FP32_TOL = 1e-3  # x max(1, max |logit|)
BF16_TOL = 0.10  # x max |logit|
MIN_PREFIX = 64


def hf_model(cfg, tensors, dtype, device):
    """HF's GPT2LMHeadModel on the same weights: scripts/hf/oracle.py's conversion."""
    from oracle import hf_model as convert  # noqa: E402 (imports transformers)
    return convert(cfg, tensors, dtype).to(device)


# ---------------------------------------------------------------------------
# The minimal GPT-2: llm.c's forward pass in PyTorch ops, a preallocated KV cache.

class Block(torch.nn.Module):
    def __init__(self, t, l, maxT, NH, C, dtype, device):
        super().__init__()
        wte, wpe, ln1w, ln1b, qkvw, qkvb, apw, apb, ln2w, ln2b, fcw, fcb, fpw, fpb, lnfw, lnfb = t
        for name, a in (("ln1w", ln1w), ("ln1b", ln1b), ("qkvw", qkvw), ("qkvb", qkvb),
                        ("apw", apw), ("apb", apb), ("ln2w", ln2w), ("ln2b", ln2b),
                        ("fcw", fcw), ("fcb", fcb), ("fpw", fpw), ("fpb", fpb)):
            self.register_buffer(name, to_torch(a[l], dtype, device))
        hs = C // NH
        self.register_buffer("k_cache", torch.zeros(NH, maxT, hs, dtype=dtype, device=device))
        self.register_buffer("v_cache", torch.zeros(NH, maxT, hs, dtype=dtype, device=device))


def to_torch(a, dtype, device):
    return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)


class MiniGPT2(torch.nn.Module):
    """GPT-2 as llm.c computes it (tanh GELU, layernorm eps 1e-5, tied wte), in `dtype`.

    step(prefix): one token (self.tok) at position self.pos -> self.logits (V, float32); then
    self.tok = argmax, self.pos += 1. Attends over the cache's first `prefix` positions.
    prefill(tokens): tokens (T,) at positions 0..T-1 -> the logits of the last (V, float32).
    """

    def __init__(self, cfg, t, dtype, device):
        super().__init__()
        self.maxT, self.V, self.NH, self.C = cfg["maxT"], cfg["V"], cfg["NH"], cfg["C"]
        self.register_buffer("wte", to_torch(t[0][:cfg["V"]], dtype, device))  # (V, C)
        self.register_buffer("wpe", to_torch(t[1], dtype, device))  # (maxT, C)
        self.register_buffer("lnfw", to_torch(t[14], dtype, device))
        self.register_buffer("lnfb", to_torch(t[15], dtype, device))
        self.blocks = torch.nn.ModuleList(
            Block(t, l, cfg["maxT"], cfg["NH"], cfg["C"], dtype, device) for l in range(cfg["L"]))
        self.register_buffer("positions", torch.arange(cfg["maxT"], device=device))
        self.register_buffer("tok", torch.zeros(1, dtype=torch.long, device=device))
        self.register_buffer("pos", torch.zeros(1, dtype=torch.long, device=device))
        self.register_buffer("logits", torch.zeros(cfg["V"], dtype=torch.float32, device=device))

    def ln(self, x, w, b):
        return F.layer_norm(x, (self.C,), w, b, 1e-5)

    def mlp(self, x, b):
        h = F.gelu(F.linear(self.ln(x, b.ln2w, b.ln2b), b.fcw, b.fcb), approximate="tanh")
        return x + F.linear(h, b.fpw, b.fpb)

    def step(self, prefix: int):
        NH, C = self.NH, self.C
        hs = C // NH
        x = self.wte.index_select(0, self.tok) + self.wpe.index_select(0, self.pos)  # (1, C)
        masked = self.positions[:prefix] > self.pos  # (prefix,) True beyond pos
        for b in self.blocks:
            qkv = F.linear(self.ln(x, b.ln1w, b.ln1b), b.qkvw, b.qkvb)  # (1, 3C)
            q, k, v = qkv.view(3, NH, 1, hs).unbind(0)  # (NH, 1, hs) each
            b.k_cache[:, self.pos] = k
            b.v_cache[:, self.pos] = v
            att = (q @ b.k_cache[:, :prefix].transpose(1, 2)) * (1.0 / math.sqrt(hs))
            att = att.float().masked_fill(masked, float("-inf")).softmax(-1).to(x.dtype)
            y = (att @ b.v_cache[:, :prefix]).reshape(1, C)  # (NH, 1, hs) -> (1, C)
            x = self.mlp(x + F.linear(y, b.apw, b.apb), b)
        logits = F.linear(self.ln(x, self.lnfw, self.lnfb), self.wte)[0]  # (V,)
        self.logits.copy_(logits.float())
        self.tok.copy_(logits.argmax().view(1))
        self.pos.add_(1)

    def prefill(self, tokens):
        NH, C = self.NH, self.C
        hs, T = C // NH, tokens.numel()
        x = self.wte.index_select(0, tokens) + self.wpe[:T]  # (T, C)
        for b in self.blocks:
            qkv = F.linear(self.ln(x, b.ln1w, b.ln1b), b.qkvw, b.qkvb)  # (T, 3C)
            q, k, v = qkv.view(T, 3, NH, hs).permute(1, 2, 0, 3).unbind(0)  # (NH, T, hs) each
            b.k_cache[:, :T] = k
            b.v_cache[:, :T] = v
            y = causal_attention(q, k, v).transpose(0, 1).reshape(T, C)
            x = self.mlp(x + F.linear(y, b.apw, b.apb), b)
        return F.linear(self.ln(x[-1:], self.lnfw, self.lnfb), self.wte)[0].float()  # (V,)


def causal_attention(q, k, v):
    """(NH, T, hs) each -> (NH, T, hs): PyTorch's fused kernel where it has one."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
    T = q.shape[1]
    att = (q @ k.transpose(1, 2)) * (1.0 / math.sqrt(q.shape[-1]))
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    return att.float().masked_fill(mask, float("-inf")).softmax(-1).to(q.dtype) @ v


def prefix_for(pos, maxT):
    """The smallest power of two >= max(pos + 1, MIN_PREFIX), at most maxT."""
    p = MIN_PREFIX
    while p < pos + 1:
        p *= 2
    return min(p, maxT)


# ---------------------------------------------------------------------------
# Running the decode step: eagerly, or as CUDA graphs (one per prefix length).

class Stepper:
    """Runs `fn(prefix)` (a step of `model`) at the prefix each position needs; on the GPU
    through one captured CUDA graph per prefix length."""

    def __init__(self, model, fn, graphs):
        self.model, self.fn, self.graphs = model, fn, {} if graphs else None

    def _graph(self, prefix):
        if prefix not in self.graphs:
            m = self.model
            saved = (m.tok.clone(), m.pos.clone())
            m.pos.fill_(prefix - 1)
            self.fn(prefix)  # torch.compile compiles (and autotunes) here, not in the capture
            torch.cuda.synchronize()
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up off the capture (cuBLAS workspaces, ...)
                for _ in range(3):
                    m.pos.fill_(prefix - 1)
                    self.fn(prefix)
            torch.cuda.current_stream().wait_stream(side)
            m.pos.fill_(prefix - 1)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                self.fn(prefix)
            m.tok.copy_(saved[0])
            m.pos.copy_(saved[1])
            torch.cuda.synchronize()
            self.graphs[prefix] = g
        return self.graphs[prefix]

    def prepare(self, last_pos):
        """Captures every graph positions 0..last_pos need (none when eager)."""
        if self.graphs is not None:
            for p in sorted({prefix_for(q, self.model.maxT) for q in range(last_pos + 1)}):
                self._graph(p)

    def run(self, pos):
        """One step at position `pos` (self.model.pos must hold it)."""
        prefix = prefix_for(pos, self.model.maxT)
        if self.graphs is None:
            self.fn(prefix)
        else:
            self.graphs[prefix].replay()

    def feed_prompt(self, prompt):
        """Runs the prompt's tokens from position 0; the model's tok is then the first new one."""
        m = self.model
        m.pos.fill_(0)
        for i, t in enumerate(prompt):
            m.tok.fill_(t)
            self.run(i)


def along(stepper, prompt, new):
    """Logits (len(prompt) + new, V) at every position, and the tokens fed, from a run of the
    stepper: the prompt, then `new` greedy steps."""
    m = stepper.model
    m.pos.fill_(0)
    rows, tokens = [], []
    for i in range(len(prompt) + new):
        if i < len(prompt):
            m.tok.fill_(prompt[i])
        tokens.append(int(m.tok.item()))
        stepper.run(i)
        rows.append(m.logits.clone())
    return torch.stack(rows), tokens


def timed_decode(stepper, prompt, new, rounds, host):
    """ms per token of `new` steps after the prompt, each round; host: the logits to pinned
    host memory after every step, and wait for them."""
    m = stepper.model
    pinned = torch.empty(m.V, dtype=torch.float32, pin_memory=True) if host else None
    out = []
    for _ in range(rounds):
        stepper.feed_prompt(prompt)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(len(prompt), len(prompt) + new):
            stepper.run(i)
            if host:
                pinned.copy_(m.logits, non_blocking=True)
                torch.cuda.current_stream().synchronize()
        torch.cuda.synchronize()
        out.append((time.perf_counter() - t0) * 1e3 / new)
    return out


# ---------------------------------------------------------------------------
# Checks against HF.

@torch.no_grad()
def hf_logits(hf, tokens, device):
    """HF's logits (len(tokens), V) in float32 along `tokens`."""
    ids = torch.tensor([tokens], device=device)
    return hf(ids).logits[0].float()


def compare(ours, theirs, dtype):
    """{max_abs_diff, max_abs_logit, tolerance, passed}; ours and theirs (n, V) or (V,)."""
    diff = float((ours - theirs).abs().max())
    scale = float(theirs.abs().max())
    tol = FP32_TOL * max(1.0, scale) if dtype == torch.float32 else BF16_TOL * scale
    return {"max_abs_diff": diff, "max_abs_logit": scale, "tolerance": tol, "passed": diff <= tol}


def require(check, what):
    if not check["passed"]:
        raise AssertionError(f"{what}: max |logit diff| {check['max_abs_diff']:.3g} against HF, "
                             f"more than {check['tolerance']:.3g}: not the same GPT-2")


# ---------------------------------------------------------------------------
# The measurements.

def stats(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "samples": samples}


def measure(results, row, fn):
    """Runs fn() -> dict into row; an exception becomes the row's error."""
    what = " ".join(str(row[k]) for k in ("dtype", "anchor", "loop", "phase") if k in row)
    print(f"... {what}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        row.update(fn())
    except Exception as e:  # reported in the row and in the exit status
        row["error"] = f"{type(e).__name__}: {e}"
        print(f"    FAILED: {row['error']}", file=sys.stderr, flush=True)
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    results.append(row)


def long_prompt(path, n, V):
    """datasets/prompts.txt's long-900, repeated to n tokens."""
    with open(path) as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == "long-900":
                ids = [int(x) for x in fields[2:]]
                return [ids[i % len(ids)] % V for i in range(n)]
    sys.exit(f"{path}: no prompt long-900")


def run_dtype(args, cfg, tensors, dtype, results):
    device = "cuda"
    name = "float32" if dtype == torch.float32 else "bfloat16"
    prompt, new, rounds = LAB_PROMPT, args.new, args.rounds
    hf = hf_model(cfg, tensors, dtype, device)
    model = MiniGPT2(cfg, tensors, dtype, device)
    sequence = {}  # the tokens the graph run fed: HF's logits along them, once

    def reference(tokens):
        key = tuple(tokens)
        if key not in sequence:
            sequence[key] = hf_logits(hf, tokens, device)
        return sequence[key]

    def hf_generate():
        ids = torch.tensor([prompt], device=device)
        mask = torch.ones_like(ids)

        def once():
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = hf.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new,
                              min_new_tokens=new, do_sample=False, num_beams=1, use_cache=True,
                              pad_token_id=cfg["V"] - 1)
            torch.cuda.synchronize()
            assert out.shape[1] == len(prompt) + new, f"generate gave {out.shape[1]} tokens"
            return (time.perf_counter() - t0) * 1e3 / new

        once()
        return {"ms_per_token": stats([once() for _ in range(rounds)]),
                "attn_implementation": getattr(hf.config, "_attn_implementation", None),
                "note": "the whole generate call / new tokens (includes the prompt's prefill)"}

    def decode(fn, label):
        stepper = Stepper(model, fn, graphs=True)
        stepper.prepare(len(prompt) + new - 1)
        logits, tokens = along(stepper, prompt, new)
        check = compare(logits, reference(tokens), dtype)
        require(check, f"{name} {label}")
        return stepper, check

    def graph_rows(fn, label):
        out = {}

        def device_loop():
            stepper, check = decode(fn, label)
            out["stepper"] = stepper
            return {"ms_per_token": stats(timed_decode(stepper, prompt, new, rounds, host=False)),
                    "check": check, "prefixes": sorted(stepper.graphs)}

        def host_loop():
            if "stepper" not in out:
                raise RuntimeError("the device loop failed")
            return {"ms_per_token": stats(timed_decode(out["stepper"], prompt, new, rounds,
                                                       host=True))}

        measure(results, {"dtype": name, "anchor": label, "loop": "device"}, device_loop)
        measure(results, {"dtype": name, "anchor": label, "loop": "host"}, host_loop)
        out.clear()

    measure(results, {"dtype": name, "anchor": "hf-generate"}, hf_generate)
    graph_rows(model.step, "graph")
    compiled_step = None
    if not args.skip_compile:
        compiled_step = torch.compile(model.step, mode=args.compile_mode, dynamic=False)
        graph_rows(compiled_step, "compiled-graph")

    # Prefill: time to the first token.
    tokens = long_prompt(args.prompts, args.prefill, cfg["V"])
    ids = torch.tensor(tokens, device=device)
    want = reference(tokens)[-1]

    def ttft(fn):
        def once():
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            first = int(fn().argmax().item())
            return (time.perf_counter() - t0) * 1e3, first
        once()
        ms = [once()[0] for _ in range(rounds)]
        return {"ms_to_first_token": stats(ms),
                "tokens_per_s": args.prefill / (statistics.median(ms) / 1e3)}

    def hf_prefill():
        import inspect
        keep = "logits_to_keep" in inspect.signature(hf.forward).parameters
        kw = {"logits_to_keep": 1} if keep else {}
        with torch.no_grad():
            r = ttft(lambda: hf(ids[None], use_cache=True, **kw).logits[0, -1])
        r["note"] = "logits of the last position only" if kw else "logits of every position"
        return r

    def mini_prefill(fn):
        def run():
            check = compare(fn(ids), want, dtype)
            require(check, f"{name} prefill")
            r = ttft(lambda: fn(ids))
            r["check"] = check
            return r
        return run

    measure(results, {"dtype": name, "anchor": "hf-forward", "phase": "prefill"}, hf_prefill)
    measure(results, {"dtype": name, "anchor": "eager", "phase": "prefill"},
            mini_prefill(model.prefill))
    if not args.skip_compile:
        measure(results, {"dtype": name, "anchor": "compiled", "phase": "prefill"},
                mini_prefill(torch.compile(model.prefill, mode=args.compile_mode, dynamic=False)))
    del hf, model
    torch.cuda.empty_cache()


# ---------------------------------------------------------------------------
# Reports.

def last_cell(row):
    """The check's cell: the logit difference, or what failed."""
    if row.get("error"):
        return "FAILED: " + row["error"].replace("|", "/").replace("\n", " ")
    return f"{row['check']['max_abs_diff']:.2g}" if row.get("check") else "-"


def markdown(report):
    out = [f"# PyTorch anchor: {report['checkpoint']}", "",
           f"- GPU: {report['gpu']}; torch {report['torch']} (CUDA {report['torch_cuda']}), "
           f"transformers {report['transformers']}, Python {report['python']}",
           f"- when: {report['timestamp']}; command: `{report['command']}`",
           f"- decode: prompt {LAB_PROMPT} then {report['new']} new tokens; prefill: "
           f"{report['prefill_tokens']} tokens; median of {report['rounds']} rounds after one; "
           f"float32 with TF32 off; torch.compile mode: {report['compile_mode']}", "",
           "| dtype | decode anchor | loop | ms per new token (median) | min | max | tokens/s | "
           "max abs logit diff vs HF |",
           "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        if r.get("phase") == "prefill":
            continue
        ms = r.get("ms_per_token")
        out.append(f"| {r['dtype']} | {r['anchor']} | {r.get('loop', '-')} | "
                   + (f"{ms['median']:.3f} | {ms['min']:.3f} | {ms['max']:.3f} | "
                      f"{1e3 / ms['median']:.1f}" if ms else "- | - | - | -")
                   + f" | {last_cell(r)} |")
    out += ["", "| dtype | prefill anchor | ms to first token (median) | min | max | tokens/s | "
            "max abs logit diff vs HF |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        if r.get("phase") != "prefill":
            continue
        ms = r.get("ms_to_first_token")
        out.append(f"| {r['dtype']} | {r['anchor']} | "
                   + (f"{ms['median']:.2f} | {ms['min']:.2f} | {ms['max']:.2f} | "
                      f"{r['tokens_per_s']:.0f}" if ms else "- | - | - | -")
                   + f" | {last_cell(r)} |")
    out += ["", "hf-generate: the whole generate call / new tokens, prefill included. graph, "
            "compiled-graph: decode steps only (the prompt fed untimed); loop device: replays back "
            "to back; loop host: the logits copied to the host after every step, as gpt2-bench's "
            "backends do. Prefill: the prompt's forward pass, the argmax, the token on the host."]
    return "\n".join(out) + "\n"


def write_report(path, report, md):
    """The report as JSON at `path` and its Markdown table beside it (.md)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.splitext(path)[0] + ".md", "w") as f:
        f.write(md)


def tf32_off():
    """Float32 matmuls in float32, not TF32, through one API only: PyTorch 2.9 and later
    refuse a mix of the fp32_precision settings and the older allow_tf32 ones."""
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        torch.backends.fp32_precision = "ieee"
        torch.backends.cuda.matmul.fp32_precision = "ieee"
        torch.backends.cudnn.fp32_precision = "ieee"
        return {"api": "fp32_precision", "cuda.matmul": torch.backends.cuda.matmul.fp32_precision,
                "cudnn": torch.backends.cudnn.fp32_precision}
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    return {"api": "allow_tf32", "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32}


def self_test_cpu(args, cfg, tensors):
    """Float32 on the CPU, eager: the step along the prompt and --new tokens against the
    model's own prefill at each position, and against HF's where transformers imports."""
    torch.manual_seed(0)
    model = MiniGPT2(cfg, tensors, torch.float32, "cpu")
    stepper = Stepper(model, model.step, graphs=False)
    new = min(args.new, cfg["maxT"] - len(LAB_PROMPT))
    with torch.no_grad():
        logits, tokens = along(stepper, LAB_PROMPT, new)
        worst = 0.0
        for i in range(len(tokens)):
            last = model.prefill(torch.tensor(tokens[:i + 1]))
            worst = max(worst, float((last - logits[i]).abs().max()))
        scale = float(logits.abs().max())
        print(f"step against prefill: max |diff| {worst:.3g} (max |logit| {scale:.3g})")
        ok = worst <= FP32_TOL * max(1.0, scale)
        try:
            hf = hf_model(cfg, tensors, torch.float32, "cpu")
        except ImportError as e:
            print(f"HF: not checked ({e})")
        else:
            check = compare(logits, hf_logits(hf, tokens, "cpu"), torch.float32)
            print(f"step against HF: max |diff| {check['max_abs_diff']:.3g}")
            ok = ok and check["passed"]
    print("self-test:", "passed" if ok else "FAILED", f"({len(tokens)} positions)")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="datasets/cache/synthetic-124M-seed2-gen1.bin",
                    help="llm.c checkpoint (version 3 or 1 float32, 5 bfloat16)")
    ap.add_argument("--new", type=int, default=64, help="new tokens per decode run")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds (median)")
    ap.add_argument("--prefill", type=int, default=1024, help="prompt tokens for the prefill")
    ap.add_argument("--prompts", default=os.path.join(HERE, "..", "datasets", "prompts.txt"))
    ap.add_argument("--dtype", default="float32,bfloat16", help="float32, bfloat16 or both")
    ap.add_argument("--skip-compile", action="store_true", help="no torch.compile rows")
    ap.add_argument("--compile-mode", default="max-autotune-no-cudagraphs",
                    choices=["max-autotune-no-cudagraphs", "default"],
                    help="torch.compile mode; none that makes CUDA graphs of its own "
                         "(reduce-overhead, max-autotune): ours capture the step")
    ap.add_argument("--out", help="write the JSON here (and the Markdown beside it, .md)")
    ap.add_argument("--self-test-cpu", action="store_true",
                    help="check the minimal model on the CPU (float32, eager); times nothing")
    args = ap.parse_args()
    if args.new < 1 or args.rounds < 1:
        sys.exit("--new and --rounds must be at least 1")
    cfg, tensors = load_llmc(args.model)
    if args.self_test_cpu:
        return self_test_cpu(args, cfg, tensors)
    if not torch.cuda.is_available():
        sys.exit("no CUDA device (try --self-test-cpu)")
    if len(LAB_PROMPT) + args.new > cfg["maxT"] or args.prefill > cfg["maxT"]:
        sys.exit(f"the model holds {cfg['maxT']} positions")
    tf32 = tf32_off()

    import transformers
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    results = []
    with torch.no_grad():
        for d in args.dtype.split(","):
            run_dtype(args, cfg, tensors, dtypes[d.strip()], results)
    report = {
        "kind": "torch-anchor",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "checkpoint": os.path.basename(args.model), "checkpoint_bytes": os.path.getsize(args.model),
        "config": cfg, "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
        "torch_cuda": torch.version.cuda, "transformers": transformers.__version__,
        "python": platform.python_version(), "new": args.new, "rounds": args.rounds,
        "prompt": LAB_PROMPT, "prefill_tokens": args.prefill,
        "prefill_prompt": "long-900 of datasets/prompts.txt, repeated",
        "compile_mode": None if args.skip_compile else args.compile_mode,
        "tf32_off": tf32,
        "results": results}
    md = markdown(report)
    print(md)
    if args.out:
        write_report(args.out, report, md)
    failed = [r for r in results if r.get("error")]
    for r in failed:
        print(f"FAILED: {r['dtype']} {r['anchor']} {r.get('loop', '')}: {r['error']}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
