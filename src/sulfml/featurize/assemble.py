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
from sulfml.chem.elements import element_tables
from sulfml.featurize import element_stats, rules
from sulfml.featurize.descriptors import (
    _anions,
    _batch,
    _combine,
    _distinct,
    _fractions,
    _framework,
    _Ions,
    _lithium,
    _per_block,
    _same,
    _state_one_hot,
    _substitution,
    _text_codes,
    _text_columns,
    _text_table,
    _TextCodes,
    embedding_features,
    state_codes,
)
from sulfml.featurize.element_stats import _matminer_block, matminer_columns
from sulfml.featurize.family import _GLASS, _family, _label_or_composition, _one_hot

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
    flags, label_family = _text_columns(notation, tags, family, len(batch))
    return _per_block(batch, len(rules.ELECTROLYTE_LABELS), out,
                      lambda sl, ions: _electrolyte_block(ions, flags[sl], label_family[sl]))


def _electrolyte_block(ions: _Ions, flags: np.ndarray, label_family: np.ndarray) -> np.ndarray:
    """`electrolyte_features` of one block of rows, from its ions and its rows' `_text_columns`."""
    lithium, anions, framework, flag_cols, family_cols = _ELECTROLYTE_PARTS
    cols = np.empty((len(ions.li), len(rules.ELECTROLYTE_LABELS)))
    cols[:, lithium] = _lithium(ions)
    cols[:, anions] = _anions(ions)
    cols[:, framework] = _framework(ions)
    cols[:, flag_cols] = flags
    codes = _label_or_composition(label_family, _family(ions, flags[:, _GLASS]))
    cols[:, family_cols] = _one_hot(codes)
    return cols


def _column_slices(groups: Sequence[Sequence[str]]) -> list[slice]:
    """Consecutive column slices of label groups laid side by side."""
    out, start = [], 0
    for labels in groups:
        out.append(slice(start, start + len(labels)))
        start += len(labels)
    return out


_ELECTROLYTE_PARTS = _column_slices((rules.LITHIUM_LABELS, rules.ANION_LABELS, rules.FRAMEWORK_LABELS,
                                     rules.FLAG_LABELS, rules.FAMILY_LABELS))


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
    n = len(batch)
    parts = _PRESET_PARTS[preset_id]
    widths = [len(_PART_COLUMNS[part]()) for part in parts]
    out = np.empty((n, sum(widths)))
    view = {part: out[:, start - width:start] for part, width, start in zip(parts, widths, np.cumsum(widths).tolist(),
                                                                              strict=True)}
    if uses_state(preset_id):
        text, codes, states = _state_text(notation, tags, family, state, n)
        _state_one_hot(codes, states, out=view["state"])
    else:
        text = _text_codes(notation, tags, family, n)
    flags, label_family = _text_table(text)
    # Block by block, every part of a block from the same ions (the blocks `element_statistics` and
    # `_per_block` take, so each kernel sees the rows it would see alone).
    tables = element_tables()
    block = element_stats._BLOCK
    for start in range(0, n, block):
        sl = slice(start, min(start + block, n))
        rows = batch.rows(sl)
        if "matminer" in view:
            _matminer_block(rows, tables, view["matminer"][sl])
        ions = _Ions.of(rows, tables)
        view["electrolyte"][sl] = _electrolyte_block(ions, flags[sl], label_family[sl])
        if "fractions" in view:
            view["fractions"][sl] = _fractions(sl, ions)
        if "substitution" in view:
            view["substitution"][sl] = _substitution(sl, ions)
    if "megnet16" in view:
        embedding_features(batch, "megnet16", out=view["megnet16"])
    return out


def state_text_columns(notation: Sequence[Any] | None, tags: Sequence[Any] | None, family: Sequence[Any] | None,
                       state: Sequence[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """`rules.notation_for_state` of every row (each distinct row once)."""
    text, _, _ = _state_text(notation, tags, family, state, len(state))
    if not len(text.codes):
        return [], [], []
    notes, tag_col, fam_col = (list(c) for c in zip(*(text.values[k] for k in text.codes.tolist()), strict=True))
    return notes, tag_col, fam_col


def _state_text(notation: Sequence[Any] | None, tags: Sequence[Any] | None, family: Sequence[Any] | None,
                state: Sequence[Any] | None, n: int) -> tuple[_TextCodes, np.ndarray, list[str]]:
    """The text columns `rules.notation_for_state` makes of each row, coded, and the rows' `state_codes`;
    each distinct row once."""
    if state is not None and len(state) != n:
        raise ValueError(f"expected {n} values, got {len(state)}")
    given = _text_codes(notation, tags, family, n)
    codes, states = state_codes(state, n)
    pairs, values = _combine([(given.codes, given.values), (codes, states)], n)
    inverse, mapped = _combine([_distinct([rules.notation_for_state(note, tag, fam, s) for (note, tag, fam), s in values],
                                          len(values), None, _same)], len(values))
    return _TextCodes(inverse[pairs], [v[0] for v in mapped]), codes, states


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
