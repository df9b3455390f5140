"""matminer's composition featurizers of the presets, re-done in NumPy over a batch on the shipped element tables.

matminer featurizes one pymatgen Composition at a time in Python (about 1 ms per composition for the magpie
statistics). `element_statistics` computes the same features for a whole batch: magpie `ElementProperty`,
`Stoichiometry`, `ValenceOrbital` and `IonProperty(fast=True)`, all with `impute_nan=True`; same columns
(`matminer_columns`), same order, same values (to rounding), including matminer's edge cases.

The element tables come from matminer's own data (after its NaN imputation) and ship with the package as
`element_tables.json`, so importing this module needs neither matminer nor pymatgen: the predict path stays
lean. `sulfml.chem.build.build_element_tables` regenerates the file (scripts/tables/build_element_tables.py)
and the tests check that the shipped file still equals matminer's data.

Compositions are read the way `presets.featurize` reads them: amounts below pymatgen's
`Composition.amount_tolerance` (1e-8), non-positive and NaN amounts are dropped, and the isotopes D and T are
added to H (as pymatgen's `element_composition` does). A row left without elements gets NaN for every feature,
as `featurize` gives it.

This is the lowest of the batch featurizer's modules (element_stats -> descriptors -> family -> assemble): the
block sizes and the helpers the others share (`_seqsum`, `_output`) live here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from sulfml.chem.batch import CompositionBatch, composition_batch
from sulfml.chem.elements import MAGPIE_FEATURES, ElementTables, element_tables

MAGPIE_STATS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")
STOICHIOMETRY_P: tuple[int, ...] = (0, 2, 3, 5, 7, 10)
ORBITALS: tuple[str, ...] = ("s", "p", "d", "f")

# Rows per block: bounds the (rows x elements x properties) temporaries to a few tens of MB.
_BLOCK = 4096
# Sums per block in the oxidation-state search (rows x combinations).
_COMBOS_PER_BLOCK = 1 << 21


def matminer_columns() -> list[str]:
    """Names of the matminer features `element_statistics` computes, as `featurize` names them."""
    magpie = [f"MagpieData {stat} {prop}" for prop in MAGPIE_FEATURES for stat in MAGPIE_STATS]
    stoich = [f"{p}-norm" for p in STOICHIOMETRY_P]
    valence = [f"{prop} {orb} valence electrons" for prop in ("avg", "frac") for orb in ORBITALS]
    return [*magpie, *stoich, *valence, "compound possible", "max ionic char", "avg ionic char"]


def element_statistics(compositions: Iterable[Any] | CompositionBatch, out: np.ndarray | None = None
                       ) -> np.ndarray:
    """The matminer features of the presets for many compositions (every preset starts with the same four).

    Args:
        compositions: element symbol -> amount mappings, or a `composition_batch`.
        out: optional (rows, len(matminer_columns())) float array to fill, e.g. a view of a wider table.

    Returns:
        (rows, len(matminer_columns())) float array, columns as `matminer_columns()`; NaN rows for
        compositions without any element.

    Raises:
        ValueError: unknown element.
    """
    tables = element_tables()
    batch = compositions if isinstance(compositions, CompositionBatch) else composition_batch(compositions, tables)
    out = _output(out, len(batch), len(matminer_columns()))
    for start in range(0, len(batch), _BLOCK):
        sl = slice(start, start + _BLOCK)
        _matminer_block(batch.rows(sl), tables, out[sl])
    return out


def _seqsum(a: np.ndarray) -> np.ndarray:
    """Sum over axis 1 left to right, as Python's `sum` and small NumPy reductions add."""
    total = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        total += a[:, j]
    return total


_STAT = {s: i for i, s in enumerate(MAGPIE_STATS)}
_PROP = {p: i for i, p in enumerate(MAGPIE_FEATURES)}


