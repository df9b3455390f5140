"""`sulfml benchmark NAME --output DIR`: reproducible benchmarks that never train on what they test."""

from __future__ import annotations

import argparse
from pathlib import Path

from sulfml.cli.common import add_data_dir, add_extra_data

NAMES = ["obelix", "ea", "review", "family", "intervals", "temperature", "sulfides", "polymorphs"]
# Scores the user's own measurements: needs --extra-data (or [data] extra), and joins `all` when given.
USER = "user"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `benchmark` subcommand."""
    p = sub.add_parser("benchmark", help=f"run a benchmark: {', '.join([*NAMES, USER])} (or all)")
    p.add_argument("name", choices=[*NAMES, USER, "all"],
                   help="the benchmark; user scores your own measurements (--extra-data) leaving one of your "
                        "papers out at a time")
    p.add_argument("--output", "-o", required=True, help="directory for metrics.json, predictions.csv, "
                                                          "training_set.csv and parity.png")
    p.add_argument("--config", default=None,
                   help="run config file or shipped config name (default: the config the shipped model was "
                        "trained with, as its cards record it)")
    p.add_argument("--seeds", type=int, default=3, metavar="N",
                   help="run N times, with the config's seed and then the others of 42, 7, 2026, 0, 1, ..., and "
                        "report the mean and spread over them (default: 3)")
    add_data_dir(p)
    add_extra_data(p)
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run one benchmark (or all, each into OUTPUT/NAME)."""
    from sulfml.data.table import build_table
    from sulfml.errors import UsageError
    from sulfml.workflows.benchmarks import BenchmarkData, benchmark_config, default_seeds, run_benchmark

    config, origin = benchmark_config(args.config)
    config = config.with_extra(args.extra_data or ())
    if args.name == USER and not config.data.extra:
        raise UsageError("benchmark user scores your own measurements: give them with --extra-data FILE "
                         "(or [data] extra in the config)")
    seeds = default_seeds(config, args.seeds)
    print(f"config {config.name} ({config.digest}): {origin['config_source']}; {origin['config_path']}")
    if "config_note" in origin:
        print(f"note: {origin['config_note']}")
    table = build_table(args.data_dir, extra=config.data.extra)
    data = BenchmarkData(table=table, config=config, origin=origin)
    names = [*NAMES, *([USER] if config.data.extra else [])] if args.name == "all" else [args.name]
    for name in names:
        out = Path(args.output) / name if args.name == "all" else Path(args.output)
        run_benchmark(name, data, out, tracking_uri=args.tracking_uri, seeds=seeds)
    return 0
