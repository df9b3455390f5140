"""Predict's inputs: command-line texts, and the pipeline's frame from an input file's rows.

The files themselves are read by `sulfml.data.files` (CSV, JSON, Parquet, any encoding), re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

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

__all__ = ["MAX_BYTES", "SEPARATORS", "STREAM_BYTES", "decode", "is_parquet", "prediction_frame", "read_chunks",
           "read_table", "resolve_column", "text_arg"]


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

