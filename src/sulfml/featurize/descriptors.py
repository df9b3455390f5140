"""Our electrolyte descriptors, vectorized over a batch with NumPy: one kernel per featurizer of
`electrolyte.py` (whose matminer featurizers call these on one-row batches), the one implementation of the
rules whose data is in `rules.py`.

* `lithium_content`, `anion_framework`, `framework_cations`: Li, anion and framework-cation ratios, from the
  anions and framework cations as `rules` defines them (`_Ions`; `anion_amounts` and `anion_atoms` give the
  anions alone, for `cif.py` and `electrolyte.py`);
* `synthesis_notation`: the glass/composite/doped/hydrate flags of the notation, tags and family label;
* `element_fractions`, `embedding_features`, `substitution_features`, `material_state`: the columns the
  later presets add.

The family classifier, which also reads `_Ions`, is `family.py`; putting the kernels side by side as a preset
does is `assemble.py`. Like `element_stats.py`, this imports neither matminer nor pymatgen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import numpy as np

from sulfml.chem.batch import CompositionBatch, composition_batch
from sulfml.chem.elements import ElementTables, element_embedding, element_tables
from sulfml.featurize import rules
from sulfml.featurize.element_stats import _BLOCK, _output, _seqsum
from sulfml.parse.state import STATES, UNKNOWN, normalize_state


def lithium_content(compositions: Iterable[Any] | CompositionBatch, out: np.ndarray | None = None) -> np.ndarray:
    """`LithiumContent` for many rows, columns as `rules.LITHIUM_LABELS`."""
    return _per_block(compositions, len(rules.LITHIUM_LABELS), out, lambda sl, ions: _lithium(ions))


def anion_framework(compositions: Iterable[Any] | CompositionBatch, out: np.ndarray | None = None) -> np.ndarray:
    """`AnionFramework` for many rows, columns as `rules.ANION_LABELS`."""
    return _per_block(compositions, len(rules.ANION_LABELS), out, lambda sl, ions: _anions(ions))


def framework_cations(compositions: Iterable[Any] | CompositionBatch, out: np.ndarray | None = None) -> np.ndarray:
    """`FrameworkCations` for many rows, columns as `rules.FRAMEWORK_LABELS`."""
    return _per_block(compositions, len(rules.FRAMEWORK_LABELS), out, lambda sl, ions: _framework(ions))


def anion_atoms(compositions: Iterable[Any] | CompositionBatch) -> np.ndarray:
    """Anion atoms of each row (of the composition as given), anions as `rules` counts them."""
    out = _per_block(compositions, 1, None, lambda sl, ions: ions.n_anion[:, None])
    return out[:, 0]


def synthesis_notation(notation: Sequence[Any] | None, tags: Sequence[Any] | None,
                       family: Sequence[Any] | None, n: int | None = None) -> np.ndarray:
    """`SynthesisNotation` for many rows, columns as `rules.FLAG_LABELS`.

    Args:
        notation, tags, family: per row (see `assemble.electrolyte_features`); None = all unknown.
        n: the number of rows, needed only when all three are None.
    """
    return _text_columns(notation, tags, family, n)[0]


def anion_amounts(compositions: Iterable[Any] | CompositionBatch) -> np.ndarray:
    """Per row, the amount of each `rules.ANIONS` element where it counts as an anion (Te and H only without
    O), else 0; columns as `rules.ANIONS`. The same `_Ions` the descriptors read: `cif.py` takes a structure's
    anions from here, so the anion rule is applied in one place."""
    return _per_block(compositions, len(rules.ANIONS), None,
                      lambda sl, ions: np.stack([ions.anion[el] for el in rules.ANIONS], axis=1))


def element_fractions(compositions: Iterable[Any] | CompositionBatch, out: np.ndarray | None = None) -> np.ndarray:
    """`ElementFractions` for many rows: atom fractions of `rules.ELEMENTS` (0 for an empty row)."""
    return _per_block(compositions, len(rules.FRACTION_LABELS), out, _fractions)


def _fractions(sl: slice, ions: _Ions) -> np.ndarray:
    cols = _fraction_columns()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ions.total[:, None] > 0, ions.dense[:, cols] / ions.total[:, None], 0.0)


@cache
def _fraction_columns() -> list[int]:
    index = element_tables().index
    return [index[el] for el in rules.ELEMENTS]


def embedding_features(compositions: Iterable[Any] | CompositionBatch, name: str, out: np.ndarray | None = None
                       ) -> np.ndarray:
    """`ElementEmbedding(name)` for many rows: the atom-fraction-weighted mean of the element vectors and their
    weighted standard deviation, columns as `rules.embedding_labels(name)`. NaN for a row with an element the
    embedding has no vector for (never an average over part of the composition), and for an empty row."""
    vectors = element_embedding(name)
    batch = _batch(compositions)
    width = vectors.shape[1]
    out = _output(out, len(batch), 2 * width)
    for start in range(0, len(batch), _BLOCK):
        sl = slice(start, min(start + _BLOCK, len(batch)))
        index, present = batch.index[sl], batch.present[sl]
        amount = np.where(present, batch.amount[sl], 0.0)
        total = amount.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = amount / total[:, None]  # (rows, entries): the atom fractions
        vec = np.where(present[:, :, None], vectors[index], 0.0)  # (rows, entries, width)
        mean = np.einsum("re,rew->rw", w, vec)
        # two passes (deviations from the mean), so a narrow spread is not lost to cancellation
        spread = np.sqrt(np.einsum("re,rew->rw", w, (vec - mean[:, None, :]) ** 2))
        block = out[sl]
        block[:, :width], block[:, width:] = mean, spread
        block[(total <= 0) | np.isnan(vec).any(axis=(1, 2))] = np.nan
    return out


def substitution_features(compositions: Iterable[Any] | CompositionBatch, out: np.ndarray | None = None
                          ) -> np.ndarray:
    """`SubstitutionChemistry` for many rows, columns as `rules.SUBSTITUTION_LABELS`."""
    return _per_block(compositions, len(rules.SUBSTITUTION_LABELS), out, _substitution)


def material_state(state: Sequence[Any] | None, n: int | None = None, out: np.ndarray | None = None
                   ) -> np.ndarray:
    """`MaterialState` for many rows: the state one-hot, columns as `rules.STATE_LABELS`.

    Args:
        state: per row, a state as `normalize_state` reads it (None or missing: unknown).
        n: the number of rows, needed only when `state` is None.

    Raises:
        StateError: a value that names no state.
    """
    codes, states = state_codes(state, len(state) if state is not None else (n or 0))
    return _state_one_hot(codes, states, out)


def state_codes(state: Sequence[Any] | None, n: int) -> tuple[np.ndarray, list[str]]:
    """Each row's `normalize_state` as (codes, distinct states): row i is in state `states[codes[i]]`.
    Each distinct cell is read once.

    Raises:
        StateError: a value that names no state (the first such row's).
        ValueError: not n values.
    """
    return _distinct(state, n, UNKNOWN, normalize_state)


def _state_one_hot(codes: np.ndarray, states: Sequence[str], out: np.ndarray | None = None) -> np.ndarray:
    """The `rules.STATE_LABELS` one-hot of coded states."""
    out = _output(out, len(codes), len(STATES))
    table = np.eye(len(STATES))[[STATES.index(s) for s in states]] if states else np.zeros((0, len(STATES)))
    out[:] = table[codes] if len(codes) else 0.0
    return out


def _batch(compositions: Iterable[Any] | CompositionBatch) -> CompositionBatch:
    """The compositions as a `CompositionBatch` (a batch as it is)."""
    if isinstance(compositions, CompositionBatch):
        return compositions
    return composition_batch(compositions, element_tables())


def _per_block(compositions: Iterable[Any] | CompositionBatch, width: int, out: np.ndarray | None,
               columns: Callable[[slice, _Ions], np.ndarray]) -> np.ndarray:
    """Fill `out` (rows, width) block by block with `columns(rows of the block, its ions)`."""
    batch = _batch(compositions)
    tables = element_tables()
    out = _output(out, len(batch), width)
    for start in range(0, len(batch), _BLOCK):
        sl = slice(start, min(start + _BLOCK, len(batch)))
        out[sl] = columns(sl, _Ions.of(batch.rows(sl), tables))
    return out


def _distinct(values: Sequence[Any] | None, n: int, default: Any, read: Callable[[Any], Any]
              ) -> tuple[np.ndarray, list[Any]]:
    """One optional input column read by `read` (None: every row is `default`), each distinct value once:
    (codes, distinct values read) with row i read as `distinct[codes[i]]`, distinct in first-seen order.

    A column of text and None is coded by value (equal texts read alike); any other column is read row by
    row first, since equal values of other types can read differently (1, 1.0 and True).

    Raises:
        ValueError: not n values; or whatever `read` raises, for the first row whose value it refuses.
    """
    if values is None:
        return np.zeros(n, dtype=np.int64), [read(default)]
    col = values if type(values) is list else list(values)
    if len(col) != n:
        raise ValueError(f"expected {n} values, got {len(col)}")
    if not set(map(type, col)) <= {str, type(None)}:
        col = [read(v) for v in col]
        read = _same
    seen: dict[Any, Any] = dict.fromkeys(col)
    for k, v in enumerate(seen):
        seen[v] = k
    codes = np.fromiter(map(seen.__getitem__, col), dtype=np.int64, count=n)
    return codes, [read(v) for v in seen]


def _same(value: Any) -> Any:
    return value


def _clean(value: Any, default: Any) -> Any:
    return rules.clean_text(value, default)


@dataclass(frozen=True)
class _TextCodes:
    """The notation, tags and family columns of many rows, each distinct triple once.

    Attributes:
        codes: (rows,) row i has the triple `values[codes[i]]`.
        values: distinct (notation, tags, family) triples, as `rules.clean_text` reads them.
    """

    codes: np.ndarray
    values: list[tuple[Any, Any, Any]]


def _combine(columns: Sequence[tuple[np.ndarray, list[Any]]], n: int) -> tuple[np.ndarray, list[tuple]]:
    """Coded columns (`_distinct`) side by side, coded by distinct tuple of their values."""
    codes = np.zeros(n, dtype=np.int64)
    values: list[tuple] = [()]
    for col_codes, distinct in columns:
        if len(distinct) == 1 or len(values) == 1:  # every row has the same value here, or had so far
            codes = col_codes if len(values) == 1 else codes
            values = [v + (d,) for v in values for d in distinct]
            continue
        # pairs of codes as one number below n * len(distinct): no overflow however many columns
        unique, inverse = np.unique(codes * len(distinct) + col_codes, return_inverse=True)
        codes = inverse.reshape(-1).astype(np.int64)
        values = [values[c // len(distinct)] + (distinct[c % len(distinct)],) for c in unique.tolist()]
    return codes, values


def _text_codes(notation: Sequence[Any] | None, tags: Sequence[Any] | None, family: Sequence[Any] | None,
                n: int | None = None) -> _TextCodes:
    """The three optional text columns (None: every row the default of `rules.TEXT_DEFAULTS`), coded."""
    if n is None:
        given = [v for v in (notation, tags, family) if v is not None]
        n = len(list(given[0])) if given else 0
    defaults = rules.TEXT_DEFAULTS
    columns = [_distinct(v, n, defaults[c], partial(_clean, default=defaults[c]))
               for v, c in ((notation, "notation"), (tags, "tags"), (family, "family"))]
    return _TextCodes(*_combine(columns, n))


def _text_columns(notation: Sequence[Any] | None, tags: Sequence[Any] | None, family: Sequence[Any] | None,
                  n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, flags) `rules.synthesis_flags` and per row the `rules.FAMILIES` index of the data label (-1
    where the label names no structure family)."""
    return _text_table(_text_codes(notation, tags, family, n))


def _text_table(text: _TextCodes) -> tuple[np.ndarray, np.ndarray]:
    """`_text_columns` of coded text columns: the rules once per distinct triple."""
    # Flags and labels depend on three short strings with few distinct values: one Python call per triple.
    flag_table = np.zeros((len(text.values) + 1, len(rules.FLAG_LABELS)))
    label_table = np.full(len(text.values) + 1, -1)
    for k, (note, tag, fam) in enumerate(text.values):
        flag_table[k] = list(rules.synthesis_flags(note, tag, fam).values())
        label = rules.family_from_label(fam)
        label_table[k] = -1 if label is None else rules.FAMILIES.index(label)
    if not len(text.codes):
        return np.zeros((0, len(rules.FLAG_LABELS))), np.zeros(0, dtype=np.int64)
    return flag_table[text.codes], label_table[text.codes]


@dataclass(frozen=True)
class _Ions:
    """Anions and framework cations of a block of rows, as `rules` defines them, with the sums our
    descriptors share. Sums run left to right in a fixed order (symbol order over whole compositions, the
    rules' order over named groups), so the ratios the family windows see do not depend on the batch."""

    index: np.ndarray  # (rows, width) element rows of the entries
    amount: np.ndarray  # (rows, width)
    dense: np.ndarray  # (rows, elements) amounts
    has_o: np.ndarray
    anion: dict[str, np.ndarray]  # per anion element: its amount where it counts as an anion, else 0
    fw_entry: np.ndarray  # (rows, width): the entry is a framework cation
    fw_amt: np.ndarray  # (rows, width): its amount where it is, else 0
    fw_dense: np.ndarray  # (rows, elements): framework amounts by element
    total: np.ndarray  # all atoms
    li: np.ndarray
    n_anion: np.ndarray
    charge: np.ndarray  # total nominal anion charge
    t: np.ndarray  # framework cation atoms

    @classmethod
    def of(cls, batch: CompositionBatch, tables: ElementTables) -> _Ions:
        ix = tables.index
        idx, w, present = batch.index, batch.amount, batch.present
        dense = batch.dense(len(tables.symbols))
        has_o = dense[:, ix["O"]] > 0
        anion = {el: dense[:, ix[el]] for el in rules.ANIONS}
        for el in rules.ANIONS_ONLY_WITHOUT_O:
            anion[el] = np.where(has_o, 0.0, anion[el])
        not_fw = np.zeros(len(tables.symbols), dtype=bool)
        not_fw[[ix[el] for el in rules.NOT_FRAMEWORK]] = True
        fw_entry = present & ~not_fw[idx]
        fw_dense = dense.copy()
        fw_dense[:, not_fw] = 0.0
        for el in rules.FRAMEWORK_WITH_O:
            fw_entry |= present & (idx == ix[el]) & has_o[:, None]
            fw_dense[:, ix[el]] = np.where(has_o, dense[:, ix[el]], 0.0)
        fw_amt = np.where(fw_entry, w, 0.0)
        return cls(idx, w, dense, has_o, anion, fw_entry, fw_amt, fw_dense, _seqsum(w), dense[:, ix["Li"]],
                   _sum_cols([anion[el] for el in rules.ANIONS]),
                   _sum_cols([rules.ANION_CHARGE[el] * anion[el] for el in rules.ANIONS]), _seqsum(fw_amt))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is not positive (the ratio is undefined)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (a share of nothing)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), 0.0)


