"""pymatgen's reduced formula without pymatgen: one implementation over many compositions at once (padded
element arrays, as `bulk.read_many` holds them); `reduced_formula` of one composition is a one-row call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np

from sulfml.chem.elements import AMOUNT_TOLERANCE, element_tables, pauling_electronegativity
from sulfml.parse.rules import python_round

# pymatgen's Composition.special_formulas.
SPECIAL_FORMULAS: dict[str, str] = {
    "LiO": "Li2O2", "NaO": "Na2O2", "KO": "K2O2", "HO": "H2O2", "CsO": "Cs2O2", "RbO": "Rb2O2",
    "O": "O2", "N": "N2", "F": "F2", "Cl": "Cl2", "H": "H2",
}
# pymatgen's reduce_formula writes the last two elements as a (polyanion) when their electronegativities
# differ by less than this.
_POLYANION_GAP = 1.65


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


def reduced_formula(composition: Mapping[str, float]) -> str | None:
    """pymatgen's `Composition(composition).reduced_formula`; None for an empty composition.

    Raises:
        KeyError: an element without a Pauling electronegativity (pymatgen has no order for those).
    """
    row_of = _order().row_of
    els = np.array([[row_of[s] for s in composition]], dtype=np.int64)
    amounts = np.array([list(composition.values())], dtype=float)
    return reduced_formulas(els, amounts, np.ones(els.shape, dtype=bool))[0]


def reduced_formulas(els: np.ndarray, amounts: np.ndarray, present: np.ndarray) -> list[str | None]:
    """`reduced_formula` of each row of padded arrays (None where nothing is present).

    Args:
        els: (rows, width) element rows (atomic number - 1) of elements with an electronegativity, each
            once in a row.
        amounts: (rows, width) their amounts, positive.
        present: (rows, width) True for real entries.
    """
    n = len(els)
    out = np.full(n, None, dtype=object)
    if n == 0:
        return []
    # pymatgen's order within each row; padding last.
    order = _order()
    col = np.argsort(np.where(present, order.rank[els], order.pad), axis=1, kind="stable")
    row = np.arange(n)[:, None]
    els, amounts, present = els[row, col], amounts[row, col], present[row, col]
    has = present.any(axis=1)
    integer = has & ((np.abs(amounts - np.rint(amounts)) < AMOUNT_TOLERANCE) | ~present).all(axis=1)
    rows = np.flatnonzero(integer)
    if len(rows):
        out[rows] = _integer_formulas(els[rows], np.rint(amounts[rows]).astype(np.int64), present[rows])
    rows = np.flatnonzero(has & ~integer)
    if len(rows):
        out[rows] = _fractional_formulas(els[rows], amounts[rows], present[rows])
    return out.tolist()


def _fractional_formulas(els: np.ndarray, amounts: np.ndarray, present: np.ndarray) -> list[str]:
    """Rows with a non-integer amount: each symbol and its amount as pymatgen's formula_double_format
    writes it (an integer as one, else rounded to 8 decimals; 1 written). Each distinct amount is
    formatted once, and the formulas are one join of shared strings."""
    order = _order()
    distinct, inverse = np.unique(amounts[present], return_inverse=True)
    whole = np.abs(distinct - np.rint(distinct)) <= AMOUNT_TOLERANCE  # math.isclose(x, round(x), ...)
    text = np.empty(len(distinct), dtype=object)
    text[whole] = list(map(str, np.rint(distinct[whole]).astype(np.int64).tolist()))
    text[~whole] = list(map(repr, python_round(distinct[~whole], 8).tolist()))
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
    """Rows of integer amounts: pymatgen's reduce_formula (divide by the gcd, the polyanion group), then
    the special formulas."""
    order = _order()
    rows, width = els.shape
    count = present.sum(axis=1)
    amounts = amounts // np.gcd.reduce(amounts, axis=1)[:, None]  # padding is 0, which gcd ignores
    # The last two elements, when close in electronegativity, form a polyanion if they reduce further.
    x = order.electronegativity
    r = np.arange(rows)
    a, b = np.maximum(count - 2, 0), count - 1
    poly_factor = np.gcd(amounts[r, a], amounts[r, b])
    poly = (count >= 3) & (x[els[r, b]] - x[els[r, a]] < _POLYANION_GAP) & (poly_factor != 1)
    plain = present & (np.arange(width) < (count - 2 * poly)[:, None])
    in_a, in_b = amounts[r, a] // poly_factor, amounts[r, b] // poly_factor
    names = np.array([*order.symbols, ""], dtype=object)
    values = np.unique(np.concatenate([amounts.ravel(), poly_factor, in_a, in_b]))
    # formula_double_format: an amount of 1 is not written.
    text = np.array([str(v) for v in values.tolist()], dtype=object)
    text[values == 1] = ""  # the poly factor is never 1 where written

    def amount_text(v: np.ndarray) -> np.ndarray:
        return text[np.searchsorted(values, v)]

    pieces = np.empty((rows, 2 * width + 8), dtype=object)
    pieces[:, 0:2 * width:2] = names[np.where(plain, els, order.pad)]
    pieces[:, 1:2 * width:2] = np.where(plain, amount_text(amounts), "")
    group = [np.where(poly, "(", ""), np.where(poly, names[els[r, a]], ""), np.where(poly, amount_text(in_a), ""),
             np.where(poly, names[els[r, b]], ""), np.where(poly, amount_text(in_b), ""), np.where(poly, ")", ""),
             np.where(poly, amount_text(poly_factor), "")]
    pieces[:, 2 * width:-1] = np.stack(group, axis=1)
    pieces[:, -1] = "\n"  # one join of all rows, split at the row ends
    return [SPECIAL_FORMULAS.get(f, f) for f in "".join(pieces.ravel().tolist()).split("\n")[:-1]]
