"""A fast path for the common formula notations: plain formulas and coefficient-weighted glasses.

`parse_fast(text)` returns exactly what `sulfml.parse.formula.parse_formula` returns for the texts it accepts
(one compiled regex, float arithmetic in the parser's order, the shown formula: a plain one as written
(`sulfml.parse.display.written_formula`), a glass by `sulfml.parse.reduced.derived_formula`),
and None for anything else, which then goes to `parse_formula`: also for the texts that may look like a
typing slip (`sulfml.parse.slips.SLIP_SUSPECT`), which `parse_formula` notes. It imports neither pymatgen
nor pandas.
`read_many(texts)` reads a whole column at once with NumPy, row for row what `read_fast` returns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, cast

import numpy as np

from sulfml.chem.elements import element_tables, pauling_electronegativity
from sulfml.parse.display import written_formula
from sulfml.parse.reduced import derived_formula, derived_formulas
from sulfml.parse.rules import AMOUNT_DECIMALS, MAX_AMOUNT, MISSING_VALUES, python_round
from sulfml.parse.slips import SLIP_SUSPECT

if TYPE_CHECKING:
    from sulfml.parse.formula import ParsedFormula  # imported when needed: it imports pymatgen

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)"
_EL = r"[A-Z][a-z]?"
# A compound that starts with an element: symbols with amounts, and one level of (groups) with multipliers.
_COMPOUND = rf"{_EL}{_NUM}?(?:{_EL}{_NUM}?|\((?:{_EL}{_NUM}?)+\){_NUM}?)*"
_PLAIN = re.compile(_COMPOUND)
_GLASS = re.compile(rf"{_NUM}{_COMPOUND}(?:-{_NUM}{_COMPOUND})+")
_TOKEN = re.compile(rf"({_EL}|\(|\))({_NUM})?")
_COEF = re.compile(_NUM)

# Amounts this small are dropped differently by pymatgen's Composition: left to parse_formula.
_SMALLEST = 1e-6


def parse_fast(text: object) -> ParsedFormula | None:
    """`parse_formula(text)` for plain formulas and weighted glasses, or None when the text needs the full
    parser (anything else, and every rejection)."""
    if type(text) is not str:
        return None
    read = _read(text)
    if read is None:
        return None
    comp, notation, _ = read
    from sulfml.parse.formula import ParsedFormula

    return ParsedFormula(text, comp, _shown(text, read), notation, None, (), None)


def read_fast(text: str) -> tuple[dict[str, float], str, str] | None:
    """(composition, shown formula, notation) for the texts `parse_fast` accepts, else None."""
    found = _read(text) if type(text) is str else None
    if found is None:
        return None
    return found[0], _shown(text, found), found[1]


def _shown(text: str, read: tuple[dict[str, float], str, float]) -> str:
    """`ParsedFormula.formula` of a text `_read` read: a plain formula as written, a glass derived per mole of
    its parts (over the sum of its coefficients)."""
    comp, notation, total = read
    if notation == "plain":
        return written_formula(text)
    # `_read` gives a composition with at least one element, which always has a derived formula
    return cast(str, derived_formula(comp, total))


def _read(text: str) -> tuple[dict[str, float], str, float] | None:
    """(composition, notation, sum of the glass coefficients (1 for a plain formula)), or None."""
    if not text or text in MISSING_VALUES:  # parse_formula says so ("NaN" is not sodium nitride)
        return None
    if SLIP_SUSPECT.search(text) is not None:  # may look like a typing slip: parse_formula notes it
        return None
    first = text[0]
    if "A" <= first <= "Z":
        if _PLAIN.fullmatch(text) is None:
            return None
        raw = _compound(text)
        notation = "plain"
        total = 1.0
    elif "0" <= first <= "9" or first == ".":
        if _GLASS.fullmatch(text) is None:
            return None
        raw = {}
        total = 0.0
        for part in text.split("-"):
            m = _COEF.match(part)
            assert m is not None  # _GLASS matched: every part starts with a number
            coef = float(m.group())
            total += coef
            sub = _compound(part[m.end():])
            if sub is None:
                return None
            for el, amt in sub.items():
                raw[el] = raw.get(el, 0.0) + amt * coef
        notation = "glass"
    else:
        return None
    if raw is None:
        return None
    comp = {}
    for el, amt in raw.items():
        if not math.isfinite(amt) or amt > MAX_AMOUNT:  # parse_formula says why
            return None
        amt = round(amt, AMOUNT_DECIMALS)
        if amt != 0:
            if not amt >= _SMALLEST:
                return None
            comp[el] = amt
    return (comp, notation, total) if comp else None


def _compound(text: str) -> dict[str, float] | None:
    """Element amounts in the order and float arithmetic of `sulfml.parse.formula._compound`."""
    comp: dict[str, float] = {}
    group: dict[str, float] | None = None
    for tok, num in _TOKEN.findall(text):
        if tok == "(":
            group = {}
        elif tok == ")":
            assert group is not None  # the text matched _COMPOUND: every ")" closes a "("
            amount = float(num) if num else 1.0
            for el, amt in group.items():
                comp[el] = comp.get(el, 0.0) + amt * amount
            group = None
        else:
            if tok not in pauling_electronegativity():  # pymatgen has no order for the others
                return None
            target = comp if group is None else group
            target[tok] = target.get(tok, 0.0) + 1.0 * (float(num) if num else 1.0)
    return comp


# ---------------------------------------------------------------------------------------------------------
# Many texts at once


@dataclass(frozen=True)
class ParsedBatch:
    """`read_fast` of many texts as padded arrays; feeds `sulfml.chem.batch.CompositionBatch`.

    Attributes:
        ok: (n,) True where `read_fast(text)` is not None.
        index: (n, width) element rows (atomic number - 1), by symbol within a row, 0 where padded.
        amount: (n, width) the amounts of `read_fast`'s composition, 0 where padded.
        present: (n, width) True for real entries; all False in rows that are not ok.
        formula: (n,) shown formulas (`ParsedFormula.formula`), None where not ok.
        glass: (n,) True where the notation is "glass" (else "plain"); False where not ok.
    """

    ok: np.ndarray
    index: np.ndarray
    amount: np.ndarray
    present: np.ndarray
    formula: list
    glass: np.ndarray

    def composition(self, i: int) -> dict[str, float] | None:
        """Row i's composition, as `read_fast` gives it; None where not ok."""
        if not self.ok[i]:
            return None
        symbols = _symbols().symbols
        row = self.present[i]
        return dict(zip([symbols[z] for z in self.index[i, row].tolist()], self.amount[i, row].tolist(),
                        strict=True))


