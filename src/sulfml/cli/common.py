"""Options and output helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from sulfml.service.predictor import Predictor


def add_data_dir(parser: argparse.ArgumentParser, default: object = None) -> None:
    """`--data-dir`: where the public datasets are (default $SULFML_DATA_DIR, else download to the cache).

    A command with actions gives it to the command with `default=None` and to each action with
    `default=argparse.SUPPRESS`, so it goes before or after the action.
    """
    parser.add_argument("--data-dir", default=default,
                        help="directory with obelix/, liverpool/, laskowski/ (default: $SULFML_DATA_DIR, "
                             "else download the pinned files into the user cache)")


def add_extra_data(parser: argparse.ArgumentParser, default: object = None) -> None:
    """`--extra-data FILE` (repeatable): the user's own measurements, a table with the columns formula,
    sigma_S_cm and optionally temperature_C, ea_eV, state, doi, ref, notes. Like `add_data_dir`, a command
    with actions gives it to the command with `default=None` and to each action with `argparse.SUPPRESS`."""
    parser.add_argument("--extra-data", action="append", default=default, metavar="FILE",
                        help="your own measurements (CSV, JSON or Parquet; columns formula, sigma_S_cm, optional "
                             "temperature_C, ea_eV, state, doi, ref, notes), added as source 'user'; repeatable")


def print_json(obj: object) -> None:
    """Print JSON with NaN written as null."""
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str, allow_nan=False))


def print_table(frame: pd.DataFrame, file=sys.stdout) -> None:
    """A plain aligned text table for terminals."""
    print(frame.to_string(index=False, na_rep=""), file=file)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Which models predict: a bundle directory, or a registry alias."""
    parser.add_argument("--models-dir", default=None,
                        help="model bundle directory (default: the champion bundle shipped with sulfml)")
    parser.add_argument("--tracking-uri", default=None, help="load the models from this MLflow registry")
    parser.add_argument("--alias", default=None, help="registry alias to load, e.g. champion")


def load_predictor(args: argparse.Namespace) -> Predictor:
    """The `Predictor` of `add_model_options`' arguments: a registry alias when --tracking-uri or --alias is
    given, else a bundle directory (default: the shipped one)."""
    from sulfml.service.predictor import Predictor

    if args.tracking_uri or args.alias:
        return Predictor.from_registry(args.tracking_uri, alias=args.alias or "champion")
    return Predictor.from_dir(args.models_dir)
