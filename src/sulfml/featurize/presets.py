"""Named, versioned feature presets and `featurize`, which turns a materials frame into a float feature
table with XGBoost-safe column names. A preset id ("composition-v1") pins the exact feature set.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
import pandas as pd
from matminer.featurizers.base import BaseFeaturizer
from pymatgen.core import Composition

from sulfml.cpus import resolve_n_jobs
from sulfml.errors import InternalError, UnknownNameError
from sulfml.featurize import assemble, rules
from sulfml.featurize.electrolyte import (
    AnionFramework,
    ElectrolyteFamily,
    ElementEmbedding,
    ElementFractions,
    FrameworkCations,
    KernelFeaturizer,
    LithiumContent,
    MaterialState,
    SubstitutionChemistry,
    SynthesisNotation,
)
from sulfml.featurize.structure import CifFeatures, LatticeFeatures, SpaceGroupFeatures
from sulfml.parse.state import UNKNOWN, normalize_state

# Defaults of the optional input columns (see the input contract in README.md).
_DEFAULTS: dict[str, Any] = {**rules.TEXT_DEFAULTS, "state": UNKNOWN, "cif_path": ""}
_NUMERIC_COLUMNS = ("space_group_number", "a", "b", "c", "alpha", "beta", "gamma", "z")


def _composition_featurizers() -> list[BaseFeaturizer]:
    from matminer.featurizers.composition import ElementProperty, IonProperty, Stoichiometry, ValenceOrbital

    return [
        ElementProperty.from_preset("magpie", impute_nan=True),
        Stoichiometry(),
        ValenceOrbital(impute_nan=True),
        # fast=True: charge neutrality from each element's common oxidation states, never
        # Composition.oxi_state_guesses, which is slow and fails on fractional amounts.
        IonProperty(fast=True, impute_nan=True),
        LithiumContent(),
        AnionFramework(),
        FrameworkCations(),
        SynthesisNotation(),
        ElectrolyteFamily(),
    ]


def _structure_featurizers() -> list[BaseFeaturizer]:
    return [*_composition_featurizers(), LatticeFeatures(), CifFeatures()]


def _composition_v2_featurizers() -> list[BaseFeaturizer]:
    # v1 plus the fractional composition, which is also the space of the kNN target features.
    return [*_composition_featurizers(), ElementFractions()]


def _chemistry_featurizers() -> list[BaseFeaturizer]:
    return [*_composition_v2_featurizers(), SubstitutionChemistry()]


def _chemistry_state_featurizers() -> list[BaseFeaturizer]:
    # chemistry-v1 and the state; `featurize` gives the other featurizers the state's notation and tags.
    return [*_chemistry_featurizers(), MaterialState()]


def _chemistry_embedding_featurizers() -> list[BaseFeaturizer]:
    # chemistry-v2 and the MEGNet-16 element embedding pooled over the composition
    return [*_chemistry_state_featurizers(), ElementEmbedding("megnet16")]


def _space_group_featurizers() -> list[BaseFeaturizer]:
    # chemistry-v3 (the shipped composition preset) and what the space group says about the structure
    return [*_chemistry_embedding_featurizers(), SpaceGroupFeatures()]


def _cif_featurizers() -> list[BaseFeaturizer]:
    # structure-v2 and the CIF's descriptors (NaN without a CIF): BVSE barriers, the Li sublattice, the anion
    # lattice and the CIF's quality flags (`cif_randomized` stays NaN: a CIF's text does not say it, so neither
    # training nor a user's CIF can give it)
    from sulfml.featurize.cif import AnionLattice, BondValenceBarriers, CifQuality, LithiumSublattice

    return [*_space_group_featurizers(), BondValenceBarriers(), LithiumSublattice(), AnionLattice(), CifQuality()]


_BUILDERS: dict[str, Callable[[], list[BaseFeaturizer]]] = {
    "composition-v1": _composition_featurizers,
    "structure-v1": _structure_featurizers,
    "composition-v2": _composition_v2_featurizers,
    "chemistry-v1": _chemistry_featurizers,
    "chemistry-v2": _chemistry_state_featurizers,
    "chemistry-v3": _chemistry_embedding_featurizers,
    "structure-v2": _space_group_featurizers,
    "structure-v3": _cif_featurizers,
}


@dataclass(frozen=True)
class Preset:
    """A named, versioned list of featurizers; once released, a version's features never change."""

    name: str
    version: int

    @property
    def id(self) -> str:
        """The preset id, e.g. "composition-v1"."""
        return f"{self.name}-v{self.version}"

    def featurizers(self) -> list[BaseFeaturizer]:
        """Fresh featurizer instances, matminer's own multiprocessing off."""
        fs = _BUILDERS[self.id]()
        for f in fs:
            f.set_n_jobs(1)
        return fs

    def feature_names(self) -> list[str]:
        """The XGBoost-safe column names `featurize` returns for this preset, in order."""
        return list(_compiled(self.id)[1])


