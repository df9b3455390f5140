"""`sulfml predict`: log10 sigma and Ea, with calibrated intervals, the domain flag and the nearest known
materials, for formulas, a CSV file or a CIF."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

from sulfml.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `predict` subcommand."""
    p = sub.add_parser("predict", help="predict room-temperature log10 sigma and Ea")
    p.add_argument("formulas", nargs="*", metavar="FORMULA")
    p.add_argument("--input", "-i", help="CSV (any of , ; tab | separators; UTF-8, else Windows-1252) or JSON (a "
                                         "list of formulas or of objects) with a formula column and optional "
                                         "temperature_C and cif columns")
    p.add_argument("--column", default="formula", help="the formula column of --input (default formula)")
    p.add_argument("--keep", default="", help="comma-separated --input columns to copy to the output as input_<col>")
    p.add_argument("--cif", help="predict from a crystal structure (CIF); with one FORMULA, the formula wins "
                                 "for the composition")
    p.add_argument("--temperature-c", default=None, metavar="T",
                   help="temperature in °C (default 25); for --input, fills rows without their own temperature_C")
    p.add_argument("--output", "-o", help="write csv or json (by extension)")
    p.add_argument("--columns", default="", help="comma-separated output columns to show (default: all)")
    p.add_argument("--format", choices=["table", "csv", "json"], default=None,
                   help="stdout format (default: table on a terminal, csv otherwise)")
    p.add_argument("--models-dir", default=None, help="model bundle (default: the committed models/)")
    p.add_argument("--tracking-uri", default=None, help="load the models from this MLflow registry")
    p.add_argument("--alias", default=None, help="registry alias to load, e.g. champion")
    p.add_argument("--chunk-size", type=int, default=CHUNK, help=f"--input rows per chunk (default {CHUNK})")
    p.set_defaults(func=run)


CHUNK = 20000


def input_chunks(args: argparse.Namespace, chunk_size: int = CHUNK):
    """The --input file in chunks of `chunk_size` rows, with its optional columns."""
    from sulfml.service.inputs import STREAM_BYTES, read_table
    from sulfml.service.pipeline import _temperature_k

    if args.temperature_c is not None and _temperature_k(args.temperature_c)[0] is None:
        raise UsageError(f"--temperature-c: {_temperature_k(args.temperature_c)[1]}")
    path = Path(args.input)
    if path.is_file() and path.stat().st_size > STREAM_BYTES:
        # too large to hold: stream as UTF-8 CSV (undecodable bytes become U+FFFD and fail their row)
        try:
            reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk_size,
                                 encoding_errors="replace")
            for df in reader:
                yield _input_frame(args, df, path)
        except pd.errors.EmptyDataError as exc:
            raise UsageError(f"{path} is empty") from exc
        except pd.errors.ParserError as exc:
            raise UsageError(f"{path} is not a readable CSV: {' '.join(str(exc).split())}") from exc
        return
    # BOM, ; or tab separators, legacy encodings, JSON, ragged rows: see sulfml.service.inputs
    notes: list[str] = []
    df = read_table(path, args.column, notes=notes)
    for note in notes:
        print(f"sulfml predict: note: {note}", file=sys.stderr)
    for start in range(0, max(len(df), 1), chunk_size):
        yield _input_frame(args, df.iloc[start: start + chunk_size].reset_index(drop=True), path)


def _input_frame(args: argparse.Namespace, df: pd.DataFrame, path: Path) -> pd.DataFrame:
    from sulfml.service.inputs import resolve_column

    args.column = resolve_column(df, args.column, path)
    out = pd.DataFrame({"formula": df[args.column]})
    for col in ("temperature_C", "cif"):
        if col in df.columns:
            out[col] = df[col]
    if args.temperature_c is not None:
        own = out["temperature_C"].astype(str).str.strip() if "temperature_C" in out else ""
        out["temperature_C"] = out["temperature_C"].where(own != "", args.temperature_c) \
            if "temperature_C" in out else args.temperature_c
    for col in filter(None, args.keep.split(",")):
        if col not in df.columns:
            raise UsageError(f"--keep column {col!r} not in {path}")
        out[f"input_{col}"] = df[col]
    return out


def _argument_inputs(args: argparse.Namespace) -> pd.DataFrame:
    from sulfml.service.inputs import text_arg

    args.formulas = [text_arg(f) for f in args.formulas]
    if args.temperature_c is not None:
        from sulfml.service.pipeline import _temperature_k

        if _temperature_k(args.temperature_c)[0] is None:
            raise UsageError(f"--temperature-c: {_temperature_k(args.temperature_c)[1]}")
    if args.cif:
        if len(args.formulas) > 1:
            raise UsageError("--cif goes with at most one formula")
        if not Path(args.cif).is_file():
            raise UsageError(f"CIF file not found: {args.cif}")
        return pd.DataFrame({"formula": args.formulas or [""], "temperature_C": args.temperature_c,
                             "cif": args.cif})
    if not args.formulas:
        raise UsageError("give formulas, --input FILE.csv or --cif FILE.cif")
    return pd.DataFrame({"formula": args.formulas, "temperature_C": args.temperature_c})


