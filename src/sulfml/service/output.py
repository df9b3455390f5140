"""Writing predictions as they stream: CSV, JSON records, Parquet and the terminal table, with the nearest
known materials as one readable cell, JSON, or lines under each row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from sulfml.chem.space_groups import space_group_label

# Output files by extension.
FILE_FORMATS = {".csv": "csv", ".json": "json", ".parquet": "parquet"}


class Sink:
    """A destination that takes a stream of result chunks: the header once, rows in order, a footer."""

    needs_dicts = True  # whether `neighbors` must arrive as lists of dicts (else as one text per row)

    def write(self, result: pd.DataFrame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the output (a JSON list's end, the table's footer, a Parquet file's footer)."""


class CsvSink(Sink):
    """CSV rows, the header with the first chunk; `neighbors` as one readable cell."""

    needs_dicts = False

    def __init__(self, fh: TextIO) -> None:
        self.fh, self.started = fh, False

    def write(self, result: pd.DataFrame) -> None:
        write_csv(self.fh, flat_csv(result), header=not self.started)
        self.started = True


class JsonSink(Sink):
    """One JSON list of row objects, written item by item."""

    def __init__(self, fh: TextIO) -> None:
        self.fh, self.items = fh, False
        fh.write("[\n")

    def write(self, result: pd.DataFrame) -> None:
        body = ",\n".join(json.dumps(r, ensure_ascii=False, default=str, allow_nan=False) for r in records(result))
        if body:
            self.fh.write((",\n" if self.items else "") + body)
            self.items = True

    def close(self) -> None:
        self.fh.write("\n]\n")


class TableSink(Sink):
    """The terminal layout: the header with the first chunk, the neighbours' footer after the last."""

    def __init__(self, fh: TextIO, coverage: float | None = None) -> None:
        self.fh, self.started, self.neighbors_shown, self.coverage = fh, False, False, coverage

    def write(self, result: pd.DataFrame) -> None:
        text = render_table(result, header=not self.started, footer=False, coverage=self.coverage)
        if text:
            print(text, file=self.fh)
        self.started = True
        self.neighbors_shown = self.neighbors_shown or has_neighbors(result)

    def close(self) -> None:
        if self.neighbors_shown:
            print(NEIGHBORS_FOOTER, file=self.fh)


class ParquetSink(Sink):
    """A Parquet file written chunk by chunk (one row group each); `neighbors` as a JSON string column."""

    writer: Any  # a pyarrow.parquet.ParquetWriter once the first chunk is written, None before

    def __init__(self, path: Path) -> None:
        self.path, self.writer = path, None

    def write(self, result: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = result.copy()
        if "neighbors" in frame:
            frame["neighbors"] = [json.dumps(n, ensure_ascii=False, default=str, allow_nan=False)
                                  for n in frame["neighbors"]]
        for c in frame.columns:
            if frame[c].dtype == object and c != "in_domain":
                frame[c] = frame[c].map(lambda v: None if v is None else str(v))
        if "in_domain" in frame:
            frame["in_domain"] = pd.array(frame["in_domain"].tolist(), dtype="boolean")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is None:  # no rows at all: an empty file with no columns would not be Parquet
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({}), self.path)
        else:
            self.writer.close()


def open_sink(kind: str, target: TextIO | Path, coverage: float | None = None) -> Sink:
    """A sink of `kind` (csv, json, table, parquet) on an open text stream or, for Parquet, a path; `coverage`
    labels a table's intervals."""
    if kind == "parquet":
        if not isinstance(target, Path):
            raise ValueError("Parquet is written to a file, not to a text stream")
        return ParquetSink(target)
    if isinstance(target, Path):
        raise ValueError(f"{kind} sinks write to an open text stream")
    if kind == "table":
        return TableSink(target, coverage)
    return {"csv": CsvSink, "json": JsonSink}[kind](target)


