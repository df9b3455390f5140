"""Many compositions as padded NumPy arrays: the form the whole-batch parser writes and the features read."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from sulfml.chem.elements import AMOUNT_TOLERANCE, ANION_CHARGE, ElementTables, element_tables

# Significant digits of the amounts the models see: far below any real difference between two materials
# (amounts are read to about 1e-4), far above the last-bit noise of dividing by a total (1e-16), and
# relative, so that a trace dopant keeps its amount.
FRACTION_DIGITS = 12


@cache
def _symbol_rank() -> np.ndarray:
    """Element row -> position of its symbol in alphabetical order."""
    symbols = element_tables().symbols
    rank = np.empty(len(symbols), dtype=np.int64)
    rank[sorted(range(len(symbols)), key=symbols.__getitem__)] = np.arange(len(symbols))
    return rank


# The largest amount a whole-number formula is shown with; beyond it a shorter fractional form reads better
# (Li6.6Ge0.6P0.4S5I, not Li33Ge3P2S25I5).
DISPLAY_MAX = 24
_WHOLE = 1e-6  # an amount this close to a whole number (or to a number of decimals) is written as one
_DECIMALS = 4


@cache
def _anion_rows() -> np.ndarray:
    index = element_tables().index
    return np.array([index[el] for el in ANION_CHARGE], dtype=np.int64)


def display_scale(els: np.ndarray, amounts: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The factor each row is shown at, so that a composition is written the same however it was scaled.

    The amounts are scaled so that the anions add up to a whole number N (without anions: that the rarest
    element's amount is N):
    the smallest N at which every amount is whole and none exceeds `DISPLAY_MAX` (Li3PS4, Li7P3S11,
    Li10GeP2S12, whatever the input's scale); else the N whose amounts read best: most whole amounts, then
    fewest decimals, then the smaller N (Li10Ge1Sb0.15P1.85S12, Li9.54Si1.74P1.44S11.7Cl0.3).

    Args:
        els, amounts, present: padded rows: element rows (`ElementTables`), amounts, real entries.

    Returns:
        One factor per row (1 for empty rows).
    """
    amounts = np.where(present, amounts, 0.0)
    anion = present & np.isin(els, _anion_rows())
    base = np.where(anion, amounts, 0.0).sum(axis=1)
    smallest = np.where(present, amounts, np.inf).min(axis=1, initial=np.inf)
    base = np.where(base > 0, base, np.where(np.isfinite(smallest), smallest, 0.0))
    base[base <= 0] = 1.0
    target = np.ones(len(els))
    for start in range(0, len(els), _SCALE_BLOCK):
        sl = slice(start, start + _SCALE_BLOCK)
        # entries by rows of a block (transposed): the sums over a row's entries are then whole-array adds
        target[sl] = _display_target(amounts[sl].T.copy(), present[sl].T.copy(), base[sl])
    return target / base


_SCALE_BLOCK = 4096  # rows scored at once: the block's arrays stay in the cache through the 24 targets


