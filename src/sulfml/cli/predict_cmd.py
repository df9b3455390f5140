"""`sulfml predict`: log10 sigma and Ea, with bands and domain warnings, for formulas or a CSV file."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from sulfml.cli import UsageError
from sulfml.cli.common import print_json, print_table


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `predict` subcommand."""
    p = sub.add_parser("predict", help="predict room-temperature log10 sigma and Ea")
    p.add_argument("formulas", nargs="*", metavar="FORMULA")
    p.add_argument("--input", "-i", help="CSV with a formula column and optional temperature_C and cif columns")
    p.add_argument("--column", default="formula", help="the formula column of --input (default formula)")
    p.add_argument("--keep", default="", help="comma-separated --input columns to copy to the output as input_<col>")
    p.add_argument("--cif", help="a CIF file for the (single) formula given")
    p.add_argument("--temperature-c", type=float, default=None, help="temperature for FORMULA arguments")
    p.add_argument("--output", "-o", help="write csv or json (by extension)")
    p.add_argument("--columns", default="", help="comma-separated output columns to show (default: all)")
    p.add_argument("--format", choices=["table", "csv", "json"], default=None,
                   help="stdout format (default: table on a terminal, csv otherwise)")
    p.add_argument("--models-dir", default=None, help="model bundle (default: the committed models/)")
    p.add_argument("--tracking-uri", default=None, help="load the models from this MLflow registry")
    p.add_argument("--alias", default=None, help="registry alias to load, e.g. champion")
    p.set_defaults(func=run)


def read_inputs(args: argparse.Namespace) -> pd.DataFrame:
    """The input rows: FORMULA arguments, or the --input CSV with its optional columns."""
    if args.input:
        path = Path(args.input)
        if not path.exists():
            raise UsageError(f"input file not found: {path}")
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if args.column not in df.columns:
            raise UsageError(f"column {args.column!r} not in {path} (columns: {', '.join(df.columns)})")
        out = pd.DataFrame({"formula": df[args.column]})
        for col in ("temperature_C", "cif"):
            if col in df.columns:
                out[col] = df[col]
        for col in filter(None, args.keep.split(",")):
            if col not in df.columns:
                raise UsageError(f"--keep column {col!r} not in {path}")
            out[f"input_{col}"] = df[col]
        return out
    if not args.formulas:
        raise UsageError("give formulas or --input FILE.csv")
    out = pd.DataFrame({"formula": args.formulas, "temperature_C": args.temperature_c})
    if args.cif:
        if len(args.formulas) != 1:
            raise UsageError("--cif goes with exactly one formula")
        if not Path(args.cif).exists():
            raise UsageError(f"CIF file not found: {args.cif}")
        out["cif"] = args.cif
    return out


def load_bundle(args: argparse.Namespace):
    """The models: a registry alias when --tracking-uri/--alias are given, else a bundle directory."""
    from sulfml.tracking.bundle import Bundle

    if args.tracking_uri or args.alias:
        from mlflow.exceptions import MlflowException

        from sulfml.tracking.runs import ALIAS, configure, download_champions

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
    """Predict, write, and exit 1 if any row failed."""
    from sulfml.predict import predict_frame

    inputs = read_inputs(args)
    result = predict_frame(inputs, load_bundle(args))
    failed = bool((result["error"] != "").any())
    kept = [c for c in inputs.columns if c.startswith("input_")]
    if kept:
        result = pd.concat([result, inputs[kept].reset_index(drop=True)], axis=1)
    if args.columns:
        wanted = args.columns.split(",")
        unknown = [c for c in wanted if c not in result.columns]
        if unknown:
            raise UsageError(f"unknown --columns {unknown}; available: {', '.join(result.columns)}")
        result = result[wanted]
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".json":
            out.write_text(result.astype(object).where(result.notna(), None).to_json(orient="records", indent=2))
        else:
            result.to_csv(out, index=False)
    fmt = args.format or ("table" if sys.stdout.isatty() else "csv")
    if args.output and args.format is None:
        print(f"wrote {len(result)} rows to {args.output}" + (" (some rows failed: see error)" if failed else ""))
    elif fmt == "json":
        print_json(result.astype(object).where(result.notna(), None).to_dict("records"))
    elif fmt == "csv":
        result.to_csv(sys.stdout, index=False)
    else:
        shown = result.copy()
        for c in ("log10_sigma", "log10_sigma_lo", "log10_sigma_hi", "ea_eV", "ea_lo", "ea_hi"):
            if c in shown:
                shown[c] = shown[c].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.2f}")
        if "sigma_S_cm" in shown:
            shown["sigma_S_cm"] = shown["sigma_S_cm"].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.2e}")
        print_table(shown)
    return 1 if failed else 0
