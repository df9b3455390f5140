"""The one implementation of every composition feature of the presets, vectorized over a batch with NumPy:
matminer's composition featurizers re-done on shipped element tables, and our electrolyte descriptors (their
rules and labels are data in `rules.py`; `electrolyte.py`'s matminer featurizers call these kernels).

matminer featurizes one pymatgen Composition at a time in Python (about 1 ms per composition for the
magpie statistics). This module computes the same features for a whole batch:

* `fast_features` gives the matminer part of the preset (magpie `ElementProperty`, `Stoichiometry`,
  `ValenceOrbital`, `IonProperty(fast=True)`, all with `impute_nan=True`), same columns, same order, same
  values (to rounding), including matminer's edge cases;
* our descriptors, one kernel per featurizer: `lithium_content`, `anion_framework`, `framework_cations`,
  `synthesis_notation`, `electrolyte_family` (`family_index`, `family_codes`), `element_fractions`,
  `substitution_features`; `electrolyte_features` puts the first five side by side as the presets do;
* `preset_features` puts the parts of a preset together; `featurize_fast` is a drop-in for
  `presets.featurize` on the composition-only presets (composition-v1, composition-v2, chemistry-v1).

The element tables come from matminer's own data (after its NaN imputation) and ship with the package as
`element_tables.json`, so importing this module needs neither matminer nor pymatgen: the predict path
stays lean. `sulfml.chem.build.build_element_tables` regenerates the file (scripts/tables/build_element_tables.py) and the tests
check that the shipped file still equals matminer's data.

Compositions are read the way `presets.featurize` reads them: amounts below pymatgen's
`Composition.amount_tolerance` (1e-8), non-positive and NaN amounts are dropped, and the isotopes D and T
are added to H (as pymatgen's `element_composition` does). A row left without elements gets NaN for every
matminer feature, as `featurize` gives it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from sulfml.chem.batch import CompositionBatch, composition_batch
from sulfml.chem.elements import (
    MAGPIE_FEATURES,
    ElementTables,
    element_embedding,
    element_tables,
)
from sulfml.featurize import rules
from sulfml.parse.state import STATES, UNKNOWN, normalize_state

if TYPE_CHECKING:
    import pandas as pd

MAGPIE_STATS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")
STOICHIOMETRY_P: tuple[int, ...] = (0, 2, 3, 5, 7, 10)
ORBITALS: tuple[str, ...] = ("s", "p", "d", "f")

# The parts of each preset this module computes, in preset order: every preset starts with the four matminer
# featurizers and our five; structure-v1 then has lattice and CIF columns (not covered here).
_PRESET_PARTS: dict[str, tuple[str, ...]] = {
    "composition-v1": ("matminer", "electrolyte"),
    "structure-v1": ("matminer", "electrolyte"),
    "composition-v2": ("matminer", "electrolyte", "fractions"),
    "chemistry-v1": ("matminer", "electrolyte", "fractions", "substitution"),
    # chemistry-v1 with the state as an input: the state alone sets the glass flags (`rules.notation_for_state`)
    "chemistry-v2": ("matminer", "electrolyte", "fractions", "substitution", "state"),
    # chemistry-v2 with the MEGNet-16 element embedding pooled over the composition
    "chemistry-v3": ("matminer", "electrolyte", "fractions", "substitution", "state", "megnet16"),
    # chemistry-v3, then space-group columns (structure-v2) and CIF columns (structure-v3), not covered here
    "structure-v2": ("matminer", "electrolyte", "fractions", "substitution", "state", "megnet16"),
    "structure-v3": ("matminer", "electrolyte", "fractions", "substitution", "state", "megnet16"),
}
# Presets whose every column is covered.
_FULL_PRESETS = ("composition-v1", "composition-v2", "chemistry-v1", "chemistry-v2", "chemistry-v3")
# Rows per block: bounds the (rows x elements x properties) temporaries to a few tens of MB.
_BLOCK = 4096
# Sums per block in the oxidation-state search (rows x combinations).
_COMBOS_PER_BLOCK = 1 << 21


# ---------------------------------------------------------------------------------------------------------
# Element tables


# ---------------------------------------------------------------------------------------------------------
# Column names


def matminer_columns() -> list[str]:
    """Names of the matminer features `fast_features` computes, as `featurize` names them."""
    magpie = [f"MagpieData {stat} {prop}" for prop in MAGPIE_FEATURES for stat in MAGPIE_STATS]
    stoich = [f"{p}-norm" for p in STOICHIOMETRY_P]
    valence = [f"{prop} {orb} valence electrons" for prop in ("avg", "frac") for orb in ORBITALS]
    return [*magpie, *stoich, *valence, "compound possible", "max ionic char", "avg ionic char"]


def electrolyte_columns() -> list[str]:
    """Names of our electrolyte features `electrolyte_features` computes, in preset order."""
    return list(rules.ELECTROLYTE_LABELS)


def fraction_columns() -> list[str]:
    """Names of `ElementFractions`' columns (elem_frac_H ... elem_frac_Pu)."""
    return list(rules.FRACTION_LABELS)