def _display_target(amounts: np.ndarray, present: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The N of `display_scale` for a block of rows given as (entries, rows) arrays.

    Every target is scored on the rows not yet settled: a row leaves at the first N at which it is whole.
    The score (whole amounts count -100, each decimal place of an amount 1, then N / 4) adds whole numbers
    until N / 4, so it is exact in any order of addition.
    """
    n = amounts.shape[1]
    chosen, best, best_n = np.zeros(n), np.full(n, np.inf), np.ones(n)
    rows: np.ndarray = np.arange(n)
    absent = ~present
    x, err, scaled = np.empty(amounts.shape), np.empty(amounts.shape), np.empty(amounts.shape)
    flag, whole = np.empty(amounts.shape, dtype=bool), np.empty(amounts.shape, dtype=bool)
    points = np.empty(amounts.shape, dtype=np.int64)
    with np.errstate(invalid="ignore", over="ignore"):
        for target in range(1, DISPLAY_MAX + 1):
            np.multiply(amounts, target / base, out=x)
            np.abs(np.subtract(x, np.rint(x, out=err), out=err), out=err)
            np.less(err, _WHOLE, out=whole)
            # Places: 0 to _DECIMALS - 1 decimals that do not reach the amount. A padded entry has none
            # (its x is 0, or NaN for an unusable scale; neither compares true).
            np.copyto(points, np.greater_equal(err, _WHOLE * 10.0 ** 0, out=flag))
            for k in range(1, _DECIMALS):
                np.multiply(x, 10.0 ** k, out=scaled)
                np.abs(np.subtract(scaled, np.rint(scaled, out=err), out=err), out=err)
                points += np.greater_equal(err, _WHOLE * 10.0 ** k, out=flag)
            every = np.logical_or(whole, absent, out=flag).all(axis=0) & (
                x.max(axis=0, initial=0.0) <= DISPLAY_MAX + _WHOLE)
            points -= 100 * (whole & present)
            score = points.sum(axis=0) + target / 4
            better = score < best[rows]
            best[rows[better]], best_n[rows[better]] = score[better], target
            if every.any():
                chosen[rows[every]] = target
                keep = ~every
                rows, base, amounts, present, absent = (rows[keep], base[keep], amounts[:, keep], present[:, keep],
                                                        absent[:, keep])
                m = len(rows)
                x, err, scaled, flag, whole, points = (x[:, :m], err[:, :m], scaled[:, :m], flag[:, :m],
                                                       whole[:, :m], points[:, :m])
                if not len(rows):
                    break
    return np.where(chosen > 0, chosen, best_n)


def significant(x: np.ndarray, digits: int) -> np.ndarray:
    """`x` rounded to `digits` significant digits (0, NaN and inf as they are)."""
    x = np.asarray(x, float)
    out = x.copy()
    ok = np.isfinite(x) & (x != 0)
    if ok.any():
        scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(x[ok]))))
        out[ok] = np.rint(x[ok] * scale) / scale
    return out


def canonical_composition(composition: Any) -> dict[str, float]:
    """One composition as `CompositionBatch.canonical` gives it: element symbol -> rounded fraction."""
    batch = composition_batch([composition]).canonical()
    symbols = element_tables().symbols
    return {symbols[i]: float(x) for i, x, p in zip(batch.index[0], batch.amount[0], batch.present[0], strict=True)
            if p}


@dataclass(frozen=True)
class CompositionBatch:
    """Compositions as padded arrays, elements of each row in the order `featurize` sees them (by symbol).

    Attributes:
        index: (rows, width) element rows of `ElementTables`, 0 where padded; each element once.
        amount: (rows, width) amounts, 0 where padded.
        present: (rows, width) True for real entries.
    """

    index: np.ndarray
    amount: np.ndarray
    present: np.ndarray

    def __len__(self) -> int:
        return self.index.shape[0]

    def dense(self, n_elements: int) -> np.ndarray:
        """(rows, n_elements) amounts by element."""
        out = np.zeros((len(self), n_elements))
        rows = np.broadcast_to(np.arange(len(self))[:, None], self.index.shape)
        out[rows[self.present], self.index[self.present]] = self.amount[self.present]
        return out

    @classmethod
    def concat(cls, blocks: Sequence[CompositionBatch]) -> CompositionBatch:
        """The rows of several batches, one after the other (padded to the widest)."""
        if len(blocks) == 1:
            return blocks[0]
        width = max([1, *(b.index.shape[1] for b in blocks)])

        def pad(a: np.ndarray, fill: Any) -> np.ndarray:
            return np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=fill)

        return cls(np.concatenate([pad(b.index, 0) for b in blocks] or [np.zeros((0, 1), np.int64)]),
                   np.concatenate([pad(b.amount, 0.0) for b in blocks] or [np.zeros((0, 1))]),
                   np.concatenate([pad(b.present, False) for b in blocks] or [np.zeros((0, 1), bool)]))

    def canonical(self) -> CompositionBatch:
        """The same compositions as the models see them: at their display scale (`display_scale`: Li3PS4
        for Li6P2S8 and for Li0.3P0.1S0.4), rounded to `FRACTION_DIGITS` significant digits, elements of
        each row in symbol order.

        This is what makes a prediction independent of how a composition is written: scaled amounts differ
        in their last bits (0.3/0.1 is not 3 in binary), and a tree split, a family window's edge (S/P = 3)
        or a tie between neighbours can fall between such bits. One scale and rounding make them the same
        numbers (whole numbers where the formula has them), and the fixed order makes every sum over a row
        add in the same order.
        """
        rank = _symbol_rank()
        order = np.argsort(np.where(self.present, rank[self.index], len(rank)), axis=1, kind="stable")
        index = np.take_along_axis(self.index, order, axis=1)
        amount = np.take_along_axis(self.amount, order, axis=1)
        present = np.take_along_axis(self.present, order, axis=1)
        amount = np.where(present, amount, 0.0)
        scaled = significant(amount * display_scale(index, amount, present)[:, None], FRACTION_DIGITS)
        # What falls below pymatgen's tolerance at this scale is dropped, as `composition_batch` drops it.
        present = present & (scaled >= AMOUNT_TOLERANCE)
        keep = np.argsort(~present, axis=1, kind="stable")  # entries left, in symbol order
        index, scaled, present = (np.take_along_axis(a, keep, axis=1) for a in (index, scaled, present))
        return CompositionBatch(np.where(present, index, 0), np.where(present, scaled, 0.0), present)

    def rows(self, sl: slice) -> CompositionBatch:
        """A block of rows, trimmed to its widest row."""
        present = self.present[sl]
        width = max(1, int(present.sum(1).max(initial=0)))
        return CompositionBatch(self.index[sl, :width], self.amount[sl, :width], present[:, :width])


def _items(comp: Any) -> Iterable[tuple[Any, Any]]:
    if isinstance(comp, Mapping):
        return comp.items()
    if isinstance(comp, str) and comp.lstrip().startswith("{"):
        return json.loads(comp).items()
    raise TypeError(f"composition must be a dict of element -> amount, got {type(comp).__name__}")


def composition_batch(compositions: Iterable[Any] | CompositionBatch, tables: ElementTables | None = None
                      ) -> CompositionBatch:
    """Padded arrays of many compositions.

    Args:
        compositions: element symbol -> amount mappings (a pymatgen Composition works too, as does the
            JSON text the materials table stores), or a `CompositionBatch`, returned as it is.
        tables: element tables; default `element_tables()`.

    Raises:
        ValueError: an unknown element symbol (the message names it).
        TypeError: something that is not a composition.
    """
    if isinstance(compositions, CompositionBatch):  # already padded arrays (the predict pipeline's rows)
        return compositions
    tables = tables or element_tables()
    index = tables.index
    flat_idx: list[int] = []
    flat_amt: list[float] = []
    counts: list[int] = []
    for comp in compositions:
        if type(comp) is not dict or not all(type(k) is str for k in comp):
            comp = {str(k): v for k, v in _items(comp)}
        kept: dict[int, float] = {}
        # Symbol order, as `featurize` sorts the keys before building the pymatgen Composition.
        for el in sorted(comp):
            x = float(comp[el])
            if not x >= AMOUNT_TOLERANCE:
                continue
            col = index.get(el)
            if col is None:
                raise ValueError(f"unknown element {el!r} in composition {comp!r}")
            # pymatgen keeps D, T and H apart and `element_composition` adds them up as H, at the
            # position of the first.
            kept[col] = kept.get(col, 0.0) + x
        flat_idx.extend(kept)
        flat_amt.extend(kept.values())
        counts.append(len(kept))
    n = len(counts)
    count = np.array(counts, dtype=np.int64)
    width = max(1, int(count.max(initial=0)))
    present = np.arange(width)[None, :] < count[:, None]
    idx = np.zeros((n, width), dtype=np.int64)
    amt = np.zeros((n, width))
    idx[present] = flat_idx
    amt[present] = flat_amt
    return CompositionBatch(idx, amt, present)
