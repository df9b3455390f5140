"""Tests for sulfml.parse.display and the shown formula: a plain formula as written, a derived one with at most
four decimals; the shown formula never changes the material (its composition key)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.parse.bulk import read_many
from sulfml.parse.display import DERIVED_DECIMALS, REWRITTEN, amount_text, rounded_formula, written_formula
from sulfml.parse.formula import composition_key, parse_formula

# an explicit 1 after a symbol or a group: 1 not part of a longer number
EXPLICIT_ONE = re.compile(r"[A-Za-z)\]]1(?![\d.])")


@pytest.mark.parametrize(("text", "shown"), [
    ("Li6PS5Cl0.5Br0.5", "Li6PS5Cl0.5Br0.5"),
    ("Li5.4PS4.4Cl1.6", "Li5.4PS4.4Cl1.6"),
    ("Li3PS4", "Li3PS4"),
    ("Li10Ge(P0.925Sb0.075)2S12", "Li10Ge(P0.925Sb0.075)2S12"),  # the group as written
    ("Li1P1S4", "LiPS4"),
    ("Li6PS5Cl1.0", "Li6PS5Cl"),
    ("Li6PS5Cl0.50", "Li6PS5Cl0.5"),
    ("Li6.PS5Cl.5", "Li6PS5Cl0.5"),
    ("Li0.30000000000000004La0.5TiO3", "Li0.3La0.5TiO3"),  # float noise of a spreadsheet export
    ("La0.62 Li0.14(Mg0.5W0.5)1O3", "La0.62Li0.14(Mg0.5W0.5)O3"),
    ("beta-Li3PS4", "Li3PS4"),
    ("Li10GeP2S12 (LGPS)", "Li10GeP2S12"),
    ("Li7P3S11 glass-ceramic", "Li7P3S11"),
    ("cubic Li7La3Zr2O12", "Li7La3Zr2O12"),
    ("Li3InCl6·2H2O", "Li3InCl6·2H2O"),
    ("Li3PS4 - 2 wt% Al2O3", "Li3PS4"),  # a composite as its host; the additive is shown apart
    # derived: whole at the display scale, else per mole of the glass's parts / per host, four decimals
    ("70Li2S-30P2S5", "Li7P3S11"),
    ("Li2S-P2S5 (75:25)", "Li3PS4"),
    ("67Li2S-33P2S5", "Li1.34P0.66S2.32"),
    ("LiTi2(PO4)3-0.2Li2O", "Li1.4Ti2P3O12.2"),
    ("0.33333Li2S-0.66667P2S5", "Li0.6667P1.3333S3.6667"),
])
def test_shown_formula(text, shown):
    r = parse_formula(text)
    assert r.formula == shown
    assert composition_key(parse_formula(shown).composition) == composition_key(r.composition)
    if r.notes == () and not any(c in text for c in " (·%-") or re.fullmatch(r"[\d.]+Li2S-[\d.]+P2S5", text):
        assert read_many([text]).formula == [shown]  # the bulk path shows the same


def test_amount_text():
    assert [amount_text(x) for x in (1.0, 2.0, 0.5, 0.30000000000000004, 1e6, 0.0)] == ["", "2", "0.5", "0.3",
                                                                                         "1000000", "0"]
    assert amount_text(2.333333333, DERIVED_DECIMALS) == "2.3333"
    assert amount_text(0.99999, DERIVED_DECIMALS) == ""
    assert amount_text(0.00002, DERIVED_DECIMALS) == "0.00002"  # a trace keeps a digit, never 0
    assert "e" not in amount_text(7.134e-05)


def test_rounded_formula_keeps_order_and_groups():
    assert rounded_formula("Li6.299999P0.700001Si0.3S5Cl1") == "Li6.3P0.7Si0.3S5Cl"
    assert rounded_formula("Li10Ge(P0.92500001Sb0.075)2S12") == "Li10Ge(P0.925Sb0.075)2S12"


symbols = st.sampled_from(["Li", "P", "S", "Cl", "Br", "I", "Ge", "Si", "Sn", "O", "La", "Zr", "Ti", "Al", "N"])
numbers = st.one_of(
    st.just(""),
    st.integers(0, 30).map(str),
    st.integers(1, 99999).map(lambda n: f"{n / 1000:.3f}"),  # with trailing zeros
    st.integers(1, 9999).map(lambda n: f"{n / 10 ** 4:.6g}"),
    st.floats(0.001, 50, allow_nan=False).map(repr),  # float noise: 0.30000000000000004
)
terms = st.tuples(symbols, numbers).map("".join)
groups = st.tuples(st.lists(terms, min_size=1, max_size=3), numbers).map(lambda g: f"({''.join(g[0])}){g[1]}")
plain = st.tuples(terms, st.lists(terms | groups, max_size=5)).map(lambda t: t[0] + "".join(t[1]))


@settings(max_examples=300, deadline=None)
@given(text=plain)
def test_a_shown_plain_formula_reads_back_to_the_same_material(text):
    r = parse_formula(text)
    if not r.ok or r.notes:
        return
    again = parse_formula(r.formula)
    assert again.ok and composition_key(again.composition) == composition_key(r.composition), r.formula
    assert again.formula == r.formula  # shown as written, the shown formula is a fixed point
    assert not EXPLICIT_ONE.search(r.formula)
    # the bulk path shows the text itself where written_formula would not change it
    assert (REWRITTEN.search(text) is None) == (written_formula(text) == text)
    assert read_many([text]).formula[0] in (r.formula, None)


glass_parts = st.tuples(st.integers(1, 999).map(lambda n: f"{n / 10:g}"),
                        st.sampled_from(["Li2S", "P2S5", "LiI", "GeS2", "SiS2", "LiCl", "Li2O", "B2S3"])).map("".join)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(glass_parts, min_size=2, max_size=4))
def test_a_shown_glass_has_four_decimals_and_names_the_same_material(parts):
    text = "-".join(parts)
    r = parse_formula(text)
    if not r.ok:
        return
    assert not EXPLICIT_ONE.search(r.formula)
    assert all(len(d) <= DERIVED_DECIMALS for d in re.findall(r"\.(\d+)", r.formula))
    again = parse_formula(r.formula)
    total = sum(r.composition.values())
    back = sum(again.composition.values())
    # four decimals of amounts: each element's fraction within a few 1e-4 of the glass's
    assert set(again.composition) == set(r.composition)
    assert all(abs(again.composition[el] / back - x / total) < 1e-3 for el, x in r.composition.items()), r.formula
    assert read_many([text]).formula[0] in (r.formula, None)


def test_a_cif_composition_is_shown_without_float_noise():
    """A CIF's occupancy-weighted amounts carry float sums (4.000000000000001) and thirds: the note naming
    them shows a derived formula."""
    from sulfml.parse.formula import display_formula

    assert display_formula({"Li": 5.999999999999999, "P": 1.0, "S": 4.000000000000001, "Cl": 1.0}) == "Li6PS4Cl"
    assert display_formula({"Li": 1.5, "P": 1.0, "S": 2.5, "Cl": 1.5}) == "Li3P2S5Cl3"
    assert display_formula({"Li": 5 / 3, "P": 1.0, "S": 4.000000000000001, "Cl": 0.7}) == "Li1.6667PS4Cl0.7"
