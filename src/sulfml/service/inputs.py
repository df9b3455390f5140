"""Predict's inputs: command-line texts, the pipeline's frame from an input file's rows, and pymatgen objects.

The files themselves are read by `sulfml.data.files` (CSV, JSON, Parquet, any encoding), re-exported here.
A pymatgen `Composition` is predicted as its formula, a `Structure` as the CIF file it writes: the one CIF
path of the pipeline gives its composition, its space group and the BVSE check, so a structure and the same
structure in a CIF file get the same answer. pymatgen is never imported here: an object of its classes can
only exist once it is, so formula input stays as lean as before.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from sulfml.data.files import (
    MAX_BYTES,
    SEPARATORS,
    STREAM_BYTES,
    decode,
    is_parquet,
    read_chunks,
    read_table,
    resolve_column,
)
from sulfml.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from pymatgen.core import Composition, IStructure

    # What `Predictor.predict` takes: formulas, pymatgen compositions and structures (one, a list or a pandas
    # column), or a frame whose `formula` column holds any of them.
    PredictInputs: TypeAlias = (pd.DataFrame | pd.Series | Sequence[str | Composition | IStructure] | str | Composition
                     | IStructure)

__all__ = ["MAX_BYTES", "SEPARATORS", "STREAM_BYTES", "decode", "has_pymatgen", "is_parquet", "name_structures",
           "prediction_frame", "pymatgen_frame", "read_chunks", "read_table", "resolve_column", "text_arg"]


def text_arg(arg: str) -> str:
    """A command-line text as the user meant it: bytes that were not UTF-8 (which Python keeps as lone
    surrogates, unprintable and unwritable) are decoded like input files, as Windows-1252 or Latin-1."""
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in arg):
        return arg
    try:
        raw = arg.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that did not come from bytes
        return arg.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return decode(raw)[0]


def prediction_frame(df: pd.DataFrame, column: str, keep: Sequence[str] = ()) -> pd.DataFrame:
    """The pipeline's input frame from a file's rows: its formula column as `formula`, its `temperature_C`,
    `state`, `space_group` and `cif` columns, and each column of `keep` as `input_<col>`.

    Raises:
        InputError: a column of `keep` is not in the file.
    """
    import pandas as pd

    out = pd.DataFrame({"formula": df[column]})
    for col in ("temperature_C", "state", "space_group", "cif"):
        if col in df.columns:
            out[col] = df[col]
    for col in keep:
        if col not in df.columns:
            raise InputError(f"column {col!r} to keep is not in the input (columns: {', '.join(df.columns)})")
        out[f"input_{col}"] = df[col]
    return out



def _pymatgen_kind(value: object) -> str | None:
    """"structure" or "composition" for a pymatgen object, None for anything else (pymatgen not imported)."""
    core = sys.modules.get("pymatgen.core")
    if core is None:  # no pymatgen object can exist yet
        return None
    if isinstance(value, core.IStructure):
        return "structure"
    if isinstance(value, core.Composition):
        return "composition"
    return None


def has_pymatgen(inputs: Any) -> bool:
    """Whether predict's inputs hold a pymatgen `Composition` or `Structure` (alone, in a list or a pandas
    column, or in a frame's `formula` column)."""
    if "pymatgen.core" not in sys.modules:
        return False
    if _pymatgen_kind(inputs):
        return True
    cells = _cells(inputs)
    return cells is not None and any(_pymatgen_kind(v) for v in cells)


def _cells(inputs: Any) -> list | None:
    """The formula cells of predict's inputs (None: a text, or a frame without a formula column)."""
    import pandas as pd

    if isinstance(inputs, pd.DataFrame):
        return inputs["formula"].tolist() if "formula" in inputs.columns else None
    if isinstance(inputs, str | Mapping):
        return None
    return list(inputs)


def composition_text(composition: Composition) -> str:
    """A pymatgen composition as the formula text the parser reads back to the same amounts ("Li6PS5Cl")."""
    from pymatgen.util.string import formula_double_format

    return "".join(f"{el}{formula_double_format(x)}" for el, x in composition.get_el_amt_dict().items())


def pymatgen_frame(inputs: PredictInputs, folder: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Predict's inputs as a frame the pipeline reads: each `Composition` as its formula text, each `Structure`
    written to a CIF file in `folder` (its `cif` cell, its formula blank: the structure gives it).

    Returns:
        The frame (a frame's other columns kept), and the name of each written CIF's row, the structure's
        reduced formula, keyed by the file's path (`name_structures` shows it instead of the path).
    """
    import pandas as pd

    if _pymatgen_kind(inputs):
        inputs = [inputs]
    frame = inputs.copy() if isinstance(inputs, pd.DataFrame) else pd.DataFrame({"formula": list(inputs)})
    n = len(frame)
    formulas = frame["formula"].tolist()
    cifs = frame["cif"].tolist() if "cif" in frame.columns else [None] * n
    names: dict[str, str] = {}
    for i, value in enumerate(formulas):
        kind = _pymatgen_kind(value)
        if kind == "composition":
            formulas[i] = composition_text(value)
        elif kind == "structure":
            path = folder / f"structure-{i}.cif"
            value.to(filename=str(path))
            formulas[i], cifs[i] = "", str(path)
            names[str(path)] = value.composition.reduced_formula
    frame["formula"] = formulas
    if names:
        frame["cif"] = cifs
    return frame, names


def name_structures(out: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """A prediction of `pymatgen_frame`'s rows with each written CIF's path, a temporary file the caller never
    saw, replaced by the structure's name in `input`, `warning` and `error`."""
    if not names:
        return out
    out = out.copy()

    def named(text: Any) -> Any:
        if isinstance(text, str):
            for path, name in names.items():
                text = text.replace(path, name)
        return text

    for column in ("input", "warning", "error"):
        if column in out.columns:
            out[column] = out[column].map(named)
    return out
