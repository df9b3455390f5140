"""The examples of the README and the docs pages are what the commands print and what the API returns, and
the models tables are the shipped cards, so a changed number fails here instead of lying there."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _docs_script(name: str):
    """A generator of scripts/docs/ as a module (scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "docs" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLES = _docs_script("readme_examples")
PAGES = {str(page.relative_to(ROOT)): page.read_text(encoding="utf-8") for page in EXAMPLES.pages()}
CASES = [(name, command, block) for name, text in PAGES.items() for command, block in EXAMPLES.examples(text)]
MODELS_ROW = re.compile(
    r"^\| (?P<target>log10 σ|Ea) .*?\| (?P<n>[\d,]+) \| (?P<mae>[\d.]+)(?: \((?P<unc>[\d.]+) without the censored rows\))? "
    r"\| (?P<rmse>[\d.]+) \| (?P<r2>[\d.]+) \| (?P<rho>[\d.]+) \|$", re.M)


def test_the_pages_are_the_readme_and_the_docs():
    assert "README.md" in PAGES
    assert "docs/notations.md" in PAGES and "docs/getting-started.md" in PAGES


def test_the_docs_have_the_state_example():
    commands = [c for name, c, _ in CASES if name == "docs/state-and-structure.md"]
    assert 'sulfml predict --format table Li7P3S11 70Li2S-30P2S5 "Li7P3S11 glass-ceramic"' in commands


def test_the_readme_has_an_example():
    assert EXAMPLES.examples(PAGES["README.md"])


@pytest.mark.parametrize("page, command, block", CASES, ids=[f"{n}: {c}" for n, c, _ in CASES])
def test_command_examples_are_what_the_commands_print(page, command, block):
    assert block == EXAMPLES.run_example(command), f"{page}: run python scripts/docs/readme_examples.py"


def _api_lines(text: str) -> list[tuple[str, str]]:
    """(expression, expected repr) of a page's Python lines that end in a `# 'value'` comment."""
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return [(m["expr"].strip(), m["value"]) for block in blocks for m in re.finditer(
        r"^(?P<expr>[^#\n]+?)\s+#\s*(?P<value>'[^']*')\s*$", block, re.M)]


@pytest.mark.parametrize("page", ["README.md", "docs/getting-started.md"])
def test_python_api_lines_return_what_the_page_says(page):
    from sulfml.parse.formula import parse_formula

    lines = _api_lines(PAGES[page])
    assert lines, f"{page} has no checked Python lines"
    for expr, value in lines:
        assert eval(expr, {"parse_formula": parse_formula}) == ast.literal_eval(value), expr  # noqa: S307


@pytest.mark.parametrize("page", ["README.md", "docs/index.md", "docs/training.md"])
def test_the_models_table_is_the_shipped_cards(page):
    import json

    from sulfml.tracking.bundle import shipped_bundle_dir

    rows = {m["target"]: m for m in MODELS_ROW.finditer(PAGES[page])}
    assert set(rows) == {"log10 σ", "Ea"}
    for label, target in (("log10 σ", "log10_sigma"), ("Ea", "ea_eV")):
        card = json.loads((shipped_bundle_dir() / target / "card.json").read_text())["metrics"]
        row = rows[label]
        assert int(row["n"].replace(",", "")) == card["cv_n"]
        for key, name in (("mae", "cv_mae"), ("rmse", "cv_rmse"), ("r2", "cv_r2"), ("rho", "cv_spearman")):
            assert float(row[key]) == round(card[name], 3), (label, key)


SPEED = _docs_script("speed_section")


@pytest.mark.parametrize("page", SPEED.PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_speed_sections_are_the_last_measured_run(page):
    text = page.read_text(encoding="utf-8")
    assert SPEED.BLOCK.search(text), f"{page.name} has no speed block"
    assert SPEED.regenerate(text) == text, "run python scripts/docs/speed_section.py"


def test_the_speed_section_shows_every_target_and_stage_as_measured():
    result = {"command": "benchmarks/predict_speed.py", "commit": "abc1234", "date": "2026-01-01", "cpus": 2,
              "load_average": [1.0, 1.5], "n": 1000, "models_own_s": 0.25, "profiled_s": 4.0,
              "stages": {"parse formulas": 1.0, "featurize": 2.0, "neural member": 0.0},
              "targets": [{"measure": "end to end", "value": "3.2x", "target": "<= 2.5x", "met": False},
                          {"measure": "cold start", "value": "0.2", "target": "<= 0.25", "met": True}]}
    text = SPEED.render(result)
    assert "| end to end | 3.2x | <= 2.5x | **not met** |" in text
    assert "| cold start | 0.2 | <= 0.25 | met |" in text
    assert "| featurize | 2.00 | 50% |" in text and "neural member" not in text  # a stage that did not run
    assert "| the rest (loading the models, output columns, notes) | 1.00 | 25% |" in text
    assert "abc1234" in text and "load average 1.0" in text
