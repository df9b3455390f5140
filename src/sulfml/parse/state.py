"""A material's state: crystalline, glass, glass-ceramic or unknown, and what in a row implies it.

The state moves a sulfide's conductivity by orders of magnitude (70Li2S-30P2S5 glass against its
glass-ceramic), so the models take it as an input. It comes, first found first, from: the user or the
source saying so; words in the formula text (`glass-ceramic`, `GC`, `glass`, `amorphous`); a data label
(the review's structure column, Liverpool's `Glass`/`Glass-Ceramic` families, a named crystal structure);
a crystal structure (a space group); a glass notation (`70Li2S-30P2S5`); a polymorph prefix (`β-Li3PS4`).
Nothing found is `unknown`, a value of its own, never a guess.
"""

from __future__ import annotations

import re
from typing import Any

from sulfml.errors import InputError

CRYSTALLINE, GLASS, GLASS_CERAMIC, UNKNOWN = "crystalline", "glass", "glass-ceramic", "unknown"
STATES: tuple[str, ...] = (CRYSTALLINE, GLASS, GLASS_CERAMIC, UNKNOWN)

# Tag names (`ParsedFormula.tags`, lower case, before any ':') and what they say.
GLASS_CERAMIC_TAGS = frozenset({"glass-ceramic", "glassceramic", "glass ceramic"})
GLASS_TAGS = frozenset({"glass", "amorphous"})
CRYSTALLINE_TAGS = frozenset({"polymorph", "crystalline"})

# Normalised data labels (`norm_label`): glass families, and chemistry classes rather than structures.
GLASS_CERAMIC_LABELS = frozenset({"glassceramic", "glassceramics"})
GLASS_LABELS = frozenset({"glass", "glasses"})
GENERIC_LABELS = frozenset({
    "", "oxide", "oxides", "sulfide", "sulfides", "sulphide", "sulphides", "halide", "halides",
    "chloride", "chlorides", "cholorides", "fluoride", "fluorides", "phosphate", "phosphates",
    "hydride", "hydrides", "nitride", "nitrides", "other", "others", "unknown", "none", "nan",
    *GLASS_LABELS, *GLASS_CERAMIC_LABELS,
})
# Families that are made both as glasses and as crystals: their name says nothing of the state.
_EITHER_STATE_LABELS = frozenset({"thiophosphate", "thiophosphates", "li2sp2s5"})

# Normalised words (lower case, letters only) for a state, as users and sources write them.
_WORDS: dict[str, str] = {
    "crystalline": CRYSTALLINE, "crystal": CRYSTALLINE, "crystals": CRYSTALLINE, "cryst": CRYSTALLINE,
    "tetragonal": CRYSTALLINE, "cubic": CRYSTALLINE, "orthorhombic": CRYSTALLINE,
    "monoclinic": CRYSTALLINE, "triclinic": CRYSTALLINE, "hexagonal": CRYSTALLINE, "trigonal": CRYSTALLINE,
    "rhombohedral": CRYSTALLINE,
    "glass": GLASS, "glasses": GLASS, "glassy": GLASS, "amorphous": GLASS,
    "glassceramic": GLASS_CERAMIC, "glassceramics": GLASS_CERAMIC, "gc": GLASS_CERAMIC,
    "unknown": UNKNOWN, "": UNKNOWN, "none": UNKNOWN, "nan": UNKNOWN, "na": UNKNOWN,
}


class StateError(InputError):
    """A text that names no state."""


