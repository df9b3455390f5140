"""Tests for sulfml.parse.formula: literature notations, rejections, and round trips through pymatgen's printers."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymatgen.core import Composition
from pymatgen.core.periodic_table import Element

from sulfml.parse.formula import ParsedFormula, composition_key, parse_formula


def fractions(comp) -> dict[str, float]:
    total = sum(comp.values())
    return {el: amt / total for el, amt in comp.items() if amt}


def assert_same_fractions(got, expected, tol=1e-6):
    got, expected = fractions(got), fractions(expected)
    assert set(got) == set(expected), (got, expected)
    for el in expected:
        assert got[el] == pytest.approx(expected[el], abs=tol), (el, got, expected)


def mix(*parts: tuple[float, str]) -> dict[str, float]:
    """Expected composition of a weighted mixture, built with pymatgen from plain formulas."""
    out: dict[str, float] = {}
    for coef, formula in parts:
        for el, amt in Composition(formula).get_el_amt_dict().items():
            out[el] = out.get(el, 0.0) + coef * amt
    return out


PLAIN = "plain"
GLASS = "glass"
DOPED = "host+dopant"

ACCEPTED = [
    # text, expected composition, notation, additive, tags
    ("Li6PS5Cl", mix((1, "Li6PS5Cl")), PLAIN, None, ()),
    ("Li10Ge(P0.925Sb0.075)2S12", {"Li": 10, "Ge": 1, "P": 1.85, "Sb": 0.15, "S": 12}, PLAIN, None, ()),
    ("Li0.6[Li0.2Sn0.8S2]", {"Li": 0.8, "Sn": 0.8, "S": 2}, PLAIN, None, ()),
    ("LiV(PO4)F", {"Li": 1, "V": 1, "P": 1, "O": 4, "F": 1}, PLAIN, None, ()),
    # glass notations
    ("70Li2S-30P2S5", {"Li": 140, "P": 60, "S": 220}, GLASS, None, ()),
    ("0.75Li2S-0.25P2S5", mix((0.75, "Li2S"), (0.25, "P2S5")), GLASS, None, ()),
    ("80Li2S * 20P2S5", mix((80, "Li2S"), (20, "P2S5")), GLASS, None, ()),
    ("0.2(Li2S) 0.8(GeS2)", mix((0.2, "Li2S"), (0.8, "GeS2")), GLASS, None, ()),
    ("0.3 Li2S * 0.7 SiS2", mix((0.3, "Li2S"), (0.7, "SiS2")), GLASS, None, ()),
    ("0.7(Li2O) * 0.5(P2O5)", mix((0.7, "Li2O"), (0.5, "P2O5")), GLASS, None, ()),
    ("0.4LiI-0.6Li4SnS4", mix((0.4, "LiI"), (0.6, "Li4SnS4")), GLASS, None, ()),
    ("0.26B2S3 – 0.3Li2S – 0.44LiI", mix((0.26, "B2S3"), (0.3, "Li2S"), (0.44, "LiI")), GLASS, None, ()),
    ("0.14 SiS2-0.09 P2S5-0.47 Li2S-0.30 LiI",
     mix((0.14, "SiS2"), (0.09, "P2S5"), (0.47, "Li2S"), (0.30, "LiI")), GLASS, None, ()),
    ("0.9Li3PS4·10ZnO", mix((0.9, "Li3PS4"), (10, "ZnO")), GLASS, None, ()),
    ("Li2S-1P2S5", {"Li": 2, "P": 2, "S": 6}, GLASS, None, ()),
    ("0.5Li2S•0.5SiS2", mix((0.5, "Li2S"), (0.5, "SiS2")), GLASS, None, ()),
    ("0.5Li2S×0.5SiS2", mix((0.5, "Li2S"), (0.5, "SiS2")), GLASS, None, ()),
    ("0.5Li2S−0.5SiS2", mix((0.5, "Li2S"), (0.5, "SiS2")), GLASS, None, ()),
    ("0.5Li2S—0.5SiS2", mix((0.5, "Li2S"), (0.5, "SiS2")), GLASS, None, ()),
    ("14Li2O-9Al2O3-38TiO2-39P2O5", mix((14, "Li2O"), (9, "Al2O3"), (38, "TiO2"), (39, "P2O5")), GLASS, None, ()),
    # nested mixtures
    ("(2Li2S-P2S5)0.85(LiI)0.15", mix((1.7, "Li2S"), (0.85, "P2S5"), (0.15, "LiI")), GLASS, None, ()),
    ("0.9(0.4SiS2-0.6Li2S)-0.1LiI", mix((0.36, "SiS2"), (0.54, "Li2S"), (0.1, "LiI")), GLASS, None, ()),
    ("0.95(0.5Li2-0.5SiS2)-0.05(0.5Li2O-0.5P2O5)",
     mix((0.475, "Li2"), (0.475, "SiS2"), (0.025, "Li2O"), (0.025, "P2O5")), GLASS, None, ()),
    ("(0.67Li2S-0.33SiS2)-(0.75Li2S-0.25P2S5)",
     mix((0.67, "Li2S"), (0.33, "SiS2"), (0.75, "Li2S"), (0.25, "P2S5")), GLASS, None, ()),
    (" (0.75Li2S-0.25P2S5)", mix((0.75, "Li2S"), (0.25, "P2S5")), GLASS, None, ()),
    ("(2Li2S-P2S5)", mix((2, "Li2S"), (1, "P2S5")), GLASS, None, ()),
    ("0.95(0.6Li2S-0.4SiS2)- 0.05Li4SiO4", mix((0.57, "Li2S"), (0.38, "SiS2"), (0.05, "Li4SiO4")), GLASS, None, ()),
    # host plus an amount of something
    ("LiTi2(PO4)3-0.2Li2O", mix((1, "LiTi2(PO4)3"), (0.2, "Li2O")), DOPED, None, ()),
    ("Li7La3Zr2O12-0.3Ga", mix((1, "Li7La3Zr2O12"), (0.3, "Ga")), DOPED, None, ()),
    ("Li6.5La3Zr1.75Te0.25O12-0.07Al", mix((1, "Li6.5La3Zr1.75Te0.25O12"), (0.07, "Al")), DOPED, None, ()),
    ("LiTi2(PO4)3-0.1Li4P2O7", mix((1, "LiTi2(PO4)3"), (0.1, "Li4P2O7")), DOPED, None, ()),
    # composites: the host is the composition, the additive is kept as written
    ("La0.56Li0.33TiO3-5wt% Al2O3", mix((1, "La0.56Li0.33TiO3")), "composite", "5wt% Al2O3", ()),
    ("Li7La3Zr2O12-0.5wt% Al", mix((1, "Li7La3Zr2O12")), "composite", "0.5wt% Al", ()),
    ("Li3PS4 – 2 wt% Al2O3", mix((1, "Li3PS4")), "composite", "2 wt% Al2O3", ()),
    ("Li7La3Zr2O12–3 wt% 65Li2O·27B2O3·8SiO2", mix((1, "Li7La3Zr2O12")), "composite",
     "3 wt% 65Li2O·27B2O3·8SiO2", ()),
    ("Li3PS4-10vol% Li7La3Zr2O12", mix((1, "Li3PS4")), "composite", "10vol% Li7La3Zr2O12", ()),
    ("Li3PS4 - 2 wt.% SiO2", mix((1, "Li3PS4")), "composite", "2 wt.% SiO2", ()),
    ("70Li2S-30P2S5-5wt% LiI", mix((70, "Li2S"), (30, "P2S5")), "composite", "5wt% LiI", ()),
    # mol% is a mole fraction, so it mixes
    ("Li3PS4-5mol% LiI", mix((0.95, "Li3PS4"), (0.05, "LiI")), GLASS, None, ()),
    # polymorph prefixes
    ("β-Li3PS4", mix((1, "Li3PS4")), PLAIN, None, ("polymorph:β",)),
    ("γ-Li3PO4", mix((1, "Li3PO4")), PLAIN, None, ("polymorph:γ",)),
    ("α-Li3N", mix((1, "Li3N")), PLAIN, None, ("polymorph:α",)),
    ("r-LiAlO2", mix((1, "LiAlO2")), PLAIN, None, ("polymorph:trigonal",)),  # rhombohedral
    ("c-Li7La3Zr2O12", mix((1, "Li7La3Zr2O12")), PLAIN, None, ("polymorph:cubic",)),
    ("cubic Li7La3Zr2O12", mix((1, "Li7La3Zr2O12")), PLAIN, None, ("polymorph:cubic",)),
    ("Li7La3Zr2O12-tetragonal", mix((1, "Li7La3Zr2O12")), PLAIN, None, ("polymorph:tetragonal",)),
    ("Li7La3Zr2O12 (cubic)", mix((1, "Li7La3Zr2O12")), PLAIN, None, ("polymorph:cubic",)),
    ("t-Li7La3Zr2O12", mix((1, "Li7La3Zr2O12")), PLAIN, None, ("polymorph:tetragonal",)),
    ("LT-Li3PS4", mix((1, "Li3PS4")), PLAIN, None, ("polymorph:LT",)),
    ("HT-Li3PS4", mix((1, "Li3PS4")), PLAIN, None, ("polymorph:HT",)),
    # words from tables
    ("70Li2S-30P2S5 glass", mix((70, "Li2S"), (30, "P2S5")), GLASS, None, ("glass",)),
    ("70Li2S-30P2S5 glass-ceramic", mix((70, "Li2S"), (30, "P2S5")), GLASS, None, ("glass-ceramic",)),
    ("70Li2S-30P2S5 glass ceramic", mix((70, "Li2S"), (30, "P2S5")), GLASS, None, ("glass-ceramic",)),
    ("Amorphous Li3PS4", mix((1, "Li3PS4")), PLAIN, None, ("amorphous",)),
    ("β-Li3PS4 glass", mix((1, "Li3PS4")), PLAIN, None, ("polymorph:β", "glass")),
    # the notations researchers type (issue 25): every state word, after a space or a dash; a polymorph in
    # brackets; a binary glass with its ratio in brackets
    ("Li3PS4 crystalline", mix((1, "Li3PS4")), PLAIN, None, ("crystalline",)),
    ("Li7P3S11-glass-ceramic", mix((1, "Li7P3S11")), PLAIN, None, ("glass-ceramic",)),
    ("Li3PS4 (beta)", mix((1, "Li3PS4")), PLAIN, None, ("polymorph:β",)),
    ("Li3PS4 (γ)", mix((1, "Li3PS4")), PLAIN, None, ("polymorph:γ",)),
    ("Li2S-P2S5 (75:25)", mix((75, "Li2S"), (25, "P2S5")), GLASS, None, ()),
    ("Li2S-P2S5 (70 : 30)", mix((70, "Li2S"), (30, "P2S5")), GLASS, None, ()),
    # Unicode and whitespace debris
    ("Li₆PS₅Cl", mix((1, "Li6PS5Cl")), PLAIN, None, ()),
    ("Li₁₀GeP₂S₁₂", mix((1, "Li10GeP2S12")), PLAIN, None, ()),
    ("0.30Li2S-0.7GeS\u00ad2", mix((0.3, "Li2S"), (0.7, "GeS2")), GLASS, None, ()),
    ("Li6\u200bPS5\u200dCl\ufeff", mix((1, "Li6PS5Cl")), PLAIN, None, ()),
    ("\u00a0Li3PS4\t", mix((1, "Li3PS4")), PLAIN, None, ()),
    ("La0.62 Li0.14(Mg0.5W0.5)O3", mix((1, "La0.62Li0.14(Mg0.5W0.5)O3")), PLAIN, None, ()),
    ("Li1.4Al0.4Ti1.6 (PO4)3", mix((1, "Li1.4Al0.4Ti1.6(PO4)3")), PLAIN, None, ()),
    ("Li3PS4 ", mix((1, "Li3PS4")), PLAIN, None, ()),
    # o typed for 0, but only where it cannot be part of a symbol
    ("Lao.51Li0.34TiO2.94", mix((1, "La0.51Li0.34TiO2.94")), PLAIN, None, ("fixed:o-for-0",)),
    ("Lio.1Zr1.1Nb0.9P3O12", mix((1, "Li0.1Zr1.1Nb0.9P3O12")), PLAIN, None, ("fixed:o-for-0",)),
    ("LiCo.5Mn1.5O4", {"Li": 1, "Co": 0.5, "Mn": 1.5, "O": 4}, PLAIN, None, ()),
    ("LiHo.5Cl4", {"Li": 1, "Ho": 0.5, "Cl": 4}, PLAIN, None, ()),
    ("Li2Mo.5S2", {"Li": 2, "Mo": 0.5, "S": 2}, PLAIN, None, ()),
    ("LiNo.5", {"Li": 1, "No": 0.5}, PLAIN, None, ()),
    ("LiPo.5", {"Li": 1, "Po": 0.5}, PLAIN, None, ()),
    # hydrates
    ("LiCl*H2O", mix((1, "LiCl"), (1, "H2O")), "hydrate", None, ("hydrate",)),
    ("LiOH·H2O", mix((1, "LiOH"), (1, "H2O")), "hydrate", None, ("hydrate",)),
    ("LiOH·2H2O", mix((1, "LiOH"), (2, "H2O")), "hydrate", None, ("hydrate",)),
    ("Li3(Mo8S8O8(OH)8(HWO5(H2O)))*(H2O)18", mix((1, "Li3Mo8S8O8(OH)8HWO5H2O"), (18, "H2O")), "hydrate",
     None, ("hydrate",)),
    # a zero-coefficient component is dropped when others are positive
    ("Li2S-0P2S5", mix((1, "Li2S")), GLASS, None, ()),
    # group multipliers carry proportions too
    ("(Li2S)0.7-(P2S5)0.3", mix((0.7, "Li2S"), (0.3, "P2S5")), GLASS, None, ()),
    ("2Li3PS4", mix((1, "Li3PS4")), PLAIN, None, ()),
    ("(LiCl)0.5 (P2O5)0.5", mix((0.5, "LiCl"), (0.5, "P2O5")), GLASS, None, ()),
    ("(Li2S)0.5 ((P2S5)0.4 (Sb2S3)0.6)0.5", mix((0.5, "Li2S"), (0.2, "P2S5"), (0.3, "Sb2S3")), GLASS, None, ()),
    ("(NH4)2(SO4)", mix((1, "(NH4)2SO4")), PLAIN, None, ()),
    # quotes left around a spreadsheet cell
    ('"(Li2S)0.3 (SiS2)0.7"', mix((0.3, "Li2S"), (0.7, "SiS2")), GLASS, None, ()),
    ("“Li3PS4”", mix((1, "Li3PS4")), PLAIN, None, ()),
]


@pytest.mark.parametrize(("text", "expected", "notation", "additive", "tags"), ACCEPTED,
                         ids=[a[0] for a in ACCEPTED])
def test_accepted(text, expected, notation, additive, tags):
    r = parse_formula(text)
    assert r.ok, r.error
    assert r.input == text
    assert_same_fractions(r.composition, expected)
    assert r.notation == notation
    assert r.additive == additive
    assert r.tags == tags
    # the shown formula names the same material: it reads back to the composition (a derived one to the
    # four decimals it is shown with)
    again = parse_formula(r.formula)
    assert again.ok, (r.formula, again.error)
    assert Composition(again.composition).fractional_composition.almost_equals(
        Composition(r.composition).fractional_composition, atol=1e-4), r.formula


@pytest.mark.parametrize(("text", "expected"), [
    ("70Li2S-30P2S5", {"Li": 140, "P": 60, "S": 220}),
    ("Li2S-1P2S5", {"Li": 2, "P": 2, "S": 6}),
    ("LiTi2(PO4)3-0.2Li2O", {"Li": 1.4, "Ti": 2, "P": 3, "O": 12.2}),
    ("0.9(0.4SiS2-0.6Li2S)-0.1LiI", {"Si": 0.36, "S": 1.26, "Li": 1.18, "I": 0.1}),
])
def test_amounts_are_in_the_scale_written(text, expected):
    comp = parse_formula(text).composition
    assert comp == pytest.approx(expected)


def test_formula_is_pymatgen_reduced_formula():
    assert parse_formula("70Li2S-30P2S5").formula == "Li7P3S11"
    assert parse_formula("Li2S-1P2S5").formula == "LiPS3"


REJECTED = [
    ("Li2S-P2S5-LiI", "no stoichiometry"),
    ("Li2S*P2S5", "no stoichiometry"),
    ("Li2O-P2O5", "no stoichiometry"),
    ("SiS2-Li2S", "no stoichiometry"),
    ("Li2S*P2S5*Li3N", "no stoichiometry"),
    ("Li2S-P2S5-LiI glass", "no stoichiometry"),
    ("Li7La3Zr2O12-Ga", "no stoichiometry"),
    ("0.9(SiS2-Li2S)-0.1LiCl", "no stoichiometry"),
    ("(Li2S)-(P2S5)", "no stoichiometry"),
    ("LiCl-H2O", "no stoichiometry"),
    ("Xx2", "unknown element: Xx"),
    ("Li6PS5Q", "unknown element: Q"),
    ("Li0S0", "non-positive total"),
    ("0Li2S-0P2S5", "non-positive total"),
    ("-0.5Li2S", "non-positive total"),
    ("Li6PS5Cl)(", "malformed parentheses"),
    ("Li2(SO4", "malformed parentheses"),
    ("Li2)SO4(", "malformed parentheses"),
    ("Li2(SO4]", "malformed parentheses"),
    ("", "empty formula"),
    ("   ", "empty formula"),
    ("\u200b\t", "empty formula"),
    ("glass", "empty formula"),
    ("li6ps5cl", "unreadable"),
    ("Li7-xLa3Zr2O12", "unreadable"),
    ("Li2S--0.5P2S5", "unreadable"),
    ("Li2()S", "unreadable"),
    ("0.5", "unreadable"),
    ("Li3PS4-5% LiI", "unreadable"),
    ("Li3PS4-120wt% LiI", "unreadable"),
    ("Li3PS4-5wt% Qq", "unknown element: Qq"),
    ("(" * 5000 + "Li" + ")" * 5000, "unreadable"),
]


@pytest.mark.parametrize(("text", "prefix"), REJECTED, ids=[r[0][:40] for r in REJECTED])
def test_rejected(text, prefix):
    r = parse_formula(text)
    assert not r.ok
    assert r.error.startswith(prefix)
    assert r.composition is None and r.formula is None and r.notation == ""
    with pytest.raises(ValueError):
        r.to_composition()


def test_rejection_keeps_tags():
    assert parse_formula("Li2S-P2S5-LiI glass").tags == ("glass",)


def test_to_dict_is_json_ready():
    d = parse_formula("β-Li3PS4 – 2 wt% Al2O3").to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d == {"input": "β-Li3PS4 – 2 wt% Al2O3", "formula": "Li3PS4",
                 "composition": {"Li": 3.0, "P": 1.0, "S": 4.0}, "notation": "composite", "state": "crystalline",
                 "additive": "2 wt% Al2O3", "tags": ["polymorph:β"], "error": None, "notes": []}
    bad = parse_formula("Xx2").to_dict()
    assert bad["error"] == "unknown element: Xx" and bad["composition"] is None and bad["state"] is None


def test_to_composition():
    assert parse_formula("70Li2S-30P2S5").to_composition().reduced_formula == "Li7P3S11"


def test_cached_results_are_not_shared():
    a = parse_formula("Li3PS4")
    a.composition["Li"] = 99.0
    assert parse_formula("Li3PS4").composition["Li"] == 3.0
    assert isinstance(a, ParsedFormula)


def test_composition_key_matches_glass_and_crystal():
    glass = parse_formula("70Li2S-30P2S5").composition
    assert composition_key(glass) == composition_key({"Li": 7, "P": 3, "S": 11})
    assert composition_key(glass) == "Li:0.333,P:0.143,S:0.524"


def test_composition_key_format():
    assert composition_key({"S": 4, "Li": 5, "P": 1}) == "Li:0.5,P:0.1,S:0.4"
    assert composition_key({"Li": 1, "O": 1}, decimals=1) == "Li:0.5,O:0.5"
    with pytest.raises(ValueError):
        composition_key({"Li": 0})


def test_literature_batch_reads():
    # its speed target (< 2 s) is checked by benchmarks/parse_speed.py, not here
    texts = [f"{x / 100:.2f}Li2S-{1 - x / 100:.2f}P2S5" for x in range(1, 100)]
    texts += [f"Li{i}La3Zr2O{i + 5}-0.{i}Ga" for i in range(1, 10)]
    texts += [f"Li{1 + i / 1000:.3f}Al0.3Ti1.7(PO4)3" for i in range(2900)]
    assert all(parse_formula(t).ok for t in texts)


# Property-based: whatever pymatgen prints for a composition must read back to the same composition.
REAL_ELEMENTS = [Element.from_Z(z).symbol for z in range(1, 104)]
amounts = st.one_of(
    st.integers(min_value=1, max_value=20).map(float),
    st.integers(min_value=1, max_value=20_000).map(lambda n: n / 1000),
)
compositions = st.dictionaries(st.sampled_from(REAL_ELEMENTS), amounts, min_size=1, max_size=5)
PRINTERS = ["formula", "reduced_formula", "alphabetical_formula", "hill_formula", "iupac_formula"]


@pytest.mark.filterwarnings("ignore:No Pauling electronegativity")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(comp=compositions, printer=st.sampled_from(PRINTERS))
def test_reads_back_what_pymatgen_prints(comp, printer):
    text = getattr(Composition(comp), printer)
    r = parse_formula(text)
    assert r.ok, (text, r.error)
    assert_same_fractions(r.composition, comp)


@pytest.mark.filterwarnings("ignore:No Pauling electronegativity")
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=compositions, b=compositions, x=st.integers(min_value=1, max_value=99))
def test_reads_back_pseudo_binaries(a, b, x):
    fa, fb = Composition(a).formula.replace(" ", ""), Composition(b).formula.replace(" ", "")
    r = parse_formula(f"{x}{fa}-{100 - x}{fb}")
    assert r.ok, r.error
    expected: dict[str, float] = {}
    for coef, comp in ((x, a), (100 - x, b)):
        for el, amt in comp.items():
            expected[el] = expected.get(el, 0.0) + coef * amt
    assert_same_fractions(r.composition, expected)