# Character classes of the joined text; the order makes "marker" (a parenthesis or a row's end) one
# comparison.
_OTHER, _UPPER, _LOWER, _DIGIT, _DOT, _DASH, _OPEN, _CLOSE, _SEP = range(9)
# A number of more than 15 significant digits (or 18 digits, or 19 characters) goes to `read_fast`: the
# exact conversion below needs its digits as an integer below 10**15.
_MAX_DIGITS = 18
_MAX_RUN = _MAX_DIGITS + 1
# Rows with more element symbols than this go to `read_fast` rather than widening every padded array.
_MAX_SYMBOLS = 32
_BLOCK = 8192  # rows read at once
_POW10 = np.array([10.0**k for k in range(_MAX_DIGITS + 1)])  # exact doubles (up to 1e22 they are)


def _classes() -> tuple[np.ndarray, np.ndarray]:
    table = np.full(256, _OTHER, dtype=np.uint8)
    table[ord("\n")] = _SEP  # rows are joined by newlines; texts with one are read apart
    for lo, hi, cls in (("A", "Z", _UPPER), ("a", "z", _LOWER), ("0", "9", _DIGIT)):
        table[ord(lo): ord(hi) + 1] = cls
    table[[ord("."), ord("("), ord(")"), ord("-")]] = (_DOT, _OPEN, _CLOSE, _DASH)
    # follows[prev * 9 + cur]: cur may come right after prev in `_PLAIN` or `_GLASS`. Numbers need a few
    # more rules (one dot, a digit, a glass coefficient is followed by an element) and parentheses a depth.
    follows = np.zeros((9, 9), dtype=bool)
    ends = [_UPPER, _LOWER, _DIGIT, _DOT, _CLOSE]  # what can end a compound
    follows[[_SEP, _UPPER, _LOWER, _DIGIT, _DOT, _OPEN, _CLOSE], _UPPER] = True
    follows[_UPPER, _LOWER] = True
    for cur in (_DIGIT, _DOT):
        follows[[_SEP, _UPPER, _LOWER, _DIGIT, _DOT, _CLOSE, _DASH], cur] = True
    for cur in (_OPEN, _DASH, _SEP):
        follows[ends, cur] = True
    follows[[_UPPER, _LOWER, _DIGIT, _DOT], _CLOSE] = True
    return table, follows.ravel()


