"""The fast formula path returns exactly what parse_formula returns, or defers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sulfml.formula import parse_formula
from sulfml.formula_fast import ELECTRONEGATIVITY, SPECIAL_FORMULAS, parse_fast, reduced_formula

NOTATIONS = Path(__file__).resolve().parents[1] / "datasets" / "FORMULA_NOTATIONS.md"
SYMBOLS = sorted(ELECTRONEGATIVITY) + ["He", "Xx", "D", "T", "Bo", "Ro"]


def _num(rng) -> str:
    kind = int(rng.integers(0, 8))
    if kind == 0:
        return ""
    if kind == 1:
        return str(int(rng.integers(0, 20)))
    if kind == 2:
        return f"{rng.integers(0, 1000) / 1000:.3f}".rstrip("0")
    if kind == 3:
        return f".{rng.integers(0, 100)}"
    if kind == 4:
        return f"{rng.integers(1, 13)}."
    if kind == 5:
        return "1"
    if kind == 6:
        return f"{rng.random() * 10:.6f}"
    return "0"


def _compound(rng, common) -> str:
    out = []
    for _ in range(int(rng.integers(1, 6))):
        if rng.random() < 0.15:
            inner = "".join(rng.choice(common) + _num(rng) for _ in range(int(rng.integers(1, 4))))
            out.append(f"({inner}){_num(rng)}")
        else:
            out.append(rng.choice(common) + _num(rng))
    text = "".join(out)
    return text if text[0] != "(" or rng.random() < 0.1 else "Li" + text


def generated(n: int = 20000, seed: int = 1) -> list[str]:
    """Diverse texts: plain, grouped, glasses, typos and rejections, in many number formats."""
    rng = np.random.default_rng(seed)
    common = ["Li", "P", "S", "Cl", "Br", "I", "Ge", "Si", "Sn", "O", "La", "Zr", "Ti", "Al", "N", "H", "F",
              "Na", "K", "Cs", "Rb", "Se", "B", "C"]
    texts = []
    for i in range(n):
        pool = common if i % 4 else SYMBOLS
        kind = i % 10
        if kind < 6:
            text = _compound(rng, pool)
        elif kind < 8:
            parts = [f"{_num(rng) or '1'}{_compound(rng, pool)}" for _ in range(int(rng.integers(2, 4)))]
            text = "-".join(parts)
        else:
            text = _compound(rng, pool)
            pos = int(rng.integers(0, len(text) + 1))
            text = text[:pos] + str(rng.choice(["o", "-", " ", "(", ")", "%", ".", "*", "0", "glass"])) + text[pos:]
        texts.append(text)
    return texts


def integer_formulas() -> list[str]:
    """Integer compositions: gcd reduction, polyanions and pymatgen's special formulas."""
    out = ["LiO", "Li2O2", "NaO", "KO2", "H2O2", "O2", "N", "F2", "Cl2", "H", "Li4Fe4P4O16", "LiFePO4",
           "Li2SO4", "Li3PO4", "Li2CO3", "NaNO3", "Li4P2S6", "Li2B4O7", "LiBH4", "Li3N", "Li6PS5Cl",
           "Li7P3S11", "Li10GeP2S12", "Ca(OH)2", "Li2(SO4)2", "LiNbO3", "K2Cr2O7", "Li3OCl", "Li2SiO3"]
    return out + [f"Li{a}P{b}S{c}" for a in range(1, 8) for b in range(1, 4) for c in range(1, 9)]


def notation_examples() -> list[str]:
    """Every backticked example of datasets/FORMULA_NOTATIONS.md."""
    if not NOTATIONS.exists():
        return []
    return sorted(set(re.findall(r"`([^`\n]+)`", NOTATIONS.read_text(encoding="utf-8"))))


@pytest.mark.parametrize("texts", [generated(), integer_formulas(), notation_examples()],
                         ids=["generated", "integer", "notations"])
def test_fast_path_equals_parse_formula(texts):
    accepted = 0
    for text in texts:
        fast = parse_fast(text)
        if fast is not None:
            accepted += 1
            assert fast == parse_formula(text), text
            assert list(fast.composition) == list(parse_formula(text).composition), text
    assert accepted > 0


def test_fast_path_takes_the_common_notations():
    texts = ["Li6PS5Cl", "Li10Ge(P0.925Sb0.075)2S12", "Li5.5PS4.5Cl1.5", "70Li2S-30P2S5",
             "0.75Li2S-0.25P2S5", "Li1.3Al0.3Ti1.7(PO4)3", "Li6.4La3Zr1.4Ta0.6O12", "50Li2S-45P2S5-5LiI"]
    for text in texts:
        assert parse_fast(text) == parse_formula(text), text
    share = sum(parse_fast(t) is not None for t in generated(2000)[::10]) / 200
    assert share > 0.5


@pytest.mark.parametrize("text", ["", "glass Li3PS4", "β-Li3PS4", "Li3PS4 glass", "Lao.5Li0.5TiO3", "Li2S-P2S5",
                                  "LiTi2(PO4)3-0.2Li2O", "Li3PS4-5wt% Al2O3", "Xx2O", "Li0", "(Li2S)0.5(P2S5)0.5",
                                  "Li2 S", "LiHe", "Li3PS4·2H2O", "D2O", "Li1e-9Cl", "70Li2S-30P2S5-0Li"])
def test_defers_what_it_does_not_own(text):
    fast = parse_fast(text)
    assert fast is None or fast == parse_formula(text)


def test_tables_match_pymatgen():
    import math
    import warnings

    from pymatgen.core import Composition, Element

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ELECTRONEGATIVITY == {e.symbol: e.X for e in Element if not math.isnan(e.X)}
    assert SPECIAL_FORMULAS == Composition.special_formulas
    rng = np.random.default_rng(5)
    syms = sorted(ELECTRONEGATIVITY)
    for _ in range(3000):
        els = rng.choice(syms, size=int(rng.integers(1, 6)), replace=False)
        amts = rng.integers(1, 13, size=len(els)) * (1 if rng.random() < 0.6 else 0.25)
        comp = {str(e): float(a) for e, a in zip(els, amts, strict=True)}
        assert reduced_formula(comp) == Composition(comp).reduced_formula, comp
