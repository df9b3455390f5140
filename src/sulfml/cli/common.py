"""Options and output helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """`--data-dir`: where the public datasets are (default $SULFML_DATA_DIR, else download to the cache)."""
    parser.add_argument("--data-dir", default=None,
                        help="directory with obelix/, liverpool/, laskowski/ (default: $SULFML_DATA_DIR, "
                             "else download the pinned files into the user cache)")


def print_json(obj: object) -> None:
    """Print JSON with NaN written as null."""
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str, allow_nan=False))


def print_table(frame: pd.DataFrame, file=sys.stdout) -> None:
    """A plain aligned text table for terminals."""
    print(frame.to_string(index=False, na_rep=""), file=file)
