"""The shipped table of named polymorphs and the rule that turns a polymorph word into a space group."""

from __future__ import annotations

import pytest

from sulfml.chem.polymorphs import (
    named_polymorph,
    polymorph_name,
    polymorph_table,
    polymorph_words,
    space_group_of_name,
)
from sulfml.chem.space_groups import crystal_system
from sulfml.parse.formula import parse_formula


def test_every_row_is_a_real_space_group_with_a_reference():
    rows = polymorph_table()
    assert len(rows) >= 10
    seen = set()
    for row in rows:
        assert 1 <= row.space_group <= 230
        assert row.reference.startswith("10."), row
        assert parse_formula(row.formula).ok, row.formula
        for name in row.names:
            assert (row.formula, name) not in seen, f"{row.formula} {name} is named twice"
            seen.add((row.formula, name))
            # a crystal-system name must agree with the space group it stands for
            if name in ("cubic", "tetragonal", "orthorhombic", "hexagonal", "trigonal", "monoclinic"):
                assert crystal_system(row.space_group) == name, row


@pytest.mark.parametrize(("text", "space_group"), [
    ("β-Li3PS4", 62), ("beta-Li3PS4", 62), ("Li3PS4 (beta)", 62), ("γ-Li3PS4", 31), ("gamma-Li3PS4", 31),
    ("α-Li3PS4", 63), ("c-Li7La3Zr2O12", 230), ("cubic Li7La3Zr2O12", 230), ("Li7La3Zr2O12 (cubic)", 230),
    ("t-Li7La3Zr2O12", 142), ("tetragonal-Li7La3Zr2O12", 142), ("β-Li6P2S8", 62),  # any scale
])
def test_a_polymorph_word_names_its_space_group(text, space_group):
    p = parse_formula(text)
    found, note = space_group_of_name(p.composition, ";".join(p.tags))
    assert found == space_group and str(space_group) in note


def test_a_name_the_table_lacks_is_said_not_used():
    p = parse_formula("δ-Li3PS4")
    found, note = space_group_of_name(p.composition, ";".join(p.tags))
    assert found is None and "not in the table" in note
    assert space_group_of_name(parse_formula("Li3PS4").composition, "") == (None, None)
    assert named_polymorph({"Li": 3, "P": 1, "S": 4}, "cubic") is None


def test_words_are_spelt_one_way():
    assert [polymorph_name(w) for w in ("c", "Cubic", "t", "ht", "LT", "β", "r", "rhombohedral")] == [
        "cubic", "cubic", "tetragonal", "HT", "LT", "β", "trigonal", "trigonal"]
    assert polymorph_words("glass;polymorph:β;name:LPS") == ["β"] and polymorph_words(None) == []
