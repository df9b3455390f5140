"""Oxidation states for substitutions: the parent's states, a dopant's state on its site, and the charge balance
through Li."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.chem.elements import ANION_CHARGE
from sulfml.chem.oxidation import (
    FREE_ANIONS,
    PINNED,
    OxidationStateError,
    balance_through_li,
    dopant_state,
    parent_states,
    residual_charge,
)

REVIEW = Path(__file__).resolve().parents[2] / "src" / "sulfml" / "data" / "review"
# rows of the review tables that parse_formula cannot read: pseudo-ternary glasses without proportions
UNPARSED = {"Li2S-P2S5-LiI", "Li2S-P2S5-Li3N"}
# nominal formulas that are off neutrality with the sane states; the offset is kept through the substitutions
NOMINAL = {"Li9.6P3S12": 0.6, "Li6.24P0.823Sn0.177S4.58I0.9": 1.003}
SANE = {"Li": 1, "F": -1, "Cl": -1, "Br": -1, "I": -1, "O": -2, "S": -2, "Se": -2, "P": 5, "Ge": 4, "Si": 4,
        "Sn": 4, "Sb": 5, "As": 5, "In": 3, "Ag": 1, "N": -3}


def review_parents() -> list[str]:
    formulas: dict[str, None] = {}
    for table in ("su2022_table1.csv", "su2022_table2.csv"):
        df = pd.read_csv(REVIEW / table, dtype=str, keep_default_na=False)
        formulas.update(dict.fromkeys(df["formula"]))
    return list(formulas)


def test_every_review_parent_gets_chemically_sane_states():
    from sulfml.parse.formula import parse_formula

    checked, unparsed = 0, set()
    for text in review_parents():
        parsed = parse_formula(text)
        if not parsed.ok:
            unparsed.add(text)
            continue
        states = parent_states(parsed.composition)
        assert states == {el: SANE[el] for el in parsed.composition}, text
        assert residual_charge(parsed.composition, states) == pytest.approx(NOMINAL.get(text, 0.0), abs=1e-6), text
        checked += 1
    assert unparsed == UNPARSED and checked >= 25  # glasses such as 70Li2S-30P2S5 and 0.4LiI-0.6Li4SnS4 included


def test_parent_states_pin_li_halides_and_chalcogens():
    assert parent_states({"Li": 6, "P": 1, "S": 5, "Cl": 1}) == {"Li": 1, "P": 5, "S": -2, "Cl": -1}
    assert parent_states({"Li": 3, "P": 1, "O": 4}) == {"Li": 1, "P": 5, "O": -2}
    assert parent_states({"Li": 2, "S": 1, "O": 4}) == {"Li": 1, "S": 6, "O": -2}  # a sulfate: S let free
    with pytest.raises(OxidationStateError):
        parent_states({"Li": 2, "S": 5})


def test_the_pinned_anions_are_the_element_tables_anions():
    """One table of anion charges: the pins are `ANION_CHARGE`'s, negated, N and H excepted, with Li +1."""
    assert PINNED["Li"] == 1
    anions = {el: q for el, q in PINNED.items() if el != "Li"}
    assert anions == {el: -q for el, q in ANION_CHARGE.items() if el not in FREE_ANIONS}
    assert {"F", "Cl", "Br", "I", "O", "S", "Se", "Te"} == set(anions) and FREE_ANIONS <= set(ANION_CHARGE)


def test_a_dopant_takes_the_state_of_the_hosts_sign_closest_to_the_hosts():
    assert dopant_state("Al", 5) == 3 and dopant_state("Si", 5) == 4 and dopant_state("Sb", 4) == 5
    assert dopant_state("Cl", -2) == -1 and dopant_state("Br", -1) == -1
    assert dopant_state("Li", 5) is None  # Li is the balancing ion, never a dopant
    assert dopant_state("F", 5) is None  # no positive state
    with pytest.raises(OxidationStateError, match="Qq"):
        dopant_state("Qq", 5)


PARENTS = [{"Li": 3.0, "P": 1.0, "S": 4.0}, {"Li": 6.0, "P": 1.0, "S": 5.0, "Cl": 1.0},
           {"Li": 10.0, "Ge": 1.0, "P": 2.0, "S": 12.0}, {"Li": 7.0, "La": 3.0, "Zr": 2.0, "O": 12.0}]
DOPANTS = ["Si", "Ge", "Sn", "Al", "Ga", "Sb", "Ta", "Nb", "Cl", "Br", "I", "Se", "O", "Zn", "Li", "F"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PARENTS), st.data())
def test_a_balanced_substitution_keeps_the_parents_charge_and_sites(parent, data):
    """The law: whatever is substituted, the sites keep their amount and the net charge is the parent's."""
    states = parent_states(parent)
    sites = data.draw(st.lists(st.sampled_from(sorted(set(parent) - {"Li"})), min_size=1, max_size=2, unique=True))
    subs = [(site, data.draw(st.sampled_from(DOPANTS)), data.draw(st.sampled_from([0.05, 0.1, 0.25, 0.5])))
            for site in sites]
    subs = [s for s in subs if s[1] != s[0]]
    balanced = balance_through_li(parent, states, subs)
    dopant_states = [dopant_state(d, states[site]) for site, d, _ in subs]
    if balanced is None:  # a dopant without a state of the host's sign, or less than no Li left
        assert None in dopant_states or parent["Li"] - sum(
            parent[site] * x * (q - states[site]) for (site, _, x), q in zip(subs, dopant_states, strict=True)) < 0
        return
    comp, extra = balanced
    assert list(comp) == list(parent)  # the parent's order, Li kept
    assert comp["Li"] >= -1e-9
    for site in sites:
        moved = sum(parent[site] * x for s, _, x in subs if s == site)
        assert comp[site] == pytest.approx(parent[site] - moved)
    assert sum(extra.values()) == pytest.approx(sum(parent[s] * x for s, _, x in subs))
    charge = residual_charge(comp, states) + sum(
        q * parent[site] * x for (site, _, x), q in zip(subs, dopant_states, strict=True))
    assert charge == pytest.approx(residual_charge(parent, states), abs=1e-9)


def test_a_substitution_that_would_need_less_than_no_li_cannot_be_balanced():
    states = parent_states({"Li": 3.0, "P": 1.0, "S": 4.0})
    assert balance_through_li({"Li": 3.0, "P": 1.0, "S": 4.0}, states, [("S", "Cl", 1.0)]) is None  # -1 Li
    comp, extra = balance_through_li({"Li": 3.0, "P": 1.0, "S": 4.0}, states, [("S", "Cl", 0.5)])
    assert comp == pytest.approx({"Li": 1.0, "P": 1.0, "S": 2.0}) and extra == {"Cl": 2.0}
    assert balance_through_li({"Na": 3.0, "P": 1.0, "S": 4.0}, {"Na": 1, "P": 5, "S": -2}, [("P", "Si", 0.1)]) is None