_CLASS, _FOLLOWS = _classes()
# The same tables for bytes.translate, which maps a whole buffer many times faster than a NumPy lookup;
# and a character's digit value (10 for the dot, 11 for anything else).
_CLASS_BYTES, _FOLLOWS_BYTES = _CLASS.tobytes(), np.resize(~_FOLLOWS, 256).astype(np.uint8).tobytes()
_DIGIT_VALUE = np.full(256, 11, dtype=np.uint8)
_DIGIT_VALUE[ord("0"): ord("9") + 1] = np.arange(10)
_DIGIT_VALUE[ord(".")] = 10
_DIGIT_BYTES = _DIGIT_VALUE.tobytes()


@dataclass(frozen=True)
class _Symbols:
    code: np.ndarray  # (26 * 27,) element row of an uppercase letter + optional lowercase one, -1 if not ours
    symbols: tuple[str, ...]
    by_symbol: np.ndarray  # element row -> rank in `sorted` symbol order (the padding row last)
    of_symbol_rank: np.ndarray  # the inverse of by_symbol
    pad: int  # an element row past the table, for padding while sorting


@cache
def _symbols() -> _Symbols:
    symbols = element_tables().symbols
    ours = pauling_electronegativity()  # the others go to parse_formula, as in `_compound`
    pad = len(symbols)
    code = np.full(26 * 27, -1, dtype=np.int64)
    for z, s in enumerate(symbols):
        if s in ours:
            code[(ord(s[0]) - 65) * 27 + (ord(s[1]) - 96 if len(s) > 1 else 0)] = z
    z_of = {s: z for z, s in enumerate(symbols)}
    by_symbol, of_symbol_rank = (np.full(pad + 1, pad, dtype=np.int32) for _ in range(2))
    for rank, s in enumerate(sorted(ours)):
        by_symbol[z_of[s]] = rank
        of_symbol_rank[rank] = z_of[s]
    return _Symbols(code, symbols, by_symbol, of_symbol_rank, pad)