def _matminer_block(batch: CompositionBatch, tables: ElementTables, out: np.ndarray) -> None:
    """Fill `out` (rows, matminer columns) for one block of rows."""
    idx, w, present = batch.index, batch.amount, batch.present
    n, width = idx.shape
    n_el = present.sum(1)
    n_props = len(MAGPIE_FEATURES)
    magpie = np.empty((n, n_props, len(MAGPIE_STATS)))
    with np.errstate(invalid="ignore", divide="ignore"):
        # Padding repeats the row's first element: min and max need no mask, and its weight stays 0.
        first = np.where(present, idx, idx[:, :1])
        values = tables.magpie[first]  # (n, width, props)
        wsum = _seqsum(w)
        # PropertyStats.mean/avg_dev are np.average with the raw amounts as weights.
        mean = np.einsum("nw,nwp->np", w, values) / wsum[:, None]
        values_dev = np.abs(values - mean[:, None, :])
        avg_dev = np.einsum("nw,nwp->np", w, values_dev) / wsum[:, None]
        vmin = values.min(1)
        vmax = values.max(1)
        magpie[:, :, _STAT["minimum"]] = vmin
        magpie[:, :, _STAT["maximum"]] = vmax
        magpie[:, :, _STAT["range"]] = vmax - vmin
        magpie[:, :, _STAT["mean"]] = mean
        magpie[:, :, _STAT["avg_dev"]] = avg_dev
        # PropertyStats.mode: the smallest value among the entries whose weight np.isclose's the largest.
        wmax = w.max(1, initial=0.0)
        tied = present & (np.abs(w - wmax[:, None]) <= 1e-8 + 1e-5 * np.abs(wmax)[:, None])
        mode = values[np.arange(n), w.argmax(1)]
        multi = np.flatnonzero(tied.sum(1) > 1)
        if len(multi):
            mode[multi] = np.where(tied[multi, :, None], values[multi], np.inf).min(1)
        magpie[:, :, _STAT["mode"]] = mode
        col = magpie.shape[1] * magpie.shape[2]
        out[:, :col] = magpie.reshape(n, col)

        # Stoichiometry: p-norms of the atomic fractions; p = 0 counts the elements.
        frac = w / wsum[:, None]
        out[:, col] = n_el
        for k, p in enumerate(STOICHIOMETRY_P[1:], start=1):
            out[:, col + k] = _seqsum(frac**p) ** (1.0 / p)
        col += len(STOICHIOMETRY_P)

        # ValenceOrbital: the magpie means of the valence counts, and their share of NValence.
        avg = mean[:, [_PROP[f"N{o}Valence"] for o in ORBITALS]]
        out[:, col: col + 4] = avg
        out[:, col + 4: col + 8] = avg / mean[:, [_PROP["NValence"]]]
        col += 8

        out[:, col:] = _ion_property(idx, w, present, n_el, wsum, tables)
    # `featurize` gives NaN to a row whose featurizers fail, as they do on an empty composition.
    out[n_el == 0] = np.nan


def _ion_property(idx: np.ndarray, w: np.ndarray, present: np.ndarray, n_el: np.ndarray, wsum: np.ndarray,
                  tables: ElementTables) -> np.ndarray:
    """IonProperty(fast=True): compound possible, max and average ionic character."""
    n, width = idx.shape
    x = tables.electronegativity[idx]
    frac = w / wsum[:, None]
    iu, ju = np.triu_indices(width, k=1)
    pair_ok = present[:, iu] & present[:, ju]
    char = 1.0 - np.exp(-0.25 * (x[:, iu] - x[:, ju]) ** 2)
    max_char = np.where(pair_ok, char, -np.inf).max(1, initial=-np.inf)
    avg_char = _seqsum(np.where(pair_ok, frac[:, iu] * frac[:, ju] * char, 0.0)) if len(iu) else np.zeros(n)
    possible = _compound_possible(idx, w, present, tables)
    single = n_el < 2
    # matminer: one element is always a possible compound, with no ionic character.
    possible[single] = 1.0
    max_char[single] = 0.0
    avg_char[single] = 0.0
    return np.stack([possible, max_char, avg_char], axis=1)


def _compound_possible(idx: np.ndarray, w: np.ndarray, present: np.ndarray, tables: ElementTables) -> np.ndarray:
    """1.0 where some choice of one common oxidation state per element makes the amounts neutral.

    matminer tries every combination (itertools.product) and tests np.isclose(dot(states, amounts), 0),
    i.e. |sum| <= 1e-8 on the raw amounts. Here rows are grouped by how many states each position has, so
    each group enumerates exactly its own combinations, in blocks that bound memory.
    """
    n, width = idx.shape
    counts = np.where(present, tables.n_oxidation_states[idx], 1)
    out = np.zeros(n)
    # An element without common oxidation states makes the product empty: never possible.
    has_all = ~(present & (counts == 0)).any(1)
    rows = np.flatnonzero(has_all)
    if not len(rows):
        return out
    keys = counts[rows]
    if width <= 15 and keys.max(initial=0) < 16:
        # One int64 per row (4 bits a position): a 1-D unique sorts far faster than unique(axis=0).
        code = (keys.astype(np.int64) << (4 * np.arange(width, dtype=np.int64))).sum(1)
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
        signatures = keys[first]
    else:
        signatures, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    for g, sig in enumerate(signatures):
        group = rows[inverse == g]
        n_combo = int(np.prod(sig))
        step = max(1, _COMBOS_PER_BLOCK // n_combo)
        for start in range(0, len(group), step):
            r = group[start:start + step]
            sums = np.zeros((len(r), 1))
            for j in range(width):
                here = present[r, j, None]
                if not here.any():  # padding in every row: adding 0.0 changes no sum (but a zero's sign)
                    continue
                k = int(sig[j])
                states = tables.oxidation_states[idx[r, j], :k]  # (rows, k)
                contrib = np.where(here, states * w[r, j, None], 0.0)
                sums = (sums[:, :, None] + contrib[:, None, :]).reshape(len(r), -1)
            out[r] = (np.abs(sums, out=sums) <= 1e-8).any(1)
    return out


def _output(out: np.ndarray | None, n: int, width: int) -> np.ndarray:
    """The (n, width) array a kernel fills: `out` when given (its shape checked), else a new one."""
    if out is None:
        return np.empty((n, width))
    if out.shape != (n, width):
        raise ValueError(f"out has shape {out.shape}, expected {(n, width)}")
    return out
