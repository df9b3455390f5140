"""Time `sulfml data build` on the full data, without the cache; target: under 30 s on 2 cores.

Usage: SULFML_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/data_build.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

TARGET_S = 30.0


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        env_cmd = ["env", f"SULFML_CACHE_DIR={cache}"]
        t0 = time.perf_counter()
        proc = subprocess.run([*env_cmd, "sulfml", "data", "build", "--no-cache"], capture_output=True, text=True)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([*env_cmd, "sulfml", "data", "info", "--json"], capture_output=True, text=True, check=True)
        warm = time.perf_counter() - t0
    print(proc.stdout.strip() or proc.stderr.strip())
    print(f"data build (no cache, incl. interpreter start): {cold:.1f} s (target < {TARGET_S:.0f} s)")
    print(f"data info (cached table): {warm:.1f} s")
    return 0 if proc.returncode == 0 and cold < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