def _rows(pos: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The row of each position of the joined text."""
    return np.searchsorted(start, pos, side="right") - 1


def read_many(texts: Sequence[object]) -> ParsedBatch:
    """`read_fast` of every text, vectorized over the whole column.

    The texts are joined into one byte array; character classes, number runs, element symbols and
    parentheses are found with NumPy, so the shape `_PLAIN`/`_GLASS` accept is checked without a regex
    per row. Amounts follow `_read`'s float arithmetic exactly. Rows outside the common shape (non-ASCII
    text, numbers of more than 15 significant digits, an element twice in one compound, very many
    symbols) go through `read_fast` one by one: same answer, only slower. Texts that may look like a typing
    slip (`Li6PS5CI`) are not ok, as in `read_fast`: `parse_formula` reads them and notes the slip.

    Args:
        texts: formula texts (a list, or anything `list()` takes); anything that is not a str is not ok.

    Returns:
        The compositions as padded arrays, elements of each row in symbol order, with shown formula and
        notation; row i equals `read_fast(texts[i])`.
    """
    if type(texts) is not list:
        texts = list(texts)
    # Blocks of rows keep the arrays small: faster in the cache, and far fewer fresh memory pages.
    blocks = [_read_block(texts[i: i + _BLOCK]) for i in range(0, len(texts), _BLOCK)] or [_read_block([])]
    if len(blocks) == 1:
        return blocks[0]
    width = max(b.index.shape[1] for b in blocks)

    def stack(name: str) -> np.ndarray:
        return np.concatenate([np.pad(getattr(b, name), ((0, 0), (0, width - b.index.shape[1])))
                               for b in blocks])

    return ParsedBatch(np.concatenate([b.ok for b in blocks]), stack("index"), stack("amount"),
                       stack("present"), [f for b in blocks for f in b.formula],
                       np.concatenate([b.glass for b in blocks]))


def _read_block(texts: list) -> ParsedBatch:
    """`read_many` of up to `_BLOCK` texts."""
    n = len(texts)
    strs = texts
    joined = None
    if set(map(type, texts)) <= {str}:  # exactly str: read_fast refuses subclasses too
        joined = "\n".join(texts)
    if joined is None or not joined.isascii() or joined.count("\n") != n - 1:
        # Here these are empty rows: non-ASCII texts go to read_fast (there `\d` also reads other
        # scripts' digits); texts with a newline are not ok, and the newline would split the row.
        strs = [t if type(t) is str and t.isascii() and "\n" not in t else "" for t in texts]
        joined = "\n".join(strs)
    length = np.fromiter(map(len, strs), dtype=np.int64, count=n)
    missing = np.fromiter(map(MISSING_VALUES.__contains__, strs), dtype=bool, count=n)
    ok, glass, fallback, els, amounts, keep, total, rewrite = _read_bulk(joined, length, missing)
    if strs is not texts:
        fallback[[i for i in np.flatnonzero(length == 0).tolist() if type(texts[i]) is str and texts[i]]] = True
    reads = {i: read_fast(texts[i]) for i in np.flatnonzero(fallback).tolist()}
    slow = {i: read for i, read in reads.items() if read is not None}

    # Compact each row's entries to the left (they stay in symbol order).
    count = keep.sum(axis=1)
    width = max(1, int(count.max(initial=0)), *(len(read[0]) for read in slow.values()))
    present = np.arange(width) < count[:, None]
    index = np.zeros((n, width), dtype=np.int64)
    amount = np.zeros((n, width))
    index[present], amount[present] = els[keep], amounts[keep]
    # A plain formula is shown as written: its text, unless it has a number `written_formula` writes otherwise.
    plain = ok & ~glass
    formula: list = [t if p else None for t, p in zip(strs, plain.tolist(), strict=True)]
    rows = np.flatnonzero(glass)
    for i, shown in zip(rows.tolist(), derived_formulas(index[rows], amount[rows], present[rows], total[rows]),
                        strict=True):
        formula[i] = shown
    for i in np.flatnonzero(rewrite & plain).tolist():
        formula[i] = written_formula(strs[i])
    if slow:
        z_of = {s: z for z, s in enumerate(_symbols().symbols)}
        for i, (comp, shown, notation) in slow.items():
            names = sorted(comp)
            present[i, : len(names)] = True
            index[i, : len(names)] = [z_of[s] for s in names]
            amount[i, : len(names)] = [comp[s] for s in names]
            ok[i], glass[i], formula[i] = True, notation == "glass", shown
    return ParsedBatch(ok, index, amount, present, formula, glass)


def _slip_suspects(buf: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Positions where `SLIP_SUSPECT` matches in the row texts (a row without one has none): texts that may
    look like a typing slip are parse_formula's, which notes the slip. The buffer starts and ends with a
    separator, and every row ends with one."""
    # Padded, so that looking a few characters behind or ahead stays inside (the pad is "other").
    pad = 3
    b = np.concatenate([np.zeros(pad, np.uint8), buf, np.zeros(pad, np.uint8)])
    c = np.concatenate([np.full(pad, _OTHER, np.uint8), cls, np.full(pad, _OTHER, np.uint8)])
    # `]` is "other" here, but a row holding one is not ours anyway.
    before = (c == _UPPER) | (c == _LOWER) | (c == _CLOSE)
    nonzero = (b >= ord("1")) & (b <= ord("9"))
    found = []
    at = np.flatnonzero(b == ord("C"))
    nxt = b[at + 1]
    # CI | C1(?![\d.])
    found.append(at[(nxt == ord("I")) | ((nxt == ord("1")) & (c[at + 2] != _DIGIT) & (c[at + 2] != _DOT))])
    at = np.flatnonzero(b == ord("0"))
    # [A-Za-z)\]]0\d
    found.append(at[before[at - 1] & (c[at + 1] == _DIGIT)])
    # [A-Za-z)\]][1-9]\d?0[1-9]
    found.append(at[nonzero[at + 1] & ((nonzero[at - 1] & before[at - 2])
                                       | ((c[at - 1] == _DIGIT) & nonzero[at - 2] & before[at - 3]))])
    # \d\.O\d
    at = np.flatnonzero(b == ord("."))
    found.append(at[(c[at - 1] == _DIGIT) & (b[at + 1] == ord("O")) & (c[at + 2] == _DIGIT)])
    return np.concatenate(found) - pad


