"""Shared cases of the batch featurizer's tests (`test_element_stats.py`, `test_descriptors.py`,
`test_assemble.py`): ~970 diverse compositions with notation, tags and family label, matminer's own
`presets.featurize` of them, and the cell-by-cell comparison."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from sulfml.chem.elements import element_tables
from sulfml.featurize.presets import featurize
from sulfml.parse.formula import parse_formula

TOL = 1e-9

# Real electrolytes in the notations the parser reads (plain, fractional, mixtures, dopants, hydrates).
FORMULAS = [
    "Li6PS5Cl", "Li6PS5Br", "Li6PS5I", "Li5.5PS4.5Cl1.5", "Li5.4PS4.4Cl1.6", "Li6.6P0.4Ge0.6S5I",
    "Li10GeP2S12", "Li10SnP2S12", "Li10SiP2S12", "Li9.54Si1.74P1.44S11.7Cl0.3", "Li11Si2PS12",
    "Li7P3S11", "Li3PS4", "Li4P2S6", "Li7PS6", "Li3InCl6", "Li3YCl6", "Li3YBr6", "Li2ZrCl6", "Li3ScCl6",
    "0.75Li2S-0.25P2S5", "70Li2S-30P2S5", "(Li2S)0.75(P2S5)0.25", "Li4GeS4", "Li4SnS4", "Li3.25Ge0.25P0.75S4",
    "Li7La3Zr2O12", "Li6.4La3Zr1.4Ta0.6O12", "Li6.25Al0.25La3Zr2O12", "Li0.33La0.56TiO3", "Li3OCl", "Li2OHCl",
    "Li1.3Al0.3Ti1.7(PO4)3", "Li1.5Al0.5Ge1.5(PO4)3", "Li14Zn(GeO4)4", "Li3.5Si0.5P0.5O4", "Li3N", "LiBH4",
    "Li2B12H12", "LiI", "Li3PO4", "Li10Ge(P0.925Sb0.075)2S12", "Li6PS5Cl0.5Br0.5", "Li6PO5Cl",
    "Li9.6Ba0.2GeP2S12", "Li3InCl6·2H2O", "Li7P2S8I", "Li3SbS4", "Na3PS4", "LiTi2(PO4)3",
]


def _random_compositions(n: int, seed: int) -> list[dict[str, float]]:
    """Deterministic, diverse compositions: any element, 1-8 of them, integer/fractional/tiny amounts."""
    rng = np.random.default_rng(seed)
    elements = list(element_tables().symbols)
    common = ["Li", "P", "S", "Cl", "Br", "I", "O", "Ge", "Si", "Sn", "La", "Zr", "Ti", "Al", "N", "H", "F",
              "Se", "Te", "B", "Ga", "In", "Y", "Ta", "Nb", "Sb", "As", "Na", "K", "Mg", "Ca", "Zn", "Bi", "W"]
    out = []
    for i in range(n):
        k = int(rng.integers(1, 9))
        pool = common if i % 2 else elements
        els = rng.choice(pool, size=min(k, len(pool)), replace=False)
        kind = i % 6
        if kind == 0:
            amts = rng.integers(1, 13, size=len(els)).astype(float)
        elif kind == 1:
            amts = np.round(rng.uniform(0.01, 12, size=len(els)), 3)
        elif kind == 2:
            amts = rng.uniform(0, 1, size=len(els))
        elif kind == 3:
            # tiny amounts, and some under pymatgen's 1e-8 tolerance (dropped)
            amts = 10.0 ** rng.uniform(-9.5, 1, size=len(els))
        elif kind == 4:
            # ties on the largest amount exercise the mode's tie-break
            amts = np.full(len(els), 2.0)
            amts[-1] = float(rng.integers(1, 3))
        else:
            amts = rng.integers(1, 5, size=len(els)) * 0.25
        out.append({str(e): float(x) for e, x in zip(els, amts, strict=True)})
    return out


def _doped(seed: int) -> list[dict[str, float]]:
    """Electrolyte formulas with a random dopant or amount change, to walk the family windows."""
    rng = np.random.default_rng(seed)
    dopants = ["Si", "Ge", "Sn", "Sb", "Al", "Ga", "Ba", "Ca", "Zr", "Ta", "Nb", "Se", "O", "Br", "I", "Cl"]
    out = []
    for f in FORMULAS:
        base = parse_formula(f).composition
        for _ in range(4):
            comp = dict(base)
            el = str(rng.choice(list(comp)))
            comp[el] = round(comp[el] * float(rng.uniform(0.7, 1.3)), 3)
            d = str(rng.choice(dopants))
            comp[d] = comp.get(d, 0.0) + round(float(rng.uniform(0.01, 0.8)), 3)
            out.append(comp)
    return out


EDGE_CASES: list[dict[str, float]] = [
    {"Fe": 1.0}, {"Li": 3.0}, {"He": 2.0}, {"Og": 1.0},  # single elements, incl. no oxidation states
    {"Li": 1.0, "He": 1.0},  # an element without common oxidation states: never a neutral compound
    {"Li": 1.0, "Cl": 1.0}, {"Li": 2.0, "S": 1.0},
    {"Li": 1.0, "Na": 1.0, "Cl": 1.0, "Br": 1.0},  # all amounts tie
    {"Li": 1.0, "S": 1.0 + 1e-6}, {"Li": 1.0, "S": 1.0 + 1e-4},  # within / beyond np.isclose of the max
    {"D": 2.0, "O": 1.0}, {"H": 1.0, "D": 2.0, "T": 0.5, "O": 1.0}, {"Li": 1.0, "B": 1.0, "D": 4.0},
    {"Li": 1e-9, "S": 1.0},  # under the tolerance: dropped, a single element remains
    {"Li": 1e-8, "S": 1e-8}, {"Li": 2e-8, "S": 1e-8},
    {"Li": 0.0, "S": 1.0}, {"Li": -1.0, "P": 1.0, "S": 4.0}, {"Li": float("nan"), "Cl": 1.0},
    {"C": 1.0, "Cl": 1.0, "N": 1.0, "S": 1.0, "I": 1.0, "Mn": 1.0, "Se": 1.0, "Te": 1.0},  # many states
    {"Li": 7.0, "La": 3.0, "Zr": 2.0, "O": 12.0, "Te": 0.5, "H": 0.3},  # Te and H as cations with O
    {"Li": 3.0, "N": 1.0, "H": 2.0, "Te": 1.0},
]

NOTATIONS = ["plain", "glass", "host+dopant", "composite", "hydrate", None, float("nan"), " Glass ", 3]
TAGS = ["", "glass-ceramic", "doped", "amorphous;polymorph:β", "glass", "composite; hydrate", None, "dopant:Al"]
FAMILY_LABELS = [None, "Argyrodites", "Oxides", "Glass", "Glass-Ceramic", "Olivine", "LGPS", float("nan"),
                 "Sulphides", 5, "garnet-like", "Thio-LISICON"]


@pytest.fixture(scope="session")
def batch_cases() -> pd.DataFrame:
    """The compositions with notation, tags and family label: real, doped, edge and random rows."""
    parsed = [parse_formula(f) for f in FORMULAS]
    assert all(p.ok for p in parsed), [p.input for p in parsed if not p.ok]
    comps = [p.composition for p in parsed] + _doped(7) + EDGE_CASES + _random_compositions(700, 11)
    n = len(comps)
    rng = np.random.default_rng(3)
    notation = [p.notation for p in parsed] + [NOTATIONS[i] for i in rng.integers(0, len(NOTATIONS), n - len(parsed))]
    tags = [";".join(p.tags) for p in parsed] + [TAGS[i] for i in rng.integers(0, len(TAGS), n - len(parsed))]
    # Half the rows without a label, so the composition rules decide.
    family = [FAMILY_LABELS[i] if i < len(FAMILY_LABELS) else None for i in rng.integers(0, 2 * len(FAMILY_LABELS), n)]
    return pd.DataFrame({"composition": comps, "notation": notation, "tags": tags, "family": family})


@pytest.fixture(scope="session")
def matminer_reference(batch_cases: pd.DataFrame) -> pd.DataFrame:
    """`presets.featurize(batch_cases, "composition-v1")`: matminer's featurizers and ours, one row at a time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return featurize(batch_cases, "composition-v1")


