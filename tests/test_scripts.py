"""Every script and benchmark answers --help with its usage and does nothing else (no data, no training)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# a module the scripts share (benchmarks/latency.py) is not itself run
SCRIPTS = sorted(p for folder in ("scripts", "benchmarks") for p in (ROOT / folder).rglob("*.py")
                 if "__main__" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(p.relative_to(ROOT)) for p in SCRIPTS])
def test_help_prints_the_usage_and_runs_nothing(script, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SULFML_DATA_DIR": str(tmp_path / "no-data")}
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=180,
                          env=env, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.lstrip().startswith("usage:"), done.stdout[:200]
    assert not any(tmp_path.iterdir()), "--help wrote files"


def test_scripts_are_sorted_by_purpose():
    # the entry points and CI's setup stay at the top (the quick start and .ci/run call them); every Python
    # script sits in the folder of its purpose, which scripts/README.md describes
    loose = sorted(p.name for p in (ROOT / "scripts").glob("*.py"))
    assert loose == []
    folders = {p.parent.name for p in (ROOT / "scripts").rglob("*.py")}
    assert folders == {"tables", "docs", "experiments"}
    described = (ROOT / "scripts" / "README.md").read_text(encoding="utf-8")
    for p in (ROOT / "scripts").rglob("*"):
        if p.is_file() and p.suffix in {".py", ".sh"}:
            assert str(p.relative_to(ROOT / "scripts")) in described, p
