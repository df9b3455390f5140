"""Writing predictions: CSV (streamed in chunks), JSON records and the terminal table, with the nearest
known materials as one readable cell or as lines under each row."""

from __future__ import annotations

import json
from typing import Any, TextIO

import pandas as pd


def write_chunk(fh: TextIO, kind: str, result: pd.DataFrame, started: bool, wrote_items: bool) -> bool:
    """Append one chunk: CSV rows, JSON list items, or table lines (headers only with the first chunk).

    Returns:
        Whether JSON items were written (the next chunk's items then need a separating comma).
    """
    if kind == "csv":
        write_csv(fh, flat_csv(result), header=not started)
    elif kind == "json":
        body = ",\n".join(json.dumps(r, ensure_ascii=False, default=str, allow_nan=False)
                           for r in records(result))
        if body:
            fh.write((",\n" if wrote_items else "") + body)
        return bool(body)
    else:
        text = render_table(result, header=not started, footer=False)
        if text:
            print(text, file=fh)
    return False


def records(result: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as dicts with NaN as None (JSON's null)."""
    return result.astype(object).where(result.notna(), None).to_dict("records")


def _neighbor_text(neighbors) -> str:
    if not isinstance(neighbors, list):
        return ""
    return "; ".join(describe(n) for n in neighbors)


def describe(n: dict) -> str:
    """One known material as short text: its formula and measured σ."""
    return f"{n['formula']} ({_measured(n)})"


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
    if values.dtype.kind == "f":
        # The list's repr formats every float in C, each exactly as repr(float) (the shortest text that reads
        # back as the same number, as pandas writes it); NaN is a blank cell.
        return ["" if v == "nan" else v for v in repr(values.tolist())[1:-1].split(", ")] if len(values) else []
    return [_quote("" if v is None or v != v else str(v)) for v in values.tolist()]


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


def render_table(result: pd.DataFrame, header: bool = True, footer: bool = True) -> str:
    """A terminal layout: one line per row (σ with its interval, Ea with its interval, T, domain), then the
    warnings and the nearest known materials under it. A streamed table prints the header with its first
    chunk and the footer after its last."""
    if not {"log10_sigma", "log10_sigma_lo", "log10_sigma_hi"} <= set(result.columns):
        blank = result.astype(object).where(result.notna(), "")  # None and NaN alike print as nothing
        return blank.to_string(index=False, header=header) if len(result) or header else ""
    lines = []
    head = f"{'formula':<28} {'log10 σ (S/cm)  [90% interval]':<31} {'σ (S/cm)':>9}  {'Ea (eV)  [interval]':<22} {'T (K)':>7}  domain"
    if header:
        lines += [head, "-" * len(head)]
    for r in result.to_dict("records"):
        name = str(r.get("formula") or r.get("input") or "")[:28]
        if r.get("error"):
            lines.append(f"{name:<28} error: {r['error']}")
            continue
        sig = f"{_num(r['log10_sigma'], '6.2f')}  [{_num(r['log10_sigma_lo'], '.2f')}, {_num(r['log10_sigma_hi'], '.2f')}]"
        ea = f"{_num(r.get('ea_eV'), '.3f')}  [{_num(r.get('ea_lo'), '.2f')}, {_num(r.get('ea_hi'), '.2f')}]"
        dom = "in domain" if r.get("in_domain") else "OUTSIDE"
        lines.append(f"{name:<28} {sig:<31} {_num(r.get('sigma_S_cm'), '9.1e')}  {ea:<22} "
                     f"{_num(r.get('temperature_K'), '7.1f')}  {dom}")
        for w in filter(None, str(r.get("warning") or "").split("; ")):
            lines.append(f"{'':<4}! {w}")
        for n in r.get("neighbors") or []:
            lines.append(f"{'':<4}~ {str(n['formula']):<26} measured {_measured(n)}"
                         + (f", Ea {n['ea_eV']:.2f} eV" if n.get("ea_eV") is not None else "")
                         + f"  (distance {n['distance']:.2f}; {n.get('sources') or ''})")
    if footer and has_neighbors(result):
        lines.append(NEIGHBORS_FOOTER)
    return "\n".join(lines)
