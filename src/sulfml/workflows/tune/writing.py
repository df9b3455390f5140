"""Writing a tuning run's results: the tuned run config, and the MLflow parent run that holds the trials'
runs, the setup, the scores and that config."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np

from sulfml.config import RunConfig
from sulfml.tracking.store import configure
from sulfml.workflows.tune.scoring import Scores
from sulfml.workflows.tune.search import SearchOutcome
from sulfml.workflows.tune.setup import TuneSetup
from sulfml.workflows.tune.space import describe_search_space
from sulfml.workflows.tune.study import mask_url

EXPERIMENT = "sulfml-tune"


@contextlib.contextmanager
def parent_run(setup: TuneSetup, tracking_uri: str | None, trials: int | None,
               timeout: float | None) -> Iterator[str]:
    """Open the parent run in the `sulfml-tune` experiment with the setup as params; yields its run id."""
    import mlflow

    configure(tracking_uri, experiment=EXPERIMENT)
    config = setup.config
    with mlflow.start_run(run_name=f"tune:{setup.study_name}") as run:
        mlflow.set_tags({"sulfml.workflows.tune": "study", "sulfml.workflows.tune.study": setup.study_name,
                         "sulfml.workflows.tune.target": setup.target})
        mlflow.log_params({
            "target": setup.target, "study": setup.study_name, "storage": mask_url(setup.storage_url),
            "seed": setup.seed, "sampler_seed": setup.sampler_seed,
            "n_trials": trials if trials is not None else "until timeout", "timeout": timeout,
            "holdout_fraction": setup.holdout_fraction, "n_jobs": setup.n_jobs, "config.name": config.name,
            "config.digest": config.digest, "config.path": str(setup.config_path),
            "n_tuning": len(setup.tuning.y), "n_holdout": len(setup.holdout.y), "trials_before": setup.n_before,
        })
        mlflow.log_text(describe_search_space() + "\n", "search_space.txt")
        yield run.info.run_id


def write_config(setup: TuneSetup, found: SearchOutcome, scores: Scores) -> Path:
    """Write the base config with the best params of the target, headed by where they came from.

    Raises:
        AssertionError: the written file does not read back as the best params.
    """
    target, config, out = setup.target, setup.config, setup.output_config
    tuned = replace(config.with_params(target, found.best_params), name=f"tuned-{target}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        f"# Written by `sulfml tune` for {target}: study {setup.study_name!r}, best trial {found.best.number} of "
        f"{found.n_study_trials}.\n# CV MAE {found.best.value:.4f} on the tuning part, "
        f"{scores.holdout_mae_best:.4f} on the hold-out ({setup.holdout_fraction:g} of the papers); "
        f"{scores.all_data_cv_mae:.4f} on all data, as `sulfml train` reports.\n# Base config "
        f"{setup.config_path.name} ({config.digest}): CV MAE {scores.base_all_data_cv_mae:.4f} on all data, "
        f"{scores.holdout_mae_base:.4f} on the hold-out.\n" + tuned.to_toml())
    if RunConfig.from_toml(out).params[target] != found.best_params:
        raise AssertionError(f"{out} does not round-trip the best params")
    return out


def log_results(found: SearchOutcome, scores: Scores, output_config: Path, wall_time: float) -> None:
    """Log the scores, the best params and the written config to the active (parent) run."""
    import mlflow
    import optuna

    states = optuna.trial.TrialState
    metrics = {
        # the best trial is complete: it has a value
        "best_trial": found.best.number, "best_cv_mae": cast(float, found.best.value),
        "base_cv_mae": scores.base_cv_mae,
        "holdout_mae_best": scores.holdout_mae_best, "holdout_mae_base": scores.holdout_mae_base,
        "all_data_cv_mae": scores.all_data_cv_mae, "base_all_data_cv_mae": scores.base_all_data_cv_mae,
        "n_complete": found.count(states.COMPLETE), "n_pruned": found.count(states.PRUNED),
        "n_study_trials": found.n_study_trials, "seconds_per_trial": found.seconds_per_trial,
    }
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
    mlflow.log_params({f"best.{k}": v for k, v in found.best_params.items()})
    mlflow.log_artifact(str(output_config), artifact_path="config")
    mlflow.log_metric("wall_time", wall_time)