def substitution_columns() -> list[str]:
    """Names of `SubstitutionChemistry`'s columns."""
    return list(rules.SUBSTITUTION_LABELS)


def state_columns() -> list[str]:
    """Names of `MaterialState`'s one-hot columns (state_crystalline ... state_unknown)."""
    return list(rules.STATE_LABELS)


_PART_COLUMNS = {"matminer": matminer_columns, "electrolyte": electrolyte_columns, "fractions": fraction_columns,
                 "substitution": substitution_columns, "state": state_columns,
                 "megnet16": lambda: list(rules.embedding_labels("megnet16"))}


def uses_state(preset_id: str) -> bool:
    """Whether a preset takes the material's state as an input."""
    return "state" in _PRESET_PARTS.get(preset_id, ())


def covered_columns(preset_id: str) -> list[str]:
    """The columns of a preset this module computes, in preset order.

    For "composition-v1", "composition-v2" and "chemistry-v1" that is every column; "structure-v1" adds
    lattice and CIF columns, not covered.

    Raises:
        KeyError: a preset this module does not know.
    """
    _check_preset(preset_id)
    return [c for part in _PRESET_PARTS[preset_id] for c in _PART_COLUMNS[part]()]


def _check_preset(preset_id: str) -> None:
    if preset_id not in _PRESET_PARTS:
        raise KeyError(f"fast featurizer does not cover preset {preset_id!r}; it covers {list(_PRESET_PARTS)}")


# ---------------------------------------------------------------------------------------------------------
# matminer features


def fast_features(compositions: Iterable[Any] | CompositionBatch, preset_id: str = "composition-v1",
                  out: np.ndarray | None = None) -> np.ndarray:
    """The matminer features of a preset for many compositions.

    Args:
        compositions: element symbol -> amount mappings, or a `composition_batch`.
        preset_id: a preset `covered_columns` knows (all start with the same matminer featurizers).
        out: optional (rows, len(matminer_columns())) float array to fill, e.g. a view of a wider table.

    Returns:
        (rows, len(matminer_columns())) float array, columns as `matminer_columns()`; NaN rows for
        compositions without any element.

    Raises:
        KeyError: unknown preset.
        ValueError: unknown element.
    """
    _check_preset(preset_id)
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
                k = int(sig[j])
                states = tables.oxidation_states[idx[r, j], :k]  # (rows, k)
                contrib = np.where(present[r, j, None], states * w[r, j, None], 0.0)
                sums = (sums[:, :, None] + contrib[:, None, :]).reshape(len(r), -1)
            out[r] = (np.abs(sums) <= 1e-8).any(1)
    return out


