"""`sulfml tune`: search one target's XGBoost hyperparameters with Optuna and write the best as a run config."""

from __future__ import annotations

import argparse
import textwrap

from sulfml.cli.common import add_data_dir
from sulfml.errors import UsageError
from sulfml.workflows.tune import describe_search_space

EPILOG = """\
The study minimizes the grouped CV MAE of `sulfml train` on the data without a grouped hold-out
(--holdout-fraction of the papers), which only scores the base and the best params at the end.
Running again with the same --study and --storage adds --trials more trials to the study; workers
on several machines share one study through a PostgreSQL URL, e.g.
  --storage postgresql+psycopg2://user:password@host:5432/optuna

search space (sulfml.workflows.tune.SEARCH_SPACE):
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `tune` subcommand."""
    p = sub.add_parser("tune", help="tune a target's XGBoost hyperparameters (Optuna), write the best config",
                       epilog=EPILOG + textwrap.indent(describe_search_space(), "  "),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True, choices=["log10_sigma", "ea", "ea_eV", "sigma"],
                   help="the target to tune (ea means ea_eV)")
    p.add_argument("--trials", type=int, default=None,
                   help="trials to add to the study (default 100, or unlimited if --timeout is given)")
    p.add_argument("--timeout", type=float, default=None, help="start no trial after this many seconds")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default sqlite:///./optuna.db)")
    p.add_argument("--study", default=None, help="study name (default sulfml-<target>-<config name>)")
    p.add_argument("--seed", type=int, default=None,
                   help="sampler seed (default: the config's); offset by the trials already in the study")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)")
    p.add_argument("--config", default=None, help="base run config: a TOML file or a shipped config name (default: the shipped default)")
    add_data_dir(p)
    p.add_argument("--output-config", default=None,
                   help="where to write the best config (default ./tuned-<target>.toml)")
    p.add_argument("--holdout-fraction", type=float, default=0.2,
                   help="share of the papers held out of the study to score base and best (default 0.2)")
    p.add_argument("--n-jobs", type=int, default=None,
                   help="XGBoost threads a trial (default: the available cores); scores do not depend on it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Tune and print one line per trial and a summary."""
    from sulfml.workflows.tune import tune

    if args.n_jobs is not None and args.n_jobs < 1:
        raise UsageError(f"--n-jobs must be at least 1, got {args.n_jobs}")
    trials = args.trials if args.trials is not None or args.timeout is not None else 100
    tune(args.target, trials=trials, timeout=args.timeout, storage=args.storage, study_name=args.study,
         seed=args.seed, tracking_uri=args.tracking_uri, config_path=args.config, data_dir=args.data_dir,
         output_config=args.output_config, holdout_fraction=args.holdout_fraction, n_jobs=args.n_jobs)
    return 0
