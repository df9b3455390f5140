"""Named polymorphs: β-Li3PS4 is Pnma (62), cubic Li7La3Zr2O12 is Ia-3d (230). The shipped, cited table
(`polymorphs.toml`) and the one rule that turns a polymorph word of a formula into a space group."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sulfml.chem.composition import composition_key
from sulfml.chem.space_groups import CRYSTAL_SYSTEM_NAMES, space_group_label, space_group_number

# The words a formula's polymorph may be written with, as the table names them: c-LLZO is cubic LLZO.
CRYSTAL_SYSTEM_LETTERS: dict[str, str] = {
    "c": "cubic", "t": "tetragonal", "o": "orthorhombic", "m": "monoclinic", "h": "hexagonal",
    "r": "trigonal", "rhombohedral": "trigonal",
}
CRYSTAL_SYSTEM_WORDS = (*CRYSTAL_SYSTEM_NAMES, "rhombohedral")


@dataclass(frozen=True)
class Polymorph:
    """One row of the table.

    Attributes:
        formula: the formula as the table writes it.
        names: the polymorph words that name it (β, cubic, HT, ...).
        space_group: its international number.
        reference: the DOI of a paper that reports the structure.
        note: what else a reader should know about the row.
    """

    formula: str
    names: tuple[str, ...]
    space_group: int
    reference: str
    note: str = ""


def polymorph_name(word: str) -> str:
    """The table's spelling of a polymorph word: 'c' and 'Cubic' are 'cubic', 'ht' is 'HT'; Greek letters
    stay as they are."""
    w = word.strip()
    low = w.lower()
    if low in ("lt", "ht"):
        return low.upper()
    if low in CRYSTAL_SYSTEM_LETTERS:
        return CRYSTAL_SYSTEM_LETTERS[low]
    return low if low in CRYSTAL_SYSTEM_WORDS else w


@cache
def polymorph_table() -> tuple[Polymorph, ...]:
    """Every row of the shipped table, in file order."""
    text = resources.files("sulfml.chem").joinpath("polymorphs.toml").read_text(encoding="utf-8")
    rows = []
    for row in tomllib.loads(text)["polymorph"]:
        sg = space_group_number(row["space_group"])
        assert sg is not None  # the table test checks every row
        rows.append(Polymorph(row["formula"], tuple(polymorph_name(n) for n in row["names"]), sg,
                              row["reference"], row.get("note", "")))
    return tuple(rows)


@cache
def _by_key() -> dict[tuple[str, str], Polymorph]:
    from pymatgen.core import Composition as PmgComposition

    out = {}
    for p in polymorph_table():
        key = composition_key(PmgComposition(p.formula).get_el_amt_dict())
        for name in p.names:
            out[(key, name)] = p
    return out


def named_polymorph(composition: Mapping[Any, float], word: str) -> Polymorph | None:
    """The table's polymorph of this composition (any scale) that `word` names, or None when the table has
    none."""
    return _by_key().get((composition_key(composition), polymorph_name(word)))


def polymorph_words(tags: str | None) -> list[str]:
    """The polymorph words of a parser tags cell ('polymorph:β;glass' -> ['β'])."""
    if not tags:
        return []
    return [t.partition(":")[2] for t in tags.split(";") if t.startswith("polymorph:") and t.partition(":")[2]]


def space_group_of_name(composition: Mapping[Any, float], tags: str | None) -> tuple[int | None, str | None]:
    """The space group a formula's polymorph word names, by the table, and the note that says so.

    Returns:
        (space group, note): (62, 'β: Pnma (62), 10.1021/ja3110895') when the table names it; (None, a note
        that the polymorph was not used) when the formula has a word the table lacks; (None, None) without one.
    """
    for word in polymorph_words(tags):
        found = named_polymorph(composition, word)
        if found is not None:
            return found.space_group, (f"{polymorph_name(word)}: {space_group_label(found.space_group)}, "
                                       f"the table of named polymorphs ({found.reference})")
        return None, (f"polymorph {polymorph_name(word)!r} is not in the table of named polymorphs: the "
                      "space group is not known from the name")
    return None, None
