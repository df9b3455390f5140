"""The fast formula path returns exactly what parse_formula returns, or defers."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.chem.batch import CompositionBatch
from sulfml.chem.elements import element_tables, pauling_electronegativity
from sulfml.parse.bulk import parse_fast, read_fast, read_many
from sulfml.parse.display import written_formula
from sulfml.parse.formula import composition_key, display_formula, parse_formula
from sulfml.parse.reduced import SPECIAL_FORMULAS, derived_formula, display_scale
from sulfml.parse.rules import python_round as _round

ELECTRONEGATIVITY = pauling_electronegativity()

ROOT = Path(__file__).resolve().parents[2]
NOTATIONS = ROOT / "docs" / "notations.md"
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
    """Every backticked example of docs/notations.md."""
    if not NOTATIONS.exists():
        return []
    return sorted(set(re.findall(r"`([^`\n]+)`", NOTATIONS.read_text(encoding="utf-8"))))


# the large random batches are the slow lane's (pytest -m "not slow" skips them); the fixed cases run always
SLOW = pytest.mark.slow


@pytest.mark.parametrize("texts", [pytest.param(generated(), marks=SLOW), integer_formulas(), notation_examples()],
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
                                  "Li2 S", "LiHe", "Li3PS4·2H2O", "D2O", "Li1e-9Cl"])
def test_defers_what_it_does_not_own(text):
    assert parse_fast(text) is None
    assert not read_many([text]).ok[0]


def test_a_zero_part_of_a_glass_is_read_as_the_parser_reads_it():
    assert parse_fast("70Li2S-30P2S5-0Li") == parse_formula("70Li2S-30P2S5-0Li")


@pytest.mark.slow
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
        assert derived_formula(comp) == display_formula(comp), comp
        scaled = displayed(comp)
        if all(abs(a - round(a)) < 1e-9 for a in scaled.values()):  # whole at its display scale
            assert display_formula(comp) == ungrouped(Composition(scaled).reduced_formula), comp


def displayed(comp: dict[str, float]) -> dict[str, float]:
    """The composition at its display scale (pymatgen then writes it as we do)."""
    from sulfml.chem.elements import element_tables

    index = element_tables().index
    els = np.array([[index[e] for e in comp]])
    factor = display_scale(els, np.array([list(comp.values())]), np.ones(els.shape, bool))[0]
    return {e: a * factor for e, a in comp.items()}


@pytest.mark.parametrize("texts, shown", [
    (["0.75Li2S-0.25P2S5", "75Li2S-25P2S5", "3Li2S-1P2S5", "1.5Li2S-0.5P2S5"], "Li3PS4"),
    (["70Li2S-30P2S5", "0.7Li2S-0.3P2S5", "7Li2S-3P2S5"], "Li7P3S11"),
    (["67Li2S-33P2S5", "0.67Li2S-0.33P2S5", "6.7Li2S-3.3P2S5"], "Li1.34P0.66S2.32"),
])
def test_a_glass_is_shown_the_same_at_any_scale(texts, shown):
    assert {parse_formula(t).formula for t in texts} == {shown}
    assert set(read_many(texts).formula) == {shown}


@pytest.mark.parametrize("texts", [
    ["Li3PS4", "Li6P2S8", "Li0.6P0.2S0.8", "0.75Li2S-0.25P2S5", "Li0.3P0.1S0.4"],
    ["70Li2S-30P2S5", "Li1.4P0.6S2.2", "Li14P6S22"],
    ["Li10Ge(P0.925Sb0.075)2S12", "Li5Ge0.5P0.925Sb0.075S6"],
    ["Li6.6P0.4Ge0.6S5I", "Li33Ge3P2S25I5"],
])
def test_the_spellings_of_a_composition_share_its_key_not_its_shown_formula(texts):
    """The identity is the composition key, whatever the spelling; a plain formula is shown as written."""
    fast = read_many(texts)
    assert len({composition_key(cast("dict[str, float]", fast.composition(i))) for i in range(len(texts))}) == 1
    plain = [t for t in texts if t[0].isalpha()]
    assert [fast.formula[texts.index(t)] for t in plain] == plain


def ungrouped(formula: str) -> str:
    """pymatgen's reduced formula with its trailing polyanion group, (PS6)2, written out: P2S12."""
    m = re.search(r"\(([A-Z][a-z]?)(\d*)([A-Z][a-z]?)(\d*)\)(\d+)$", formula)
    if m is None:
        return formula
    k = int(m.group(5))
    return formula[: m.start()] + f"{m.group(1)}{int(m.group(2) or 1) * k}{m.group(3)}{int(m.group(4) or 1) * k}"


