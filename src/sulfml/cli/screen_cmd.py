"""`sulfml screen`: rank charge-balanced dopant substitutions of a parent by predicted conductivity."""

from __future__ import annotations

import argparse
import json
import sys

from sulfml.cli.common import add_model_options
from sulfml.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `screen` subcommand."""
    p = sub.add_parser("screen", help="rank dopant substitutions of a parent composition")
    p.add_argument("parent", metavar="PARENT")
    p.add_argument("--substitute", action="append", default=[], metavar="SITE=DOPANT[,DOPANT...]",
                   help="dopants on a site of the parent (repeatable)")
    p.add_argument("--max-fraction", type=float, default=0.5, help="largest fraction of a site substituted")
    p.add_argument("--step", type=float, default=0.05, help="fraction step (default 0.05)")
    p.add_argument("--top", type=int, default=20, help="candidates shown (default 20)")
    p.add_argument("--rank", choices=["ucb", "mean"], default="ucb",
                   help="score: upper end of the log10 sigma interval (ucb, default) or the prediction")
    p.add_argument("--format", choices=["table", "csv", "json"], default=None)
    p.add_argument("--output", "-o", help="write the top candidates as csv or json (by extension); with "
                                          "--enumerate-only, every candidate as .parquet or .csv")
    p.add_argument("--enumerate-only", action="store_true",
                   help="write the candidate formulas to --output (.parquet or .csv) without predicting, e.g. "
                        "to score them elsewhere (see examples/spark_screen.py)")
    add_model_options(p)
    p.set_defaults(func=run)


def parse_substitutions(items: list[str]) -> dict[str, list[str]]:
    """{'P': ['Si', 'Ge']} from ['P=Si,Ge']."""
    subs: dict[str, list[str]] = {}
    for item in items:
        site, sep, dopants = item.partition("=")
        names = [d.strip() for d in dopants.split(",") if d.strip()]
        if not sep or not site.strip() or not names:
            raise UsageError(f"--substitute needs SITE=DOPANT[,DOPANT...], got {item!r}")
        subs.setdefault(site.strip(), []).extend(names)
    return subs


def run(args: argparse.Namespace) -> int:
    """Enumerate, predict in chunks, print the top K and the counts (or only write the candidates)."""
    from sulfml.cli.common import load_predictor
    from sulfml.workflows.screen import Sweep, screen, write_candidates

    if args.enumerate_only and not (args.output or "").lower().endswith((".parquet", ".csv")):
        raise UsageError("--enumerate-only needs --output FILE.parquet or FILE.csv")
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    sweep = Sweep(args.parent, parse_substitutions(args.substitute), args.max_fraction, args.step)
    if args.enumerate_only:
        n = write_candidates(sweep, args.output)
        print(f"wrote {n} candidates to {args.output} ({sweep.skipped} skipped: cannot be charge-balanced "
              f"through Li)")
        return 0
    top, counts = screen(sweep, load_predictor(args), top=args.top, rank=args.rank)
    summary = (f"{counts['candidates']} candidates, {counts['predicted']} predicted, {counts['skipped']} skipped "
               f"(cannot be charge-balanced through Li), {counts['failed']} failed; top {len(top)} by {args.rank}")
    print(summary, file=sys.stderr)
    if args.output:
        if args.output.lower().endswith(".json"):
            with open(args.output, "w", encoding="utf-8") as fh:
                json.dump(top.to_dict("records"), fh, indent=2)
        else:
            top.to_csv(args.output, index=False)
    fmt = args.format or ("table" if sys.stdout.isatty() else "csv")
    if fmt == "json":
        print(json.dumps(top.to_dict("records"), indent=2))
    elif fmt == "csv":
        top.to_csv(sys.stdout, index=False)
    else:
        print(top.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0
