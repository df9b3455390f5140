"""Vectorized composition features: the numbers of the composition presets, many rows at a time.

matminer featurizes one pymatgen Composition at a time in Python (about 1 ms per composition for the
magpie statistics). This module computes the same features for a whole batch with NumPy:

* `fast_features` gives the matminer part of the preset (magpie `ElementProperty`, `Stoichiometry`,
  `ValenceOrbital`, `IonProperty(fast=True)`, all with `impute_nan=True`), same columns, same order, same
  values (to rounding), including matminer's edge cases;
* `electrolyte_features` gives our own featurizers' columns (`LithiumContent`, `AnionFramework`,
  `FrameworkCations`, `SynthesisNotation`, `ElectrolyteFamily`), `element_fractions` those of
  `ElementFractions` and `substitution_features` those of `SubstitutionChemistry`;
* `preset_features` puts the parts of a preset together; `featurize_fast` is a drop-in for
  `presets.featurize` on the composition-only presets (composition-v1, composition-v2, chemistry-v1).

The element tables come from matminer's own data (after its NaN imputation) and ship with the package as
`element_tables.json`, so importing this module needs neither matminer nor pymatgen: the predict path
stays lean. `build_element_tables` regenerates the file (scripts/build_element_tables.py) and the tests
check that the shipped file still equals matminer's data.

Compositions are read the way `presets.featurize` reads them: amounts below pymatgen's
`Composition.amount_tolerance` (1e-8), non-positive and NaN amounts are dropped, and the isotopes D and T
are added to H (as pymatgen's `element_composition` does). A row left without elements gets NaN for every
matminer feature, as `featurize` gives it.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sulfml.featurize import rules

if TYPE_CHECKING:
    import pandas as pd

TABLE_PATH = Path(str(files("sulfml.chem").joinpath("element_tables.json")))

# pymatgen's Composition drops amounts below this (Composition.amount_tolerance).
AMOUNT_TOLERANCE = 1e-8
# pymatgen's get_el_sp reads these isotope symbols as H.
ISOTOPES = {"D": "H", "T": "H"}

# ElementProperty.from_preset("magpie"): properties and statistics, in matminer's label order.
MAGPIE_FEATURES: tuple[str, ...] = (
    "Number", "MendeleevNumber", "AtomicWeight", "MeltingT", "Column", "Row", "CovalentRadius",
    "Electronegativity", "NsValence", "NpValence", "NdValence", "NfValence", "NValence", "NsUnfilled",
    "NpUnfilled", "NdUnfilled", "NfUnfilled", "NUnfilled", "GSvolume_pa", "GSbandgap", "GSmagmom",
    "SpaceGroupNumber",
)
MAGPIE_STATS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")
STOICHIOMETRY_P: tuple[int, ...] = (0, 2, 3, 5, 7, 10)
ORBITALS: tuple[str, ...] = ("s", "p", "d", "f")

FLAGS: tuple[str, ...] = ("is_glass", "is_glass_ceramic", "is_amorphous", "is_composite", "is_doped", "is_hydrate")

# The parts of each preset this module computes, in preset order: every preset starts with the four matminer
# featurizers and our five; structure-v1 then has lattice and CIF columns (not covered here).
_PRESET_PARTS: dict[str, tuple[str, ...]] = {
    "composition-v1": ("matminer", "electrolyte"),
    "structure-v1": ("matminer", "electrolyte"),
    "composition-v2": ("matminer", "electrolyte", "fractions"),
    "chemistry-v1": ("matminer", "electrolyte", "fractions", "substitution"),
}
# Presets whose every column is covered.
_FULL_PRESETS = ("composition-v1", "composition-v2", "chemistry-v1")
# Rows per block: bounds the (rows x elements x properties) temporaries to a few tens of MB.
_BLOCK = 4096
# Sums per block in the oxidation-state search (rows x combinations).
_COMBOS_PER_BLOCK = 1 << 21


# ---------------------------------------------------------------------------------------------------------
# Element tables


@dataclass(frozen=True)
class ElementTables:
    """matminer's element data as arrays indexed by element (atomic number - 1).

    Attributes:
        symbols: element symbols, Z = 1..118.
        index: symbol -> row (the isotopes D and T included, as H).
        magpie: `MagpieData(impute_nan=True)` values, one column per `MAGPIE_FEATURES` entry.
        electronegativity: `PymatgenData(impute_nan=True)` "X", as IonProperty reads it.
        oxidation_states: pymatgen common oxidation states per element, NaN-padded (IonProperty(fast=True)
            uses `PymatgenData.get_oxidation_states`, i.e. `Element.common_oxidation_states`).
        n_oxidation_states: how many states each element has (0 for noble gases and the heaviest).
        nominal_valence: `electrolyte.nominal_valence` per element (NaN without a positive common state).
        cation_radius: `electrolyte.cation_radius` per element, Å (NaN when pymatgen has none).
    """

    symbols: tuple[str, ...]
    index: dict[str, int]
    magpie: np.ndarray
    electronegativity: np.ndarray
    oxidation_states: np.ndarray
    n_oxidation_states: np.ndarray
    nominal_valence: np.ndarray
    cation_radius: np.ndarray


def build_element_tables() -> dict[str, Any]:
    """The element tables computed from matminer's data sources, as the JSON-able dict we ship.

    Imports matminer and pymatgen; used by scripts/build_element_tables.py and by the test that checks
    the shipped file.
    """
    from matminer.utils.data import MagpieData, PymatgenData
    from pymatgen.core import Element

    from sulfml.featurize.electrolyte import cation_radius, nominal_valence

    magpie = MagpieData(impute_nan=True)
    pmg = PymatgenData(impute_nan=True)
    elements = [Element.from_Z(z) for z in range(1, 119)]
    with warnings.catch_warnings():
        # pymatgen warns for every element without a Pauling electronegativity; matminer imputes those.
        warnings.simplefilter("ignore", UserWarning)
        x = [float(pmg.get_elemental_property(e, "X")) for e in elements]
    return {
        "source": "matminer MagpieData(impute_nan=True), PymatgenData(impute_nan=True); "
                  "generated by scripts/build_element_tables.py",
        "symbols": [e.symbol for e in elements],
        "magpie_features": list(MAGPIE_FEATURES),
        "magpie": [[float(magpie.get_elemental_property(e, p)) for p in MAGPIE_FEATURES] for e in elements],
        "electronegativity": x,
        "oxidation_states": [[int(s) for s in pmg.get_oxidation_states(e)] for e in elements],
        # NaN is not JSON: null marks an element without a valence or radius.
        "nominal_valence": [_json_number(nominal_valence(e.symbol)) for e in elements],
        "cation_radius": [_json_number(cation_radius(e.symbol)) for e in elements],
    }


def _json_number(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def tables_from_dict(data: Mapping[str, Any]) -> ElementTables:
    """`ElementTables` from the dict `build_element_tables` returns (or its JSON)."""
    if tuple(data["magpie_features"]) != MAGPIE_FEATURES:
        raise ValueError("element table was built for other magpie features; rerun scripts/build_element_tables.py")
    symbols = tuple(data["symbols"])
    index = {s: i for i, s in enumerate(symbols)}
    for iso, el in ISOTOPES.items():
        index[iso] = index[el]
    states = data["oxidation_states"]
    width = max(1, max(len(s) for s in states))
    ox = np.full((len(symbols), width), np.nan)
    for i, s in enumerate(states):
        ox[i, : len(s)] = s
    return ElementTables(
        symbols=symbols,
        index=index,
        magpie=np.asarray(data["magpie"], dtype=float),
        electronegativity=np.asarray(data["electronegativity"], dtype=float),
        oxidation_states=ox,
        n_oxidation_states=np.array([len(s) for s in states]),
        nominal_valence=np.array([np.nan if v is None else v for v in data["nominal_valence"]], dtype=float),
        cation_radius=np.array([np.nan if v is None else v for v in data["cation_radius"]], dtype=float),
    )


@cache
def element_tables() -> ElementTables:
    """The shipped element tables, read once per process."""
    with TABLE_PATH.open(encoding="utf-8") as fh:
        return tables_from_dict(json.load(fh))


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
    return [
        "li_atom_fraction", "li_per_anion", "li_per_framework_cation", "li_anion_charge_fraction",
        *(f"anion_frac_{el}" for el in rules.ANIONS), "halogen_fraction", "chalcogenide_fraction",
        *(f"halogen_share_{el}" for el in rules.HALOGENS), "halogen_mixing_entropy", "anion_atom_fraction",
        "n_anion_species", "mixed_anion", "mixed_halogen",
        *(f"framework_share_{el}" for el in rules.FRAMEWORK_CATIONS), "framework_share_other",
        "n_framework_cation_species", "framework_cation_atom_fraction",
        *FLAGS,
        *(f"family_{f}" for f in rules.FAMILIES),
    ]


def fraction_columns() -> list[str]:
    """Names of `ElementFractions`' columns (elem_frac_H ... elem_frac_Pu)."""
    return [f"{rules.ELEMENT_FRACTION_PREFIX}{el}" for el in rules.ELEMENTS]


