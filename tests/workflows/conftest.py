"""What the workflow tests share."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ablation():
    """scripts/experiments/ablation.py as a module (scripts are not a package); registered in `sys.modules`
    for its dataclasses while a test module uses it."""
    spec = importlib.util.spec_from_file_location("ablation_script", ROOT / "scripts" / "experiments" / "ablation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ablation_script"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("ablation_script", None)
