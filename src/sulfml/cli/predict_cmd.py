"""`sulfml predict`: log10 sigma and Ea, with calibrated intervals, the domain flag and the nearest known
materials, for formulas, a CSV file or a CIF."""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sulfml.cli.common import add_model_options
from sulfml.errors import UsageError
from sulfml.parse.state import STATES

if TYPE_CHECKING:
    from sulfml.service.pipeline import Prediction


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `predict` subcommand."""
    p = sub.add_parser("predict", help="predict room-temperature log10 sigma and Ea")
    p.add_argument("formulas", nargs="*", metavar="FORMULA")
    p.add_argument("--input", "-i", help="CSV (any of , ; tab | separators; UTF-8, else Windows-1252), Parquet, or JSON (a "
                                         "list of formulas or of objects) with a formula column and optional "
                                         "temperature_C and cif columns")
    p.add_argument("--column", default="formula", help="the formula column of --input (default formula)")
    p.add_argument("--keep", default="", help="comma-separated --input columns to copy to the output as input_<col>")
    p.add_argument("--cif", help="predict from a crystal structure (CIF); with one FORMULA, the formula wins "
                                 "for the composition")
    p.add_argument("--temperature-c", default=None, metavar="T",
                   help="temperature in °C (default 25); for --input, fills rows without their own temperature_C")
    p.add_argument("--state", choices=list(STATES), default=None,
                   help="the material's state, a model input; default: what the formula implies (70Li2S-30P2S5 "
                        "is a glass, a 'glass-ceramic' or '(GC)' tag a glass-ceramic), else unknown. For --input, "
                        "fills rows without their own state column value")
    p.add_argument("--space-group", default=None, metavar="SG",
                   help="the crystal's space group, a number (230) or a Hermann-Mauguin symbol (Ia-3d); default: "
                        "what a polymorph name (beta-Li3PS4) or the CIF gives. A measured polymorph answers with "
                        "its own measurements. For --input, fills rows without their own space_group value")
    p.add_argument("--model-only", action="store_true",
                   help="the model's own answer for every row, also for materials the training data hold "
                        "(default: a measured material answers with its measurements; see the basis column)")
    p.add_argument("--output", "-o", help="write .csv, .json or .parquet (by extension)")
    p.add_argument("--columns", default="", help="comma-separated output columns to show (default: all)")
    p.add_argument("--format", choices=["table", "csv", "json"], default=None,
                   help="stdout format (default: table on a terminal, csv otherwise)")
    add_model_options(p)
    p.add_argument("--chunk-size", type=int, default=CHUNK, help=f"--input rows per chunk (default {CHUNK})")
    p.set_defaults(func=run)


CHUNK = 4000  # rows per chunk of --input: memory stays flat (three chunks in flight, `Predictor.stream`)


def _chunks(args: argparse.Namespace) -> Iterator[pd.DataFrame]:
    """The pipeline's input frames: one from the arguments, or the --input file in chunks."""
    from sulfml.service.inputs import prediction_frame, read_chunks, text_arg
    from sulfml.service.predictor import as_frame

    if args.temperature_c is not None:
        _check_temperature(args.temperature_c)
    if args.input and args.formulas:
        raise UsageError(f"give formulas or --input, not both (got {len(args.formulas)} formula(s) and --input "
                         f"{args.input}; put the formulas in the file)")
    if args.input and args.cif:
        raise UsageError("give --cif or --input, not both (a CIF per row goes in the file's cif column)")
    if not args.input:
        args.formulas = [text_arg(f) for f in args.formulas]
        if args.cif:
            if len(args.formulas) > 1:
                raise UsageError("--cif goes with at most one formula")
            if not Path(args.cif).is_file():
                raise UsageError(f"CIF file not found: {args.cif}")
            yield pd.DataFrame({"formula": args.formulas or [""], "temperature_C": args.temperature_c,
                                "state": args.state, "cif": args.cif, "space_group": args.space_group})
            return
        if not args.formulas:
            raise UsageError("give formulas, --input FILE.csv or --cif FILE.cif")
        yield as_frame(args.formulas, args.temperature_c, args.state, args.space_group)
        return
    notes: list[str] = []
    keep = [c for c in args.keep.split(",") if c]
    for n, (df, column) in enumerate(read_chunks(args.input, args.column, args.chunk_size, notes)):
        if n == 0:
            for note in notes:
                print(f"sulfml predict: note: {note}", file=sys.stderr)
            missing = [c for c in keep if c not in df.columns]
            if missing:
                raise UsageError(f"--keep column {missing[0]!r} not in {args.input}")
        yield as_frame(prediction_frame(df, column, keep), args.temperature_c, args.state, args.space_group)