def load_bundle(args: argparse.Namespace):
    """The models: a registry alias when --tracking-uri/--alias are given, else a bundle directory."""
    from sulfml.tracking.bundle import Bundle

    if args.tracking_uri or args.alias:
        from mlflow.exceptions import MlflowException

        from sulfml.tracking.export import download_champions
        from sulfml.tracking.registry import ALIAS
        from sulfml.tracking.store import configure

        configure(args.tracking_uri)
        tmp = tempfile.mkdtemp(prefix="sulfml-registry-")
        try:
            download_champions(tmp, alias=args.alias or ALIAS)
        except MlflowException as exc:
            raise UsageError(f"cannot load models@{args.alias or ALIAS}: {exc.message}") from exc
        return Bundle.from_dir(tmp)
    try:
        return Bundle.from_dir(args.models_dir)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    """Predict, write, and exit 1 if any row failed. --input files are streamed in chunks."""
    if args.chunk_size < 1:
        raise UsageError("--chunk-size must be at least 1")
    chunks = input_chunks(args, args.chunk_size) if args.input else iter([_argument_inputs(args)])
    first = next(chunks, None)  # usage errors (missing column...) before the models load
    bundle = load_bundle(args)
    fmt = args.format or ("table" if sys.stdout.isatty() else "csv")
    out_path = Path(args.output) if args.output else None
    as_json = out_path is not None and out_path.suffix.lower() == ".json"
    progress = _progress(args, to_stdout=out_path is None)
    failed = False
    n_rows = 0
    sinks = []
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        sinks.append((out_path.open("w", encoding="utf-8", newline=""), "json" if as_json else "csv"))
    if out_path is None or args.format is not None:
        sinks.append((sys.stdout, fmt))
    started = False  # a chunk was written: CSV and table headers go out once
    wrote_items = {id(fh): False for fh, _ in sinks}  # a JSON item was written: the next one needs a comma
    neighbors_shown = False
    try:
        for fh, kind in sinks:
            if kind == "json":
                fh.write("[\n")
        for inputs in itertools.chain([first] if first is not None else [], chunks):
            result, chunk_failed = _predict_chunk(inputs, bundle, args, need_dicts=any(k != "csv" for _, k in sinks))
            failed = failed or chunk_failed
            n_rows += len(result)
            for fh, kind in sinks:
                wrote_items[id(fh)] |= _write(fh, kind, result, started, wrote_items[id(fh)])
            neighbors_shown = neighbors_shown or _has_neighbors(result)
            started = True
            if progress is not None:
                progress.update(len(result))
        for fh, kind in sinks:
            if kind == "json":
                fh.write("\n]\n")
            elif kind == "table" and neighbors_shown:
                print(NEIGHBORS_FOOTER, file=fh)
    finally:
        if progress is not None:
            progress.close()
        if out_path is not None:
            sinks[0][0].close()
    if args.output and args.format is None:
        print(f"wrote {n_rows} rows to {args.output}" + (" (some rows failed: see error)" if failed else ""))
    return 1 if failed else 0


def _predict_chunk(inputs: pd.DataFrame, bundle, args: argparse.Namespace, need_dicts: bool
                   ) -> tuple[pd.DataFrame, bool]:
    """The chunk's output rows (only the --columns asked for) and whether any row failed."""
    from sulfml.service.pipeline import predict_batch

    batch = predict_batch(inputs, bundle)
    failed = any(batch.columns["error"])
    result = batch.frame() if need_dicts else batch.frame(describe=_describe)
    kept = [c for c in inputs.columns if c.startswith("input_")]
    if kept:
        result = pd.concat([result, inputs[kept].reset_index(drop=True)], axis=1)
    if args.columns:
        wanted = args.columns.split(",")
        unknown = [c for c in wanted if c not in result.columns]
        if unknown:
            raise UsageError(f"unknown --columns {unknown}; available: {', '.join(result.columns)}")
        result = result[wanted]
    return result, failed


def _write(fh, kind: str, result: pd.DataFrame, started: bool, wrote_items: bool) -> bool:
    """Append one chunk: CSV rows, JSON list items, or table lines (headers only with the first chunk).
    Returns whether JSON items were written."""
    if kind == "csv":
        write_csv(fh, flat_csv(result), header=not started)
    elif kind == "json":
        body = ",\n".join(json.dumps(r, ensure_ascii=False, default=str, allow_nan=False)
                           for r in _records(result))
        if body:
            fh.write((",\n" if wrote_items else "") + body)
        return bool(body)
    else:
        text = render_table(result, header=not started, footer=False)
        if text:
            print(text, file=fh)
    return False


def _progress(args: argparse.Namespace, to_stdout: bool):
    """A tqdm bar on stderr for --input, only when stderr (and stdout, if the rows go there) is a terminal."""
    if not args.input or not sys.stderr.isatty() or (to_stdout and not sys.stdout.isatty()):
        return None
    from tqdm import tqdm

    with open(args.input, "rb") as fh:
        total = max(sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - 1, 0)
    return tqdm(total=total, unit="rows", file=sys.stderr, dynamic_ncols=True)


def _records(result: pd.DataFrame) -> list[dict]:
    return result.astype(object).where(result.notna(), None).to_dict("records")


def _neighbor_text(neighbors) -> str:
    if not isinstance(neighbors, list):
        return ""
    return "; ".join(_describe(n) for n in neighbors)


def _describe(n: dict) -> str:
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


def _has_neighbors(result: pd.DataFrame) -> bool:
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
    if footer and _has_neighbors(result):
        lines.append(NEIGHBORS_FOOTER)
    return "\n".join(lines)