def benchmark_formulas(n: int) -> list[str]:
    """The benchmark's screening-style formulas (plain, `(PO4)3` groups, glasses)."""
    spec = importlib.util.spec_from_file_location("featurize_speed", ROOT / "benchmarks" / "featurize_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.formulas(n)


EDGE_CASES = [
    "", "NaN", None, float("nan"), 1.5, b"Li2S", "nan", "Na", "N", "LiLi", "Li2S-Li2S", "LiLi2(LiO)2",
    "Li(LiO)2", "Li3(PO4)", "(PO4)3Li", "Li3(PO4", "Li3PO4)", "Li((PO4))", "Li()", "Li(PO4)(SO4)2",
    "Li(P(O4))", "Li(PO4)3.5.", "70Li2S-30P2(SO4)5", "70Li2S-30(P2S5)", "70(Li2S)-30P2S5", "Li2S-P2S5",
    "70Li2S-30P2S5-", "-70Li2S", "70Li2S--30P2S5", "70Li2S", "70Li2S-30P2S5-0Li", "1Li-2Li-3Li-4Li",
    "0.1Li-0.2Li-0.3Li", "0.7Li2S-0.3P2S5(PO4)2", "Li٣PS4", "Li₂S", "β-Li3PS4", "Li2 S", " Li2S", "Li2S ",
    "Li2S\n", "Li2S\nP2S5", "Li2S\t", "Li1e-9Cl", "Li0.0000001S", "Li0.000001S", "Li0.00000049S",
    "Li0.00000000004S", "Li1000000", "Li1000001", "Li999999.99999999S", "Li1000000.00000001",
    "Li0.0000000000000000001", "Li1234567890123456.5S", "Li123456789012345S", "Li1234567890123456S",
    "Li0.123456789012345678901S", "Li00000000000000000000001S", "Li1.2.3S", "Li.S", "Li..5S", "Li.5S",
    "Li5.S", "Li0", "Li0S0", "Li0.00000000001S", ".5Li2S-.5P2S5", "5.Li2S-5.P2S5", "Xx2O", "He2Li", "D2O",
    "T2O", "LiHe", "Bo", "LIS", "Lii", "li2S", "Li2s", "Li3OCl", "LiO", "O", "H", "Li10Ge1.05P1.95S12",
    "Li1.3Al0.3Ti1.7(PO4)3", "75.5Li2S-24P2S5-0.5LiI", "50Li2S-45P2S5-5LiI", "Li2(SO4)2", "Ca(OH)2",
    "Li6PS5Cl" * 20, "Li0.1" * 40, "LiNaKRbCsBeMgCaSrBaScYTiZrHfVNbTaCrMoWMnFeCoNiCuZnBAlGaInCSiGeSnPAsSbSBr",
    "0.33333333Li-0.66666667S", "3Li0.1-3S0.2", "0.1Li3-0.2Li3-0.3Li3", "10Li0.1(PO4)0.3-20Li0.2",
]


def _rows_of(batch) -> list:
    symbols = element_tables().symbols
    out = []
    for i in range(len(batch.ok)):
        row = batch.present[i]
        if not batch.ok[i]:
            assert not row.any() and batch.formula[i] is None and not batch.glass[i]
            out.append(None)
            continue
        assert row[: row.sum()].all()  # entries first, then padding
        names = [symbols[z] for z in batch.index[i, row].tolist()]
        assert names == sorted(set(names))
        assert not batch.amount[i, ~row].any() and not batch.index[i, ~row].any()
        comp = dict(zip(names, batch.amount[i, row].tolist(), strict=True))
        out.append((comp, batch.formula[i], "glass" if batch.glass[i] else "plain"))
    return out


@pytest.mark.parametrize("texts", [pytest.param(generated(), marks=SLOW),
                                   pytest.param(generated(20000, seed=11), marks=SLOW),
                                   pytest.param(benchmark_formulas(20000), marks=SLOW),
                                   EDGE_CASES, integer_formulas(), notation_examples()],
                         ids=["generated", "generated-11", "benchmark", "edge", "integer", "notations"])
def test_read_many_equals_read_fast(texts):
    batch = read_many(texts)
    n = len(texts)
    assert batch.ok.shape == batch.glass.shape == (n,) and len(batch.formula) == n
    assert batch.index.shape == batch.amount.shape == batch.present.shape
    assert batch.index.shape[0] == n and batch.index.shape[1] == max(1, batch.present.sum(1).max(initial=0))
    assert batch.index.dtype == np.int64 and batch.amount.dtype == np.float64 and batch.present.dtype == bool
    expected = [read_fast(t) for t in texts]
    got = _rows_of(batch)
    for text, want, row in zip(texts, expected, got, strict=True):
        assert row == want, text  # dict equality is float ==, and dicts compare without order
    assert np.array_equal(batch.ok, [e is not None for e in expected])
    CompositionBatch(batch.index, batch.amount, batch.present).dense(118)


def test_read_many_one_text_at_a_time_and_empty():
    assert read_many([]).index.shape == (0, 1)
    for text in EDGE_CASES[:40]:
        assert _rows_of(read_many([text])) == [read_fast(text)], text
    # A bad row between good ones must not disturb its neighbours (parentheses, separators).
    texts = ["Li2S", "Li(PO4", "Li3PO4", "70Li2S-(", "Li2S)", "30P2S5"]
    assert _rows_of(read_many(texts)) == [read_fast(t) for t in texts]


def test_read_many_takes_the_common_shapes_in_bulk(monkeypatch):
    """Only the unusual rows may go through read_fast one by one."""
    import sulfml.parse.bulk as ff

    calls = []
    monkeypatch.setattr(ff, "read_fast", lambda text: calls.append(text) or read_fast(text))
    texts = benchmark_formulas(2000) + ["Li2S-Li2S", "LiLi", "Li٣PS4", "Li1234567890123456.5S", "Li2(SO4)2"]
    assert _rows_of(ff.read_many(texts)) == [read_fast(t) for t in texts]
    assert sorted(calls) == sorted(["LiLi", "Li٣PS4", "Li1234567890123456.5S"])


def test_round_is_pythons_round():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.random(20000) * 10.0 ** rng.integers(-7, 7, 20000),
                        np.arange(1, 20000) * 5e-11, np.arange(1, 20000) / 8 * 1e-8, [0.0, 1e6, 999999.99999999]])
    for digits in (8, 10):
        assert _round(x, digits).tolist() == [round(v, digits) for v in x.tolist()]
        # np.round is not Python's round: the reason _round exists.
    assert not np.array_equal(np.round(x, 10), [round(v, 10) for v in x.tolist()])


