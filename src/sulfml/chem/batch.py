"""Many compositions as padded NumPy arrays: the form the whole-batch parser writes and the features read."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from sulfml.chem.elements import AMOUNT_TOLERANCE, ElementTables, element_tables

# Decimals of the fractions the models see: far below any real difference between two materials (amounts
# are read to about 1e-4), far above the last-bit noise of dividing by a total (1e-16).
FRACTION_DECIMALS = 12


@cache
def _symbol_rank() -> np.ndarray:
    """Element row -> position of its symbol in alphabetical order."""
    symbols = element_tables().symbols
    rank = np.empty(len(symbols), dtype=np.int64)
    rank[sorted(range(len(symbols)), key=symbols.__getitem__)] = np.arange(len(symbols))
    return rank


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
        """The same compositions as the models see them: fractions of one atom rounded to `FRACTION_DECIMALS`,
        elements of each row in symbol order.

        This is what makes a prediction independent of how a composition is written: `Li3PS4`, `Li6P2S8` and
        `Li0.3P0.1S0.4` have amounts whose fractions differ in their last bits (0.3/0.8 is not 3/8 in
        binary), and a tree split or a tie between neighbours can fall between such bits. Rounding makes
        them the same numbers, and the fixed order makes every sum over a row add in the same order.
        """
        rank = _symbol_rank()
        order = np.argsort(np.where(self.present, rank[self.index], len(rank)), axis=1, kind="stable")
        index = np.take_along_axis(self.index, order, axis=1)
        amount = np.take_along_axis(self.amount, order, axis=1)
        present = np.take_along_axis(self.present, order, axis=1)
        amount = np.where(present, amount, 0.0)
        total = amount[:, 0].copy()  # left to right, the same for every row whatever its width
        for j in range(1, amount.shape[1]):
            total += amount[:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = np.round(amount / total[:, None], FRACTION_DECIMALS)
        return CompositionBatch(index, np.where(present, fraction, 0.0), present)

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


def composition_batch(compositions: Iterable[Any], tables: ElementTables | None = None) -> CompositionBatch:
    """Padded arrays of many compositions.

    Args:
        compositions: element symbol -> amount mappings (a pymatgen Composition works too, as does the
            JSON text the materials table stores).
        tables: element tables; default `element_tables()`.

    Raises:
        ValueError: an unknown element symbol (the message names it).
        TypeError: something that is not a composition.
    """
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