def _mismatches(ref: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, float]:
    """Cells that disagree (beyond TOL absolute, or relative for |values| > 1, or in NaN-ness); max abs diff."""
    nan_ref, nan_got = np.isnan(ref), np.isnan(got)
    both = ~nan_ref & ~nan_got
    diff = np.where(both, np.abs(ref - got), 0.0)
    bad = (nan_ref != nan_got) | (diff > TOL * np.maximum(1.0, np.abs(np.where(both, ref, 0.0))))
    return bad, float(diff.max(initial=0.0))


def _report(frame: pd.DataFrame, names: list[str], ref: np.ndarray, got: np.ndarray, bad: np.ndarray) -> str:
    cells = np.argwhere(bad)[:10]
    return "\n".join(f"{frame['composition'].iloc[r]} {names[c]}: reference {ref[r, c]!r} batch {got[r, c]!r}"
                     for r, c in cells)


@pytest.fixture
def mismatches() -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float]]:
    """The cells where two tables disagree beyond `TOL`, and the largest absolute difference."""
    return _mismatches


@pytest.fixture
def assert_agrees() -> Callable[..., float]:
    """Asserts two (rows, columns) tables agree to `TOL` (NaN where the other is NaN); returns the max diff."""

    def check(frame: pd.DataFrame, names: list[str], ref: np.ndarray, got: np.ndarray) -> float:
        assert got.shape == ref.shape
        bad, max_diff = _mismatches(ref, got)
        assert not bad.any(), _report(frame, names, ref, got, bad)
        return max_diff

    return check

