"""The batch family classifier (`family.py`): laws that tie its functions together. The family of each
pattern, label and window, one formula at a time, is `test_electrolyte.py`'s."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.featurize import rules
from sulfml.featurize.family import electrolyte_family, family_codes, family_index, row_families
from sulfml.parse.formula import parse_formula

# One formula per family and some that are none, in the notations the parser reads.
_FORMULAS = ["Li6PS5Cl", "Li10GeP2S12", "Li4SnS4", "Li7P3S11", "Li3OCl", "Li7La3Zr2O12", "Li1.3Al0.3Ti1.7(PO4)3",
             "Li0.33La0.56TiO3", "Li14Zn(GeO4)4", "Li3InCl6", "LiBH4", "Na3PS4", "0.75Li2S-0.25P2S5", "Li2S"]
_COMPOSITIONS = [parse_formula(f).composition for f in _FORMULAS]
_ROWS = st.lists(st.tuples(st.sampled_from(_COMPOSITIONS), st.sampled_from(["plain", "glass", None]),
                           st.sampled_from(["", "glass", "glass-ceramic", None]),
                           st.sampled_from([None, "Argyrodites", "Oxides", "Glass", "Olivine", "garnet-like"])),
                 max_size=8)


def _columns(rows: list[tuple]) -> tuple[list, list, list, list]:
    comps, notation, tags, labels = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
    return comps, notation, tags, labels


@settings(max_examples=100, deadline=None)
@given(_ROWS)
def test_the_one_hot_reads_back_as_the_family(rows: list[tuple]) -> None:
    comps, notation, tags, labels = _columns(rows)
    codes = family_index(comps, notation, tags, labels)
    onehot = electrolyte_family(comps, notation, tags, labels)
    assert onehot.shape == (len(rows), len(rules.FAMILY_LABELS)) and (onehot.sum(1) == 1).all()
    assert row_families(onehot, rules.FAMILY_LABELS) == [rules.FAMILIES[c] for c in codes.tolist()]
    # Padded with other columns, in another order: still found by name.
    wider = np.hstack([np.ones((len(rows), 1)), onehot[:, ::-1]])
    assert row_families(wider, ["x", *reversed(rules.FAMILY_LABELS)]) == row_families(onehot, rules.FAMILY_LABELS)


@settings(max_examples=100, deadline=None)
@given(_ROWS)
def test_a_structure_label_decides_before_the_composition(rows: list[tuple]) -> None:
    comps, notation, tags, labels = _columns(rows)
    codes = family_index(comps, notation, tags, labels).tolist()
    by_composition = family_codes(comps).tolist()
    defaults = rules.TEXT_DEFAULTS
    for label, note, tag, code, own in zip(labels, notation, tags, codes, by_composition, strict=True):
        text = [rules.clean_text(v, defaults[c]) for v, c in ((note, "notation"), (tag, "tags"), (label, "family"))]
        named = rules.family_from_label(text[2])
        glass = rules.synthesis_flags(*text)["is_glass"]
        if named is not None:
            assert rules.FAMILIES[code] == named
        elif not glass:
            assert code == own


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(_COMPOSITIONS), max_size=8))
def test_a_glass_is_a_thiophosphate_or_nothing(comps: list[dict[str, float]]) -> None:
    glass = [rules.FAMILIES[c] for c in family_codes(comps, [True] * len(comps)).tolist()]
    assert set(glass) <= {"thiophosphate", "other"}
    # Every crystalline thiophosphate stays one as a glass (the glass has no Ch/P window).
    for crystal, as_glass in zip(family_codes(comps).tolist(), glass, strict=True):
        if rules.FAMILIES[crystal] == "thiophosphate":
            assert as_glass == "thiophosphate"


def test_no_family_columns_no_families() -> None:
    assert row_families(np.zeros((2, 3)), ["a", "b", "c"]) == [None, None]
    assert row_families(np.zeros((2, len(rules.FAMILY_LABELS))), rules.FAMILY_LABELS) == [None, None]
    with pytest.raises(ValueError, match="glass flags"):
        family_codes(_COMPOSITIONS[:2], [True])
