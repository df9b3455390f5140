"""The README's examples are what the commands print and what the API returns, so a changed number fails
here instead of lying there."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _examples_module():
    spec = importlib.util.spec_from_file_location("readme_examples", ROOT / "scripts" / "docs" / "readme_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLES = _examples_module()
TEXT = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_has_the_state_example():
    commands = [c for c, _ in EXAMPLES.examples(TEXT)]
    assert 'sulfml predict --format table Li7P3S11 70Li2S-30P2S5 "Li7P3S11 glass-ceramic"' in commands


@pytest.mark.parametrize("command, block", EXAMPLES.examples(TEXT), ids=[c for c, _ in EXAMPLES.examples(TEXT)])
def test_command_examples_are_what_the_commands_print(command, block):
    assert block == EXAMPLES.run_example(command), "run: python scripts/docs/readme_examples.py"


def _api_lines() -> list[tuple[str, str]]:
    """(expression, expected repr) of the README's Python lines that end in a `# 'value'` comment."""
    section = TEXT.split("## Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    return [(m["expr"].strip(), m["value"]) for m in re.finditer(
        r"^(?P<expr>[^#\n]+?)\s+#\s*(?P<value>'[^']*')\s*$", section, re.M)]


def test_python_api_lines_return_what_the_readme_says():
    from sulfml.parse.formula import parse_formula

    lines = _api_lines()
    assert lines, "the Python API section has no checked lines"
    for expr, value in lines:
        assert eval(expr, {"parse_formula": parse_formula}) == ast.literal_eval(value), expr  # noqa: S307


def test_the_models_table_is_the_shipped_cards():
    import json

    from sulfml.tracking.bundle import shipped_bundle_dir

    section = TEXT.split("## Models", 1)[1].split("## ", 1)[0]
    rows = {m["target"]: m for m in re.finditer(
        r"^\| (?P<target>log10 σ|Ea) .*?\| (?P<n>[\d,]+) \| (?P<mae>[\d.]+)(?: \((?P<unc>[\d.]+) without the censored rows\))? "
        r"\| (?P<rmse>[\d.]+) \| (?P<r2>[\d.]+) \| (?P<rho>[\d.]+) \|$", section, re.M)}
    assert set(rows) == {"log10 σ", "Ea"}
    for label, target in (("log10 σ", "log10_sigma"), ("Ea", "ea_eV")):
        card = json.loads((shipped_bundle_dir() / target / "card.json").read_text())["metrics"]
        row = rows[label]
        assert int(row["n"].replace(",", "")) == card["cv_n"]
        for key, name in (("mae", "cv_mae"), ("rmse", "cv_rmse"), ("r2", "cv_r2"), ("rho", "cv_spearman")):
            assert float(row[key]) == round(card[name], 3), (label, key)
