"""Reading table files as people actually write them: CSV with or without a BOM, `,` `;` tab or `|`
separators, UTF-8 or a legacy encoding (Windows-1252/Latin-1, UTF-16 from Excel), quoted cells with
newlines, ragged rows, JSON (a list of formulas, or a list of objects) and Parquet.

Every cell comes back as a string ("" for missing), every data row is kept in order, and anything that
cannot be read at all is a `InputError` with one line saying why. Predict's input files
(`sulfml.service.inputs`) and the user's own measurements (`sulfml.data.loaders.load_user`) are both read here.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sulfml.errors import InputError, MissingColumnError

if TYPE_CHECKING:
    import pandas as pd

SEPARATORS = (",", ";", "\t", "|")
MAX_BYTES = 2 * 1024**3
STREAM_BYTES = 256 * 1024**2  # larger CSVs are streamed as UTF-8 by `read_chunks` instead
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def read_table(path: str | Path, column: str = "formula", *, notes: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or JSON input file into a frame of strings.

    Args:
        path: the file.
        column: the formula column; it decides the separator when the header is ambiguous, and names the
            column for a JSON list of plain strings.
        notes: receives remarks worth telling the user (e.g. the encoding that was guessed).

    Raises:
        InputError: missing, unreadable, empty or malformed file.
    """
    notes = [] if notes is None else notes
    path = Path(path)
    data = _read_bytes(path)
    text, encoding = decode(data)
    if encoding not in ("utf-8", "utf-8-sig", "ascii"):
        notes.append(f"{path.name} is not UTF-8; read it as {encoding}")
    if not text.strip():
        raise InputError(f"input file {path} is empty")
    stripped = text.lstrip()
    if path.suffix.lower() in (".json", ".jsonl", ".ndjson") or stripped[:1] in "[{":
        try:
            return _from_json(text, path, column)
        except _NotJson:
            if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
                raise
    return _from_csv(text, path, column)


def resolve_column(frame: pd.DataFrame, column: str, path: str | Path) -> str:
    """The frame's name for `column`: as given, else the one header equal to it ignoring case and spaces.

    Raises:
        InputError: no such column (the message lists the columns found).
    """
    if column in frame.columns:
        return column
    loose = [c for c in frame.columns if "".join(c.split()).lower() == "".join(column.split()).lower()]
    if len(loose) == 1:
        return loose[0]
    shown = ", ".join(repr(c) for c in list(frame.columns)[:10]) or "none"
    raise MissingColumnError(f"column {column!r} not in {path} (columns: {shown}); name the formula column")


def _read_bytes_check(path: Path) -> None:
    """The checks of `_read_bytes` without reading the file."""
    if path.is_dir():
        raise InputError(f"input {path} is a directory, not a file")
    if not path.exists():
        raise InputError(f"input file not found: {path}")


def _read_bytes(path: Path) -> bytes:
    try:
        _read_bytes_check(path)
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"input file {path} is larger than {MAX_BYTES // 1024**3} GB")
        return path.read_bytes()
    except PermissionError:
        raise InputError(f"cannot read input file {path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"cannot read input file {path}: {exc.strerror or exc}") from None


def decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding used: BOMs first (UTF-8, UTF-16), then UTF-8, then Windows-1252, then Latin-1
    (which reads any byte, so nothing is refused for its encoding)."""
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError:
                break
    for enc in ("utf-8", "cp1252", "latin-1"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")


class _NotJson(InputError):
    pass


def _from_json(text: str, path: Path, column: str) -> pd.DataFrame:
    import pandas as pd

    try:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _NotJson(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise _NotJson(f"{path} is JSON nested too deeply") from None
    if isinstance(items, dict):
        raise _NotJson(f"{path}: expected a JSON list of formulas or of objects, got one object "
                       f"(keys: {', '.join(map(str, list(items)[:5]))})")
    if not isinstance(items, list):
        raise _NotJson(f"{path}: expected a JSON list of formulas or of objects, got a {type(items).__name__}")
    rows = [item if isinstance(item, dict) else {column: item} for item in items]
    columns: dict[str, None] = {column: None} if not rows else {}
    for row in rows:
        columns.update(dict.fromkeys(map(str, row)))
    frame = pd.DataFrame([{str(k): _cell(v) for k, v in row.items()} for row in rows], columns=list(columns))
    return frame.fillna("").astype(str)


def _cell(value) -> str:
    """A JSON value as a cell: null -> "", numbers and strings as written, lists/objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False)


