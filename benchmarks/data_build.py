"""Time `sulfml data build` on the full data, bypassing the table cache; target: under 30 s on 2 cores.

Usage: SULFML_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/data_build.py
(without SULFML_DATA_DIR the datasets are taken from, or first downloaded into, the user cache).
"""

from __future__ import annotations

import subprocess
import sys
import time

TARGET_S = 30.0


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sulfml", *args], capture_output=True, text=True)
    return time.perf_counter() - t0, proc


def main() -> int:
    timed("data", "build")  # make sure the files are present, so no download is timed
    cold, proc = timed("data", "build", "--no-cache")
    warm, _ = timed("data", "info", "--json")
    print(proc.stdout.strip() or proc.stderr.strip()[-2000:])
    print(f"data build --no-cache (whole process, incl. interpreter start): {cold:.1f} s (target < {TARGET_S:.0f} s)")
    print(f"data info from the cached table (whole process): {warm:.1f} s")
    return 0 if proc.returncode == 0 and cold < TARGET_S else 1


if __name__ == "__main__":
    import argparse

    # no options: --help shows the docstring, and nothing is run
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    sys.exit(main())
