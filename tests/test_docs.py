"""The documentation site builds without a warning (`mkdocs build --strict`): every page is in the nav, every
link and anchor resolves, and every API page renders from the docstrings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs tools are the `docs` extra")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"  # the build writes nothing into the checkout
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-4000:]
    for page in ("index.html", "reference/index.html", "notations/index.html", "architecture/index.html"):
        assert (site / page).is_file(), page
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    for name in ("Predictor", "parse_formula", "KeyedComposition", "SulfmlError", "get_preset"):
        assert name in reference, name
    assert (site / "tutorials" / "first_screen.ipynb").is_file()
