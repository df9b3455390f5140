"""Common typing slips in formulas: notes for readings that look like one, hints for rejections.

Nothing here changes a reading: a text that looks like a slip is still read as written, and the note names
the formula probably meant (`Li6PS5CI` is read as carbon + iodine; the note asks "did you mean Li6PS5Cl?").
`formula.parse_formula` puts the notes in `ParsedFormula.notes` and the hints in its rejection message.
`SLIP_SUSPECT` finds every text that may get a note, so that `bulk` leaves those to `parse_formula`.
Imports neither pymatgen nor pandas. Rules: docs/notations.md ("Slips").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# `CI` is carbon then iodine (not indium or iridium).
_CI = re.compile(r"CI(?![nr])")
# `C1` is one carbon: the 1 is a whole amount (no digit or decimal point after it).
_C1 = re.compile(r"C1(?![\d.])")
_CARBON = re.compile(r"C(?![a-z])")
# An element or group amount that starts with a zero followed by a digit (`P04`, `Nb03`, `P05`).
_LEADING_ZERO = re.compile(r"(?<=[A-Za-z)\]])0(?=\d)")
# A whole amount of 3 to 4 digits with an inner zero (`Zr2012`, `P205`, `B203`): 2O12, 2O5, 2O3.
_INNER_ZERO = re.compile(r"(?<=[A-Za-z)\]])([1-9]\d?)0([1-9]\d?)(?![\d.])")
# A letter O inside a number (`La0.O5`): read as a number `0.` and oxygen.
_DOT_O = re.compile(r"(?<=\d)\.O(?=\d)")
# An element symbol written without an amount (an implicit 1).
_IMPLICIT_ONE = re.compile(r"[A-Z][a-z]?(?![a-z\d.])")
_SYMBOL = re.compile(r"[A-Z][a-z]?")
# An amount of exactly zero (`LiI0`): a suggestion with one is not what was meant.
_ZERO_AMOUNT = re.compile(r"(?<=[A-Za-z)\]])0(?![\d.])")

# A superset of the texts `slip_notes` may give a note for: one search over a text (or a whole column).
SLIP_SUSPECT = re.compile(r"CI|C1(?![\d.])|[A-Za-z)\]]0\d|[A-Za-z)\]][1-9]\d?0[1-9]|\d\.O\d")

# Stray letters in rejected texts.
_A_FOR_AL = re.compile(r"A[1I]")
_STRAY_L = re.compile(r"(?<![A-Z])l")
# Elements past plutonium are never meant in an electrolyte; segmentations using them come last.
_SYNTHETIC = frozenset({"Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs",
                        "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og", "D", "T"})
_MAX_SUGGESTIONS = 3
_MAX_HINTED = 200  # longer rejected texts get no hint


def slip_notes(text: str, reads: Callable[[str], bool]) -> tuple[str, ...]:
    """Notes for a text that was read but looks like a common slip.

    Args:
        text: the chemistry part of the formula as read (words and names removed).
        reads: whether a text is read by the parser (the suggestions must be).

    Returns:
        One note per kind of slip found, each naming the formulas probably meant; () for most texts.
    """
    if SLIP_SUSPECT.search(text) is None:
        return ()
    notes = []
    carbons = len(_CARBON.findall(text))
    # Only in a formula of other elements too: CI4 is carbon tetraiodide, never "Cl4".
    others = any(s not in ("C", "I") for s in _SYMBOL.findall(text))
    ci = _CI.findall(text)
    if ci and len(ci) == carbons and others:
        notes.append(_note("'CI' is read as carbon and iodine", [_CI.sub("Cl", text)], reads))
    c1 = _C1.findall(text)
    if c1 and len(c1) == carbons and others and _IMPLICIT_ONE.search(text) is not None:
        notes.append(_note("'C1' is read as one carbon", [_C1.sub("Cl", text)], reads))
    if _LEADING_ZERO.search(text):
        notes.append(_note("an amount starts with a zero", [_LEADING_ZERO.sub("O", text),
                                                              _LEADING_ZERO.sub("0.", text)], reads))
    if (m := _INNER_ZERO.search(text)) is not None:
        notes.append(_note(f"'{m.group()}' is read as an amount", [_INNER_ZERO.sub(r"\1O\2", text)], reads))
    if _DOT_O.search(text):
        notes.append(_note("a letter O follows a decimal point", [_DOT_O.sub(".0", text)], reads))
    return tuple(n for n in notes if n)


def _note(what: str, candidates: Iterable[str], reads: Callable[[str], bool]) -> str:
    meant = [c for c in dict.fromkeys(candidates) if reads(c)]
    if not meant:
        return ""
    return f"{what}: did you mean {' or '.join(meant)}? (predicted as read)"


def rejection_hint(text: str, elements: frozenset[str], reads: Callable[[str], bool]) -> str:
    """A hint for a rejected text: the formulas it probably meant, when a common slip explains the rejection.

    All-lowercase (or all-uppercase) texts get their letters split into element symbols (`li6ps5cl` ->
    Li6PS5Cl); others get `A1`/`AI` -> Al and a stray `l` -> 1 or I. Only suggestions the parser reads are
    given.

    Returns:
        "" or e.g. " (did you mean Li6PS5Cl?)".
    """
    letters = [c for c in text if c.isalpha()]
    if len(text) > _MAX_HINTED or len(letters) < 2 or not all(c.isascii() for c in letters):
        return ""
    if all(c.islower() for c in letters) or all(c.isupper() for c in letters):
        candidates = _recased(text.lower(), elements)
        why = "element symbols start with a capital letter"
    else:
        fixed = _A_FOR_AL.sub("Al", text)
        candidates = [_STRAY_L.sub("1", fixed), _STRAY_L.sub("I", fixed)]
        why = ""
    meant = [c for c in dict.fromkeys(candidates)
             if c != text and _ZERO_AMOUNT.search(c) is None and reads(c)][:_MAX_SUGGESTIONS]
    if not meant:
        return ""
    return f" ({why + ': ' if why else ''}did you mean {' or '.join(meant)}?)"


def _recased(text: str, elements: frozenset[str], limit: int = 64) -> list[str]:
    """The ways to write a lowercase text's letters as element symbols (at most `limit`), likely first."""
    n = len(text)

    def symbol(i: int, size: int) -> str | None:
        sym = text[i: i + size].capitalize()
        return sym if len(sym) == size and sym.isalpha() and sym in elements else None

    # done[i]: the text from i on can be written; the walk below only takes steps that finish.
    done = [False] * (n + 1)
    done[n] = True
    for i in range(n - 1, -1, -1):
        if not text[i].isalpha():
            done[i] = done[i + 1]
        else:
            done[i] = any(symbol(i, size) and done[i + size] for size in (2, 1))
    out: list[str] = []

    def walk(i: int, parts: list[str], rare: bool) -> None:
        if len(out) >= limit:
            return
        if i == n:
            out.append(("1" if rare else "0") + "".join(parts))
            return
        if not text[i].isalpha():
            walk(i + 1, [*parts, text[i]], rare)
            return
        for size in (2, 1):
            if (sym := symbol(i, size)) and done[i + size]:
                walk(i + size, [*parts, sym], rare or sym in _SYNTHETIC)

    if done[0]:
        walk(0, [], False)
    return [s[1:] for s in sorted(out, key=lambda s: s[0])]