# ---------------------------------------------------------------------------------------------------------
# Our electrolyte descriptors. The one implementation of the rules in `rules.py`: `electrolyte.py`'s
# matminer featurizers call these functions on one-row batches.


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
        notation, tags, family: per row (see `electrolyte_features`); None = all unknown.
        n: the number of rows, needed only when all three are None.
    """
    return _text_columns(notation, tags, family, n)[0]


def family_codes(compositions: Iterable[Any] | CompositionBatch, glass: Sequence[bool] | np.ndarray | None = None
                 ) -> np.ndarray:
    """Index into `rules.FAMILIES` of each row's family by composition alone (the data label not consulted).

    Args:
        compositions: element symbol -> amount mappings, or a `composition_batch`.
        glass: per row, True for a glass: only the thiophosphate pattern (without its Ch/P window) applies.
    """
    batch = _batch(compositions)
    glass_rows = np.zeros(len(batch), dtype=bool) if glass is None else np.asarray(glass, dtype=bool)
    if glass_rows.shape != (len(batch),):
        raise ValueError(f"expected {len(batch)} glass flags, got {glass_rows.shape}")
    out = _per_block(batch, 1, None, lambda sl, ions: _family(ions, glass_rows[sl])[:, None])
    return out[:, 0].astype(np.int64)


def family_index(compositions: Iterable[Any] | CompositionBatch, notation: Sequence[Any] | None = None,
                 tags: Sequence[Any] | None = None, family: Sequence[Any] | None = None) -> np.ndarray:
    """Index into `rules.FAMILIES` of each row's family: the data label when it names a structure family,
    else the composition (a glass by notation, tag or label: the thiophosphate pattern or "other")."""
    batch = _batch(compositions)
    flags, label_family = _text_columns(notation, tags, family, len(batch))
    return _label_or_composition(label_family, family_codes(batch, flags[:, _GLASS]))


def electrolyte_family(compositions: Iterable[Any] | CompositionBatch, notation: Sequence[Any] | None = None,
                       tags: Sequence[Any] | None = None, family: Sequence[Any] | None = None,
                       out: np.ndarray | None = None) -> np.ndarray:
    """`ElectrolyteFamily` for many rows: `family_index` one-hot, columns as `rules.FAMILY_LABELS`."""
    codes = family_index(compositions, notation, tags, family)
    out = _output(out, len(codes), len(rules.FAMILY_LABELS))
    out[:] = _one_hot(codes)
    return out


def electrolyte_features(
    compositions: Iterable[Any] | CompositionBatch,
    notation: Sequence[Any] | None = None,
    tags: Sequence[Any] | None = None,
    family: Sequence[Any] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Our electrolyte features for many rows: the five featurizers of every preset, side by side.

    Args:
        compositions: element symbol -> amount mappings, or a `composition_batch`.
        notation: the parser's notation per row (None or NaN = "plain").
        tags: the parser's tags per row ("a;b:c"), None = no tags.
        family: the data's family label per row, None = unknown.
        out: optional (rows, len(electrolyte_columns())) float array to fill.

    Returns:
        (rows, len(electrolyte_columns())) float array, columns as `rules.ELECTROLYTE_LABELS`.
    """
    batch = _batch(compositions)
    n = len(batch)
    flags, label_family = _text_columns(notation, tags, family, n)
    parts = _column_slices((rules.LITHIUM_LABELS, rules.ANION_LABELS, rules.FRAMEWORK_LABELS, rules.FLAG_LABELS,
                            rules.FAMILY_LABELS))
    lithium, anions, framework, flag_cols, family_cols = parts

    def block_columns(sl: slice, ions: _Ions) -> np.ndarray:
        cols = np.empty((len(ions.li), len(rules.ELECTROLYTE_LABELS)))
        cols[:, lithium] = _lithium(ions)
        cols[:, anions] = _anions(ions)
        cols[:, framework] = _framework(ions)
        cols[:, flag_cols] = flags[sl]
        codes = _label_or_composition(label_family[sl], _family(ions, flags[sl, _GLASS]))
        cols[:, family_cols] = _one_hot(codes)
        return cols

    return _per_block(batch, len(rules.ELECTROLYTE_LABELS), out, block_columns)


def element_fractions(compositions: Iterable[Any] | CompositionBatch, out: np.ndarray | None = None) -> np.ndarray:
    """`ElementFractions` for many rows: atom fractions of `rules.ELEMENTS` (0 for an empty row)."""
    tables = element_tables()
    cols = [tables.index[el] for el in rules.ELEMENTS]

    def fractions(sl: slice, ions: _Ions) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ions.total[:, None] > 0, ions.dense[:, cols] / ions.total[:, None], 0.0)

    return _per_block(compositions, len(rules.FRACTION_LABELS), out, fractions)


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


_GLASS = rules.FLAG_LABELS.index("is_glass")


def _batch(compositions: Iterable[Any] | CompositionBatch) -> CompositionBatch:
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


def _column_slices(groups: Sequence[Sequence[str]]) -> list[slice]:
    """Consecutive column slices of label groups laid side by side."""
    out, start = [], 0
    for labels in groups:
        out.append(slice(start, start + len(labels)))
        start += len(labels)
    return out


def row_families(X: np.ndarray, columns: Sequence[str]) -> list[str | None]:
    """Each feature row's family (`rules.FAMILIES`) read back from its `rules.FAMILY_LABELS` one-hot columns;
    None for a row without one, or for every row of a matrix without those columns."""
    position = {c: j for j, c in enumerate(columns)}
    if not len(X) or any(c not in position for c in rules.FAMILY_LABELS):
        return [None] * len(X)
    onehot = np.asarray(X, float)[:, [position[c] for c in rules.FAMILY_LABELS]]
    best = onehot.argmax(axis=1)
    return [rules.FAMILIES[b] if onehot[r, b] > 0 else None for r, b in enumerate(best.tolist())]


