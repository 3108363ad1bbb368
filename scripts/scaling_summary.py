#!/usr/bin/env python3
"""Summarizes scripts/device/scaling.sh's output folder as Markdown: per thread count,
the machine's own scaling (register-only fp32 loops and read bandwidth, each over its
1-thread value) next to each backend's speedup over 1 thread, as the median and range
over the sweep rounds, and that speedup as a share of the mul+add loop's scaling (the
bit-exact kernels add and multiply without FMA, so that loop is their ceiling): of the
balanced loop's (work handed out in small chunks, as the executors' stealing does) where
ceilings.json has it, else of the loop in equal shares.

    scripts/scaling_summary.py OUTDIR [OUTDIR ...]

Each round's speedup divides its own 1-thread median by its own N-thread median, so a
slow or fast moment of the machine moves both. With several folders (calls of
scaling.sh on one machine), the rounds of all of them are summarized together and each
ceiling is the median over the calls of its scaling in each. Standard library only.
"""
import glob
import json
import os
import statistics
import sys

from microbench_summary import parse as parse_microbench

CEILINGS = ("peak_fp32_fma", "peak_fp32_mul_add", "peak_fp32_mul_add_balanced", "read_bandwidth")
LABELS = {"peak_fp32_fma": "FMA loop x", "peak_fp32_mul_add": "mul+add loop x",
          "peak_fp32_mul_add_balanced": "mul+add balanced x", "read_bandwidth": "read GB/s x"}


# The balanced loop's work in 1 and in 84 parallel_for calls of a backend's own
# executor (gpt2-microbench, bm_phased); keyed "<op>/<backend>".
PHASED = ("peak_fp32_mul_add_1_phase", "peak_fp32_mul_add_84_phases")


def ceilings(path):
    """{op or op/backend: {threads: [rate per repetition]}}"""
    out = {}
    for r in parse_microbench(path)[1]:
        key = r["op"] if r["op"] in CEILINGS else \
            f"{r['op']}/{r['backend']}" if r["op"] in PHASED else None
        if r["repetition"] and key:
            out.setdefault(key, {}).setdefault(r["threads"], []).append(
                r.get("GFLOP/s", r.get("GB/s")))
    return out


def rounds(folder):
    """[(round name, {(backend, threads): median seconds}, report)], {(backend, threads): all samples}"""
    out, samples = [], {}
    for path in sorted(glob.glob(os.path.join(folder, "round-*", "*.json"))):
        with open(path) as f:
            data = json.load(f)
        ms = [m for m in data["measurements"] if m.get("precision", "float32") == "float32"]
        out.append((os.path.basename(os.path.dirname(path)),
                    {(m["backend"], m["threads"]): m["median_s"] for m in ms}, data))
        for m in ms:
            samples.setdefault((m["backend"], m["threads"]), []).extend(m["samples_s"])
    return out, samples