PRESETS: dict[str, Preset] = {
    p.id: p for p in (Preset("composition", 1), Preset("structure", 1), Preset("composition", 2),
                           Preset("chemistry", 1), Preset("chemistry", 2), Preset("chemistry", 3),
                           Preset("structure", 2), Preset("structure", 3))
}


def get_preset(preset_id: str) -> Preset:
    """The preset with this id.

    Raises:
        KeyError: unknown id; the message lists the known ones.
    """
    try:
        return PRESETS[preset_id]
    except KeyError:
        raise UnknownNameError(f"unknown feature preset {preset_id!r}; known presets: {sorted(PRESETS)}") from None


def safe_name(label: str) -> str:
    """A feature label XGBoost accepts: '[', ']' and ',' become '_', '<' becomes 'lt', '>' 'gt'."""
    out = str(label)
    for bad, good in (("[", "_"), ("]", "_"), (",", "_"), ("<", "lt"), (">", "gt")):
        out = out.replace(bad, good)
    return out


@cache
def _compiled(preset_id: str) -> tuple[list[BaseFeaturizer], tuple[str, ...]]:
    """One shared instance list per preset (building magpie tables costs ~50 ms) and its column names."""
    featurizers = get_preset(preset_id).featurizers()
    names = tuple(safe_name(label) for f in featurizers for label in f.feature_labels())
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"preset {preset_id!r} has duplicate feature names: {dupes}")
    return featurizers, names


def _composition_key(value: Any) -> tuple[tuple[str, float], ...]:
    if isinstance(value, Composition):
        value = value.as_dict()
    elif isinstance(value, str):
        # The materials table stores compositions as JSON; a plain formula string is accepted too.
        value = json.loads(value) if value.lstrip().startswith("{") else Composition(value).as_dict()
    if not isinstance(value, Mapping):
        raise TypeError(f"composition must be a dict of element -> amount, got {type(value).__name__}")
    return tuple(sorted((str(el), float(x)) for el, x in value.items() if float(x) > 0))


@lru_cache(maxsize=65536)
def _composition(key: tuple[tuple[str, float], ...]) -> Composition:
    return Composition(dict(key))


def _clean(column: str, value: Any) -> Hashable:
    """A hashable, NaN-free cache key part (NaN != NaN would defeat the cache)."""
    if column in _NUMERIC_COLUMNS:
        try:
            v = float(value)
        except (TypeError, ValueError):
            return None
        return v if math.isfinite(v) else None
    return rules.clean_text(value, _DEFAULTS[column])


class _FeaturizeError(InternalError):
    """A featurizer failed on one input (caught per row; never reaches the user as such)."""


@lru_cache(maxsize=131072)
def _compute(preset_id: str, index: int, key: tuple) -> tuple[float, ...]:
    """Features of one featurizer for one input key; cached across calls (predict after train is free)."""
    featurizer = _compiled(preset_id)[0][index]
    inputs = getattr(featurizer, "inputs", ("composition",))
    args = [_composition(v) if col == "composition" else v for col, v in zip(inputs, key, strict=True)]
    try:
        values = featurizer.featurize(*args)
    except Exception as exc:  # any failure: the row gets NaN, `featurize` warns once
        raise _FeaturizeError(f"{type(featurizer).__name__}: {exc}") from exc
    return tuple(math.nan if v is None else float(v) for v in values)