def _norm(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def norm_label(label: Any) -> str:
    """A data label as the label rules compare it: lower case, letters and digits only ("" for no text)."""
    if not isinstance(label, str):
        return ""
    return re.sub(r"[^a-z0-9]", "", label.lower())


def names_structure(label: Any) -> bool:
    """Whether a family label names a crystal structure type (NASICON, Garnet, Zircon), not a chemistry class
    ("Oxides", "Other"), a glass or a family made in either state (thiophosphates)."""
    key = norm_label(label)
    return key not in GENERIC_LABELS and key not in _EITHER_STATE_LABELS


def normalize_state(value: Any) -> str:
    """One of `STATES` for a state as written ("Glass ceramic", "GC", "crystalline", "" or None: unknown).

    Raises:
        StateError: a text that names no state; the message lists the accepted ones.
    """
    if value is None or (isinstance(value, float) and value != value):
        return UNKNOWN
    state = _WORDS.get(_norm(str(value)))
    if state is None:
        raise StateError(f"unknown state {str(value)!r}: use one of {', '.join(STATES)}")
    return state


def reading_note(value: Any) -> str | None:
    """What `normalize_state` made of a word that is not the state's own name ("state 'amorphous' read as
    glass"); None for a state as named (any case, a plural) or a blank. Assumes `normalize_state` accepts it."""
    word = _norm("" if value is None or (isinstance(value, float) and value != value) else str(value))
    state = _WORDS.get(word)
    if state is None or state == UNKNOWN or word in (_norm(state), _norm(state) + "s", _norm(state) + "es"):
        return None
    return f"state {str(value).strip()!r} read as {state}"


def state_of_label(label: Any) -> str | None:
    """The state a data label names: a structure-column word (glass, Glass ceramic, Tetragonal) or a family
    (Liverpool's `Glass`, `Glass-Ceramic`); None when it names none."""
    if not isinstance(label, str) or not label.strip():
        return None
    state = _WORDS.get(_norm(label))
    return None if state == UNKNOWN else state


def state_of_tags(tags: Any) -> str | None:
    """The state a text's words name, by the parser's tags ("glass-ceramic", "amorphous", "polymorph:β"):
    a glass-ceramic before a glass before a crystal; None when they name none."""
    keys = tag_keys(tags)
    if keys & GLASS_CERAMIC_TAGS:
        return GLASS_CERAMIC
    if keys & GLASS_TAGS:
        return GLASS
    if keys & CRYSTALLINE_TAGS:
        return CRYSTALLINE
    return None


def tag_keys(tags: Any) -> set[str]:
    """Lower-cased tag names of a tags cell ("polymorph:β;glass-ceramic"), the value after ':' dropped."""
    if not isinstance(tags, str):
        return set()
    return {t.split(":", 1)[0].strip().lower() for t in tags.split(";") if t.strip()}


def implied_state(notation: Any = "plain", tags: Any = "", label: Any = None, crystal_structure: bool = False,
                  structure_family: bool = False) -> tuple[str, str]:
    """The state a row's notation, tags, data label and structure imply, and why (empty for unknown).

    Args:
        notation: the parser's notation ("glass" for mixtures such as 70Li2S-30P2S5).
        tags: the parser's tags ("glass-ceramic", "polymorph:β", ...), ';'-separated.
        label: a source's state or family label (review structure column, Liverpool family).
        crystal_structure: the row has a crystal structure (space group, CIF).
        structure_family: the row's family label names a crystal structure type (NASICON, garnet, ...).

    Returns:
        (one of `STATES`, the reason in words).
    """
    keys, named = tag_keys(tags), state_of_tags(tags)
    if named == GLASS_CERAMIC:
        return GLASS_CERAMIC, "the formula says glass-ceramic"
    if named == GLASS:
        return GLASS, "the formula says glass" if "glass" in keys else "the formula says amorphous, read as glass"
    labelled = state_of_label(label)
    if labelled is not None:
        return labelled, f"the source labels it {label!r}"
    if crystal_structure:
        return CRYSTALLINE, "it has a crystal structure"
    if structure_family:
        return CRYSTALLINE, f"the source names its structure {label!r}"
    if isinstance(notation, str) and notation.strip().lower() == "glass":
        return GLASS, "a glass notation (xA-yB)"
    if named == CRYSTALLINE:
        return CRYSTALLINE, "the formula says crystalline" if "crystalline" in keys else "a polymorph prefix"
    return UNKNOWN, ""
