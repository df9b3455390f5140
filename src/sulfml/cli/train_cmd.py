"""`sulfml train`: train both targets from a config, track them in MLflow, register and export."""

from __future__ import annotations

import argparse

from sulfml.cli.common import add_data_dir, add_extra_data


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `train` subcommand."""
    p = sub.add_parser("train", help="train log10 sigma and Ea models, log to MLflow, register")
    p.add_argument("--config", default=None, help="run config: a TOML file or a shipped config's name, e.g. tuned (default: the shipped default)")
    add_data_dir(p)
    add_extra_data(p)
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)")
    p.add_argument("--models-dir", default=None, help="where to export the champion bundle (default ./models)")
    p.add_argument("--promote", action="store_true", help="make the new versions champion unconditionally")
    p.add_argument("--no-export", action="store_true", help="do not export the champion bundle")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train and print one line per target."""
    from sulfml.workflows.train import train

    train(args.config, data_dir=args.data_dir, tracking_uri=args.tracking_uri, models_dir=args.models_dir,
          promote=args.promote, export=not args.no_export, extra_data=args.extra_data or ())
    return 0
