#!/usr/bin/env python3
"""Files gpt2-bench reports under reports/ and generates what is derived from them.

    scripts/reports.py add RUN.json [RUN.json ...]   # file runs, then build
    scripts/reports.py build                         # regenerate the derived files
    scripts/reports.py check                         # exit 1 if they differ from the data (CI)

`add` copies a report (the JSON and its siblings of the same stem: .md, .svg, .csv,
.txt) to reports/results/<system>/<workload>/<stem>.*; gpt2-microbench JSON goes to
reports/results/<system>/microbench/. `build` writes, from every sweep and verify JSON
under reports/results/ and reports/studies/ (and the microbenchmarks under results/):

  reports/index.csv           one row per measurement (a verify file: one per backend,
                              precision, mode and thread count, its rules together)
  reports/systems/<id>.txt    the machine facts of each system, from its newest report
                              and from reports/systems/<id>.lscpu.txt where there is one
  reports/systems/<id>.md     the headline tables of each system (ceilings, decode,
                              prefill, the lab workload, verify)
  reports/README.md           the block between the BEGIN/END GENERATED markers: one
                              summary table, each backend's best figure per system and
                              workload with its % of ceiling

A row is `current` when it is the newest (by the JSON's "timestamp") under
reports/results/ for its (system, workload, backend, precision, mode, threads); every
other row, and every row of reports/studies/, is `superseded`: a study is a snapshot
of one question, quoted in its own README. The headline tables use current rows only.
Output is deterministic (sorted, fixed formats, no time of generation).
Python 3.9 or newer, standard library only.
"""
import argparse
import csv
import datetime
import io
import json
import os
import re
import shutil
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = "<!-- BEGIN GENERATED: scripts/reports.py build -->"
END = "<!-- END GENERATED -->"
INDEX_COLUMNS = ["date", "commit", "system", "backend", "mode", "precision", "threads",
                 "workload", "median_s", "speedup", "verified", "percent_of_ceiling", "path",
                 "status"]
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}Z")
SIBLINGS = (".md", ".svg", ".csv", ".txt")
LAB_WORKLOAD = "lab-hello+5"
DECODE_MIN_NEW = 16


# ---------------------------------------------------------------------------
# Pure functions: names and keys.

def slug(text):
    """Lowercase, every run of other characters than a-z and 0-9 one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def hardware_slug(name):
    """A CPU or GPU name without trademarks, 'CPU', 'Processor' and '@ <frequency>'."""
    name = re.sub(r"@.*$", "", str(name))
    name = re.sub(r"\((R|TM|r|tm)\)", " ", name)
    name = re.sub(r"\b(CPU|Processor)\b", " ", name, flags=re.IGNORECASE)
    return slug(name) or "unknown"


def gpu_name(gpu):
    if isinstance(gpu, dict):
        return gpu.get("name") or gpu.get("model") or "gpu"
    return str(gpu)


def system_id(data):
    """'intel-xeon-16cpu' from a report's machine; '-<n>x<gpu>' per kind of GPU when the
    report lists GPUs (a top-level or machine "gpus" array)."""
    machine = data.get("machine") or {}
    if "benchmarks" in data:  # gpt2-microbench (Google Benchmark) JSON
        context = data.get("context") or {}
        machine = {"cpu_model": context.get("cpu_model", "unknown"),
                   "logical_cpus": context.get("num_cpus", 0)}
    out = f"{hardware_slug(machine.get('cpu_model', 'unknown'))}-{machine.get('logical_cpus', 0)}cpu"
    gpus = data.get("gpus") or machine.get("gpus") or []
    counts = {}
    for g in gpus:
        s = hardware_slug(gpu_name(g))
        counts[s] = counts.get(s, 0) + 1
    for s in sorted(counts):
        out += f"-{counts[s]}x{s}"
    return out


def new_tokens(prompt):
    if "n" in prompt and "prompt_tokens" in prompt:
        return prompt["n"] - prompt["prompt_tokens"]
    return None


def workload_id(data):
    """'verify'; one prompt: '<id>+<new>' ('custom-<prompt tokens>+<new>' for --tokens);
    several: '<n>-prompts+<new>', or '<n>-prompts' when their new tokens differ;
    'microbench' for gpt2-microbench JSON."""
    if "benchmarks" in data:
        return "microbench"
    if data.get("kind") == "verify":
        return "verify"
    workload = data.get("workload") or {}
    prompts = workload.get("prompts") or []
    news = {new_tokens(p) for p in prompts}
    new = news.pop() if len(news) == 1 else None
    if len(prompts) == 1:
        p = prompts[0]
        if new is None:
            new = workload.get("new_tokens_per_run")
        base = f"custom-{p.get('prompt_tokens', 0)}" if p.get("id") == "custom" else slug(p.get("id", "unknown"))
        return f"{base}+{new}" if new is not None else base
    return f"{len(prompts)}-prompts" + (f"+{new}" if new is not None else "")


def stamp(timestamp):
    """'2026-11-22T03:43:24Z' (or '+00:00') -> '2026-11-22T034324Z' (UTC)."""
    t = datetime.datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H%M%SZ")


def timestamp_of(data):
    """The run's time as sortable ISO text ('' when unknown)."""
    t = data.get("timestamp") or (data.get("context") or {}).get("date")
    if not t:
        return ""
    try:
        return datetime.datetime.strptime(stamp(t), "%Y-%m-%dT%H%M%SZ").strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return str(t)


