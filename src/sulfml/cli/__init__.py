"""The `sulfml` command: one small module per subcommand, each with `register(subparsers)`.

Handlers only parse arguments and print; the work is done by library calls the tests use too.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sulfml import __version__

# Imported lazily so that `sulfml parse` does not pay for MLflow and XGBoost imports.
SUBCOMMANDS = ["data", "parse", "train", "predict", "registry", "benchmark", "tune", "screen"]


class UsageError(Exception):
    """A mistake in how the command was called (missing file, column...): exit status 2, one line."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="sulfml", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"sulfml {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"sulfml.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name == f"sulfml.cli.{name}_cmd":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sulfml` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"sulfml {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