def substitution_columns() -> list[str]:
    """Names of `SubstitutionChemistry`'s columns."""
    return list(rules.SUBSTITUTION_LABELS)


_PART_COLUMNS = {"matminer": matminer_columns, "electrolyte": electrolyte_columns, "fractions": fraction_columns,
                 "substitution": substitution_columns}


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
# Compositions as padded arrays


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
# Our electrolyte features


def _flags(notation: Any, tags: Any, family: Any) -> tuple[bool, ...]:
    """The six `FLAGS` of one row, in order."""
    flags = rules.synthesis_flags(notation, tags, family)
    return tuple(flags[name] for name in FLAGS)


def _column(values: Sequence[Any] | None, n: int, default: Any) -> list[Any]:
    if values is None:
        return [default] * n
    out = list(values)
    if len(out) != n:
        raise ValueError(f"expected {n} values, got {len(out)}")
    return out


def electrolyte_features(
    compositions: Iterable[Any] | CompositionBatch,
    notation: Sequence[Any] | None = None,
    tags: Sequence[Any] | None = None,
    family: Sequence[Any] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Our electrolyte features for many rows.

    Args:
        compositions: element symbol -> amount mappings, or a `composition_batch`.
        notation: the parser's notation per row (None or NaN = "plain").
        tags: the parser's tags per row ("a;b:c"), None = no tags.
        family: the data's family label per row, None = unknown.
        out: optional (rows, len(electrolyte_columns())) float array to fill.

    Returns:
        (rows, len(electrolyte_columns())) float array, columns as `electrolyte_columns()`.
    """
    tables = element_tables()
    batch = compositions if isinstance(compositions, CompositionBatch) else composition_batch(compositions, tables)
    n = len(batch)
    notes = _column(notation, n, "plain")
    tag_col = _column(tags, n, "")
    fam_col = _column(family, n, None)
    # Flags and labels depend on three short strings with few distinct values: number the distinct
    # triples, then one Python call per triple.
    uniq: dict[tuple[Any, Any, Any], int] = {}
    triples = zip(notes, tag_col, fam_col, strict=True)
    try:
        codes = np.array([uniq.setdefault(t, len(uniq)) for t in triples], dtype=np.int64)
    except TypeError:  # an unhashable value: read every value as `featurize` does first
        uniq = {}
        cleaned = zip([_clean(v, "plain") for v in notes], [_clean(v, "") for v in tag_col],
                      [_clean(v, None) for v in fam_col], strict=True)
        codes = np.array([uniq.setdefault(t, len(uniq)) for t in cleaned], dtype=np.int64)
    flag_table = np.zeros((len(uniq) + 1, len(FLAGS)))
    label_table = np.full(len(uniq) + 1, -1)
    for raw, k in uniq.items():
        key = (_clean(raw[0], "plain"), _clean(raw[1], ""), _clean(raw[2], None))
        flag_table[k] = _flags(*key)
        label = rules.family_from_label(key[2])
        label_table[k] = -1 if label is None else rules.FAMILIES.index(label)
    flags = flag_table[codes] if n else np.zeros((0, len(FLAGS)))
    label_family = label_table[codes] if n else np.zeros(0, dtype=int)
    out = _output(out, n, len(electrolyte_columns()))
    n_comp = len(electrolyte_columns()) - len(FLAGS) - len(rules.FAMILIES)
    for start in range(0, n, _BLOCK):
        sl = slice(start, start + _BLOCK)
        block = batch.rows(sl)
        comp_cols, fam_code = _electrolyte_block(block, tables, flags[sl, 0].astype(bool))
        labels = label_family[sl]
        fam_code = np.where(labels >= 0, labels, fam_code)
        out[sl, :n_comp] = comp_cols
        out[sl, n_comp:n_comp + len(FLAGS)] = flags[sl]
        out[sl, n_comp + len(FLAGS):] = fam_code[:, None] == np.arange(len(rules.FAMILIES))[None, :]
    return out


def _clean(value: Any, default: Any) -> Any:
    """As `presets.featurize` reads an optional text column: missing = default, non-text = str(value)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ in (
            "NAType", "NaTType"):
        return default
    return value if isinstance(value, str) else str(value)


def _electrolyte_block(batch: CompositionBatch, tables: ElementTables, glass: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Composition columns of LithiumContent, AnionFramework, FrameworkCations, and family codes.

    Sums run left to right in the same order as the Python featurizers (symbol order for whole
    compositions, the constants' order for named groups), so the ratios the family rules compare with
    their windows are bit-identical.
    """
    ix = tables.index
    idx, w = batch.index, batch.amount
    n = len(batch)
    ions = _Ions.of(batch, tables)
    dense, anion, has_o = ions.dense, ions.anion, ions.has_o
    fw_entry, fw_amt, fw_dense = ions.fw_entry, ions.fw_amt, ions.fw_dense
    total, li, n_anion, charge, t = _seqsum(w), ions.li, ions.n_anion, ions.charge, ions.t
    n_fw = fw_entry.sum(1)

    with np.errstate(invalid="ignore", divide="ignore"):
        def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)

        def share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
            return np.where(den != 0, num / np.where(den != 0, den, 1.0), 0.0)

        lithium = [ratio(li, total), ratio(li, n_anion), ratio(li, t), ratio(li, charge)]

        anion_present = {el: anion[el] > 0 for el in rules.ANIONS}
        fracs = [share(anion[el], n_anion) for el in rules.ANIONS]
        n_hal = _sum_cols([anion[el] for el in rules.HALOGENS])
        hal_shares = [share(anion[el], n_hal) for el in rules.HALOGENS]
        n_chal = _sum_cols([anion[el] for el in rules.CHALCOGENS])
        entropy = _sum_cols([np.where(s > 0, s * np.log(np.where(s > 0, s, 1.0)), 0.0) for s in hal_shares])
        n_species = _sum_cols([p.astype(float) for p in anion_present.values()])
        anion_cols = [
            *fracs, share(n_hal, n_anion), share(n_chal, n_anion), *hal_shares, np.maximum(0.0, -entropy),
            ratio(n_anion, total), n_species, (n_species > 1).astype(float),
            (_sum_cols([(s > 0).astype(float) for s in hal_shares]) > 1).astype(float),
        ]

        shares = [share(fw_dense[:, ix[el]], t) for el in rules.FRAMEWORK_CATIONS]
        other = np.where(t != 0, 1.0 - _sum_cols(shares), 0.0)
        fw_cols = [*shares, np.maximum(other, 0.0), n_fw.astype(float), ratio(t, total)]

        family = _family_codes(dense, fw_dense, fw_entry, fw_amt, idx, anion, li, n_anion, t, has_o, glass, ix)
    cols = np.stack([*lithium, *anion_cols, *fw_cols], axis=1) if n else np.empty((0, 4 + 19 + 31))
    return cols, family


@dataclass(frozen=True)
class _Ions:
    """Anions and framework cations of a block of rows, as `electrolyte.anion_amounts` and
    `framework_amounts` define them, with the sums our featurizers share (in their order of addition)."""

    dense: np.ndarray  # (rows, elements) amounts
    has_o: np.ndarray
    anion: dict[str, np.ndarray]  # per anion element: its amount where it counts as an anion, else 0
    fw_entry: np.ndarray  # (rows, width): the entry is a framework cation
    fw_amt: np.ndarray  # (rows, width): its amount where it is, else 0
    fw_dense: np.ndarray  # (rows, elements): framework amounts by element
    li: np.ndarray
    n_anion: np.ndarray
    charge: np.ndarray  # total anion charge
    t: np.ndarray  # framework cation atoms

    @classmethod
    def of(cls, batch: CompositionBatch, tables: ElementTables) -> _Ions:
        ix = tables.index
        idx, w, present = batch.index, batch.amount, batch.present
        dense = batch.dense(len(tables.symbols))
        has_o = dense[:, ix["O"]] > 0
        anion = {el: dense[:, ix[el]] for el in rules.ANIONS}
        for el in ("Te", "H"):
            # Te is a Te6+ cation and H sits in OH-/H2O when O is present.
            anion[el] = np.where(has_o, 0.0, anion[el])
        # Framework = everything but Li and the anions; Te only with O, H never (anion or hydroxide).
        not_fw = np.zeros(len(tables.symbols), dtype=bool)
        not_fw[[ix[el] for el in ("Li", *rules.ANIONS)]] = True
        fw_entry = present & ~not_fw[idx]
        fw_entry |= present & (idx == ix["Te"]) & has_o[:, None]
        fw_amt = np.where(fw_entry, w, 0.0)
        fw_dense = dense.copy()
        fw_dense[:, not_fw] = 0.0
        fw_dense[:, ix["Te"]] = np.where(has_o, dense[:, ix["Te"]], 0.0)
        return cls(dense, has_o, anion, fw_entry, fw_amt, fw_dense, dense[:, ix["Li"]],
                   _sum_cols([anion[el] for el in rules.ANIONS]),
                   _sum_cols([rules.ANION_CHARGE[el] * anion[el] for el in rules.ANIONS]), _seqsum(fw_amt))


def element_fractions(batch: CompositionBatch, out: np.ndarray | None = None) -> np.ndarray:
    """`ElementFractions` for many rows: atom fractions of `ELEMENTS` (0 for an empty row)."""
    tables = element_tables()
    out = _output(out, len(batch), len(rules.ELEMENTS))
    cols = [tables.index[el] for el in rules.ELEMENTS]
    for start in range(0, len(batch), _BLOCK):
        block = batch.rows(slice(start, start + _BLOCK))
        total = _seqsum(block.amount)
        dense = block.dense(len(tables.symbols))[:, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + len(block)] = np.where(total[:, None] > 0, dense / total[:, None], 0.0)
    return out


def substitution_features(batch: CompositionBatch, out: np.ndarray | None = None) -> np.ndarray:
    """`SubstitutionChemistry` for many rows, columns as `substitution_columns()`."""
    tables = element_tables()
    out = _output(out, len(batch), len(rules.SUBSTITUTION_LABELS))
    for start in range(0, len(batch), _BLOCK):
        block = batch.rows(slice(start, start + _BLOCK))
        out[start:start + len(block)] = _substitution_block(block, tables)
    return out


def _substitution_block(batch: CompositionBatch, tables: ElementTables) -> np.ndarray:
    ions = _Ions.of(batch, tables)
    w, fw = batch.amount, ions.fw_entry
    t, n_a, li = ions.t, ions.n_anion, ions.li
    valence = tables.nominal_valence[batch.index]
    radius = tables.cation_radius[batch.index]
    hal = _sum_cols([ions.anion[el] for el in rules.HALOGENS])
    chal = _sum_cols([ions.anion[el] for el in (*rules.CHALCOGENS, "O")])
    host = fw & (w >= rules.MINOR_SHARE * t[:, None])
    dopant = fw & ~host

    def total(mask: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        # Left-to-right sums over the selected entries: adding the 0.0 of the others changes nothing.
        return _seqsum(np.where(mask, w if values is None else w * values, 0.0))

    with np.errstate(invalid="ignore", divide="ignore"):
        def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)

        def mean(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
            # `electrolyte._mean`: weights of the entries with a known value.
            known = mask & np.isfinite(values)
            return ratio(total(known, np.where(known, values, 0.0)), total(known))

        fw_charge = total(fw & np.isfinite(valence), np.where(np.isfinite(valence), valence, 0.0))
        both = dopant.any(1) & host.any(1)
        known_r = fw & np.isfinite(radius)
        spread = np.where(known_r, radius, -np.inf).max(1) - np.where(known_r, radius, np.inf).min(1)
        cols = [
            ratio(n_a, t), ratio(chal, t), ratio(hal, t),
            np.where(t > 0, np.maximum(ratio(hal, t) - 1.0, 0.0), np.nan),
            mean(fw, valence), ratio(ions.charge - li, t), ratio(li - (ions.charge - fw_charge), n_a),
            np.where(t > 0, ratio(total(dopant), t), 0.0), dopant.sum(1).astype(float),
            np.where(both, mean(dopant, valence) - mean(host, valence), 0.0),
            np.where(both, mean(dopant, radius) - mean(host, radius), 0.0),
            mean(fw, radius), np.where(known_r.any(1), spread, np.nan),
        ]
    return np.stack(cols, axis=1) if len(batch) else np.empty((0, len(rules.SUBSTITUTION_LABELS)))


def _sum_cols(cols: Sequence[np.ndarray]) -> np.ndarray:
    """Left-to-right sum of columns, as Python's `sum` over a generator adds."""
    total = np.zeros_like(cols[0]) + cols[0]
    for c in cols[1:]:
        total = total + c
    return total


def _family_codes(dense: np.ndarray, fw_dense: np.ndarray, fw_entry: np.ndarray, fw_amt: np.ndarray,
                  idx: np.ndarray, anion: dict[str, np.ndarray], li: np.ndarray, n_a: np.ndarray,
                  t: np.ndarray, has_o: np.ndarray, glass: np.ndarray, ix: Mapping[str, int]) -> np.ndarray:
    """Index into `FAMILIES` of `electrolyte.family_from_composition` for every row (first match wins)."""
    n = dense.shape[0]
    code = np.full(n, rules.FAMILIES.index("other"))
    undecided = li > 0

    def get(el: str) -> np.ndarray:
        return dense[:, ix[el]]

    def within(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return (lo <= x) & (x <= hi)

    def near(x: np.ndarray, target: float, tol: float = rules._TOL) -> np.ndarray:
        return np.abs(x - target) <= tol

    def div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # Python raises on x/0 where the rules divide only after checking; NaN fails every window.
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)

    def assign(mask: np.ndarray, family: str) -> None:
        hit = undecided & mask
        code[hit] = rules.FAMILIES.index(family)
        undecided[hit] = False

    hal = _sum_cols([anion[el] for el in rules.HALOGENS])
    chal_s = anion["S"] + anion["Se"] + anion["Te"]
    o = anion["O"]
    ch = chal_s + o
    sulfide = (n_a > 0) & (chal_s >= 0.5 * n_a)
    oxide = (n_a > 0) & (o >= 0.5 * n_a)
    # Main cations: framework entries with at least rules.MINOR_SHARE of the framework atoms.
    major = fw_entry & (fw_amt >= rules.MINOR_SHARE * t[:, None])

    def only(allowed: Iterable[str]) -> np.ndarray:
        ok = np.zeros(dense.shape[1], dtype=bool)
        ok[[ix[el] for el in allowed]] = True
        return ~(major & ~ok[idx]).any(1)

    def has_major(el: str) -> np.ndarray:
        return (major & (idx == ix[el])).any(1)

    p_only = only(["P"]) & has_major("P")
    thiophosphate = sulfide & p_only & (anion["S"] >= 0.5 * n_a) & (glass | within(div(ch, fw_dense[:, ix["P"]]), 3.0, 4.6))

    # Glasses: only the thiophosphate pattern applies.
    assign(glass & thiophosphate, "thiophosphate")
    undecided &= ~glass

    a_t, li_t = div(n_a, t), div(li, t)
    argyrodite = ((t > 0) & (sulfide | ((ch >= 0.5 * n_a) & (hal > 0)))
                  & only(["P", "Si", "Ge", "Sn", "Sb", "As", "Al", "Ga"]) & near(a_t, 6.0, 0.5)
                  & (div(hal, t) <= 2.2) & within(li_t, 4.5, 8.0))
    assign(argyrodite, "argyrodite")
    m = get("Ge") + get("Sn") + get("Si")
    q = get("P") + get("Sb") + get("As")
    lgps = (sulfide & (t > 0) & (m > 0) & (q > 0) & only(["Ge", "Sn", "Si", "P", "Sb", "As"])
            & within(div(m, q), 0.45, 2.1) & near(a_t, 4.0) & within(li_t, 2.9, 3.75))
    assign(lgps, "LGPS")
    thio = (sulfide & (t > 0) & only(["Ge", "Sn", "Si", "As", "Sb", "P", "Al", "Ga"])
            & np.logical_or.reduce([has_major(el) for el in ("Ge", "Sn", "Si", "As", "Sb")]) & near(a_t, 4.0))
    assign(thio, "thio-LISICON")
    assign(thiophosphate, "thiophosphate")

    anti = ((ch > 0) & (hal > 0) & within(div(hal, ch), 0.7, 1.5) & within(div(li, ch), 1.8, 3.2)
            & (t <= 0.2 * ch))
    assign(anti, "anti-perovskite")

    rare_earth = _sum_cols([get(el) for el in ("La", "Nd", "Pr", "Ce", "Sm", "Y")])
    a_site = rare_earth + _sum_cols([get(el) for el in ("Ca", "Sr", "Ba")])
    garnet_b = _sum_cols([get(el) for el in ("Zr", "Ta", "Nb", "Te", "Hf", "Sn", "Sb", "W", "Bi", "Mo")])
    assign(oxide & (rare_earth > 0) & (garnet_b > 0) & within(div(o, a_site), 3.6, 4.4), "garnet")
    x = get("P") + get("Si") + get("As")
    m = t - x
    assign(oxide & (x > 0) & (m > 0) & within(div(o, x), 3.8, 4.2) & within(div(x, m), 1.2, 1.8), "NASICON")
    b = _sum_cols([get(el) for el in rules.PEROVSKITE_B])
    a_site = a_site + (get("Na") + get("K"))  # as `a_site += get("Na") + get("K")`
    assign(oxide & (b > 0) & (a_site > 0) & within(div(o, b), 2.8, 3.2) & within(div(a_site + li, b), 0.5, 1.15),
           "perovskite")
    x = _sum_cols([get(el) for el in rules.LISICON_X])
    assign(oxide & (x > 0) & only([*rules.LISICON_X, "Mg", "Ti"]) & within(div(o, x), 3.2, 4.4) & within(div(li, x), 2.5, 4.5),
           "LISICON")
    return code


# ---------------------------------------------------------------------------------------------------------
# Whole preset


def preset_features(
    compositions: Iterable[Any],
    preset_id: str = "composition-v1",
    notation: Sequence[Any] | None = None,
    tags: Sequence[Any] | None = None,
    family: Sequence[Any] | None = None,
) -> np.ndarray:
    """All `covered_columns(preset_id)` for many rows (element -> amount mappings or a `CompositionBatch`)."""
    _check_preset(preset_id)
    batch = compositions if isinstance(compositions, CompositionBatch) else composition_batch(compositions)
    out = np.empty((len(batch), len(covered_columns(preset_id))))
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
        else:
            substitution_features(batch, out=view)
    return out


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

    data = preset_features(frame["composition"].tolist(), preset_id, col("notation"), col("tags"), col("family"))
    return pd.DataFrame(data, index=frame.index, columns=covered_columns(preset_id), dtype=float)
