#!/usr/bin/env python3
"""CI's summary of the tests that did not run: each skipped CTest test (a
GoogleTest GTEST_SKIP, the CUDA binary's exit 77, a test registered as left out
because this machine lacks what it needs: tests/CMakeLists.txt's
gpt2_left_out_test) named, grouped by the reason it printed.

    scripts/ci-summary.py JUNIT.xml [JUNIT.xml ...]   (ctest --output-junit)

Prints "ci-summary: N tests did not run" and one block per reason; exits 0
(the test run's own status is CTest's)."""
import os
import sys
import xml.etree.ElementTree as ET
from collections import OrderedDict


def reason_of(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if " not run: " in line:  # gpt2_left_out_test
            return line.split(" not run: ", 1)[1]
        if line.endswith(": Skipped") and i + 1 < len(lines):  # GTEST_SKIP() << why
            nxt = lines[i + 1]
            if not nxt.startswith("[  SKIPPED ]"):
                return nxt
        if "tests skipped" in line or "no CUDA device" in line:
            return line
    return lines[-1] if lines else "(no output)"


def skipped_tests(path: str):
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        status = case.get("status", "")
        if case.find("skipped") is None and status not in ("notrun", "disabled"):
            continue
        out = case.findtext("system-out") or ""
        yield case.get("name", "?").split("  # GetParam()")[0], reason_of(out)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    groups = OrderedDict()
    for path in argv[1:]:
        try:
            build = os.path.basename(os.path.dirname(os.path.abspath(path)))
            for name, why in skipped_tests(path):
                key = f"{why} [{build}]" if len(argv) > 2 else why
                groups.setdefault(key, []).append(name)
        except (OSError, ET.ParseError) as e:
            print(f"ci-summary: cannot read {path}: {e}", file=sys.stderr)
            return 2
    total = sum(len(v) for v in groups.values())
    print(f"ci-summary: {total} tests did not run")
    for why, names in groups.items():
        print(f"  {len(names)} because: {why}")
        shown = names if len(names) <= 12 else names[:10]
        for n in shown:
            print(f"    {n}")
        if len(shown) < len(names):
            print(f"    ... and {len(names) - len(shown)} more")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