def _from_csv(text: str, path: Path, column: str) -> pd.DataFrame:
    import pandas as pd

    sep = _separator(text, column)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        # blank lines are not rows; a line of empty cells (",,") is one, and gets its "empty formula" error
        records = [r for r in reader if r and not (len(r) == 1 and not r[0].strip())]
    except csv.Error as exc:
        raise InputError(f"{path} is not a readable CSV: {exc} (line {reader.line_num})") from None
    if not records:
        raise InputError(f"input file {path} is empty")
    header = _unique([h.strip().lstrip("\ufeff").strip() for h in records[0]])
    width = len(header)
    rows = records[1:]
    if set(map(len, rows)) - {width}:  # ragged rows: padded with blanks, cut to the header
        rows = [(r + [""] * width)[:width] for r in rows]
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    if sep == ";":  # European spreadsheets: a decimal comma goes with the semicolon separator
        for col in frame.columns:
            if col.lower().startswith("temperature"):
                frame[col] = frame[col].str.replace(r"^\s*([-+]?\d+),(\d+)\s*$", r"\1.\2", regex=True)
    return frame


def _separator(text: str, column: str) -> str:
    """The separator of the header line: one that makes `column` a header cell, else the most frequent."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    best, best_count = ",", 0
    for sep in SEPARATORS:
        try:
            cells = next(csv.reader([first], delimiter=sep))
        except (csv.Error, StopIteration):
            continue
        if column in (c.strip().lstrip("\ufeff").strip() for c in cells):
            return sep
        if len(cells) - 1 > best_count:
            best, best_count = sep, len(cells) - 1
    return best


def _unique(names: list[str]) -> list[str]:
    """Column names made unique the way pandas does (a, a.1, a.2), blanks named `unnamed_<i>`."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = name or f"unnamed_{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def read_chunks(path: str | Path, column: str = "formula", chunk_size: int = 20000,
                notes: list[str] | None = None) -> Iterator[tuple[pd.DataFrame, str]]:
    """An input file in chunks of at most `chunk_size` rows, each with the name of its formula column.

    Files up to `STREAM_BYTES` are read whole by `read_table` (separators, encodings, JSON); larger ones are
    streamed as UTF-8 CSV (undecodable bytes become U+FFFD and fail their row).

    Raises:
        InputError: missing, unreadable, empty or malformed file, or no such column.
    """
    import pandas as pd

    path = Path(path)
    if is_parquet(path):
        yield from _parquet_chunks(path, column, chunk_size)
        return
    if path.is_file() and path.stat().st_size > STREAM_BYTES:
        try:
            for df in pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk_size,
                                  encoding_errors="replace"):
                yield df, resolve_column(df, column, path)
        except pd.errors.EmptyDataError as exc:
            raise InputError(f"{path} is empty") from exc
        except pd.errors.ParserError as exc:
            raise InputError(f"{path} is not a readable CSV: {' '.join(str(exc).split())}") from exc
        return
    df = read_table(path, column, notes=notes)
    name = resolve_column(df, column, path)
    for start in range(0, max(len(df), 1), chunk_size):
        yield df.iloc[start: start + chunk_size].reset_index(drop=True), name


def is_parquet(path: Path) -> bool:
    """Whether a file is Parquet: by its extension, or by its magic bytes."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def _parquet_chunks(path: Path, column: str, chunk_size: int) -> Iterator[tuple[pd.DataFrame, str]]:
    """A Parquet file in row batches, every cell as text ("" for null), as the CSV reader gives them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _read_bytes_check(path)
    try:
        reader = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path} is not a readable Parquet file: {exc}") from None
    name: str | None = None
    for batch in reader.iter_batches(batch_size=chunk_size):
        df = batch.to_pandas().astype(object)
        df = df.where(df.notna(), "").astype(str)
        df.columns = [str(c) for c in df.columns]
        name = name or resolve_column(df, column, path)
        yield df, name
    if name is None:  # no rows: still check the column, then give one empty chunk
        import pandas as pd

        df = pd.DataFrame({str(f.name): [] for f in reader.schema_arrow}, dtype=str)
        yield df, resolve_column(df, column, path)