def _read_bulk(joined: str, length: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, ...]:
    """(ok, glass, fallback, elements, amounts, keep, total, rewrite) of ASCII texts joined by newlines, of the
    given lengths; rows marked `missing` (missing-value words) are not ok.

    The (rows, k) element rows and amounts are in symbol order, `keep` marks the composition's entries;
    `fallback` marks the rows `read_fast` has to read; `total` is each glass row's sum of coefficients, in
    `_read`'s order; `rewrite` marks the ok rows with a number `REWRITTEN` matches.
    """
    n = len(length)
    sym = _symbols()
    if n == 0:
        empty = np.zeros((0, 1), dtype=bool)
        return (empty[:, 0], empty[:, 0], empty[:, 0], np.zeros((0, 1), np.int64), np.zeros((0, 1)), empty,
                np.zeros(0), empty[:, 0])
    # The text starts with a separator and every row ends with one, so each character has a previous
    # one and rows never run into each other.
    raw = ("\n" + joined + "\n").encode("ascii")
    buf = np.frombuffer(raw, dtype=np.uint8)
    start = np.cumsum(length + 1) - length  # first character of each row
    cls = np.frombuffer(raw.translate(_CLASS_BYTES), dtype=np.uint8)
    pair = cls[:-1] * 9
    pair += cls[1:]
    bad = np.zeros(len(buf), dtype=bool)
    bad[1:] = np.frombuffer(pair.tobytes().translate(_FOLLOWS_BYTES), dtype=bool)

    bad[_slip_suspects(buf, cls)] = True

    # One level of parentheses: with the row ends as markers too, "(" must follow ")" or a row end, ")"
    # must follow "(", a row must not end inside a group; a "-" inside a group is wrong too.
    mark = np.flatnonzero(cls >= _OPEN)
    mark_cls = cls[mark]
    after_open = np.empty(len(mark), dtype=bool)
    after_open[0] = False
    after_open[1:] = mark_cls[:-1] == _OPEN
    bad[mark] |= np.where(mark_cls == _CLOSE, ~after_open, after_open)
    dash = np.flatnonzero(cls == _DASH)
    bad[dash] |= mark_cls[np.searchsorted(mark, dash) - 1] == _OPEN

    # Number runs (the text starts and ends with a separator, so run edges alternate start and end).
    digit = np.frombuffer(raw.translate(_DIGIT_BYTES) + b"\x0b" * _MAX_RUN, dtype=np.uint8)
    edge = np.flatnonzero(np.diff((digit <= 10).view(np.int8))) + 1
    run_start, run_end = edge[0::2], edge[1::2]
    run_len = run_end - run_start
    # float(text) exactly: the digits as an integer below 10**15 over a power of ten, both exact doubles,
    # one correctly rounded division. (The integer is exact in a double below 2**53; longer numbers go
    # to read_fast.) One pass per character position, over all runs at once.
    mantissa = np.zeros(len(run_start))
    n_dots = np.zeros(len(run_start), dtype=np.int64)
    dot_at = np.zeros(len(run_start), dtype=np.int64)
    for k in range(min(_MAX_RUN, int(run_len.max(initial=0)))):
        char = digit[run_start + k]
        inside = run_len > k
        is_dot = inside & (char == 10)
        n_dots += is_dot
        dot_at[is_dot] = k
        mantissa = np.where(inside & (char < 10), mantissa * 10 + char, mantissa)
    n_digits = run_len - n_dots
    fraction = np.where(n_dots > 0, run_len - 1 - dot_at, 0)  # digits after the dot (one dot)
    value = mantissa / _POW10[np.clip(fraction, 0, _MAX_DIGITS)]
    # `\d+(\.\d*)?|\.\d+`, and a glass coefficient is followed by its compound's first element.
    is_coef = (cls[run_start - 1] == _DASH) | (cls[run_start - 1] == _SEP)
    bad[run_start] |= (n_digits == 0) | (n_dots > 1) | (is_coef & (cls[run_end] != _UPPER))
    # a glass's coefficients added up in text order (bincount adds its weights one by one, as `_read`)
    coefficients = np.bincount(_rows(run_start[is_coef], start), weights=value[is_coef], minlength=n)
    long_number = (run_len > _MAX_RUN) | (n_digits > _MAX_DIGITS) | (mantissa >= 10**15)
    rewrite = np.zeros(n, dtype=bool)
    rewrite[_rows(run_start[_rewritten(digit, run_start, run_end, n_dots, dot_at, mantissa)], start)] = True
    run_at = np.full(len(buf) + 1, -1, dtype=np.int32)  # + 1: the position after the last row end
    run_at[run_start] = np.arange(len(run_start), dtype=np.int32)
    value = np.append(value, 1.0)  # run -1: no number, amount 1

    # Element symbols: an uppercase letter and, greedily, one lowercase letter (as `[A-Z][a-z]?`).
    el_pos = np.flatnonzero(cls == _UPPER)
    two = cls[el_pos + 1] == _LOWER
    code = (buf[el_pos] - 65).astype(np.int64) * 27 + np.where(two, buf[el_pos + 1].astype(np.int64) - 96, 0)
    el = sym.code[code]
    bad[el_pos] |= el < 0

    first = cls[start]
    is_glass = (first == _DIGIT) | (first == _DOT)
    n_dash = np.bincount(_rows(dash, start), minlength=n)
    row_bad = np.logical_or.reduceat(bad, start)
    row_bad |= np.where(is_glass, n_dash == 0, (first != _UPPER) | (n_dash > 0))
    row_bad |= missing
    fallback = np.zeros(n, dtype=bool)
    fallback[_rows(run_start[long_number], start)] = True
    fallback &= ~row_bad

    # Each symbol's term in `_read`'s arithmetic: (amount * group multiplier) * glass coefficient;
    # multiplying by an absent 1.0 is exact, so plain and grouped symbols take the same formula.
    el_row = _rows(el_pos, start)
    take = ~row_bad[el_row] & ~fallback[el_row]
    el_pos, el_row, el, two = el_pos[take], el_row[take], el[take], two[take]
    amount = value[run_at[el_pos + 1 + two]]
    has_group = np.zeros(n, dtype=bool)
    has_group[_rows(mark[mark_cls == _OPEN], start)] = True
    sub = np.flatnonzero(has_group[el_row])
    k = np.searchsorted(mark, el_pos[sub]) - 1
    in_group = mark_cls[k] == _OPEN
    amount[sub] *= np.where(in_group, value[run_at[mark[np.minimum(k + 1, len(mark) - 1)] + 1]], 1.0)
    # A glass part's coefficient starts right after the row start or dash before the symbol; that
    # position also tells the parts (compounds) apart.
    part = np.zeros(len(el_pos), dtype=np.int64)
    sub = np.flatnonzero(is_glass[el_row])
    part_pos = np.flatnonzero(cls[: int(el_pos[sub].max(initial=0)) + 1] >= _DASH)
    part_pos = part_pos[(cls[part_pos] == _DASH) | (cls[part_pos] == _SEP)]
    part[sub] = part_pos[np.searchsorted(part_pos, el_pos[sub]) - 1] + 1
    amount[sub] *= value[run_at[part[sub]]]

    count = np.bincount(el_row, minlength=n)
    crowded = count > _MAX_SYMBOLS
    if crowded.any():
        fallback |= crowded
        keep = ~crowded[el_row]
        el_row, el, part, amount = el_row[keep], el[keep], part[keep], amount[keep]
        count[crowded] = 0
    width = max(1, int(count.max(initial=0)))
    col = np.arange(len(el_row)) - (np.cumsum(count) - count)[el_row]
    # Symbol order within each row, ties (an element in several glass parts) in text order: sort a key of
    # symbol rank and column, then fetch the terms by column.
    key = np.full((n, width), sym.pad << 6, dtype=np.int32)
    key[el_row, col] = (sym.by_symbol[el] << 6) + col
    key.sort(axis=1)
    els = sym.of_symbol_rank[key >> 6]
    where = np.zeros((n, width), dtype=np.int32)
    where[el_row, col] = np.arange(len(el_row), dtype=np.int32)
    where = np.take_along_axis(where, key & 63, axis=1)
    where[els == sym.pad] = len(el_row)  # padding: term 0, part -1
    terms = np.append(amount, 0.0)[where]
    parts = np.append(part, -1)[where]
    same = els[:, 1:] == els[:, :-1]
    # An element twice in one compound is summed before the multipliers apply: left to read_fast.
    fallback |= (same & (parts[:, 1:] == parts[:, :-1]) & (els[:, 1:] != sym.pad)).any(axis=1)
    # raw[el] = raw.get(el, 0.0) + term, part by part: a left fold along each run of one element.
    total = terms
    for j in range(1, width):
        total[:, j] = np.where(same[:, j - 1], total[:, j - 1] + terms[:, j], terms[:, j])
    keep = np.ones((n, width), dtype=bool)
    keep[:, :-1] = ~same
    keep &= els != sym.pad
    rounded = python_round(total, AMOUNT_DECIMALS)  # padding is 0
    row_bad |= (keep & ((total > MAX_AMOUNT) | ((rounded != 0) & ~(rounded >= _SMALLEST)))).any(axis=1)
    keep &= rounded != 0
    row_bad |= ~keep.any(axis=1)
    ok = ~row_bad & ~fallback
    keep &= ok[:, None]
    return ok, ok & is_glass, fallback, els, rounded, keep, coefficients, rewrite & ok