def test_read_many_reduced_formulas_of_random_compositions():
    """Integer (gcd, polyanions, special formulas) and fractional amounts over all elements."""
    rng = np.random.default_rng(8)
    syms = sorted(ELECTRONEGATIVITY)
    texts = ["LiO", "O2", "H2", "Cl2", "Li2O2", "NaO", "K4O4"]
    for _ in range(20000):
        els = rng.choice(syms, size=int(rng.integers(1, 7)), replace=False)
        scale = rng.choice([1, 2, 0.25, 0.1, 1 / 3])
        texts.append("".join(f"{e}{a * scale:.12g}" for e, a in zip(els, rng.integers(1, 13, size=len(els)), strict=True)))
    assert _rows_of(read_many(texts)) == [read_fast(t) for t in texts]


def test_reduced_formula_of_very_many_elements():
    """Rows wider than 64 elements (a fallback row widens the whole block) keep their own order."""
    import warnings

    from pymatgen.core import Composition

    syms = sorted(ELECTRONEGATIVITY)[:70]
    wide = "".join(f"{s}{i % 3 + 1}" for i, s in enumerate(syms))
    texts = ["Li2S", wide, "Li3PO4", "Li5.5PS4.5Cl1.5"]
    assert _rows_of(read_many(texts)) == [read_fast(t) for t in texts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert read_fast(wide)[1] == written_formula(wide) == wide.replace("1", "")  # as written, no 1s
        # whole at its display scale, the derived form is pymatgen's reduced formula
        assert display_formula(read_fast(wide)[0]) == ungrouped(
            Composition(displayed(read_fast(wide)[0])).reduced_formula)


# Numbers as people write them, with every shape `REWRITTEN` looks at: 1 written out (1, 1., 1.00), leading
# zeros and dots, trailing zeros and dots, and more decimals than the parser keeps.
_NUMBER_SHAPES = ["1", "1.", "1.0", "1.000", "1.05", "10", "01", "0.5", "00.5", ".5", "5.", "0.50", "2.10", "0", "0.0",
                  "12.0001", "3.14159265358", "3.1415926535", "0.00000000001", "100"]
_NUMBER_TEXT = st.one_of(
    st.just(""),
    st.sampled_from(_NUMBER_SHAPES),
    st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{0,12})?\Z"),
    st.from_regex(r"\A\.[0-9]{1,12}\Z"),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(["Li", "P", "S", "Cl", "O", "Ge", "(PO4)", "(SO4)"]),
                                   _NUMBER_TEXT), min_size=1, max_size=5), min_size=1, max_size=20),
       st.booleans())
def test_read_many_shows_each_number_as_read_fast(formulas, glass):
    """Which plain formulas `written_formula` rewrites is found in bulk: the same shown formula as `read_fast`."""
    # each shape once on its own, then the drawn formulas
    texts = [f"Li{num}S" for num in _NUMBER_SHAPES] + ["".join(el + num for el, num in parts) for parts in formulas]
    if glass:
        texts = [f"{k + 1}{t}-{len(texts)}Li2S" for k, t in enumerate(texts)]
    got = read_many(texts)
    want = [read_fast(t) for t in texts]
    assert got.formula == [w[1] if w else None for w in want]
