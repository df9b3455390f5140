"""`sulfml parse TEXT...`: read formulas as the literature writes them."""

from __future__ import annotations

import argparse

from sulfml.cli.common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `parse` subcommand."""
    p = sub.add_parser("parse", help="parse formulas in literature notation (glasses, composites...)")
    p.add_argument("texts", nargs="+", metavar="TEXT", help="formulas, e.g. 70Li2S-30P2S5")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one result per input, in order; exit 1 when any input was rejected."""
    from sulfml.parse.formula import parse_formula
    from sulfml.service.inputs import text_arg

    results = [parse_formula(text_arg(t)) for t in args.texts]
    if args.json:
        print_json([r.to_dict() for r in results])
    else:
        for r in results:
            if r.ok:
                assert r.composition is not None  # r.ok: the text was read into a composition
                comp = " ".join(f"{el}{amt:g}" for el, amt in r.composition.items())
                extra = "".join(f"  {k}={v}" for k, v in (("additive", r.additive), ("tags", ",".join(r.tags)))
                                if v)
                print(f"{r.input!r}: {r.formula}  [{comp}]  notation={r.notation}  state={r.state}{extra}")
            else:
                print(f"{r.input!r}: error: {r.error}")
            for note in r.notes:
                print(f"    ! {note}")
    return 0 if all(r.ok for r in results) else 1