def _rewritten(digit: np.ndarray, run_start: np.ndarray, run_end: np.ndarray, n_dots: np.ndarray,
               dot_at: np.ndarray, mantissa: np.ndarray) -> np.ndarray:
    """Per number run (a longest run of digits and dots), whether `REWRITTEN` matches in it; exact for the runs
    of ok rows (at most one dot, digits that `mantissa` holds exactly), which are all this is asked about.

    `REWRITTEN` reads digits and dots only, and its lookbehind holds at a run's start alone: its first three
    alternatives look at how a run starts (1, 1., 1.00 as the whole run; 0 and a digit; a dot), the others at
    the decimals (ending in 0; none after the dot; more than `AMOUNT_DECIMALS`).
    """
    run_len = run_end - run_start
    first, second, last = digit[run_start], digit[run_start + 1], digit[run_end - 1]
    dot = n_dots == 1
    decimals = np.where(dot, run_len - 1 - dot_at, 0)
    one = (first == 1) & ((run_len == 1) | (dot & (dot_at == 1) & (mantissa == _POW10[np.clip(decimals, 0, _MAX_DIGITS)])))
    return (one | ((first == 0) & (second < 10)) | (first == 10)
            | (dot & ((last == 0) & (dot_at < run_len - 1) | (last == 10) | (decimals > AMOUNT_DECIMALS))))