def result_stem(filename, data):
    """A gpt2-bench file keeps its stem (it starts with its time); any other gets its
    JSON's time in front: 'sweep.json' -> '2026-11-21T235634Z-sweep'."""
    stem = os.path.splitext(os.path.basename(filename))[0]
    if STAMP.match(stem) or not timestamp_of(data):
        return stem
    return f"{stamp(timestamp_of(data))}-{stem}"


def result_dir(data):
    """results/<system>/<workload>, relative to reports/."""
    return f"results/{system_id(data)}/{workload_id(data)}"


def mark_current(rows):
    """Sets row["status"]: 'current' for the newest row (by date, then path) of each
    (system, workload, backend, precision, mode, threads) among rows under results/;
    'superseded' for every other, and for every row outside results/."""
    newest = {}
    for r in rows:
        if not r["path"].startswith("results/"):
            continue
        key = row_key(r)
        if key not in newest or (r["date"], r["path"]) > (newest[key]["date"], newest[key]["path"]):
            newest[key] = r
    chosen = {id(r) for r in newest.values()}
    for r in rows:
        r["status"] = "current" if id(r) in chosen else "superseded"
    return rows


def row_key(r):
    return (r["system"], r["workload"], r["backend"], r["precision"], r["mode"], str(r["threads"]))


def short_commit(commit):
    commit = str(commit or "")
    dirty = commit.endswith("-dirty")
    base = commit[:-6] if dirty else commit
    return base[:7] + ("-dirty" if dirty else "")


def reproduce_command(command):
    """The JSON's command as one runs it here: build/bin/gpt2-bench ... without --out
    (runs then go to reports/runs/, which `add` files)."""
    words = str(command or "").split()
    if not words:
        return ""
    out, skip = [], False
    for i, w in enumerate(words):
        if skip:
            skip = False
            continue
        if w in ("--out", "-o"):
            skip = True
            continue
        if w.startswith("--out="):
            continue
        if i == 0:
            w = "build/bin/" + os.path.basename(w)
        out.append(w)
    return " ".join(out)


# ---------------------------------------------------------------------------
# Formats.

