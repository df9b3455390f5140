"""The state rules: how a state is written, and what a row's notation, tags and labels imply."""

from __future__ import annotations

import pytest

from sulfml.parse.formula import parse_formula
from sulfml.parse.state import STATES, StateError, implied_state, names_structure, normalize_state


@pytest.mark.parametrize("text, state", [
    ("glass", "glass"), ("Glass", "glass"), ("amorphous", "glass"), ("Glass ceramic", "glass-ceramic"),
    ("glass-ceramic", "glass-ceramic"), ("GC", "glass-ceramic"), ("crystalline", "crystalline"),
    ("Tetragonal", "crystalline"), ("", "unknown"), (None, "unknown"), ("unknown", "unknown"),
])
def test_normalize_state(text, state):
    assert normalize_state(text) == state


def test_a_word_that_names_no_state_is_refused_with_the_choices():
    with pytest.raises(StateError, match="crystalline, glass, glass-ceramic, unknown"):
        normalize_state("molten")


@pytest.mark.parametrize("text, state", [
    ("70Li2S-30P2S5", "glass"), ("0.7Li2S-0.3P2S5", "glass"), ("(Li2S)0.7(P2S5)0.3", "glass"),
    ("70Li2S-30P2S5 (GC)", "glass-ceramic"), ("Li7P3S11 glass-ceramic", "glass-ceramic"),
    ("Li7P3S11 glass", "glass"), ("β-Li3PS4", "crystalline"), ("beta-Li3PS4", "crystalline"),
    ("Li7P3S11", "unknown"), ("Li6PS5Cl", "unknown"),
])
def test_what_the_formula_implies(text, state):
    p = parse_formula(text)
    assert implied_state(p.notation, ";".join(p.tags))[0] == state


def test_labels_and_structures():
    assert implied_state("plain", "", "Glass-Ceramic") == ("glass-ceramic", "the source labels it 'Glass-Ceramic'")
    assert implied_state("glass", "", "Glass ceramic")[0] == "glass-ceramic"  # the source outranks the notation
    assert implied_state("plain", "", None, crystal_structure=True)[0] == "crystalline"
    assert implied_state("plain", "", "NASICON", structure_family=names_structure("NASICON"))[0] == "crystalline"
    assert not names_structure("Oxides") and not names_structure("Other") and not names_structure("thiophosphates")
    assert not names_structure("Glass") and names_structure("Zircon")
    # unknown is a value of its own: nothing found is never a guess
    assert implied_state("plain", "", "Sulphides") == ("unknown", "")
    assert set(STATES) == {"crystalline", "glass", "glass-ceramic", "unknown"}


@pytest.mark.parametrize(("text", "note"), [
    ("amorphous", "state 'amorphous' read as glass"), ("Tetragonal", "state 'Tetragonal' read as crystalline"),
    ("GC", "state 'GC' read as glass-ceramic"), ("glass", None), ("Glasses", None), ("crystalline", None),
    ("", None), (None, None)])
def test_a_state_written_as_another_word_says_what_it_was_read_as(text, note):
    from sulfml.parse.state import reading_note

    assert reading_note(text) == note


def test_the_formula_says_which_word_set_the_state():
    assert implied_state("plain", "amorphous") == ("glass", "the formula says amorphous, read as glass")
    assert implied_state("plain", "crystalline") == ("crystalline", "the formula says crystalline")
    assert implied_state("plain", "polymorph:β") == ("crystalline", "a polymorph prefix")
