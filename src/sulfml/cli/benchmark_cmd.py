"""`sulfml benchmark NAME --output DIR`: reproducible benchmarks that never train on what they test."""

from __future__ import annotations

import argparse
from pathlib import Path

from sulfml.cli.common import add_data_dir

NAMES = ["obelix", "ea", "review", "family", "intervals", "temperature"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `benchmark` subcommand."""
    p = sub.add_parser("benchmark", help="run a benchmark: obelix, ea, review, family, intervals, temperature (or all)")
    p.add_argument("name", choices=[*NAMES, "all"])
    p.add_argument("--output", "-o", required=True, help="directory for metrics.json, predictions.csv, "
                                                          "training_set.csv and parity.png")
    p.add_argument("--config", default=None, help="run config file or shipped config name (default: the shipped `default`)")
    add_data_dir(p)
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one benchmark (or all, each into OUTPUT/NAME)."""
    from sulfml.config import RunConfig, resolve_config
    from sulfml.data.table import build_table
    from sulfml.workflows.benchmarks import BenchmarkData, run_benchmark

    config_path = resolve_config(args.config)
    table = build_table(args.data_dir)
    data = BenchmarkData(table=table, config=RunConfig.from_toml(config_path))
    names = NAMES if args.name == "all" else [args.name]
    for name in names:
        out = Path(args.output) / name if args.name == "all" else Path(args.output)
        run_benchmark(name, data, out, tracking_uri=args.tracking_uri)
    return 0