def _one_hot(codes: np.ndarray) -> np.ndarray:
    return (codes[:, None] == np.arange(len(rules.FAMILIES))[None, :]).astype(float)


def _label_or_composition(label_family: np.ndarray, composition_family: np.ndarray) -> np.ndarray:
    """The data label's family where it names one (>= 0), else the composition's."""
    return np.where(label_family >= 0, label_family, composition_family)


def _column(values: Sequence[Any] | None, n: int, default: Any) -> list[Any]:
    if values is None:
        return [default] * n
    out = list(values)
    if len(out) != n:
        raise ValueError(f"expected {n} values, got {len(out)}")
    return out


def _text_columns(notation: Sequence[Any] | None, tags: Sequence[Any] | None, family: Sequence[Any] | None,
                  n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, flags) `rules.synthesis_flags` and per row the `rules.FAMILIES` index of the data label (-1
    where the label names no structure family)."""
    if n is None:
        given = [v for v in (notation, tags, family) if v is not None]
        n = len(list(given[0])) if given else 0
    defaults = rules.TEXT_DEFAULTS
    notes = _column(notation, n, defaults["notation"])
    tag_col = _column(tags, n, defaults["tags"])
    fam_col = _column(family, n, defaults["family"])
    # Flags and labels depend on three short strings with few distinct values: number the distinct
    # triples, then one Python call per triple.
    uniq: dict[tuple[Any, Any, Any], int] = {}
    try:
        codes = np.array([uniq.setdefault(t, len(uniq)) for t in zip(notes, tag_col, fam_col, strict=True)],
                         dtype=np.int64)
    except TypeError:  # an unhashable value: read every value as `featurize` does first
        uniq = {}
        cleaned = zip([rules.clean_text(v, defaults["notation"]) for v in notes],
                      [rules.clean_text(v, defaults["tags"]) for v in tag_col],
                      [rules.clean_text(v, defaults["family"]) for v in fam_col], strict=True)
        codes = np.array([uniq.setdefault(t, len(uniq)) for t in cleaned], dtype=np.int64)
    flag_table = np.zeros((len(uniq) + 1, len(rules.FLAG_LABELS)))
    label_table = np.full(len(uniq) + 1, -1)
    for raw, k in uniq.items():
        note, tag, fam = (rules.clean_text(v, defaults[c]) for v, c in zip(raw, ("notation", "tags", "family"),
                                                                          strict=True))
        flag_table[k] = list(rules.synthesis_flags(note, tag, fam).values())
        label = rules.family_from_label(fam)
        label_table[k] = -1 if label is None else rules.FAMILIES.index(label)
    if not n:
        return np.zeros((0, len(rules.FLAG_LABELS))), np.zeros(0, dtype=np.int64)
    return flag_table[codes], label_table[codes]


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


def _family(ions: _Ions, glass: np.ndarray) -> np.ndarray:
    """Index into `FAMILIES` of each row's family by composition (rules.py: windows and element sets)."""
    ix = element_tables().index
    idx, dense, anion = ions.index, ions.dense, ions.anion
    li, n_a, t = ions.li, ions.n_anion, ions.t
    glass = np.asarray(glass, dtype=bool)
    code = np.full(len(li), rules.FAMILIES.index("other"))
    undecided = li > 0

    def amount(elements: Sequence[str]) -> np.ndarray:
        return _sum_cols([dense[:, ix[el]] for el in elements])

    def within(x: np.ndarray, window: rules.Window) -> np.ndarray:
        return (window[0] <= x) & (x <= window[1])

    def div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # NaN where the denominator is 0: it fails every window.
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)

    def assign(mask: np.ndarray, family: str) -> None:
        hit = undecided & mask
        code[hit] = rules.FAMILIES.index(family)
        undecided[hit] = False

    hal = _sum_cols([anion[el] for el in rules.HALOGENS])
    chal_s = _sum_cols([anion[el] for el in rules.CHALCOGENS])
    o = anion["O"]
    ch = chal_s + o
    sulfide = (n_a > 0) & (chal_s >= rules.MAIN_ANION_SHARE * n_a)
    oxide = (n_a > 0) & (o >= rules.MAIN_ANION_SHARE * n_a)
    # Dopants (under MINOR_SHARE of the framework atoms) do not count in "only these cations".
    major = ions.fw_entry & (ions.fw_amt >= rules.MINOR_SHARE * t[:, None])

    def only(allowed: Iterable[str]) -> np.ndarray:
        ok = np.zeros(dense.shape[1], dtype=bool)
        ok[[ix[el] for el in allowed]] = True
        return ~(major & ~ok[idx]).any(1)

    def has_major(elements: Iterable[str]) -> np.ndarray:
        cols = [ix[el] for el in elements]
        return cast("np.ndarray", (major & np.isin(idx, cols)).any(1))  # `major` is 2-D: one bool per row

    p = amount(rules.THIOPHOSPHATE_CATIONS)
    thiophosphate = (sulfide & only(rules.THIOPHOSPHATE_CATIONS) & has_major(rules.THIOPHOSPHATE_CATIONS)
                     & (anion["S"] >= rules.MAIN_ANION_SHARE * n_a)
                     & (glass | within(div(ch, p), rules.THIOPHOSPHATE_CH_PER_P)))
    # A glass has no crystalline family: the thiophosphate pattern or nothing.
    assign(glass & thiophosphate, "thiophosphate")
    undecided &= ~glass

    a_t, li_t = div(n_a, t), div(li, t)
    m, q = amount(rules.LGPS_M), amount(rules.LGPS_Q)
    rare_earth = amount(rules.GARNET_RARE_EARTHS)
    garnet_a = rare_earth + amount(rules.GARNET_ALKALINE_EARTHS)
    nasicon_x = amount(rules.NASICON_X)
    nasicon_m = t - nasicon_x
    perovskite_b = amount(rules.PEROVSKITE_B)
    perovskite_a = garnet_a + amount(rules.PEROVSKITE_ALKALI)
    lisicon_x = amount(rules.LISICON_X)
    matches = {
        "argyrodite": ((t > 0) & (sulfide | ((ch >= rules.MAIN_ANION_SHARE * n_a) & (hal > 0)))
                       & only(rules.ARGYRODITE_CATIONS) & within(a_t, rules.ARGYRODITE_A_PER_T)
                       & (div(hal, t) <= rules.ARGYRODITE_MAX_X_PER_T) & within(li_t, rules.ARGYRODITE_LI_PER_T)),
        "LGPS": (sulfide & (t > 0) & (m > 0) & (q > 0) & only((*rules.LGPS_M, *rules.LGPS_Q))
                 & within(div(m, q), rules.LGPS_M_PER_Q) & within(a_t, rules.LGPS_A_PER_T)
                 & within(li_t, rules.LGPS_LI_PER_T)),
        "thio-LISICON": (sulfide & (t > 0) & only(rules.THIO_LISICON_CATIONS) & has_major(rules.THIO_LISICON_KEY)
                         & within(a_t, rules.THIO_LISICON_A_PER_T)),
        "thiophosphate": thiophosphate,
        "anti-perovskite": ((ch > 0) & (hal > 0) & within(div(hal, ch), rules.ANTI_PEROVSKITE_X_PER_CH)
                            & within(div(li, ch), rules.ANTI_PEROVSKITE_LI_PER_CH)
                            & (t <= rules.ANTI_PEROVSKITE_MAX_T_PER_CH * ch)),
        "garnet": (oxide & (rare_earth > 0) & (amount(rules.GARNET_B) > 0)
                   & within(div(o, garnet_a), rules.GARNET_O_PER_A)),
        "NASICON": (oxide & (nasicon_x > 0) & (nasicon_m > 0) & within(div(o, nasicon_x), rules.NASICON_O_PER_X)
                    & within(div(nasicon_x, nasicon_m), rules.NASICON_X_PER_M)),
        "perovskite": (oxide & (perovskite_b > 0) & (perovskite_a > 0)
                       & within(div(o, perovskite_b), rules.PEROVSKITE_O_PER_B)
                       & within(div(perovskite_a + li, perovskite_b), rules.PEROVSKITE_A_LI_PER_B)),
        "LISICON": (oxide & (lisicon_x > 0) & only((*rules.LISICON_X, *rules.LISICON_OTHER_CATIONS))
                    & within(div(o, lisicon_x), rules.LISICON_O_PER_X)
                    & within(div(li, lisicon_x), rules.LISICON_LI_PER_X)),
    }
    for family in rules.FAMILY_ORDER:
        assign(matches[family], family)
    return code