def fmt_rate(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_float(v, spec):
    return "" if v is None else format(v, spec)


def fmt_diff(v):
    return f"{v:.2g}" if v else "0"


CEILING_SHORT = {"read bandwidth": "read bw", "fp32 mul+add peak": "mul+add peak",
                 "fp32 FMA peak": "FMA peak", "bf16 peak": "bf16 peak",
                 "GPU copy bandwidth": "GPU copy bw", "cuBLAS fp32 peak": "cuBLAS fp32 peak",
                 "cuBLAS bf16 peak": "cuBLAS bf16 peak"}


def ceiling_note(m):
    c = m.get("ceiling") if isinstance(m, dict) else None
    if not c or c.get("percent") is None:
        return ""
    name = CEILING_SHORT.get(c.get("name", ""), c.get("name", "ceiling"))
    return f" ({c['percent']:.0f}% of {name})"


def ceiling_percent(m):
    c = m.get("ceiling")
    return None if not c or c.get("percent") is None else float(c["percent"])


def md_link(path, text=None):
    """A relative link from reports/README.md; '+' and the like stay as they are."""
    return f"[{text or os.path.basename(path)}]({path.replace(' ', '%20')})"


# ---------------------------------------------------------------------------
# Loading.

class Report:
    def __init__(self, path, data):
        self.path = path  # relative to reports/, '/' separated
        self.data = data
        self.kind = "microbench" if "benchmarks" in data else data.get("kind", "")
        self.system = system_id(data)
        self.workload = workload_id(data)
        self.date = timestamp_of(data)
        self.in_results = path.startswith("results/")
        build = data.get("build") or {}
        self.commit = build.get("git_commit") or (data.get("context") or {}).get("git_commit", "")

    def md(self):
        return self.path[:-5] + ".md"


def load_reports(reports):
    out = []
    for top in ("results", "studies"):
        base = os.path.join(reports, top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith(".json"):
                    continue
                full = os.path.join(dirpath, name)
                try:
                    with open(full, encoding="utf-8") as f:
                        data = json.load(f)
                except (OSError, ValueError) as e:
                    raise SystemExit(f"reports.py: {full}: not readable JSON ({e})")
                if not isinstance(data, dict):
                    continue
                kind = "microbench" if "benchmarks" in data else data.get("kind")
                if kind not in ("sweep", "verify", "microbench"):
                    continue  # HF oracle, tokenizer benchmark: data of their study
                if kind == "microbench" and top != "results":
                    continue  # a study's ceilings: read by scaling_summary.py, not here
                rel = os.path.relpath(full, reports).replace(os.sep, "/")
                out.append(Report(rel, data))
    return sorted(out, key=lambda r: r.path)


def measurements(report):
    return [m for m in report.data.get("measurements") or [] if isinstance(m, dict)]


def sweep_verified(m):
    tokens, bits = m.get("tokens_equal_goldens"), m.get("logits_bit_exact")
    if tokens == "yes":
        return "bit-exact" if bits == "yes" else "tokens"
    if tokens == "no":
        return "NO"
    return ""


def verify_groups(report):
    """{(backend, precision, mode, threads): [rows]} of a verify report."""
    groups = {}
    for r in report.data.get("rows") or []:
        key = (r.get("backend", ""), r.get("precision", "float32"), r.get("mode", ""),
               r.get("threads", 0))
        groups.setdefault(key, []).append(r)
    return groups


def index_rows(reports):
    rows = []
    for rep in reports:
        base = {"date": rep.date, "commit": rep.commit, "system": rep.system,
                "workload": rep.workload, "path": rep.path}
        if rep.kind == "sweep":
            for m in measurements(rep):
                rows.append(dict(base, backend=m.get("backend", ""), mode=m.get("mode", ""),
                                 precision=m.get("precision", "float32"),
                                 threads=m.get("threads", 0),
                                 median_s=fmt_float(m.get("median_s"), ".6f"),
                                 speedup=fmt_float(m.get("speedup_vs_1thread"), ".2f"),
                                 verified=sweep_verified(m),
                                 percent_of_ceiling=fmt_float(ceiling_percent(m), ".1f"),
                                 _m=m, _rep=rep))
        elif rep.kind == "verify":
            for (backend, precision, mode, threads), rs in sorted(verify_groups(rep).items(),
                                                                   key=lambda kv: str(kv[0])):
                passed = all(r.get("passed") for r in rs)
                exact = all(r.get("bit_exact") and not r.get("logits_mismatches") for r in rs)
                rows.append(dict(base, backend=backend, mode=mode, precision=precision,
                                 threads=threads, median_s="", speedup="",
                                 verified=("bit-exact" if exact else "tokens") if passed else "FAILED",
                                 percent_of_ceiling="", _m=None, _rep=rep))
    rows.sort(key=lambda r: (r["system"], r["workload"], r["date"], r["path"]))
    return mark_current(rows)


def render_index(rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(INDEX_COLUMNS)
    for r in rows:
        w.writerow([r[c] for c in INDEX_COLUMNS])
    return buf.getvalue()


# ---------------------------------------------------------------------------
# Systems.

LSCPU_KEYS = ("Vendor ID", "CPU family", "Model", "Stepping", "Thread(s) per core",
              "Core(s) per socket", "Socket(s)", "Hypervisor vendor", "Virtualization type",
              "L1d cache", "L1i cache", "L2 cache", "L3 cache", "NUMA node(s)")


def parse_lscpu(text):
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out.setdefault(k.strip(), v.strip())
    return out


def render_system(sid, reps, lscpu_text):
    newest = max(reps, key=lambda r: (r.date, r.path))
    m = newest.data.get("machine") or {}
    lines = [f"# {sid}: generated by scripts/reports.py build from the newest report of this",
             f"# system and from {sid}.lscpu.txt where there is one; edit those, not this file.",
             f"source: {newest.path}"]

    def put(label, value):
        if value not in (None, "", []):
            lines.append(f"{label}: {value}")

    put("cpu model", m.get("cpu_model"))
    put("cpu family/model", m.get("cpu_family_model"))
    put("logical CPUs", m.get("logical_cpus"))
    put("physical cores", m.get("physical_cores"))
    put("sockets", m.get("sockets"))
    if m.get("memory_gib") is not None:
        put("memory", f"{m['memory_gib']:.1f} GiB")
    put("os", m.get("os"))
    put("kernel", m.get("kernel"))
    put("ISA flags", " ".join(m.get("isa_flags") or []))
    put("kernels used", m.get("kernel_isa"))
    if m.get("l3_cache_bytes"):
        put("L3 cache", f"{m['l3_cache_bytes'] / 2**20:.0f} MiB")
    gpus = newest.data.get("gpus") or m.get("gpus") or []
    for i, g in enumerate(gpus):
        put(f"gpu {i}", json.dumps(g, sort_keys=True) if isinstance(g, dict) else g)
    dates = sorted(r.date for r in reps if r.date)
    kernels = sorted({(r.data.get("machine") or {}).get("kernel", "") for r in reps} - {""})
    put("sweep and verify files", f"{len(reps)}, {dates[0]} to {dates[-1]}" if dates else len(reps))
    if len(kernels) > 1:
        put("kernels seen", "; ".join(kernels))
    if lscpu_text is not None:
        facts = parse_lscpu(lscpu_text)
        lines.append(f"lscpu ({sid}.lscpu.txt):")
        for k in LSCPU_KEYS:
            if k in facts:
                lines.append(f"  {k}: {facts[k]}")
    return "\n".join(lines) + "\n"


def render_systems(reports, reports_dir):
    by = {}
    for r in reports:
        if r.kind in ("sweep", "verify"):
            by.setdefault(r.system, []).append(r)
    out = {}
    for sid in sorted(by):
        lscpu = os.path.join(reports_dir, "systems", f"{sid}.lscpu.txt")
        text = None
        if os.path.exists(lscpu):
            with open(lscpu, encoding="utf-8") as f:
                text = f.read()
        out[f"systems/{sid}.txt"] = render_system(sid, by[sid], text)
    return out


# ---------------------------------------------------------------------------
# The headline tables.

def thread_columns(logical):
    return sorted({k for k in (1, 4, logical) if k and k <= max(logical, 1)})


def pick(rows, **match):
    for r in rows:
        if all(r[k] == v for k, v in match.items()):
            return r
    return None


def label(backend, precision):
    return backend if precision == "float32" else f"{backend} {precision}"


def sources_block(reps):
    if not reps:
        return []
    out = ["", "From (reproduce at the commit named, then `python3 scripts/reports.py add reports/runs/<new>.json`):"]
    for rep in sorted(reps, key=lambda r: r.path):
        cmd = reproduce_command(rep.data.get("command"))
        out.append(f"- {md_link(rep.md())}: `{cmd}` at {short_commit(rep.commit)}")
    return out


def rate_table(title, rows, cols, value, note):
    """Decode or prefill: a row per (workload, backend, precision), a cell per thread count."""
    out = [f"## {title}", ""]
    if not rows:
        return out + ["no result yet"]
    keys = sorted({(r["workload"], r["backend"], r["precision"]) for r in rows})
    out.append("| workload | backend | " + " | ".join(f"{k} thread{'s' if k > 1 else ''}" for k in cols) + " |")
    out.append("|---|---|" + "---:|" * len(cols))
    used = set()
    for wl, b, p in keys:
        cells = []
        for k in cols:
            r = pick(rows, workload=wl, backend=b, precision=p, threads=k)
            if r is None:
                cells.append("-")
                continue
            used.add(r["_rep"])
            cells.append(fmt_rate(r["_m"].get(value)) + ceiling_note(r["_m"]))
        out.append(f"| {wl} | {label(b, p)} | " + " | ".join(cells) + " |")
    out.append("")
    out.append(note)
    return out + sources_block(used)


def lab_table(rows, cols):
    out = [f"## Lab workload ({LAB_WORKLOAD})", ""]
    if not rows:
        return out + ["no result yet"]
    top, more = cols[-1], [k for k in cols if k > 1]
    out.append("| backend | mode | median s at 1 thread | "
               + " | ".join(f"speedup at {k}" for k in more) + f" | % of ceiling at {top} |")
    out.append("|---|---|---:|" + "---:|" * len(more) + "---:|")
    used = set()
    order = {"recompute": 0, "kv-cache": 1}
    keys = sorted({(r["backend"], r["precision"], r["mode"]) for r in rows},
                  key=lambda k: (k[0] != "reference", k[0], k[1], order.get(k[2], 2), k[2]))
    for b, p, mode in keys:
        at = {k: pick(rows, backend=b, precision=p, mode=mode, threads=k) for k in cols}
        used.update(r["_rep"] for r in at.values() if r is not None)
        one = at.get(1)
        median = format(one["_m"]["median_s"], ".4g") if one and one["_m"].get("median_s") else "-"
        cells = []
        for k in more:
            v = at[k] and at[k]["_m"].get("speedup_vs_1thread")
            cells.append(f"{v:.2f}" if v else "-")
        note = ceiling_note(at[top]["_m"]).strip(" ()") if at[top] else ""
        out.append(f"| {label(b, p)} | {mode} | {median} | " + " | ".join(cells)
                   + f" | {note or '-'} |")
    out.append("")
    out.append("Speedup: over 1 thread of the same backend and mode, in the same sweep; "
               "\"-\": not measured (the ceiling: not measured by that sweep).")
    return out + sources_block(used)


def verify_table(reps, current_rows):
    out = ["## Verify", ""]
    if not reps:
        return out + ["no result yet"]
    out.append("| file | result | configurations | current | backends | threads | modes | rules | "
               "max \\|logit diff\\| (reordered) | commit |")
    out.append("|---|---|---:|---:|---|---|---|---|---:|---|")
    for rep in sorted(reps, key=lambda r: (r.date, r.path), reverse=True):
        rows = rep.data.get("rows") or []
        passed = rep.data.get("passed", all(r.get("passed") for r in rows))
        backends = sorted({label(r.get("backend", ""), r.get("precision", "float32")) for r in rows})
        threads = sorted({r.get("threads", 0) for r in rows})
        modes = sorted({r.get("mode", "") for r in rows})
        rules = sorted({r.get("rule", "") for r in rows})
        reordered = [r.get("max_abs_logit_diff", 0) or 0 for r in rows if not r.get("bit_exact")]
        diff = fmt_diff(max(reordered)) if reordered else "- (all bit-exact)"
        n_current = sum(1 for r in current_rows if r["_rep"] is rep)
        out.append(f"| {md_link(rep.md())} | {'passed' if passed else 'FAILED'} | {len(rows)} | "
                   f"{n_current} | {', '.join(backends)} | {', '.join(map(str, threads))} | "
                   f"{', '.join(modes)} | {', '.join(rules)} | {diff} | {short_commit(rep.commit)} |")
    out.append("")
    out.append("configurations: backend x precision x threads x mode x rule; current: of its "
               "backend/precision/mode/thread groups, those no newer verify repeats.")
    return out + sources_block(reps)


CEILING_ROWS = (  # (label, microbench op, sweep ceilings key)
    ("fp32 FMA peak, GFLOP/s", "peak_fp32_fma", "fp32_fma_gflops"),
    ("fp32 mul+add peak, GFLOP/s", "peak_fp32_mul_add", "fp32_mul_add_gflops"),
    ("bf16 peak (AMX), GFLOP/s", "peak_bf16_amx", "bf16_gflops:amx-bf16"),
    ("bf16 peak (vdpbf16ps), GFLOP/s", "peak_bf16_vdpbf16ps", "bf16_gflops:avx512-bf16"),
    ("read bandwidth, GB/s", "read_bandwidth", "read_gb_s"),
)
NAME = re.compile(r"^(?P<op>[a-z_0-9]+)(/(?P<backend>[a-z0-9-]+))?(/T:(?P<T>\d+))?/threads:(?P<k>\d+)")


def microbench_ceilings(data):
    """{(op, threads): value}: the median aggregate where there is one, else the median
    of the repetitions."""
    reps, medians = {}, {}
    for b in data.get("benchmarks") or []:
        m = NAME.match(b.get("name", ""))
        if not m or m["backend"] or b.get("error_occurred"):
            continue
        v = b.get("GFLOP/s", b.get("GB/s"))
        if v is None:
            continue
        key = (m["op"], int(m["k"]))
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[key] = v
        else:
            reps.setdefault(key, []).append(v)
    out = {k: statistics.median(v) for k, v in reps.items()}
    out.update(medians)
    return out


def sweep_ceilings(data):
    c = data.get("ceilings") or {}
    out = {}
    for p in c.get("points") or []:
        k = p.get("threads")
        for key in ("read_gb_s", "fp32_fma_gflops", "fp32_mul_add_gflops"):
            if p.get(key):
                out[(key, k)] = p[key]
        if p.get("bf16_gflops") and c.get("bf16_kind"):
            out[(f"bf16_gflops:{c['bf16_kind']}", k)] = p["bf16_gflops"]
    return out


def gpu_ceilings_table(reports):
    """A row per GPU (device and name) from the newest sweep that measured its ceilings;
    nothing when no sweep did."""
    newest = {}
    for rep in reports:
        if rep.kind != "sweep":
            continue
        for g in rep.data.get("gpu_ceilings") or []:
            key = (g.get("device", 0), g.get("name", ""))
            if key not in newest or (rep.date, rep.path) > (newest[key][0].date, newest[key][0].path):
                newest[key] = (rep, g)
    if not newest:
        return []
    out = ["", "GPUs (a sweep's `gpu_ceilings`: a device-to-device copy, bytes read plus written; "
           "cuBLAS float32 with TF32 off, and bfloat16 in, float32 accumulate):", "",
           "| GPU | copy GB/s | fp32 GFLOP/s | bf16 GFLOP/s | from |", "|---|---:|---:|---:|---|"]
    for (device, name), (rep, g) in sorted(newest.items()):
        cells = [fmt_rate(g.get("copy_gb_s") or None), fmt_rate(g.get("fp32_gflops") or None),
                 fmt_rate(g.get("bf16_gflops") or None)]
        out.append(f"| {device}: {name} | " + " | ".join(cells)
                   + f" | {md_link(rep.md())} ({rep.date}, commit {short_commit(rep.commit)}) |")
    return out


def ceilings_table(reports, cols):
    out = ["## Ceilings (the machine's own loops: gpt2-microbench, or a sweep's `ceilings`)", ""]
    sources = []
    for rep in reports:
        if rep.kind == "microbench":
            sources.append((rep, microbench_ceilings(rep.data), 0))
        elif rep.kind == "sweep" and rep.data.get("ceilings"):
            sources.append((rep, sweep_ceilings(rep.data), 1))
    if not sources:
        return out + ["no result yet"] + gpu_ceilings_table(reports)
    out.append("| ceiling | " + " | ".join(f"{k} thread{'s' if k > 1 else ''}" for k in cols) + " |")
    out.append("|---|" + "---:|" * len(cols))
    used = set()
    for text, op, key in CEILING_ROWS:
        cells = []
        for k in cols:
            best = None
            for rep, values, which in sources:
                v = values.get((op if which == 0 else key, k))
                if v is not None and (best is None or (rep.date, rep.path) > (best[0].date, best[0].path)):
                    best = (rep, v)
            if best:
                used.add(best[0])
            cells.append(fmt_rate(best[1]) if best else "-")
        if any(c != "-" for c in cells):
            out.append(f"| {text} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("Each cell from the newest file that measured it:")
    for rep in sorted(used, key=lambda r: r.path):
        link = md_link(rep.path) if rep.kind == "microbench" else md_link(rep.md())
        out.append(f"- {link} ({rep.date}, commit {short_commit(rep.commit)})")
    return out + gpu_ceilings_table(reports)


def system_cols(reps):
    """The CPU model and the thread columns of a system's tables."""
    machines = [r.data.get("machine") or {} for r in reps if r.kind in ("sweep", "verify")]
    logical = max((m.get("logical_cpus") or 0 for m in machines), default=0) or \
        max(((r.data.get("context") or {}).get("num_cpus", 0) for r in reps), default=1)
    cpu = machines[0].get("cpu_model", "") if machines else ""
    return cpu, logical, thread_columns(logical)


def prompt_news(r):
    return {new_tokens(p) for p in (r["_rep"].data.get("workload") or {}).get("prompts") or []}


def decode_rows(rows):
    """Current sweep rows in kv-cache mode whose prompts each get DECODE_MIN_NEW or more."""
    return [r for r in rows if r["_m"] is not None and r["mode"] == "kv-cache" and prompt_news(r)
            and min(n or 0 for n in prompt_news(r)) >= DECODE_MIN_NEW]


def prefill_rows(rows):
    return [r for r in rows if r["_m"] is not None and r["mode"] == "kv-cache"
            and prompt_news(r) == {1}]


def lab_rows(rows):
    return [r for r in rows if r["_m"] is not None and r["workload"] == LAB_WORKLOAD]


def render_system_page(sid, reps, mine):
    """reports/systems/<id>.md: every headline table of one system."""
    cpu, logical, cols = system_cols(reps)
    out = [f"# {sid}", "",
           "Generated by `scripts/reports.py build` from the current results of this system "
           "(do not edit; [../README.md](../README.md) has the summary across systems).", "",
           f"{cpu}, {logical} logical CPUs: {md_link(f'{sid}.txt')}.", ""]
    out += ceilings_table([r for r in reps if r.in_results], cols) + [""]
    decode, prefill = decode_rows(mine), prefill_rows(mine)
    out += rate_table("Decode (kv-cache, tokens/s)", decode, cols, "tokens_per_s",
                      f"Sweeps in kv-cache mode whose prompts each get {DECODE_MIN_NEW} or more new tokens.") + [""]
    out += rate_table("Prefill (kv-cache, 1 new token: positions/s)", prefill, cols, "positions_per_s",
                      "Sweeps in kv-cache mode with exactly 1 new token per prompt: positions/s is the prefill rate.") + [""]
    out += lab_table(lab_rows(mine), cols) + [""]
    verifies = sorted({r["_rep"] for r in mine if r["workload"] == "verify"}, key=lambda r: r.path)
    out += verify_table(verifies, mine) + [""]
    shown = {LAB_WORKLOAD, "verify"} | {r["workload"] for r in decode + prefill}
    other = {}
    for r in mine:
        if r["workload"] not in shown:
            other.setdefault(r["workload"], set()).add(r["_rep"])
    out += ["## Other current results", ""]
    if not other:
        out.append("none")
    for wl in sorted(other):
        files = sorted(other[wl], key=lambda r: r.path)
        out.append(f"- {wl}: " + ", ".join(md_link(r.md()) for r in files))
    # The tables' links are relative to reports/; this page is in reports/systems/.
    text = "\n".join(out) + "\n"
    text = re.sub(r"\]\((?!https?:|\.\./|[^)/]*\.txt\))", "](../", text)
    return text


# Columns of the summary: backends in this order, then any other.
SUMMARY_ORDER = ["reference", "pthreads", "openmp", "blis", "onednn", "cuda-naive", "cuda"]


def best_cell(rows, value):
    """'218 @16 (104%)': the best figure, its thread count and its % of ceiling."""
    best = max(rows, key=lambda r: r["_m"].get(value) or 0)
    v = best["_m"].get(value)
    if not v:
        return "-"
    pct = ceiling_percent(best["_m"])
    return fmt_rate(v) + f" @{best['threads']}" + (f" ({pct:.0f}%)" if pct is not None else "")


def render_summary(reports, current):
    """The README's one table: per system and workload, each backend's best figure."""
    lines, labels = [], set()
    table = []  # (system, workload, what, {label: cell})
    for sid in sorted({r.system for r in reports}):
        mine = [r for r in current if r["system"] == sid]
        for what, rows, value in (("decode tokens/s", decode_rows(mine), "tokens_per_s"),
                                  ("prefill positions/s", prefill_rows(mine), "positions_per_s"),
                                  ("lab speedup over the reference", lab_rows(mine),
                                   "speedup_vs_reference")):
            for wl in sorted({r["workload"] for r in rows}):
                cells = {}
                for key in sorted({(r["backend"], r["precision"]) for r in rows if r["workload"] == wl}):
                    mine_rows = [r for r in rows if r["workload"] == wl
                                 and (r["backend"], r["precision"]) == key]
                    if what.startswith("lab"):  # the reference is the unit there
                        mine_rows = [r for r in mine_rows if r["mode"] == "recompute"]
                        if not mine_rows or key[0] == "reference":
                            continue
                    cells[label(*key)] = best_cell(mine_rows, value)
                labels.update(cells)
                if cells:
                    table.append((sid, wl, what, cells))
    if not table:
        return ["no result yet"]
    order = {b: i for i, b in enumerate(SUMMARY_ORDER)}
    cols = sorted(labels, key=lambda l: (order.get(l.split()[0], len(order)), l))
    lines.append("| system | workload | figure | " + " | ".join(cols) + " |")
    lines.append("|---|---|---|" + "---:|" * len(cols))
    for sid, wl, what, cells in table:
        lines.append(f"| {md_link(f'systems/{sid}.md', sid)} | {wl} | {what} | "
                     + " | ".join(cells.get(c, "") for c in cols) + " |")
    lines += ["", "Each cell: the backend's best figure among its current results (at its "
              "thread count, @N), and that row's % of its ceiling (the machine's read bandwidth "
              "or peak, measured in the same run). The lab workload: "
              "recompute mode, speedup over the serial reference in the same sweep."]
    return lines


def render_generated(reports, rows):
    current = [r for r in rows if r["status"] == "current"]
    systems = sorted({r.system for r in reports})
    n_files = len([r for r in reports if r.kind in ("sweep", "verify")])
    out = [BEGIN, "",
           f"[index.csv](index.csv): {len(rows)} rows from {n_files} sweep and verify files, "
           f"{len(current)} of them current. Each system's tables (ceilings, decode, prefill, "
           "the lab workload, verify): "
           + ", ".join(md_link(f"systems/{s}.md", s) for s in systems) + ".", ""]
    out += render_summary(reports, current)
    out += ["", END]
    return "\n".join(out) + "\n"


def render_system_pages(reports, rows):
    current = [r for r in rows if r["status"] == "current"]
    out = {}
    for sid in sorted({r.system for r in reports}):
        reps = [r for r in reports if r.system == sid]
        out[f"systems/{sid}.md"] = render_system_page(
            sid, reps, [r for r in current if r["system"] == sid])
    return out


def build_all(reports_dir):
    """{path relative to reports/: content} of every generated file; README.md whole."""
    reports = load_reports(reports_dir)
    rows = index_rows(reports)
    files = {"index.csv": render_index(rows)}
    files.update(render_systems(reports, reports_dir))
    files.update(render_system_pages(reports, rows))
    readme = os.path.join(reports_dir, "README.md")
    text = ""
    if os.path.exists(readme):
        with open(readme, encoding="utf-8") as f:
            text = f.read()
    files["README.md"] = splice(text, render_generated(reports, rows))
    return files, reports


def splice(text, block):
    """The README with its generated block replaced (appended when it has none)."""
    if BEGIN in text and END in text.split(BEGIN, 1)[1]:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + block.rstrip("\n") + tail
    return text + ("\n" if text and not text.endswith("\n") else "") + block


def misplaced(reports):
    """Result files not where `add` would put them."""
    out = []
    for r in reports:
        if r.in_results:
            want = result_dir(r.data)
            if os.path.dirname(r.path) != want:
                out.append(f"{r.path}: belongs in {want}/")
    return out


def generated_on_disk(reports_dir):
    systems = os.path.join(reports_dir, "systems")
    if not os.path.isdir(systems):
        return []
    return sorted(f"systems/{n}" for n in os.listdir(systems)
                  if (n.endswith(".txt") and not n.endswith(".lscpu.txt")) or n.endswith(".md"))


# ---------------------------------------------------------------------------
# Commands.

def cmd_build(reports_dir):
    files, reports = build_all(reports_dir)
    for stale in set(generated_on_disk(reports_dir)) - set(files):
        os.remove(os.path.join(reports_dir, stale))
        print(f"removed {stale}")
    for rel, content in sorted(files.items()):
        path = os.path.join(reports_dir, rel)
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if old != content:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(content)
            print(f"wrote {os.path.relpath(path, ROOT) if path.startswith(ROOT) else path}")
    for line in misplaced(reports):
        print(f"warning: {line}", file=sys.stderr)
    return 0


def cmd_check(reports_dir):
    files, reports = build_all(reports_dir)
    problems = list(misplaced(reports))
    for stale in sorted(set(generated_on_disk(reports_dir)) - set(files)):
        problems.append(f"{stale}: no report of this system any more (build removes it)")
    for rel, content in sorted(files.items()):
        path = os.path.join(reports_dir, rel)
        if not os.path.exists(path):
            problems.append(f"{rel}: missing")
            continue
        with open(path, encoding="utf-8") as f:
            old = f.read()
        if old == content:
            continue
        if rel == "README.md" and BEGIN not in old:
            problems.append(f"{rel}: has no {BEGIN} ... {END} block")
            continue
        a, b = old.splitlines(), content.splitlines()
        removed = len([x for x in a if x not in set(b)])
        added = len([x for x in b if x not in set(a)])
        problems.append(f"{rel}: differs from the data ({added} lines to add, {removed} to remove)")
    for p in problems:
        print(f"reports.py check: {p}")
    if problems:
        print("reports.py check: run `python3 scripts/reports.py build` and commit the result")
        return 1
    return 0


def copy_run(json_path, reports_dir):
    with open(json_path, encoding="utf-8") as f:
        data = json.load(f)
    kind = "microbench" if "benchmarks" in data else data.get("kind")
    if kind not in ("sweep", "verify", "microbench"):
        raise SystemExit(f"reports.py add: {json_path}: not a gpt2-bench sweep or verify report "
                         f"nor gpt2-microbench JSON (kind {kind!r})")
    stem = result_stem(json_path, data)
    old_stem = os.path.splitext(os.path.basename(json_path))[0]
    dest_dir = os.path.join(reports_dir, result_dir(data))
    os.makedirs(dest_dir, exist_ok=True)
    src_base = os.path.splitext(json_path)[0]
    written = []
    for ext in (".json",) + SIBLINGS:
        src = src_base + ext
        if not os.path.exists(src):
            continue
        dest = os.path.join(dest_dir, stem + ext)
        if os.path.abspath(src) == os.path.abspath(dest):
            continue
        if ext == ".md" and stem != old_stem:
            with open(src, encoding="utf-8") as f:
                text = f.read().replace(f"]({old_stem}.svg)", f"]({stem}.svg)")
        else:
            text = None
        if os.path.exists(dest):
            same = (open(dest, encoding="utf-8").read() == text) if text is not None else \
                open(dest, "rb").read() == open(src, "rb").read()
            if same:
                continue
            raise SystemExit(f"reports.py add: {dest} exists with other content")
        if text is not None:
            with open(dest, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        else:
            shutil.copyfile(src, dest)
        written.append(dest)
    sid = system_id(data)
    if not os.path.exists(os.path.join(reports_dir, "systems", f"{sid}.lscpu.txt")):
        print(f"note: no reports/systems/{sid}.lscpu.txt yet: `lscpu > reports/systems/{sid}.lscpu.txt` "
              f"on that machine adds its caches and topology to systems/{sid}.txt", file=sys.stderr)
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--reports", default=os.path.join(ROOT, "reports"),
                    help="the reports folder (default: this checkout's reports/)")
    sub = ap.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="file gpt2-bench reports, then build")
    add.add_argument("runs", nargs="+", metavar="RUN.json")
    sub.add_parser("build", help="regenerate index.csv, systems/*.txt and README's block")
    sub.add_parser("check", help="exit 1 if the generated files differ from the data")
    a = ap.parse_args(argv)
    if a.command == "add":
        for run in a.runs:
            for path in copy_run(run, a.reports):
                print(f"added {os.path.relpath(path, a.reports)}")
        return cmd_build(a.reports)
    if a.command == "build":
        return cmd_build(a.reports)
    return cmd_check(a.reports)


if __name__ == "__main__":
    sys.exit(main())
