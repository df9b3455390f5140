"""Wall time of the fast test lane (`pytest -m "not slow"`), the everyday check, against its target.

Usage: SULFML_DATA_DIR=... .venv/bin/python benchmarks/fast_lane.py [--output FILE] [-- PYTEST ARGS]
Target: the lane finishes in under 3 minutes on the 2-core machine. It prints the wall time, the number of
tests, the slowest 10 and the load average when it started (the machine is shared; a loaded run is slower).
Exit 1 when the target is missed or a test fails. The full suite (slow tests included) stays in `.ci/run`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 180.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", help="write the measurement as JSON here")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                           "--durations=10", *args.pytest_args], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    passed = re.search(r"(\d+) passed", summary)
    slowest = [line for line in done.stdout.splitlines() if re.match(r"^\d+\.\d+s (call|setup|teardown)", line)]
    result = {"wall_s": round(wall, 1), "target_s": TARGET_S, "tests_passed": int(passed[1]) if passed else 0,
              "returncode": done.returncode, "load_at_start": round(load, 2), "summary": summary}
    print(f"fast lane: {wall:.0f} s (target < {TARGET_S:.0f} s), load {load:.1f} at start; {summary}")
    for line in slowest:
        print("  " + line)
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2))
    return 0 if done.returncode == 0 and wall < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