# ---------------------------------------------------------------------------------------------------------
# Whole preset


def preset_features(
    compositions: Iterable[Any] | CompositionBatch,
    preset_id: str = "composition-v1",
    notation: Sequence[Any] | None = None,
    tags: Sequence[Any] | None = None,
    family: Sequence[Any] | None = None,
    state: Sequence[Any] | None = None,
) -> np.ndarray:
    """All `covered_columns(preset_id)` for many rows (element -> amount mappings or a `CompositionBatch`), from
    their canonical fractions (`CompositionBatch.canonical`): the same composition at any scale gives the same
    row, to the bit."""
    _check_preset(preset_id)
    batch = compositions if isinstance(compositions, CompositionBatch) else composition_batch(compositions)
    batch = batch.canonical()
    out = np.empty((len(batch), len(covered_columns(preset_id))))
    if uses_state(preset_id):
        state = _column(state, len(batch), UNKNOWN)
        notation, tags, family = state_text_columns(notation, tags, family, state)
    start = 0
    for part in _PRESET_PARTS[preset_id]:
        view = out[:, start:start + len(_PART_COLUMNS[part]())]
        start += view.shape[1]
        if part == "matminer":
            fast_features(batch, preset_id, out=view)
        elif part == "electrolyte":
            electrolyte_features(batch, notation, tags, family, out=view)
        elif part == "fractions":
            element_fractions(batch, out=view)
        elif part == "state":
            material_state(state, out=view)
        elif part == "megnet16":
            embedding_features(batch, part, out=view)
        else:
            substitution_features(batch, out=view)
    return out