def _lithium(ions: _Ions) -> np.ndarray:
    li = ions.li
    return np.stack([_ratio(li, ions.total), _ratio(li, ions.n_anion), _ratio(li, ions.t), _ratio(li, ions.charge)], axis=1)


def _anions(ions: _Ions) -> np.ndarray:
    anion, n_anion = ions.anion, ions.n_anion
    fracs = [_share(anion[el], n_anion) for el in rules.ANIONS]
    n_hal = _sum_cols([anion[el] for el in rules.HALOGENS])
    hal_shares = [_share(anion[el], n_hal) for el in rules.HALOGENS]
    n_chal = _sum_cols([anion[el] for el in rules.CHALCOGENS])
    with np.errstate(invalid="ignore", divide="ignore"):
        entropy = _sum_cols([np.where(s > 0, s * np.log(np.where(s > 0, s, 1.0)), 0.0) for s in hal_shares])
    n_species = _sum_cols([(anion[el] > 0).astype(float) for el in rules.ANIONS])
    return np.stack([
        *fracs, _share(n_hal, n_anion), _share(n_chal, n_anion), *hal_shares, np.maximum(0.0, -entropy),
        _ratio(n_anion, ions.total), n_species, (n_species > 1).astype(float),
        (_sum_cols([(s > 0).astype(float) for s in hal_shares]) > 1).astype(float),
    ], axis=1)


