"""`sulfml screen`: rank charge-balanced dopant substitutions of a parent against the parent's best estimate
(its measured value when it is a known material, else its prediction)."""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from sulfml.cli.common import add_model_options
from sulfml.errors import UsageError
from sulfml.service.output import coverage_label
from sulfml.workflows.screen import DEFAULTS, option_choices, option_help


def _help(name: str) -> str:
    """The workflow's help of a setting with its default, if it has one (argparse's '%' escaped)."""
    value = getattr(DEFAULTS, name)
    shown = "" if value is None else f" (default {value:g})" if isinstance(value, float) else f" (default {value})"
    return f"{option_help(name)}{shown}".replace("%", "%%")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `screen` subcommand; its settings' defaults, choices and help are `ScreenOptions`'s."""
    p = sub.add_parser(
        "screen", help="rank dopant substitutions of a parent composition",
        description="Enumerate dopant substitutions of PARENT (charge-balanced through Li: a lower-valent dopant "
                    "adds Li, a higher-valent one removes Li; parent oxidation states from pymatgen's guesses with "
                    "Li +1, halides -1, O/S/Se/Te -2), predict them, and print the parent's best estimate "
                    "(role=parent, the baseline: its measured value and basis when it is a known material) "
                    "followed by the top candidates.")
    p.add_argument("parent", metavar="PARENT")
    p.add_argument("--substitute", action="append", default=[], metavar="SITE=DOPANT[,DOPANT...]",
                   help="dopants on a site of the parent (repeatable); DOPANT may be A+B to co-dope the site with "
                        "A and B at once (every split of the fraction), e.g. P=Si,Ge,Si+Ge")
    p.add_argument("--max-fraction", type=float, default=DEFAULTS.max_fraction, help=_help("max_fraction"))
    p.add_argument("--step", type=float, default=DEFAULTS.step, help=_help("step"))
    p.add_argument("--top", type=int, default=DEFAULTS.top, help=_help("top"))
    p.add_argument("--per-dopant", type=int, default=DEFAULTS.per_dopant, metavar="N", help=_help("per_dopant"))
    p.add_argument("--rank", choices=option_choices("rank"), default=DEFAULTS.rank, help=_help("rank"))
    p.add_argument("--temperature-c", default=DEFAULTS.temperature_c, metavar="T",
                   help=_help("temperature_c"))
    p.add_argument("--state", choices=option_choices("state"), default=DEFAULTS.state,
                   help=_help("state"))
    p.add_argument("--format", choices=["table", "csv", "json"], default=None,
                   help="stdout format (default: table on a terminal, csv otherwise)")
    p.add_argument("--output", "-o", help="write the parent and top candidates as csv or json (by extension); "
                                          "with --enumerate-only, every candidate as .parquet or .csv")
    p.add_argument("--enumerate-only", action="store_true",
                   help="write the candidate formulas to --output (.parquet or .csv) without predicting, e.g. "
                        "to score them elsewhere (see examples/spark_screen.py)")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Enumerate, predict in chunks, print the parent, the top K and the counts (or only write the candidates)."""
    from sulfml.cli.common import load_predictor
    from sulfml.workflows.screen import Sweep, parse_substitutions, screen, write_candidates

    if args.enumerate_only and not (args.output or "").lower().endswith((".parquet", ".csv")):
        raise UsageError("--enumerate-only needs --output FILE.parquet or FILE.csv")
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    if args.per_dopant < 0:
        raise UsageError("--per-dopant must be at least 0 (0: no cap)")
    if args.temperature_c is not None:
        from sulfml.service.physics import temperature_kelvin

        kelvin, why = temperature_kelvin(args.temperature_c)
        if kelvin is None:
            raise UsageError(f"--temperature-c: {why}")
    sweep = Sweep(args.parent, parse_substitutions(args.substitute), args.max_fraction, args.step)
    if args.enumerate_only:
        n = write_candidates(sweep, args.output)
        print(f"wrote {n} candidates to {args.output} ({sweep.skipped} skipped: cannot be charge-balanced "
              f"through Li)")
        return 0
    result, counts = screen(sweep, load_predictor(args), top=args.top, rank=args.rank, per_dopant=args.per_dopant,
                            temperature_c=args.temperature_c, state=args.state)
    n_top = int((result["role"] == "candidate").sum())
    cap = f", at most {args.per_dopant} per dopant combination" if args.per_dopant else ""
    print(f"sulfml screen: {counts['candidates']} candidates, {counts['predicted']} predicted, {counts['skipped']} "
          f"skipped (cannot be charge-balanced through Li), {counts['failed']} failed, {counts['same_as_parent']} "
          f"equal to the parent; top {n_top} by {args.rank}{cap}", file=sys.stderr)
    states = ", ".join(f"{el} {q:+d}" for el, q in sweep.states.items())
    offset = f"; as written it is off neutrality by {sweep.residual:+.3g}, kept in every candidate" \
        if abs(sweep.residual) > 1e-6 else ""
    print(f"sulfml screen: parent oxidation states {states}{offset}", file=sys.stderr)
    print(f"sulfml screen: {_baseline(result)}", file=sys.stderr)
    empty = None if n_top else (f"no candidate to rank: {counts['candidates']} enumerated, {counts['skipped']} "
                                f"could not be charge-balanced through Li, {counts['failed']} failed, "
                                f"{counts['same_as_parent']} equal to the parent")
    if empty:
        print(f"sulfml screen: {empty}", file=sys.stderr)
    if args.output:
        if args.output.lower().endswith(".json"):
            with open(args.output, "w", encoding="utf-8") as fh:
                json.dump(_records(result), fh, indent=2, ensure_ascii=False)
        else:
            result.to_csv(args.output, index=False)
    fmt = args.format or ("table" if sys.stdout.isatty() else "csv")
    if fmt == "json":
        print(json.dumps(_records(result), indent=2, ensure_ascii=False))
    elif fmt == "csv":
        result.to_csv(sys.stdout, index=False)
    else:
        print(_table(result))
        if empty:
            print(empty)
    return 0


def _records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: NaN as null."""
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in frame.to_dict("records")]


def _baseline(frame: pd.DataFrame) -> str:
    """What p_gain compares with: the parent's best estimate, its basis, and the intervals' coverage."""
    coverage = frame.attrs.get("coverage", float("nan"))
    parent = frame.iloc[0]
    reference = frame.attrs.get("reference", float("nan"))
    if reference != reference:
        where = "the parent could not be predicted"
    else:
        basis = str(parent.get("basis") or "model")
        n = int(parent.get("measured_n_papers") or 0)
        measured = parent.get("measured_log10_sigma")
        seen = (f", measured {measured:.2f} (median of {n} paper{'s' if n != 1 else ''})"
                if "measured" in basis and measured == measured else "")
        where = f"the parent's log10 sigma {reference:.2f} (basis {basis}{seen})"
    return (f"p_gain compares with {where}; intervals at {coverage_label(coverage)} coverage (the models' card), "
            f"read as normals with s = half-width / {frame.attrs.get('z', float('nan')):.3f}")


def _table(frame: pd.DataFrame) -> str:
    """A terminal table: log10 values to 3 decimals, sigma in scientific notation."""
    def fixed(v: float) -> str:
        return "" if v != v else f"{v:.3f}"

    formatters = {c: fixed for c in ("log10_sigma", "log10_sigma_lo", "log10_sigma_hi", "measured_log10_sigma",
                                     "ea_eV", "p_gain", "score")}
    formatters["sigma_S_cm"] = lambda v: "" if v != v else f"{v:.2e}"
    return frame.to_string(index=False, formatters=formatters, na_rep="")
