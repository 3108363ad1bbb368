"""scripts/reports.py: its names and keys, and add/build/check on a small reports tree
made from a schema-2 sweep (ceilings per measurement) in fixtures/.

    python3 -m unittest discover -s tests/scripts -p 'test_*.py'
"""
import contextlib
import copy
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import reports  # noqa: E402

FIXTURE = os.path.join(HERE, "fixtures", "sweep-schema2.json")


def load_fixture():
    with open(FIXTURE, encoding="utf-8") as f:
        return json.load(f)


def quietly(fn, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = fn(*args)
    return rc, out.getvalue()


class SystemIdTest(unittest.TestCase):
    def test_cpu_models(self):
        cases = {
            ("Intel(R) Xeon(R) Processor", 16): "intel-xeon-16cpu",
            ("AMD EPYC", 2): "amd-epyc-2cpu",
            ("Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz", 224): "intel-xeon-platinum-8480-224cpu",
            ("AMD EPYC 9R14 96-Core Processor", 8): "amd-epyc-9r14-96-core-8cpu",
            ("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", 12): "intel-core-i7-8700-12cpu",
        }
        for (model, cpus), want in cases.items():
            self.assertEqual(reports.system_id({"machine": {"cpu_model": model, "logical_cpus": cpus}}), want)

    def test_gpus_are_appended_per_kind(self):
        machine = {"cpu_model": "Intel(R) Xeon(R) Processor", "logical_cpus": 16}
        data = {"machine": machine, "gpus": [{"name": "NVIDIA H200"}, {"name": "NVIDIA H200"}]}
        self.assertEqual(reports.system_id(data), "intel-xeon-16cpu-2xnvidia-h200")
        data = {"machine": dict(machine, gpus=["NVIDIA H100 80GB HBM3"])}
        self.assertEqual(reports.system_id(data), "intel-xeon-16cpu-1xnvidia-h100-80gb-hbm3")

    def test_microbench_context(self):
        data = {"context": {"cpu_model": "Intel(R) Xeon(R) Processor", "num_cpus": 16}, "benchmarks": []}
        self.assertEqual(reports.system_id(data), "intel-xeon-16cpu")
        self.assertEqual(reports.workload_id(data), "microbench")


class WorkloadIdTest(unittest.TestCase):
    def sweep(self, prompts, new_per_run=None):
        return {"kind": "sweep", "workload": {"prompts": prompts, "new_tokens_per_run": new_per_run}}

    def test_one_prompt(self):
        self.assertEqual(reports.workload_id(self.sweep([{"id": "lab-hello", "n": 10, "prompt_tokens": 5}])),
                         "lab-hello+5")
        self.assertEqual(reports.workload_id(self.sweep([{"id": "long-512", "n": 513, "prompt_tokens": 512}])),
                         "long-512+1")
        self.assertEqual(reports.workload_id(self.sweep([{"id": "long-512"}], 2)), "long-512+2")

    def test_custom_prompt(self):
        self.assertEqual(reports.workload_id(self.sweep([{"id": "custom", "n": 10, "prompt_tokens": 7}])),
                         "custom-7+3")

    def test_several_prompts(self):
        same = [{"id": f"p{i}", "n": 14, "prompt_tokens": 10} for i in range(27)]
        self.assertEqual(reports.workload_id(self.sweep(same)), "27-prompts+4")
        mixed = same[:26] + [{"id": "x", "n": 20, "prompt_tokens": 10}]
        self.assertEqual(reports.workload_id(self.sweep(mixed)), "27-prompts")

    def test_verify(self):
        self.assertEqual(reports.workload_id({"kind": "verify", "rows": []}), "verify")


class NamesTest(unittest.TestCase):
    def test_stamp(self):
        self.assertEqual(reports.stamp("2026-11-22T03:43:24Z"), "2026-11-22T034324Z")
        self.assertEqual(reports.stamp("2026-11-21T23:45:58+00:00"), "2026-11-21T234558Z")
        self.assertEqual(reports.stamp("2026-11-22T01:00:00+02:00"), "2026-11-21T230000Z")

    def test_result_stem(self):
        data = {"timestamp": "2026-11-21T23:56:34Z"}
        self.assertEqual(reports.result_stem("x/sweep.json", data), "2026-11-21T235634Z-sweep")
        self.assertEqual(reports.result_stem("x/2026-11-22T034357Z-sweep-pthreads-openmp.json", data),
                         "2026-11-22T034357Z-sweep-pthreads-openmp")

    def test_reproduce_command(self):
        self.assertEqual(reports.reproduce_command(
            "/work/main/build-devcarry-c237aef/bin/gpt2-bench --backend pthreads --out /root/out -q"),
            "build/bin/gpt2-bench --backend pthreads -q")
        self.assertEqual(reports.reproduce_command("gpt2-bench verify --out=/tmp/x --threads 3"),
                         "build/bin/gpt2-bench verify --threads 3")


class CurrentTest(unittest.TestCase):
    def row(self, path, date, threads=1, backend="pthreads"):
        return {"system": "s", "workload": "w", "backend": backend, "precision": "float32",
                "mode": "kv-cache", "threads": threads, "date": date, "path": path}

    def test_newest_under_results_is_current(self):
        rows = [self.row("results/s/w/a.json", "2026-11-21T00:00:00Z"),
                self.row("results/s/w/b.json", "2026-11-22T00:00:00Z"),
                self.row("studies/q/c.json", "2026-11-23T00:00:00Z"),
                self.row("results/s/w/a.json", "2026-11-21T00:00:00Z", threads=2),
                self.row("results/s/w/b.json", "2026-11-22T00:00:00Z", backend="openmp")]
        status = [r["status"] for r in reports.mark_current(rows)]
        self.assertEqual(status, ["superseded", "current", "superseded", "current", "current"])

    def test_same_time_is_decided_by_path(self):
        rows = [self.row("results/s/w/b.json", "t"), self.row("results/s/w/a.json", "t")]
        self.assertEqual([r["status"] for r in reports.mark_current(rows)], ["current", "superseded"])


class TreeTest(unittest.TestCase):
    """add, build and check on a temporary reports tree."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.reports = os.path.join(self.tmp, "reports")
        self.runs = os.path.join(self.reports, "runs")
        os.makedirs(self.runs)
        with open(os.path.join(self.reports, "README.md"), "w") as f:
            f.write(f"# Reports\n\nhand-written\n\n{reports.BEGIN}\n{reports.END}\n\ntail\n")
        for ext in (".json", ".md", ".svg"):
            shutil.copy(FIXTURE[:-5] + ext, self.runs)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write_run(self, name, data):
        path = os.path.join(self.runs, name)
        with open(path, "w") as f:
            json.dump(data, f)
        return path

    def read(self, rel):
        with open(os.path.join(self.reports, rel), encoding="utf-8") as f:
            return f.read()

    def test_add_build_check(self):
        rc, _ = quietly(reports.main, ["--reports", self.reports, "add",
                                       os.path.join(self.runs, "sweep-schema2.json")])
        self.assertEqual(rc, 0)
        system = "intel-xeon-platinum-8480-16cpu"
        folder = f"results/{system}/long-512+32"
        stem = "2027-01-02T030405Z-sweep-schema2"
        for ext in (".json", ".md", ".svg"):
            self.assertTrue(os.path.exists(os.path.join(self.reports, folder, stem + ext)), ext)
        self.assertIn(f"![speedup]({stem}.svg)", self.read(f"{folder}/{stem}.md"))

        readme = self.read("README.md")
        self.assertTrue(readme.startswith("# Reports\n\nhand-written\n"))
        self.assertTrue(readme.endswith(f"{reports.END}\n\ntail\n"))
        # The summary: each backend's best figure, its thread count and its % of ceiling.
        self.assertIn(f"| [{system}](systems/{system}.md) | long-512+32 | decode tokens/s | 200 @16 (61%) |",
                      readme)
        readme = self.read(f"systems/{system}.md")  # the system's own tables
        self.assertTrue(readme.startswith(f"# {system}\n"))
        self.assertIn("| long-512+32 | pthreads | 25.6 (82% of read bw) | 80.0 (76% of read bw) | "
                      "200 (61% of read bw) |", readme)
        self.assertIn("| read bandwidth, GB/s | 15.6 | 53.0 | 164 |", readme)
        self.assertIn("| bf16 peak (AMX), GFLOP/s | 900 | 3600 | 14400 |", readme)
        self.assertIn("`build/bin/gpt2-bench --backend pthreads --threads 1,4,16 --prompt long-512 "
                      "--new 32 --mode kv-cache` at 0123456", readme)
        self.assertIn(f"[{stem}.md](../{folder}/{stem}.md)", readme)  # links from systems/
        lab = readme.split("## Lab workload")[1].split("##")[0]
        self.assertIn("no result yet", lab)
        prefill = readme.split("## Prefill")[1].split("##")[0]
        self.assertIn("no result yet", prefill)

        index = self.read("index.csv").splitlines()
        self.assertEqual(index[0].split(","), reports.INDEX_COLUMNS)
        self.assertEqual(len(index), 4)
        self.assertTrue(index[1].endswith(f",82.1,{folder}/{stem}.json,current"), index[1])
        facts = self.read(f"systems/{system}.txt")
        self.assertIn("L3 cache: 105 MiB", facts)
        self.assertIn("cpu family/model: 6/143", facts)

        self.assertEqual(quietly(reports.main, ["--reports", self.reports, "check"])[0], 0)
        # adding the same run again changes nothing
        self.assertEqual(quietly(reports.main, ["--reports", self.reports, "add",
                                                os.path.join(self.runs, "sweep-schema2.json")])[0], 0)
        self.assertEqual(quietly(reports.main, ["--reports", self.reports, "check"])[0], 0)

    def test_newer_run_supersedes_and_prefill_table(self):
        data = load_fixture()
        quietly(reports.main, ["--reports", self.reports, "add", self.write_run(
            "2027-01-02T030405Z-sweep-pthreads.json", data)])
        newer = copy.deepcopy(data)
        newer["timestamp"] = "2027-01-03T00:00:00Z"
        newer["measurements"] = newer["measurements"][:1]
        quietly(reports.main, ["--reports", self.reports, "add", self.write_run(
            "2027-01-03T000000Z-sweep-pthreads.json", newer)])
        prefill = copy.deepcopy(data)
        prefill["timestamp"] = "2027-01-04T00:00:00Z"
        prefill["workload"]["prompts"] = [{"id": f"p{i}", "n": 101, "prompt_tokens": 100} for i in range(8)]
        quietly(reports.main, ["--reports", self.reports, "add", self.write_run(
            "2027-01-04T000000Z-sweep-pthreads.json", prefill)])
        index = [line.split(",") for line in self.read("index.csv").splitlines()[1:]]
        status = {(r[0], r[6]): r[-1] for r in index if r[7] == "long-512+32"}
        self.assertEqual(status, {("2027-01-02T03:04:05Z", "1"): "superseded",
                                  ("2027-01-02T03:04:05Z", "4"): "current",
                                  ("2027-01-02T03:04:05Z", "16"): "current",
                                  ("2027-01-03T00:00:00Z", "1"): "current"})
        self.assertEqual({r[7] for r in index}, {"long-512+32", "8-prompts+1"})
        readme = self.read("systems/intel-xeon-platinum-8480-16cpu.md")
        prefill_block = readme.split("## Prefill")[1].split("##")[0]
        self.assertIn("| 8-prompts+1 | pthreads | 25.6 (82% of read bw) |", prefill_block)

    def test_lab_table(self):
        data = load_fixture()
        data["workload"]["prompts"] = [{"id": "lab-hello", "n": 10, "prompt_tokens": 5}]
        quietly(reports.main, ["--reports", self.reports, "add", self.write_run(
            "2027-01-02T030405Z-sweep-pthreads.json", data)])
        page = self.read("systems/intel-xeon-platinum-8480-16cpu.md")
        lab = page.split("## Lab workload (lab-hello+5)")[1].split("##")[0]
        self.assertIn("| pthreads | kv-cache | 1.25 | 3.12 | 7.81 | 61% of read bw |", lab)
        self.assertIn("no result yet", page.split("## Decode")[1].split("##")[0])

    def test_gpu_ceilings(self):
        data = load_fixture()
        data["gpus"] = [{"index": 0, "name": "NVIDIA H100 80GB HBM3"}]
        data["gpu_ceilings"] = [{"device": 0, "name": "NVIDIA H100 80GB HBM3", "copy_bytes": 1 << 30,
                                 "copy_gb_s": 2901.3, "gemm_n": 8192, "fp32_gflops": 51234.4,
                                 "bf16_gflops": 612345.6, "seconds": 0.8}]
        cuda = copy.deepcopy(data["measurements"][0])
        cuda.update(backend="cuda", label="cuda", numerics="reordered", device="cuda", tokens_per_s=400.0,
                    ceiling={"achieved": 1000.0, "bound": "memory", "name": "GPU copy bandwidth",
                             "percent": 34.5, "unit": "GB/s", "value": 2901.3})
        data["measurements"].append(cuda)
        quietly(reports.main, ["--reports", self.reports, "add", self.write_run(
            "2027-01-02T030405Z-sweep-pthreads,cuda.json", data)])
        self.assertIn("(systems/intel-xeon-platinum-8480-16cpu-1xnvidia-h100-80gb-hbm3.md)",
                      self.read("README.md"))
        readme = self.read("systems/intel-xeon-platinum-8480-16cpu-1xnvidia-h100-80gb-hbm3.md")
        self.assertIn("# intel-xeon-platinum-8480-16cpu-1xnvidia-h100-80gb-hbm3", readme)
        self.assertIn("| GPU | copy GB/s | fp32 GFLOP/s | bf16 GFLOP/s | from |", readme)
        self.assertIn("| 0: NVIDIA H100 80GB HBM3 | 2901 | 51234 | 612346 | ", readme)
        self.assertIn("| long-512+32 | cuda | 400 (34% of GPU copy bw) |", readme)
        self.assertEqual(quietly(reports.main, ["--reports", self.reports, "check"])[0], 0)

    def test_check_fails_on_a_hand_edit(self):
        quietly(reports.main, ["--reports", self.reports, "add",
                               os.path.join(self.runs, "sweep-schema2.json")])
        for rel, old, new in (("README.md", "200 @16 (61%)", "210 @16 (61%)"),
                              ("systems/intel-xeon-platinum-8480-16cpu.md", "25.6 (82% of read bw)",
                               "26.6 (82% of read bw)")):
            path = os.path.join(self.reports, rel)
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace(old, new))
            rc, out = quietly(reports.main, ["--reports", self.reports, "check"])
            self.assertEqual(rc, 1)
            self.assertIn(f"{rel}: differs from the data", out)
            with open(path, "w") as f:
                f.write(text)
        # a result filed in the wrong folder is named too
        src = os.path.join(self.reports, "results", "intel-xeon-platinum-8480-16cpu", "long-512+32")
        os.rename(src, src.replace("long-512+32", "long-512+2"))
        rc, out = quietly(reports.main, ["--reports", self.reports, "check"])
        self.assertIn("belongs in results/intel-xeon-platinum-8480-16cpu/long-512+32/", out)

    def test_verify_and_no_results(self):
        verify = {"kind": "verify", "timestamp": "2027-01-05T00:00:00Z", "passed": False,
                  "command": "gpt2-bench verify --backend blis --threads 2 --out .",
                  "machine": {"cpu_model": "AMD EPYC", "logical_cpus": 2},
                  "build": {"git_commit": "abcdef012345-dirty"},
                  "rows": [{"backend": "blis", "precision": "float32", "threads": 2, "mode": m,
                            "rule": "median", "bit_exact": False, "passed": m == "recompute",
                            "max_abs_logit_diff": 2.5e-4, "logits_mismatches": 0}
                           for m in ("recompute", "kv-cache")]}
        quietly(reports.main, ["--reports", self.reports, "add", self.write_run(
            "2027-01-05T000000Z-verify-blis.json", verify)])
        self.assertIn("(systems/amd-epyc-2cpu.md)", self.read("README.md"))
        self.assertIn("no result yet", self.read("README.md"))  # nothing to summarize
        readme = self.read("systems/amd-epyc-2cpu.md")
        self.assertIn("# amd-epyc-2cpu", readme)
        self.assertIn("| FAILED | 2 | 2 | blis | 2 | kv-cache, recompute | median | 0.00025 | abcdef0-dirty |",
                      readme)
        for section in ("Decode", "Prefill", "Lab workload", "Ceilings"):
            self.assertIn("no result yet", readme.split(f"## {section}")[1].split("##")[0], section)
        index = self.read("index.csv")
        self.assertIn(",blis,kv-cache,float32,2,verify,,,FAILED,,", index)
        self.assertIn(",blis,recompute,float32,2,verify,,,tokens,,", index)


if __name__ == "__main__":
    unittest.main()
