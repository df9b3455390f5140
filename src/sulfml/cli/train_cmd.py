"""`sulfml train`: train both targets from a config, track them in MLflow, register and export."""

from __future__ import annotations

import argparse
from pathlib import Path

from sulfml.cli import UsageError
from sulfml.cli.common import add_data_dir


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `train` subcommand."""
    p = sub.add_parser("train", help="train log10 sigma and Ea models, log to MLflow, register")
    p.add_argument("--config", default=None, help="run config TOML (default experiments/configs/default.toml)")
    add_data_dir(p)
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)")
    p.add_argument("--models-dir", default=None, help="where to export the champion bundle (default models/)")
    p.add_argument("--promote", action="store_true", help="make the new versions champion unconditionally")
    p.add_argument("--no-export", action="store_true", help="do not export the champion bundle")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train and print one line per target."""
    from sulfml.data.sources import DataSourceError
    from sulfml.training import train

    if args.config and not Path(args.config).exists():
        raise UsageError(f"config file not found: {args.config}")
    try:
        train(args.config, data_dir=args.data_dir, tracking_uri=args.tracking_uri, models_dir=args.models_dir,
              promote=args.promote, export=not args.no_export)
    except DataSourceError as exc:
        raise UsageError(str(exc)) from exc
    return 0