def _check_temperature(value: str) -> None:
    from sulfml.service.physics import temperature_kelvin

    kelvin, why = temperature_kelvin(value)
    if kelvin is None:
        raise UsageError(f"--temperature-c: {why}")


def run(args: argparse.Namespace) -> int:
    """Predict, write, and exit 1 if any row failed. --input files are streamed in chunks."""
    from sulfml.service.output import FILE_FORMATS, Sink, open_sink

    if args.chunk_size < 1:
        raise UsageError("--chunk-size must be at least 1")
    if args.output and Path(args.output).is_dir():
        raise UsageError(f"--output {args.output} is a directory, not a file")
    if args.output and Path(args.output).suffix.lower() not in FILE_FORMATS:
        raise UsageError(f"--output {args.output}: unsupported file type; use one of "
                         f"{', '.join(FILE_FORMATS)}")
    chunks = _chunks(args)
    first = next(chunks, None)  # usage errors (missing column...) before the models load
    from sulfml.cli.common import load_predictor

    predictor = load_predictor(args)
    fmt = args.format or ("table" if sys.stdout.isatty() else "csv")
    out_path = Path(args.output) if args.output else None
    progress = _progress(args, to_stdout=out_path is None)
    failed = False
    n_rows = 0
    sinks: list[Sink] = []
    out_file = None
    try:
        if out_path is not None:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            kind = FILE_FORMATS[out_path.suffix.lower()]
            if kind == "parquet":
                sinks.append(open_sink(kind, out_path))
            else:
                out_file = out_path.open("w", encoding="utf-8", newline="")
                sinks.append(open_sink(kind, out_file))
        if out_path is None or args.format is not None:
            sinks.append(open_sink(fmt, sys.stdout, predictor.interval_coverage))
        need_dicts = any(s.needs_dicts for s in sinks)
        frames = itertools.chain([first] if first is not None else [], chunks)
        for inputs, prediction in predictor.stream(frames, known_first=not args.model_only):
            result, chunk_failed = _chunk_result(inputs, prediction, args, need_dicts)
            failed = failed or chunk_failed
            n_rows += len(result)
            for sink in sinks:
                sink.write(result)
            if progress is not None:
                progress.update(len(result))
        for sink in sinks:
            sink.close()
    finally:
        if progress is not None:
            progress.close()
        if out_file is not None:
            out_file.close()
    if args.output and args.format is None:
        print(f"wrote {n_rows} rows to {args.output}" + (" (some rows failed: see error)" if failed else ""))
    return 1 if failed else 0


def _chunk_result(inputs: pd.DataFrame, prediction: Prediction, args: argparse.Namespace, need_dicts: bool
                  ) -> tuple[pd.DataFrame, bool]:
    """The chunk's output rows (only the --columns asked for) and whether any row failed."""
    from sulfml.service.output import describe

    failed = any(prediction.columns["error"])
    result = prediction.frame() if need_dicts else prediction.frame(describe=describe)
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


def _progress(args: argparse.Namespace, to_stdout: bool) -> Any:
    """A tqdm bar on stderr for --input, only when stderr (and stdout, if the rows go there) is a terminal."""
    if not args.input or not sys.stderr.isatty() or (to_stdout and not sys.stdout.isatty()):
        return None
    from tqdm import tqdm

    with open(args.input, "rb") as fh:
        total = max(sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - 1, 0)
    return tqdm(total=total, unit="rows", file=sys.stderr, dynamic_ncols=True)