def material_state(state: Sequence[Any] | None, n: int | None = None, out: np.ndarray | None = None
                   ) -> np.ndarray:
    """`MaterialState` for many rows: the state one-hot, columns as `rules.STATE_LABELS`.

    Args:
        state: per row, a state as `normalize_state` reads it (None or missing: unknown).
        n: the number of rows, needed only when `state` is None.

    Raises:
        StateError: a value that names no state.
    """
    states = _column(state, len(state) if state is not None else (n or 0), UNKNOWN)
    codes = np.array([STATES.index(normalize_state(s)) for s in states], dtype=np.int64)
    out = _output(out, len(codes), len(STATES))
    out[:] = np.eye(len(STATES))[codes] if len(codes) else 0.0
    return out


def state_text_columns(notation: Sequence[Any] | None, tags: Sequence[Any] | None, family: Sequence[Any] | None,
                       state: Sequence[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """`rules.notation_for_state` of every row (each distinct row once)."""
    n = len(state)
    defaults = rules.TEXT_DEFAULTS
    rows = zip(*(_column(v, n, defaults[c]) for v, c in ((notation, "notation"), (tags, "tags"), (family, "family"))),
               [normalize_state(s) for s in state], strict=True)
    done: dict[tuple, tuple] = {}
    mapped = []
    for row in rows:
        key = tuple(rules.clean_text(v, defaults[c]) for v, c in zip(row[:3], ("notation", "tags", "family"),
                                                                   strict=True)) + (row[3],)
        if key not in done:
            done[key] = rules.notation_for_state(*key)
        mapped.append(done[key])
    if not mapped:
        return [], [], []
    notes, tag_col, fam_col = (list(c) for c in zip(*mapped, strict=True))
    return notes, tag_col, fam_col


def _output(out: np.ndarray | None, n: int, width: int) -> np.ndarray:
    if out is None:
        return np.empty((n, width))
    if out.shape != (n, width):
        raise ValueError(f"out has shape {out.shape}, expected {(n, width)}")
    return out


def featurize_fast(frame: pd.DataFrame, preset_id: str = "composition-v1") -> pd.DataFrame:
    """Drop-in for `presets.featurize` on the composition presets: same columns and values, vectorized.

    Args:
        frame: one row per material with a `composition` column (element -> amount dicts) and optional
            `notation`, `tags` and `family` columns.
        preset_id: one of `_FULL_PRESETS` (others have columns this module does not compute).

    Raises:
        KeyError: no `composition` column, or a preset with columns this module does not cover.
    """
    import pandas as pd

    if preset_id not in _FULL_PRESETS:
        raise KeyError(f"featurize_fast computes every column of {list(_FULL_PRESETS)} only, not {preset_id!r}")
    if "composition" not in frame.columns:
        raise KeyError("featurize needs a 'composition' column")

    def col(name: str) -> list[Any] | None:
        return frame[name].tolist() if name in frame.columns else None

    data = preset_features(frame["composition"].tolist(), preset_id, col("notation"), col("tags"), col("family"),
                           col("state"))
    return pd.DataFrame(data, index=frame.index, columns=covered_columns(preset_id), dtype=float)
