"""The shown formula of a derived composition (a glass, a host with a dopant) without pymatgen, one
implementation over many compositions at once (padded element arrays, as `bulk.read_many` holds them);
`derived_formula` of one composition is a one-row call. A plain formula is shown as written instead
(`sulfml.parse.display.written_formula`).

A composition whose display scale (`sulfml.chem.batch.display_scale`) makes every amount whole is shown so,
as pymatgen's reduced formula with its polyanion group written out (Li7P3S11 for 70Li2S-30P2S5, Li3PS4 for
Li2S-P2S5 (75:25), Li10GeP2S12, not Li10Ge(PS6)2); any other at the scale it was read, over a divisor (a
glass per mole of its components: Li1.34P0.66S2.32 for 67Li2S-33P2S5; a host with a dopant per host:
Li1.4Ti2P3O12.2), with at most `DERIVED_DECIMALS` decimals and no explicit 1, in pymatgen's element order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np

from sulfml.chem.batch import FRACTION_DIGITS, display_scale, significant
from sulfml.chem.elements import AMOUNT_TOLERANCE, element_tables, pauling_electronegativity
from sulfml.parse.display import DERIVED_DECIMALS, amount_text

# pymatgen's Composition.special_formulas.
SPECIAL_FORMULAS: dict[str, str] = {
    "LiO": "Li2O2", "NaO": "Na2O2", "KO": "K2O2", "HO": "H2O2", "CsO": "Cs2O2", "RbO": "Rb2O2",
    "O": "O2", "N": "N2", "F": "F2", "Cl": "Cl2", "H": "H2",
}


@dataclass(frozen=True)
class _Order:
    symbols: tuple[str, ...]
    row_of: dict[str, int]  # symbol -> element row, for the elements with an electronegativity only
    rank: np.ndarray  # element row -> rank in pymatgen's order (electronegativity, then symbol); pad last
    electronegativity: np.ndarray  # element row -> Pauling electronegativity; 0 for the pad row
    pad: int  # the element row past the table, of padded entries


@cache
def _order() -> _Order:
    symbols = element_tables().symbols
    pad = len(symbols)
    x = pauling_electronegativity()
    row_of = {s: z for z, s in enumerate(symbols) if s in x}
    rank = np.full(pad + 1, pad, dtype=np.int64)
    rank[[row_of[s] for s in sorted(x, key=lambda s: (x[s], s))]] = np.arange(len(x))
    electronegativity = np.zeros(pad + 1)
    electronegativity[[row_of[s] for s in x]] = list(x.values())
    return _Order(symbols, row_of, rank, electronegativity, pad)


def derived_formula(composition: Mapping[str, float], divisor: float = 1.0) -> str | None:
    """The shown formula of a derived composition (see the module): whole at its display scale, else the
    composition over `divisor` with at most `DERIVED_DECIMALS` decimals; None for an empty composition.

    Raises:
        KeyError: an element without a Pauling electronegativity (pymatgen has no order for those).
    """
    row_of = _order().row_of
    els = np.array([[row_of[s] for s in composition]], dtype=np.int64)
    amounts = np.array([list(composition.values())], dtype=float)
    return derived_formulas(els, amounts, np.ones(els.shape, dtype=bool), np.array([divisor]))[0]


def derived_formulas(els: np.ndarray, amounts: np.ndarray, present: np.ndarray,
                     divisor: np.ndarray | None = None) -> list[str | None]:
    """`derived_formula` of each row of padded arrays (None where nothing is present).

    Args:
        els: (rows, width) element rows (atomic number - 1) of elements with an electronegativity, each
            once in a row.
        amounts: (rows, width) their amounts, positive.
        present: (rows, width) True for real entries.
        divisor: (rows,) what a row's amounts are divided by when they are not whole at the display scale
            (default 1).
    """
    n = len(els)
    out = np.full(n, None, dtype=object)
    if n == 0:
        return []
    # The amounts at their display scale, rounded as the models see them (`CompositionBatch.canonical`).
    scaled = significant(amounts * display_scale(els, amounts, present)[:, None], FRACTION_DIGITS)
    if divisor is not None:
        amounts = amounts / divisor[:, None]
    # pymatgen's order within each row; padding last.
    order = _order()
    col = np.argsort(np.where(present, order.rank[els], order.pad), axis=1, kind="stable")
    row = np.arange(n)[:, None]
    els, amounts, scaled, present = els[row, col], amounts[row, col], scaled[row, col], present[row, col]
    has = present.any(axis=1)
    integer = has & ((np.abs(scaled - np.rint(scaled)) < AMOUNT_TOLERANCE) | ~present).all(axis=1)
    rows = np.flatnonzero(integer)
    if len(rows):
        out[rows] = _integer_formulas(els[rows], np.rint(scaled[rows]).astype(np.int64), present[rows])
    rows = np.flatnonzero(has & ~integer)
    if len(rows):
        out[rows] = _fractional_formulas(els[rows], amounts[rows], present[rows])
    return out.tolist()


def _fractional_formulas(els: np.ndarray, amounts: np.ndarray, present: np.ndarray) -> list[str]:
    """Rows with a non-integer amount: each symbol and its amount as `sulfml.parse.display.amount_text` writes
    it to `DERIVED_DECIMALS` decimals (no 1, never an exponent). Each distinct amount is formatted once, and
    the formulas are one join of shared strings."""
    order = _order()
    distinct, inverse = np.unique(amounts[present], return_inverse=True)
    text = np.array([amount_text(x, DERIVED_DECIMALS) for x in distinct.tolist()], dtype=object)
    names = np.array(order.symbols, dtype=object)
    count = present.sum(axis=1)
    m = len(inverse)
    # Row r's entries go to 2 * (entry number) + r, its newline after them.
    entry_row = np.repeat(np.arange(len(els)), count)
    pieces = np.empty(2 * m + len(els), dtype=object)
    at = 2 * np.arange(m) + entry_row
    pieces[at] = names[els[present]]
    pieces[at + 1] = text[inverse]
    pieces[2 * np.cumsum(count) + np.arange(len(els))] = "\n"
    return "".join(pieces.tolist()).split("\n")[:-1]


def _integer_formulas(els: np.ndarray, amounts: np.ndarray, present: np.ndarray) -> list[str]:
    """Rows of integer amounts: divided by their gcd (pymatgen's reduce_formula, without the polyanion group),
    then the special formulas."""
    order = _order()
    rows, width = els.shape
    amounts = amounts // np.gcd.reduce(amounts, axis=1)[:, None]  # padding is 0, which gcd ignores
    names = np.array([*order.symbols, ""], dtype=object)
    values = np.unique(amounts)
    # formula_double_format: an amount of 1 is not written.
    text = np.array([str(v) for v in values.tolist()], dtype=object)
    text[values == 1] = ""
    text[values == 0] = ""  # padding

    pieces = np.empty((rows, 2 * width + 1), dtype=object)
    pieces[:, 0:2 * width:2] = names[np.where(present, els, order.pad)]
    pieces[:, 1:2 * width:2] = text[np.searchsorted(values, amounts)]
    pieces[:, -1] = "\n"  # one join of all rows, split at the row ends
    return [SPECIAL_FORMULAS.get(f, f) for f in "".join(pieces.ravel().tolist()).split("\n")[:-1]]