def _framework(ions: _Ions) -> np.ndarray:
    ix, t = element_tables().index, ions.t
    shares = [_share(ions.fw_dense[:, ix[el]], t) for el in rules.FRAMEWORK_CATIONS]
    other = np.where(t != 0, 1.0 - _sum_cols(shares), 0.0)
    return np.stack([*shares, np.maximum(other, 0.0), ions.fw_entry.sum(1).astype(float), _ratio(t, ions.total)], axis=1)


def _substitution(sl: slice, ions: _Ions) -> np.ndarray:
    tables = element_tables()
    w, fw = ions.amount, ions.fw_entry
    t, n_a, li = ions.t, ions.n_anion, ions.li
    valence = tables.nominal_valence[ions.index]
    radius = tables.cation_radius[ions.index]
    hal = _sum_cols([ions.anion[el] for el in rules.HALOGENS])
    chal = _sum_cols([ions.anion[el] for el in (*rules.CHALCOGENS, "O")])
    host = fw & (w >= rules.MINOR_SHARE * t[:, None])
    dopant = fw & ~host

    def total(mask: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        # Left-to-right sums over the selected entries: adding the 0.0 of the others changes nothing.
        return _seqsum(np.where(mask, w if values is None else w * values, 0.0))

    def mean(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        # Weighted by the entries with a known value only.
        known = mask & np.isfinite(values)
        return _ratio(total(known, np.where(known, values, 0.0)), total(known))

    with np.errstate(invalid="ignore"):
        fw_charge = total(fw & np.isfinite(valence), np.where(np.isfinite(valence), valence, 0.0))
        both = dopant.any(1) & host.any(1)
        known_r = fw & np.isfinite(radius)
        spread = np.where(known_r, radius, -np.inf).max(1) - np.where(known_r, radius, np.inf).min(1)
        return np.stack([
            _ratio(n_a, t), _ratio(chal, t), _ratio(hal, t),
            np.where(t > 0, np.maximum(_ratio(hal, t) - 1.0, 0.0), np.nan),
            mean(fw, valence), _ratio(ions.charge - li, t), _ratio(li - (ions.charge - fw_charge), n_a),
            np.where(t > 0, _ratio(total(dopant), t), 0.0), dopant.sum(1).astype(float),
            np.where(both, mean(dopant, valence) - mean(host, valence), 0.0),
            np.where(both, mean(dopant, radius) - mean(host, radius), 0.0),
            mean(fw, radius), np.where(known_r.any(1), spread, np.nan),
        ], axis=1)


def _sum_cols(cols: Sequence[np.ndarray]) -> np.ndarray:
    """Left-to-right sum of columns, as Python's `sum` over a generator adds."""
    total = np.zeros_like(cols[0]) + cols[0]
    for c in cols[1:]:
        total = total + c
    return total
