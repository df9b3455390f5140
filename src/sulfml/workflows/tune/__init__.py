"""`sulfml tune`: an Optuna search over one target's XGBoost hyperparameters, scored by `sulfml train`'s grouped CV.

A grouped hold-out the study never sees guards against selection bias; the best trial becomes a run config.
`tune` runs the steps in order: `setup`, `search`, `scoring`, `writing`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sulfml.errors import TuneSetupError
from sulfml.workflows.tune.scoring import Scores, cv_mae, score
from sulfml.workflows.tune.search import SearchOutcome, run_trials
from sulfml.workflows.tune.setup import TuneSetup, holdout_split, prepare
from sulfml.workflows.tune.space import SEARCH_SPACE, describe_search_space, suggest_params
from sulfml.workflows.tune.study import mask_url
from sulfml.workflows.tune.writing import EXPERIMENT, log_results, parent_run, write_config

__all__ = [
    "EXPERIMENT", "SEARCH_SPACE", "TuneResult", "TuneSetupError", "cv_mae", "describe_search_space",
    "holdout_split", "mask_url", "suggest_params", "summary", "tune",
]


@dataclass(frozen=True)
class TuneResult:
    """What one `tune` call did and found.

    Attributes:
        target: `log10_sigma` or `ea_eV`.
        study_name, storage: the Optuna study (storage with any password masked).
        n_trials, n_complete, n_pruned: trials this call ran, and how they ended.
        n_study_trials: every trial of the study so far (other workers and earlier calls too).
        best_trial: number of the study's best trial.
        best_params: its full hyperparameters, as written to the config.
        best_cv_mae, base_cv_mae: grouped CV MAE on the tuning part, best and base-config params.
        holdout_mae_best, holdout_mae_base: MAE on the hold-out after fitting on the tuning part.
        all_data_cv_mae, base_all_data_cv_mae: grouped CV MAE on all data (what `sulfml train` reports).
        n_tuning, n_holdout: rows of each part.
        seconds_per_trial: mean wall time of this call's finished trials.
        wall_time: seconds for the whole call.
        sampler_seed: the TPE sampler's seed (seed + trials already in the study).
        output_config: the written config.
        parent_run_id: the MLflow parent run.
    """

    target: str
    study_name: str
    storage: str
    n_trials: int
    n_complete: int
    n_pruned: int
    n_study_trials: int
    best_trial: int
    best_params: dict[str, Any]
    best_cv_mae: float
    base_cv_mae: float
    holdout_mae_best: float
    holdout_mae_base: float
    all_data_cv_mae: float
    base_all_data_cv_mae: float
    n_tuning: int
    n_holdout: int
    seconds_per_trial: float
    wall_time: float
    sampler_seed: int
    output_config: Path
    parent_run_id: str

    @classmethod
    def of(cls, setup: TuneSetup, found: SearchOutcome, scores: Scores, wall_time: float,
           parent_run_id: str) -> TuneResult:
        """Gather the result from the steps' outputs."""
        import optuna

        states = optuna.trial.TrialState
        return cls(
            target=setup.target, study_name=setup.study_name, storage=mask_url(setup.storage_url),
            n_trials=len(found.trials), n_complete=found.count(states.COMPLETE),
            n_pruned=found.count(states.PRUNED), n_study_trials=found.n_study_trials,
            best_trial=found.best.number, best_params=found.best_params,
            best_cv_mae=float(cast(float, found.best.value)),  # the best trial is complete: it has a value
            base_cv_mae=scores.base_cv_mae, holdout_mae_best=scores.holdout_mae_best,
            holdout_mae_base=scores.holdout_mae_base, all_data_cv_mae=scores.all_data_cv_mae,
            base_all_data_cv_mae=scores.base_all_data_cv_mae, n_tuning=len(setup.tuning.y),
            n_holdout=len(setup.holdout.y), seconds_per_trial=found.seconds_per_trial, wall_time=wall_time,
            sampler_seed=setup.sampler_seed, output_config=setup.output_config, parent_run_id=parent_run_id,
        )