def records(result: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts with NaN as None (JSON's null)."""
    return result.astype(object).where(result.notna(), None).to_dict("records")


def _neighbor_text(neighbors) -> str:
    if not isinstance(neighbors, list):
        return ""
    return "; ".join(describe(n) for n in neighbors)


def describe(n: dict) -> str:
    """One known material as one line of text: formula, state, measured σ and the papers behind it
    ("Li7P3S11 (glass-ceramic, log10 σ -1.77, median of 2: 10.1039/c3ee41655k -1.77 | su2022 ref 18 -1.77)")."""
    state = f"{n['state']}, " if n.get("state") else ""
    if n.get("space_group"):
        state += f"{space_group_label(n['space_group'])}, "
    polymorphs = f"; polymorphs {polymorphs_text(n['polymorphs'])}" if n.get("polymorphs") else ""
    return f"{n['formula']} ({state}{_measured(n)}{_evidence(n)}{polymorphs})"


def bvse_text(r: dict) -> str:
    """The BVSE cross-check of a CIF row in words: 'BVSE: Li percolates in 3D at 0.59 eV (in 1D at the lowest
    barrier)'."""
    barrier, dimension = r.get("bvse_barrier_eV"), r.get("bvse_dimension")
    text = (f"BVSE: Li percolates in 3D at {barrier:.2f} eV" if _present(barrier)
            else "BVSE: Li does not percolate in 3D below the cut-off")
    if _present(dimension) and dimension != 3:
        text += f" (in {dimension:.0f}D at the lowest barrier)"
    return text


def _present(v: Any) -> bool:
    return v is not None and not pd.isna(v)


def polymorphs_text(polymorphs: list[dict]) -> str:
    """A material's polymorphs in words: 'Ia-3d (230) -3.76 (5 papers), no space group -4.64 (3 papers)'."""
    return ", ".join(
        f"{space_group_label(p['space_group']) if p.get('space_group') else 'no space group'} "
        f"{'< ' if p.get('censored') else ''}{p['log10_sigma']:.2f} "
        f"({p['n_papers']} paper{'s' if p['n_papers'] != 1 else ''})" for p in polymorphs)


def measured_text(r: dict) -> str:
    """What the training data measured for a known material, in words ("measured log10 σ -1.92, median of 9
    papers (-2.84 to -1.61), Ea 0.25 eV"): the basis of a `measured` or `measured+model` answer."""
    n, value = int(r["measured_n_papers"]), r.get("measured_log10_sigma")
    lo, hi = r.get("measured_range") or (value, value)
    text = f"measured log10 σ {_num(value, '.2f')}"
    text += f", median of {n} papers ({_num(lo, '.2f')} to {_num(hi, '.2f')})" if n > 1 else ", one paper"
    ea = r.get("measured_ea_eV")
    if ea is not None and ea == ea:
        text += f", Ea {ea:.2f} eV"
    return text


def _evidence(n: dict) -> str:
    measured = n.get("measurements") or []
    if not measured:
        return ""
    what = "median of " + str(len(measured)) if len(measured) > 1 else "from"
    return f", {what}: " + " | ".join(f"{m['paper']} {m['log10_sigma']:.2f}" for m in measured)


def _measured(n: dict) -> str:
    v = n.get("log10_sigma")
    if v is None:
        return "σ unknown"
    return f"log10 σ {'< ' if n.get('censored') else ''}{v:.2f}"


def write_csv(fh, frame: pd.DataFrame, header: bool = True) -> None:
    """`frame.to_csv(fh, index=False)`, the same text several times faster for large chunks: pandas formats
    cell by cell, here each column becomes text at once and only text cells are checked for quoting."""
    columns = [_csv_cells(frame[c]) for c in frame.columns]
    lines = [",".join(_quote(str(c)) for c in frame.columns)] if header else []
    if len(frame.columns) == 1:  # as the csv module writes it: a lone empty cell is "", not a blank line
        lines += ['""' if v == "" else v for v in columns[0]]
    else:
        lines += map(",".join, zip(*columns, strict=True))
    if lines:
        fh.write("\n".join(lines) + "\n")


def _csv_cells(values: pd.Series) -> list[str]:
    # NumPy columns by kind (pandas' nullable ones, whose missing cell is pd.NA, cell by cell below)
    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else "O"
    if kind == "f":
        return _float_cells(values.to_numpy())
    if kind == "b":  # as str(True): the words, never quoted
        return ["True" if v else "False" for v in values.tolist()]
    vals = values.tolist()
    if kind in "iu":  # few distinct counts: each written once
        text = {v: str(v) for v in set(vals)}
        return list(map(text.__getitem__, vals))
    types = set(map(type, vals))
    if not types <= {str}:
        vals = ["" if v is None else v for v in vals] if types <= {str, type(None)} else \
            ["" if v is None or v != v else str(v) for v in vals]
    return _quoted(vals)


def _float_cells(arr: np.ndarray) -> list[str]:
    """Float cells as pandas writes them: each number as repr(float) (the shortest text that reads back as the
    same number), NaN as a blank cell."""
    n = len(arr)
    if not n:
        return []
    nan = np.isnan(arr)
    if nan.all():
        return [""] * n
    if arr.dtype == np.float64 and (arr.view(np.int64) == arr[:1].view(np.int64)).all():
        return [_float_texts(arr[:1])[0]] * n  # one number (a temperature): written once
    if 2 * int(nan.sum()) > n:  # mostly blank (the measured columns): only the numbers are formatted
        texts = iter(_float_texts(arr[~nan]))
        return ["" if blank else next(texts) for blank in nan.tolist()]
    return _float_texts(arr)


def _float_texts(arr: np.ndarray) -> list[str]:
    # The list's repr formats every float in C, each exactly as repr(float); NaN is a blank cell.
    return ["" if v == "nan" else v for v in repr(arr.tolist())[1:-1].split(", ")]


def _quoted(texts: list[str]) -> list[str]:
    """`_quote` of every cell; a column without a quote, comma or newline in any cell is returned as it is."""
    joined = "".join(texts)
    if '"' in joined or "," in joined or "\n" in joined:
        return list(map(_quote, texts))
    return texts


def _quote(text: str) -> str:
    """A CSV cell as the csv module's minimal quoting writes it."""
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text:  # the line terminator is "\n"; a lone "\r" is not quoted either
        return '"' + text + '"'
    return text


def flat_csv(result: pd.DataFrame) -> pd.DataFrame:
    """The result with `neighbors` as one readable cell, for CSV."""
    if "neighbors" not in result or result["neighbors"].map(lambda v: isinstance(v, str)).all():
        return result
    return result.assign(neighbors=result["neighbors"].map(_neighbor_text))


def _num(v, fmt: str) -> str:
    return "" if v is None or pd.isna(v) else format(v, fmt)


NEIGHBORS_FOOTER = "~ nearest known materials in the model's feature space, with their measured values"


def has_neighbors(result: pd.DataFrame) -> bool:
    return "neighbors" in result and any(isinstance(v, list) and v for v in result["neighbors"])


def _state_text(r: dict) -> str:
    """The state and, where known, the space group's symbol: 'crystalline P4₂/nmc'."""
    state, sg = str(r.get("state") or ""), r.get("space_group")
    return f"{state} {space_group_label(int(sg), with_number=False)}" if sg is not None and sg == sg else state


def coverage_label(coverage: float | None) -> str:
    """An interval's coverage as every label writes it: '90 %' for 0.9, '68.3 %' for 0.683; 'calibrated' when
    the models carry none. The web page's labels follow the same rule (static/app.js)."""
    return "calibrated" if coverage is None else f"{round(100 * coverage, 1):g} %"


def render_table(result: pd.DataFrame, header: bool = True, footer: bool = True, coverage: float | None = None
                 ) -> str:
    """A terminal layout: one line per row (σ with its interval, Ea with its interval, T, domain), then the
    warnings and the nearest known materials under it. A streamed table prints the header with its first
    chunk and the footer after its last. `coverage` (the models' card, `Predictor.interval_coverage`) labels
    the intervals."""
    if not {"log10_sigma", "log10_sigma_lo", "log10_sigma_hi"} <= set(result.columns):
        blank = result.astype(object).where(result.notna(), "")  # None and NaN alike print as nothing
        return blank.to_string(index=False, header=header) if len(result) or header else ""
    lines = []
    sigma_head = f"log10 σ (S/cm)  [{coverage_label(coverage)} interval]"
    width = max(32, len(sigma_head) + 1)  # a longer coverage label ('68.3 %') widens its column
    head = (f"{'formula':<24} {'state':<21} {'basis':<14} {sigma_head:<{width}} {'σ (S/cm)':>9}  "
            f"{'Ea (eV)  [interval]':<22} {'T (K)':>7}  domain")
    if header:
        lines += [head, "-" * len(head)]
    for r in result.to_dict("records"):
        name = str(r.get("formula") or r.get("input") or "")
        if len(name) > 24:  # a formula is never cut: a long one has a line of its own, the row goes under it
            lines.append(name)
            name = ""
        if r.get("error"):
            lines.append(f"{name:<24} error: {r['error']}")
            continue
        sig = f"{_num(r['log10_sigma'], '6.2f')}  [{_num(r['log10_sigma_lo'], '.2f')}, {_num(r['log10_sigma_hi'], '.2f')}]"
        ea = f"{_num(r.get('ea_eV'), '.3f')}  [{_num(r.get('ea_lo'), '.2f')}, {_num(r.get('ea_hi'), '.2f')}]"
        dom = "in domain" if r.get("in_domain") else "OUTSIDE"
        lines.append(f"{name:<24} {_state_text(r):<21} {str(r.get('basis') or ''):<14} {sig:<{width}} "
                     f"{_num(r.get('sigma_S_cm'), '9.1e')}  {ea:<22} {_num(r.get('temperature_K'), '7.1f')}  {dom}")
        if r.get("measured_n_papers"):
            lines.append(f"{'':<4}= {measured_text(r)}")
        if _present(r.get("bvse_barrier_eV")) or _present(r.get("bvse_dimension")):
            lines.append(f"{'':<4}* {bvse_text(r)}")
        for w in filter(None, str(r.get("warning") or "").split("; ")):
            lines.append(f"{'':<4}! {w}")
        for n in r.get("neighbors") or []:
            state = f" {_state_text(n)}" if n.get("state") else ""
            count = len(n.get("measurements") or [])
            lines.append(f"{'':<4}~ {str(n['formula']) + state:<26} measured {_measured(n)}"
                         + (f" (median of {count})" if count > 1 else "")
                         + (f", Ea {n['ea_eV']:.2f} eV" if n.get("ea_eV") is not None else "")
                         + f"  (distance {n['distance']:.3f}; {n.get('sources') or ''})")
            if n.get("papers"):
                lines.append(f"{'':<8}{', '.join(n['papers'])}")
            if n.get("polymorphs"):
                lines.append(f"{'':<8}polymorphs: {polymorphs_text(n['polymorphs'])}")
    if footer and has_neighbors(result):
        lines.append(NEIGHBORS_FOOTER)
    return "\n".join(lines)
