"""Putting a feature preset together from the batch kernels: which parts each preset has (`covered_columns`,
`uses_state`), our five electrolyte featurizers side by side (`electrolyte_features`), a whole preset for many
rows (`preset_features`) and the DataFrame drop-in for `presets.featurize` (`featurize_frame`).

The parts: matminer's composition featurizers (`element_stats.py`), our descriptors (`descriptors.py`) and the
family classifier (`family.py`). Importing this module needs neither matminer nor pymatgen (nor pandas, until
`featurize_frame` runs): it is the predict path's featurizer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sulfml.chem.batch import CompositionBatch, composition_batch
from sulfml.featurize import rules
from sulfml.featurize.descriptors import (
    _anions,
    _batch,
    _column,
    _framework,
    _Ions,
    _lithium,
    _per_block,
    _text_columns,
    element_fractions,
    embedding_features,
    material_state,
    substitution_features,
)
from sulfml.featurize.element_stats import element_statistics, matminer_columns
from sulfml.featurize.family import _GLASS, _family, _label_or_composition, _one_hot
from sulfml.parse.state import UNKNOWN, normalize_state

if TYPE_CHECKING:
    import pandas as pd

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


# ---------------------------------------------------------------------------------------------------------
# Column names


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
        raise KeyError(f"the batch featurizer does not cover preset {preset_id!r}; it covers {list(_PRESET_PARTS)}")


# ---------------------------------------------------------------------------------------------------------
# Our five featurizers side by side


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


def _column_slices(groups: Sequence[Sequence[str]]) -> list[slice]:
    """Consecutive column slices of label groups laid side by side."""
    out, start = [], 0
    for labels in groups:
        out.append(slice(start, start + len(labels)))
        start += len(labels)
    return out


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
            element_statistics(batch, out=view)
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


def featurize_frame(frame: pd.DataFrame, preset_id: str = "composition-v1") -> pd.DataFrame:
    """Drop-in for `presets.featurize` on the composition presets: same columns and values, vectorized.

    Args:
        frame: one row per material with a `composition` column (element -> amount dicts) and optional
            `notation`, `tags`, `family` and `state` columns.
        preset_id: one of `_FULL_PRESETS` (others have columns this module does not compute).

    Raises:
        KeyError: no `composition` column, or a preset with columns this module does not cover.
    """
    import pandas as pd

    if preset_id not in _FULL_PRESETS:
        raise KeyError(f"featurize_frame computes every column of {list(_FULL_PRESETS)} only, not {preset_id!r}")
    if "composition" not in frame.columns:
        raise KeyError("featurize needs a 'composition' column")

    def col(name: str) -> list[Any] | None:
        return frame[name].tolist() if name in frame.columns else None

    data = preset_features(frame["composition"].tolist(), preset_id, col("notation"), col("tags"), col("family"),
                           col("state"))
    return pd.DataFrame(data, index=frame.index, columns=covered_columns(preset_id), dtype=float)