def spread(values, fmt="{:.2f}"):
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: scaling_summary.py OUTDIR [OUTDIR ...]")
    folders = sys.argv[1:]
    calls = [ceilings(os.path.join(f, "ceilings.json")) for f in folders
             if os.path.exists(os.path.join(f, "ceilings.json"))]
    ceil = {op for c in calls for op in c}  # the ceilings measured
    runs, samples = [], {}
    # Round names relative to the folders' common parent: call-1/round-2, or
    # session-a/call-1/round-2 when the folders lie in different places.
    paths = [os.path.abspath(f) for f in folders]
    common = os.path.commonpath(paths)
    if len(paths) > 1 and common in paths:
        common = os.path.dirname(common)
    for f in paths:
        r, s = rounds(f)
        prefix = os.path.relpath(f, common) + "/" if len(folders) > 1 else ""
        runs += [(prefix + name, m, data) for name, m, data in r]
        for key, values in s.items():
            samples.setdefault(key, []).extend(values)
    if not runs:
        sys.exit(f"scaling_summary.py: no round-*/*.json under {', '.join(folders)}")
    backends = []
    for _, medians, _ in runs:
        for b, _ in medians:
            if b not in backends:
                backends.append(b)
    threads = sorted({k for _, medians, _ in runs for _, k in medians})
    first = runs[0][2]
    machine, build, workload = first["machine"], first["build"], first["workload"]

    def scaling(op, k):
        each = [statistics.median(c[op][k]) / statistics.median(c[op][1])
                for c in calls if op in c and k in c[op] and 1 in c[op]]
        return statistics.median(each) if each else None

    print("# Compute-bound scaling against the machine's own scaling\n")
    print(f"- machine: {machine['cpu_model']}, {machine['logical_cpus']} logical CPUs, "
          f"{machine['kernel']}")
    commits = list(dict.fromkeys(data["build"]["git_commit"] for _, _, data in runs))
    print(f"- build: {build['compiler']}, commit{'s' if len(commits) > 1 else ''} "
          f"{', '.join(commits)}")
    prompts = ", ".join(f"{p['id']} ({p['prompt_tokens']} tokens)" for p in workload["prompts"])
    print(f"- workload: recompute, {prompts}, {workload['new_tokens_per_run']} new tokens, "
          f"{workload['reps']} timed runs after {workload['warmup']} warm-up per configuration")
    print(f"- rounds: {len(runs)} ({', '.join(r for r, _, _ in runs)}), one after another"
          f"{' within each call' if len(folders) > 1 else ''}")
    print(f"- ceilings: median of 3 repetitions{'' if len(calls) < 2 else ', then the median of the ' + str(len(calls)) + ' calls'}; speedup: median (min-max) over rounds of each "
          "round's 1-thread median over its N-thread median; pooled: the median of every "
          "round's 1-thread samples over the median of every round's N-thread samples (one slow "
          "1-thread round moves it less)\n")
    shown = [op for op in CEILINGS if op in ceil or op != "peak_fp32_mul_add_balanced"]
    against = "peak_fp32_mul_add_balanced" if "peak_fp32_mul_add_balanced" in ceil \
        else "peak_fp32_mul_add"
    head = ["threads"] + [LABELS[op] for op in shown]
    phased = [f"{op}/{b}" for b in backends for op in PHASED if f"{op}/{b}" in ceil]
    head += [f"{key.split('/')[1]} {'1 phase' if '_1_' in key else '84 phases'} x"
             for key in phased]
    for b in backends:
        head += [f"{b} speedup", f"{b} pooled",
                 f"{b} / {'balanced' if against.endswith('balanced') else 'mul+add'} x"]
        if f"{PHASED[1]}/{b}" in ceil:
            head.append(f"{b} / 84 phases x")
    print("| " + " | ".join(head) + " |")
    print("|" + "---:|" * len(head))
    for k in threads:
        row = [str(k)]
        for op in shown + phased:
            s = scaling(op, k)
            row.append("-" if s is None else f"{s:.2f}")
        ceiling = scaling(against, k)
        for b in backends:
            speedups = [m[(b, 1)] / m[(b, k)] for _, m, _ in runs if (b, 1) in m and (b, k) in m]
            row.append(spread(speedups))
            pooled = ((b, 1) in samples and (b, k) in samples and
                      statistics.median(samples[(b, 1)]) / statistics.median(samples[(b, k)]))
            row.append(f"{pooled:.2f}" if pooled else "-")
            row.append("-" if ceiling is None or not speedups
                       else f"{statistics.median(speedups) / ceiling:.2f}")
            if f"{PHASED[1]}/{b}" in ceil:
                loop = scaling(f"{PHASED[1]}/{b}", k)
                row.append("-" if loop is None or not speedups
                           else f"{statistics.median(speedups) / loop:.2f}")
        print("| " + " | ".join(row) + " |")
    print("\n1-thread medians per round (s/run): " + "; ".join(
        f"{r}: " + ", ".join(f"{b} {m[(b, 1)]:.3f}" for b in backends if (b, 1) in m)
        for r, m, _ in runs))
    rates = {op: statistics.median([v for c in calls if op in c and 1 in c[op] for v in c[op][1]])
             for op in sorted(ceil) if any(op in c and 1 in c[op] for c in calls)}
    if rates:
        print("1-thread ceilings: " + ", ".join(
            f"{op} {v:.1f} {'GB/s' if op == 'read_bandwidth' else 'GFLOP/s'}"
            for op, v in sorted(rates.items())))


if __name__ == "__main__":
    main()
