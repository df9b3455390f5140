"""Read chemical formulas as the solid-electrolyte literature writes them.

Plain formulas, glass and nested mixtures, host+dopant, composites and hydrates give a composition;
anything else gives a short rejection reason, never a guess. Notations: docs/notations.md.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from pymatgen.core import Composition
from pymatgen.core.periodic_table import Element

from sulfml.chem.composition import composition_key as composition_key  # the material key, re-exported
from sulfml.chem.polymorphs import CRYSTAL_SYSTEM_WORDS, polymorph_name
from sulfml.errors import InputError
from sulfml.parse.display import amount_text, rounded_formula, written_formula
from sulfml.parse.reduced import derived_formula
from sulfml.parse.rules import AMOUNT_DECIMALS, MAX_AMOUNT, MISSING_VALUES
from sulfml.parse.slips import rejection_hint, slip_notes
from sulfml.parse.state import implied_state

ELEMENTS = frozenset(e.symbol for e in Element)

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_DOTS = "*·•∙⋅×"
_SEPARATORS = "-" + _DOTS
_CLEAN = str.maketrans(cast(
    "dict[str | int, str | None]",
    {**{c: str(i) for i, c in enumerate("₀₁₂₃₄₅₆₇₈₉")},
     **dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None),
     **dict.fromkeys(map(ord, "\u00a0\u2002\u2003\u2007\u2009\u202f\u3000\t\r\n"), " "),
     **dict.fromkeys(map(ord, _DASHES), "-")}
))
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_WORD = r"\(?(glass[- ]?ceramics?|glassy|glass|amorphous|crystalline|GC)\)?"
# A state word at the end, after a space or a dash (Li7P3S11 glass-ceramic, Li7P3S11-glass-ceramic).
_TRAILING_WORD = re.compile(r"(?:^|\s|-)" + _WORD + r"\s*$", re.IGNORECASE)
# A binary glass with its molar ratio in brackets: Li2S-P2S5 (75:25) is 75Li2S-25P2S5.
_RATIO_GLASS = re.compile(r"^([^-\s()]+)\s*-\s*([^-\s()]+)\s*\(\s*(\d+(?:\.\d*)?)\s*:\s*(\d+(?:\.\d*)?)\s*\)$")
_LEADING_WORD = re.compile(r"^" + _WORD + r"(?:\s|$)", re.IGNORECASE)
# Greek letters may be glued to the formula (βLi3PS4); Latin ones need the dash, or they would eat symbols.
_POLYMORPH = re.compile(r"^(?:([αβγδεζηθκλμξπστφχψω])\s*-?|(LT|HT|[rctmoh])\s*-)\s*(?=\S)")
# Greek letters spelt out (beta-Li3PS4, Gamma Li3PO4): a dash or a space after the word.
_GREEK = dict(zip(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "kappa", "lambda",
                   "mu", "xi", "pi", "sigma", "tau", "phi", "chi", "psi", "omega"], "αβγδεζηθκλμξπστφχψω",
                  strict=True))
_GREEK_WORD = re.compile(r"^(" + "|".join(_GREEK) + r")(?:\s*-|\s)\s*(?=\S)", re.IGNORECASE)
# A crystal system written out names a polymorph too: cubic Li7La3Zr2O12, Li7La3Zr2O12-tetragonal, (cubic).
_SYSTEMS = "|".join(CRYSTAL_SYSTEM_WORDS)
_SYSTEM_LEADING = re.compile(r"^(" + _SYSTEMS + r")(?:\s*-|\s)\s*(?=\S)", re.IGNORECASE)
_SYSTEM_TRAILING = re.compile(r"(?:\s|-)\(?(" + _SYSTEMS + r")\)?\s*$", re.IGNORECASE)
# A bracketed group ending the text, holding no bracket: a name or abbreviation when it is not chemistry.
_TRAILING_GROUP = re.compile(r"([(\[])([^()\[\]]*)([)\]])\s*$")
_NAME_SPLIT = re.compile(r"[\s,;:/=+" + re.escape(_SEPARATORS) + r"]+")
_SYMBOL = re.compile(r"[A-Z][a-z]?")
_SYMBOLS_WORD = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)?(?:[A-Z][a-z]?(?:\d+(?:\.\d*)?|\.\d+)?)+")
_PERCENT = re.compile(
    r"^(?P<host>.*?\S)\s*[-+" + _DOTS + r"]\s*(?P<additive>(?P<pct>\d+(?:\.\d*)?|\.\d+)\s*"
    r"(?P<unit>wt|vol|mol)\s*\.?\s*%\s*(?P<what>\S.*?))\s*$",
    re.IGNORECASE,
)
_HYDRATE = re.compile(r"^\s*(?:(\d+(?:\.\d*)?|\.\d+)?\s*H2O|\(H2O\)(\d+(?:\.\d*)?|\.\d+)?)\s*$")
_OPEN, _CLOSE = "([", ")]"
_MAX_DEPTH = 100  # groups inside groups; no formula comes near
_QUOTES = ('""', "''", "\u201c\u201d", "\u2018\u2019")


class FormulaError(InputError):
    """A rejection; its message becomes `ParsedFormula.error`."""


@dataclass(frozen=True)
class ParsedFormula:
    """The reading of one formula text: a composition, or the reason it was rejected.

    Attributes:
        input: the text as given.
        composition: element symbol -> amount, in the scale written; None on error.
        formula: the formula shown (`shown_formula`): a plain formula as written, a derived one (a glass, a
            host with a dopant) at its display scale; None on error. Not the identity: that is
            `composition_key`.
        notation: "plain", "glass", "host+dopant", "composite" or "hydrate"; "" on error.
        additive: for composites, the additive as written (e.g. "5wt% Al2O3"); else None.
        tags: extra facts read from the text, e.g. ("polymorph:β", "glass", "name:LGPS").
        error: the rejection reason, None when the text was read.
        notes: warnings about the reading, e.g. that it looks like a typing slip ("'CI' is read as carbon
            and iodine: did you mean Li6PS5Cl? (predicted as read)"); () for most texts.
    """

    input: str
    composition: dict[str, float] | None
    formula: str | None
    notation: str
    additive: str | None
    tags: tuple[str, ...]
    error: str | None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the text was read into a composition."""
        return self.error is None

    @property
    def state(self) -> str | None:
        """The state the text implies (`sulfml.parse.state.implied_state`: glass for 70Li2S-30P2S5,
        glass-ceramic for a `(GC)` tag, unknown for a plain formula); None when the text was not read."""
        if not self.ok:
            return None
        return implied_state(self.notation, ";".join(self.tags))[0]

    def to_dict(self) -> dict:
        """Return a JSON-ready dict of the result."""
        return {"input": self.input, "formula": self.formula, "composition": self.composition,
                "notation": self.notation, "state": self.state, "additive": self.additive,
                "tags": list(self.tags), "error": self.error, "notes": list(self.notes)}

    def to_composition(self) -> Composition:
        """Return the composition as a pymatgen Composition.

        Raises:
            ValueError: if the formula was rejected.
        """
        if not self.ok:
            raise ValueError(f"cannot build a composition from {self.input!r}: {self.error}")
        return Composition(self.composition)


def parse_formula(text: str) -> ParsedFormula:
    """Read a formula in literature notation.

    Args:
        text: e.g. "Li6PS5Cl", "70Li2S-30P2S5", "LiTi2(PO4)3-0.2Li2O", "Li3PS4 – 2 wt% Al2O3".

    Returns:
        The parsed formula; rejections are reported in `.error`, never raised.
    """
    raw = "" if text is None else str(text)
    if any(c in _LINE_BREAKS for c in raw.strip()):
        # two formulas pasted into one cell would otherwise be read as one (Li6PS5Cl + Li3PS4 -> Li9P2S9Cl)
        return ParsedFormula(raw, None, None, "", None, (), "several lines in one cell: give one formula per row")
    cached = _parse_clean(" ".join(raw.translate(_CLEAN).split()))
    comp = None if cached.composition is None else dict(cached.composition)
    return dataclasses.replace(cached, input=raw, composition=comp)


@functools.lru_cache(maxsize=16384)
def _parse_clean(text: str) -> ParsedFormula:
    tags: list[str] = []
    notes: list[str] = []
    # Spreadsheet exports sometimes keep the quotes around a cell ("(LiCl)0.5 (P2O5)0.5").
    while len(text) > 1 and text[0] + text[-1] in _QUOTES:
        text = text[1:-1].strip()
    try:
        if text in MISSING_VALUES:
            raise FormulaError(f"empty formula: {text!r} marks a missing value, not a formula")
        text = _strip_words(text, tags)
        if not text:
            raise FormulaError("empty formula")
    except FormulaError as exc:
        return ParsedFormula("", None, None, "", None, tuple(tags), str(exc))
    try:
        text = _fix_o_for_zero(text, tags, notes)
        comp, notation, additive = _read(text, tags)
    except FormulaError as exc:
        return ParsedFormula("", None, None, "", None, tuple(tags), str(exc) + rejection_hint(text, ELEMENTS, _reads))
    except RecursionError:
        return ParsedFormula("", None, None, "", None, tuple(tags), "unreadable: nested too deeply")
    notes += slip_notes(text, _reads)
    return ParsedFormula("", comp, _shown(text, comp, notation), notation, additive, tuple(tags), None,
                         tuple(notes))


def _reads(text: str) -> bool:
    """Whether the chemistry part of a formula is read (for the suggestions of `slips`)."""
    try:
        _read(text, [])
    except (FormulaError, RecursionError):
        return False
    return True


def _read(text: str, tags: list[str]) -> tuple[dict[str, float], str, str | None]:
    """(composition, notation, additive) of the chemistry part of a formula; raises FormulaError."""
    _check_parentheses(text)
    if text.startswith("-"):
        raise FormulaError("non-positive total: leading minus sign")
    additive = None
    if (m := _PERCENT.match(text)) is not None:
        comp, notation, additive = _percent(m)
    elif (hydrate := _split_hydrate(text)) is not None:
        host, water = hydrate
        comp = _add(_mixture(host)[0], {"H": 2.0, "O": 1.0}, water)
        notation = "hydrate"
        tags.append("hydrate")
    elif "%" in text:
        raise FormulaError("unreadable: percentage notation not understood")
    else:
        comp, notation = _mixture(text)
    comp = {el: round(_finite(amt), AMOUNT_DECIMALS) for el, amt in comp.items() if amt != 0}
    comp = {el: amt for el, amt in comp.items() if amt != 0}
    if not comp or any(amt < 0 for amt in comp.values()):
        raise FormulaError("non-positive total")
    if (big := max(comp, key=cast("Callable[[str], float]", comp.get))) and comp[big] > MAX_AMOUNT:
        raise FormulaError(f"implausible amount: {comp[big]:.3g} {big} (more than {MAX_AMOUNT:g})")
    return comp, notation, additive


# pymatgen's reduced formula ends with the polyanion group when it has one: Li10Ge(PS6)2.
_POLYANION = re.compile(r"\(([A-Z][a-z]?)(\d*)([A-Z][a-z]?)(\d*)\)(\d+)$")


def display_formula(composition: Mapping[str, float], divisor: float = 1.0) -> str:
    """The formula shown for a derived composition (`sulfml.parse.reduced.derived_formula`): whole at its
    display scale where it can be (Li3PS4 for 0.75Li2S-0.25P2S5 and for Li0.6P0.2S0.8, Li10GeP2S12 with no
    polyanion group), else the composition over `divisor` with at most four decimals and no explicit 1. It
    does not depend on how the text was written; `composition_key`, not this, is the material key."""
    try:
        return cast(str, derived_formula(composition, divisor))
    except KeyError:  # an element without an electronegativity (a noble gas): pymatgen has an order for it
        pass
    formula = Composition(composition).reduced_formula
    if (m := _POLYANION.search(formula)) is not None:
        a, na, b, nb, factor = m.groups()
        k = int(factor)
        formula = f"{formula[: m.start()]}{a}{int(na or 1) * k}{b}{int(nb or 1) * k}"
    return rounded_formula(formula)


def _shown(text: str, comp: Mapping[str, float], notation: str) -> str:
    """The shown formula of a read text (its chemistry part, words and names stripped).

    A plain formula as written (`display.written_formula`); a composite as its host is shown, a hydrate as
    its host with its water (Li3InCl6·2H2O); the rest derived (`display_formula`), a glass per mole of its
    components (over the sum of its coefficients).
    """
    if notation == "composite" and (m := _PERCENT.match(text)) is not None:
        return _shown(m["host"], *_mixture(m["host"]))
    if notation == "hydrate" and (hydrate := _split_hydrate(text)) is not None:
        host, water = hydrate
        return f"{_shown(host, *_mixture(host))}·{amount_text(water)}H2O"
    if notation == "plain" and _NUMBER.match(text) is None:
        return written_formula(text)
    divisor = 1.0
    if notation != "host+dopant" and _PERCENT.match(text) is None:  # mol% gives mole fractions already
        divisor = sum(1.0 if (c := _NUMBER.match(p)) is None else _number(c.group()) for p in _components(text))
    return display_formula(comp, divisor)


def _strip_words(text: str, tags: list[str]) -> str:
    """Remove table words (glass, amorphous, GC), trailing names ("(LGPS)") and polymorph prefixes; record them
    as tags."""
    while True:
        m = _TRAILING_WORD.search(text) or _LEADING_WORD.match(text)
        if m is not None:
            tag = _word_tag(m.group(1))
            text = (text[: m.start()] + " " + text[m.end():]).strip()
        elif (m := _SYSTEM_TRAILING.search(text) or _SYSTEM_LEADING.match(text)) is not None:
            tag = f"polymorph:{polymorph_name(m.group(1))}"
            text = (text[: m.start()] + " " + text[m.end():]).strip()
        elif (m := _RATIO_GLASS.match(text)) is not None:
            a, b, x, y = m.groups()
            text = f"{x}{a}-{y}{b}"
            continue
        elif (m := _TRAILING_GROUP.search(text)) is not None and _is_name(text[: m.start()], m):
            name = " ".join(m.group(2).split())
            if re.fullmatch(_WORD, name, re.IGNORECASE):
                tag = _word_tag(name)
            elif name.lower() in _GREEK or name in _GREEK.values():  # Li3PS4 (beta): a polymorph, as beta-Li3PS4
                tag = f"polymorph:{_GREEK.get(name.lower(), name)}"
            elif name.lower() in CRYSTAL_SYSTEM_WORDS:  # Li7La3Zr2O12 (cubic)
                tag = f"polymorph:{polymorph_name(name)}"
            else:
                tag = f"name:{name}"
            text = text[: m.start()].strip()
        else:
            break
        if tag not in tags:
            tags.append(tag)
    if (m := _POLYMORPH.match(text)) is not None:
        tags.insert(0, f"polymorph:{polymorph_name(m.group(1) or m.group(2))}")
        text = text[m.end():]
    elif (m := _GREEK_WORD.match(text)) is not None:
        tags.insert(0, f"polymorph:{_GREEK[m.group(1).lower()]}")
        text = text[m.end():]
    return text


def _word_tag(word: str) -> str:
    word = word.lower()
    if "ceramic" in word or word == "gc":
        return "glass-ceramic"
    return "glass" if word.startswith("glass") else word


def _is_name(before: str, group: re.Match) -> bool:
    """A trailing bracketed group is a name when something precedes it, its brackets match and one of its
    words (split at spaces and separators) is not element symbols with amounts: (LGPS), (argyrodite), (GC),
    (x = 0.5), (Cl-rich). (PO4), (OH), (Li2S-P2S5) and (LiPON) are element symbols, so chemistry."""
    if not before.strip() or _CLOSE[_OPEN.index(group.group(1))] != group.group(3):
        return False
    for word in _NAME_SPLIT.split(group.group(2)):
        if any(c.isalpha() for c in word) and (
                _SYMBOLS_WORD.fullmatch(word) is None or any(s not in ELEMENTS for s in _SYMBOL.findall(word))):
            return True
    return False


def _fix_o_for_zero(text: str, tags: list[str], notes: list[str]) -> str:
    """Read a letter o typed for a zero (Lao.51 -> La0.51), unless it completes a symbol (Co.5 is cobalt)."""
    if "o" not in text:
        return text
    chars = list(text)
    for i, c in enumerate(text):
        if c != "o" or i == 0:
            continue
        prev, nxt = text[i - 1], text[i + 1: i + 3]
        dot_digit = len(nxt) == 2 and nxt[0] == "." and nxt[1].isdigit()
        if prev.isalpha():
            fix = dot_digit and not (prev.isupper() and prev + "o" in ELEMENTS)
        else:
            fix = (prev.isdigit() or prev == ".") and (dot_digit or nxt[:1].isdigit())
        if fix:
            chars[i] = "0"
    fixed = "".join(chars)
    if fixed != text:
        tags.append("fixed:o-for-0")
        notes.append(f"a letter o was read as a zero: {fixed}")
    return fixed


def _check_parentheses(text: str) -> None:
    stack: list[str] = []
    deepest = 0
    for c in text:
        if c in _OPEN:
            stack.append(_CLOSE[_OPEN.index(c)])
            deepest = max(deepest, len(stack))
        elif c in _CLOSE:
            if not stack:
                raise FormulaError(f"malformed parentheses: unmatched '{c}'")
            if stack.pop() != c:
                raise FormulaError(f"malformed parentheses: mismatched '{c}'")
    if stack:
        raise FormulaError("malformed parentheses: unclosed group")
    if deepest > _MAX_DEPTH:  # reading each level rescans the group: refuse before that
        raise FormulaError("unreadable: nested too deeply")


def _number(text: str) -> float:
    """A coefficient or amount as written; refuses those too large to be a float."""
    return _finite(float(text))


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise FormulaError("implausible amount: too large to be a number of atoms")
    return value


def _split_top(text: str, seps: str) -> list[str]:
    """Split at separator characters outside any group (parentheses are known to be balanced)."""
    pieces, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif depth == 0 and c in seps:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return pieces


def _percent(m: re.Match) -> tuple[dict[str, float], str, str | None]:
    """Host with a wt%/vol% additive (a second phase) or a mol% component (a mole fraction)."""
    pct = _number(m["pct"])
    if not 0 < pct < 100:
        raise FormulaError("unreadable: percentage must be between 0 and 100")
    host = _mixture(m["host"])[0]
    what = _mixture(m["what"])[0]
    if m["unit"].lower() == "mol":
        return _add(_scale(host, 1 - pct / 100), what, pct / 100), "glass", None
    # The additive's mole amount would need molar-mass/density conventions we do not have, so the
    # composition is the conducting host alone and the additive is kept as written for traceability.
    return host, "composite", " ".join(m["additive"].split())


def _split_hydrate(text: str) -> tuple[str, float] | None:
    """Return (host text, waters per host) when the last dot-separated component is water."""
    pieces = _split_top(text, _DOTS)
    if len(pieces) < 2 or (m := _HYDRATE.match(pieces[-1])) is None:
        return None
    host = text[: len(text) - len(pieces[-1]) - 1].strip()
    if not host:
        return None
    return host, _number(m.group(1) or m.group(2) or "1")


def _components(text: str) -> list[str]:
    """Split a mixture into its components: at - and dot separators, and at spaces between weighted parts.

    A space only separates components when every part starts with a coefficient (0.2(Li2S) 0.8(GeS2));
    otherwise it is a typing artefact inside one formula (La0.62 Li0.14(Mg0.5W0.5)O3).
    """
    out = []
    for piece in _split_top(text, _SEPARATORS):
        words = _split_top(piece.strip(), " ")
        merged: list[str] = []
        for w in words:
            if merged and _NUMBER.fullmatch(merged[-1]):
                merged[-1] += w
            else:
                merged.append(w)
        if len(merged) > 1 and all(_NUMBER.match(w) for w in merged):
            out.extend(merged)
        else:
            out.append(piece.strip())
    return out


def _mixture(text: str) -> tuple[dict[str, float], str]:
    """Read one formula or a coefficient-weighted mixture of them; return (composition, notation)."""
    parts = _components(text)
    if any(not p for p in parts):
        raise FormulaError("unreadable: empty component")
    read = [_component(p) for p in parts]
    if len(read) == 1:
        coef, comp, _, nested = read[0]
        return _scale(comp, 1.0 if coef is None else coef), "glass" if nested else "plain"
    if not any(weighted for _, _, weighted, _ in read):
        raise FormulaError("no stoichiometry: no component has a proportion")
    total: dict[str, float] = {}
    for coef, comp, _, _ in read:
        total = _add(total, comp, 1.0 if coef is None else coef)
    # A bare host followed by fractional amounts is a host with something added (LiTi2(PO4)3-0.2Li2O);
    # integer coefficients read as a molar ratio (Li2S-1P2S5), i.e. a glass-like mixture.
    first_coef, _, _, first_nested = read[0]
    dopant = first_coef is None and not first_nested and all(
        coef is not None and coef != int(coef) for coef, _, _, _ in read[1:])
    return total, "host+dopant" if dopant else "glass"


def _component(text: str) -> tuple[float | None, dict[str, float], bool, bool]:
    """Read '[coefficient] formula'; return (coefficient, composition, carries a proportion, has a mixture)."""
    coef = None
    if (m := _NUMBER.match(text)) is not None:
        coef = _number(m.group())
        text = text[m.end():].strip()
        if not text:
            raise FormulaError("unreadable: coefficient without a formula")
    comp, nested, lead_multiplier = _compound(text)
    group_led = text[0] in _OPEN
    return coef, comp, coef is not None or (group_led and (nested or lead_multiplier)), nested


def _compound(text: str) -> tuple[dict[str, float], bool, bool]:
    """Tokenize one compound: symbols, amounts and (), [] groups with multipliers; groups may hold mixtures.

    Returns:
        (composition, whether it is a mixture, whether the first group has a multiplier). Besides groups
        holding a mixture, a run of multiplied groups alone, (Li2S)0.5(P2S5)0.5, is a mixture too.
    """
    comp: dict[str, float] = {}
    nested = lead_multiplier = False
    weighted_groups = other_items = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == " ":
            i += 1
            continue
        is_group = c in _OPEN
        if is_group:
            end = _closing(text, i)
            inner = text[i + 1: end].strip()
            if not inner:
                raise FormulaError("unreadable: empty group")
            if _NUMBER.match(inner) or len(_split_top(inner, _SEPARATORS)) > 1:
                sub, _ = _mixture(inner)
                nested = True
            else:
                sub, inner_nested, _ = _compound(inner)
                nested = nested or inner_nested
            first_group = i == 0
            i = end + 1
        elif c.isascii() and c.isupper():  # not look-alikes such as U+216C, which reads as L
            sym = text[i: i + 2] if i + 1 < n and text[i + 1].isascii() and text[i + 1].islower() else c
            if sym not in ELEMENTS:
                raise FormulaError(f"unknown element: {sym}")
            sub, first_group = {sym: 1.0}, False
            i += len(sym)
        else:
            raise FormulaError(f"unreadable: unexpected {c!r}")
        amount = 1.0
        if (m := _NUMBER.match(text, i)) is not None:
            amount = _number(m.group())
            i = m.end()
            lead_multiplier = lead_multiplier or first_group
        if is_group and m is not None:
            weighted_groups += 1
        else:
            other_items += 1
        comp = _add(comp, sub, amount)
    return comp, nested or (weighted_groups > 1 and not other_items), lead_multiplier


def _closing(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] in _OPEN:
            depth += 1
        elif text[i] in _CLOSE:
            depth -= 1
            if depth == 0:
                return i
    raise FormulaError("malformed parentheses: unclosed group")


def _scale(comp: Mapping[str, float], factor: float) -> dict[str, float]:
    return {el: amt * factor for el, amt in comp.items()}


def _add(total: Mapping[str, float], comp: Mapping[str, float], factor: float) -> dict[str, float]:
    out = dict(total)
    for el, amt in comp.items():
        out[el] = out.get(el, 0.0) + amt * factor
    return out