def _kernel_rows(featurizer: KernelFeaturizer, keys: list[tuple]) -> np.ndarray | None:
    """Every row of a vectorized featurizer from one kernel call over the distinct inputs; None when the
    kernel fails, so that the row-by-row path finds the failing rows (and gives them NaN)."""
    distinct: dict[tuple, int] = {}
    codes = np.array([distinct.setdefault(key, len(distinct)) for key in keys])
    columns = list(zip(*distinct, strict=True))
    compositions = [_composition(key) for key in columns[0]]
    try:
        values = featurizer.featurize_rows(compositions, *columns[1:])
    except Exception:  # any failure: fall back to one row at a time
        return None
    return values[codes]


def featurize(frame: pd.DataFrame, preset_id: str, n_jobs: int | None = None,
              columns: list[str] | None = None) -> pd.DataFrame:
    """Feature table of a materials frame.

    Args:
        frame: one row per material; `composition` (element -> amount dict) is required, `notation`, `tags`,
            `family`, `space_group_number`, `a`, `b`, `c`, `alpha`, `beta`, `gamma`, `z` and `cif_path`
            are optional (missing column or NaN = unknown).
        preset_id: a key of `PRESETS`, e.g. "composition-v1".
        columns: only these of the preset's columns (default all); featurizers that give none of them are
            skipped, so the predict path pays only for what the vectorized featurizer does not cover.
        n_jobs: CPU cap, None = `available_cpus()`, never more. Featurization is serial (a few seconds for
            2,000 compositions, most of it matminer's magpie statistics), so the cap is only validated;
            matminer's own multiprocessing is always off.

    Returns:
        Float DataFrame with the frame's index and the preset's `feature_names()` as columns; NaN where a
        feature is unknown. A row whose featurizer fails gets NaN for that featurizer (with one warning).
    """
    featurizers, names = _compiled(get_preset(preset_id).id)
    wanted = set(names if columns is None else columns)
    if not wanted <= set(names):
        raise KeyError(f"not columns of preset {preset_id!r}: {sorted(wanted - set(names))[:5]}")
    # Serial by design (see docstring); the call still validates the cap so callers get errors early.
    resolve_n_jobs(n_jobs)
    if "composition" not in frame.columns:
        raise KeyError("featurize needs a 'composition' column")

    n = len(frame)
    cells: dict[str, list[Hashable]] = {"composition": [_composition_key(v) for v in frame["composition"]]}
    for col in (*_DEFAULTS, *_NUMERIC_COLUMNS):
        values = frame[col].tolist() if col in frame.columns else [None] * n
        cells[col] = [_clean(col, v) for v in values]
    if assemble.uses_state(preset_id):
        cells["state"] = [normalize_state(v) for v in cells["state"]]
        cells["notation"], cells["tags"], cells["family"] = assemble.state_text_columns(
            cells["notation"], cells["tags"], cells["family"], cells["state"])

    blocks: list[np.ndarray] = []
    kept: list[str] = []
    failures: dict[str, int] = {}
    start = 0
    for index, featurizer in enumerate(featurizers):
        inputs = getattr(featurizer, "inputs", ("composition",))
        width = len(featurizer.feature_labels())
        own = names[start:start + width]
        start += width
        if not wanted & set(own):
            continue
        kept += own
        keys = list(zip(*(cells[c] for c in inputs), strict=True)) if n else []
        if isinstance(featurizer, KernelFeaturizer) and keys:
            vectorized = _kernel_rows(featurizer, keys)
            if vectorized is not None:
                blocks.append(vectorized)
                continue
        block = np.full((n, width), np.nan)
        done: dict[tuple, tuple[float, ...] | None] = {}
        for row, key in enumerate(keys):
            if key not in done:
                try:
                    done[key] = _compute(preset_id, index, key)
                except _FeaturizeError:
                    failures[type(featurizer).__name__] = failures.get(type(featurizer).__name__, 0) + 1
                    done[key] = None
            if done[key] is not None:
                block[row] = done[key]
        blocks.append(block)
    if failures:
        warnings.warn(f"featurize({preset_id}): NaN for inputs that failed: {failures}", stacklevel=2)

    data = np.hstack(blocks) if blocks else np.empty((n, 0))
    out = pd.DataFrame(data, index=frame.index, columns=kept, dtype=float)
    return out if columns is None else out[list(columns)]