def tune(
    target: str,
    *,
    trials: int | None = 100,
    timeout: float | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    seed: int | None = None,
    tracking_uri: str | None = None,
    config_path: str | Path | None = None,
    data_dir: str | Path | None = None,
    output_config: str | Path | None = None,
    holdout_fraction: float = 0.2,
    n_jobs: int | None = None,
    log: Callable[[str], None] = print,
) -> TuneResult:
    """Tune one target's hyperparameters, write the best as a run config, and track it all in MLflow.

    The study minimizes the grouped CV MAE of `sulfml train` on the tuning part (the data without a
    grouped hold-out); trials are pruned on the running MAE after each fold. Afterwards the best and
    the base params are fitted on the tuning part and scored on the hold-out, and the best params
    are cross-validated on all data, which is the CV MAE `sulfml train` reports with the written config.
    A trial's params are the base config's params of the target with the `SEARCH_SPACE` ones
    replaced, so any other key of the base config stays fixed and goes into the written config.

    Args:
        target: `log10_sigma` or `ea_eV` (or an alias from `TARGET_ALIASES`, e.g. `ea`).
        trials: trials this call adds to the study (None: until `timeout`).
        timeout: stop starting trials after this many seconds.
        storage: Optuna RDB URL (default `sqlite:///./optuna.db`); a shared PostgreSQL URL lets
            several workers run one study.
        study_name: default `sulfml-<target>-<config name>`; an existing study is continued.
        seed: seeds the TPE sampler, offset by the trials already in the study (default: config seed).
            Folds and hold-out always use the config seed, so every trial sees the same data.
        tracking_uri: MLflow store (default $MLFLOW_TRACKING_URI, else ./mlflow.db).
        config_path: base run config (default: the shipped `default`).
        data_dir: the public datasets (see `sulfml.data.sources.resolve_data_dir`).
        output_config: where the best config goes (default `./tuned-<target>.toml`).
        holdout_fraction: share of the groups (papers) held out of the study.
        n_jobs: XGBoost threads (default: the available cores, as `sulfml train`); scores do not
            depend on it.
        log: where progress lines go.

    Raises:
        TuneSetupError: bad arguments, or the study was run with another setup.
    """
    t_start = time.perf_counter()
    setup = prepare(target, trials=trials, timeout=timeout, storage=storage, study_name=study_name, seed=seed,
                    config_path=config_path, data_dir=data_dir, output_config=output_config,
                    holdout_fraction=holdout_fraction, n_jobs=n_jobs, log=log)
    with parent_run(setup, tracking_uri, trials, timeout) as run_id:
        found = run_trials(setup, trials, timeout, log)
        scores = score(setup, found.best_params, log)
        written = write_config(setup, found, scores)
        wall_time = time.perf_counter() - t_start
        log_results(found, scores, written, wall_time)
    result = TuneResult.of(setup, found, scores, wall_time, run_id)
    for line in summary(result):
        log(line)
    return result


def summary(r: TuneResult) -> list[str]:
    """The lines printed at the end of `sulfml tune`."""
    return [
        f"{r.target}: {r.n_trials} trials ({r.n_complete} complete, {r.n_pruned} pruned), "
        f"{r.n_study_trials} in study {r.study_name!r}; {r.seconds_per_trial:.1f} s a trial, {r.wall_time:.0f} s in all",
        f"  CV MAE on the tuning part ({r.n_tuning} rows): base {r.base_cv_mae:.4f}, best {r.best_cv_mae:.4f} "
        f"(trial {r.best_trial})",
        f"  hold-out MAE ({r.n_holdout} rows, never seen by the study): base {r.holdout_mae_base:.4f}, "
        f"best {r.holdout_mae_best:.4f}",
        f"  CV MAE on all data (what `sulfml train` reports): base {r.base_all_data_cv_mae:.4f}, "
        f"best {r.all_data_cv_mae!r}",
        f"  wrote {r.output_config}",
    ]
