#!/usr/bin/env python3
"""Summarizes a gpt2-microbench JSON file as Markdown: the machine's ceilings, each
backend's prefill (the `forward` benchmark) as a share of the peak that bounds it, and
decode (the `decode` benchmark) next to the measured read bandwidth.

    scripts/microbench_summary.py reports/runs/microbench-<time>.json [--rows 128] [--context 128]

Prefill shares: float32 backends against the float32 FMA peak (the bit-exact ones also
against the peak without FMA, which is all they can reach); bfloat16 against the best
bfloat16 peak measured (AMX if the CPU has it, else vdpbf16ps). Standard library only.
"""
import argparse
import json
import re
import sys

NAME = re.compile(r"^(?P<op>[a-z_0-9]+)(/(?P<backend>[a-z0-9-]+))?(/T:(?P<T>\d+))?/threads:(?P<k>\d+)")
BIT_EXACT = {"reference", "pthreads", "openmp"}


def parse(path):
    with open(path) as f:
        data = json.load(f)
    rows = []
    for b in data["benchmarks"]:
        m = NAME.match(b["name"])
        # With --benchmark_repetitions, a benchmark's repetitions are followed by
        # its mean, median, stddev and cv: keep the repetitions and the median.
        aggregate = b.get("aggregate_name") if b.get("run_type") == "aggregate" else None
        if not m or b.get("error_occurred") or aggregate not in (None, "median"):
            continue
        rows.append({
            "repetition": aggregate is None,
            "op": m["op"],
            "backend": m["backend"],
            "T": int(m["T"]) if m["T"] else None,
            "threads": int(m["k"]),
            "ms": b["real_time"] if b.get("time_unit") == "ms" else None,
            **{k: v for k, v in b.items() if k in ("GFLOP/s", "GB/s", "tokens/s", "weights GB/s")},
        })
    return data.get("context", {}), rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--rows", type=int, default=128, help="prefill length T (default 128)")
    ap.add_argument("--context", type=int, default=128, help="decode context (default 128)")
    a = ap.parse_args()
    context, rows = parse(a.json)

    peaks = {}
    for r in rows:
        if r["op"].startswith("peak_") or r["op"] == "read_bandwidth":
            peaks[(r["op"], r["threads"])] = r.get("GFLOP/s", r.get("GB/s"))
    threads = sorted({r["threads"] for r in rows})
    out = sys.stdout
    out.write(f"# gpt2-microbench summary\n\n- file: `{a.json}`\n")
    for key in ("cpu_model", "isa_flags", "git_commit", "model"):
        if key in context:
            out.write(f"- {key}: {context[key]}\n")

    out.write("\n## Ceilings\n\n| threads | fp32 FMA GFLOP/s | fp32 mul+add GFLOP/s | "
              "fp32 mul+add balanced GFLOP/s | bf16 vdpbf16ps GFLOP/s | bf16 AMX GFLOP/s | "
              "read GB/s |\n|---:|---:|---:|---:|---:|---:|---:|\n")
    cell = lambda v: f"{v:.0f}" if v else "-"
    for k in threads:
        out.write(f"| {k} | " + " | ".join(cell(peaks.get((op, k))) for op in (
            "peak_fp32_fma", "peak_fp32_mul_add", "peak_fp32_mul_add_balanced",
            "peak_bf16_vdpbf16ps", "peak_bf16_amx", "read_bandwidth")) + " |\n")

    out.write(f"\n## Prefill: a {a.rows}-token forward pass\n\n| backend | threads | tokens/s | "
              "GFLOP/s | share of the bounding peak |\n|---|---:|---:|---:|---|\n")
    for r in sorted((r for r in rows if r["op"] == "forward" and r["T"] == a.rows),
                    key=lambda r: (r["backend"], r["threads"])):
        k, g = r["threads"], r.get("GFLOP/s", 0)
        if r["backend"].endswith("-bf16"):
            amx, dot = peaks.get(("peak_bf16_amx", k)), peaks.get(("peak_bf16_vdpbf16ps", k))
            peak, what = (amx, "bf16 AMX") if amx else (dot, "bf16 vdpbf16ps")
        else:
            peak, what = peaks.get(("peak_fp32_fma", k)), "fp32 FMA"
        share = f"{100 * g / peak:.1f}% of {what}" if peak else "-"
        if r["backend"] in BIT_EXACT and peaks.get(("peak_fp32_mul_add", k)):
            share += f", {100 * g / peaks[('peak_fp32_mul_add', k)]:.1f}% of mul+add"
        out.write(f"| {r['backend']} | {k} | {r.get('tokens/s', 0):.0f} | {g:.0f} | {share} |\n")

    out.write(f"\n## Decode: one step after {a.context - 1} cached positions\n\n| backend | "
              "threads | tokens/s | weights GB/s | read bandwidth GB/s | share |\n"
              "|---|---:|---:|---:|---:|---:|\n")
    for r in sorted((r for r in rows if r["op"] == "decode" and r["T"] == a.context),
                    key=lambda r: (r["backend"], r["threads"])):
        k, w = r["threads"], r.get("weights GB/s", 0)
        bw = peaks.get(("read_bandwidth", k))
        share = f"{100 * w / bw:.0f}%" if bw else "-"
        out.write(f"| {r['backend']} | {k} | {r.get('tokens/s', 0):.1f} | {w:.1f} | "
                  f"{cell(bw)} | {share} |\n")


if __name__ == "__main__":
    main()
