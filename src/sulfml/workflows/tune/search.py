"""The search: running the trials (each a nested MLflow run, pruned on the running CV MAE after each fold)
and summing up what this call's trials did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from sulfml.errors import TuneSetupError
from sulfml.workflows.tune.scoring import cv_mae
from sulfml.workflows.tune.setup import TuneSetup
from sulfml.workflows.tune.space import suggest_params

if TYPE_CHECKING:
    from datetime import datetime

    import optuna


@dataclass(frozen=True)
class SearchOutcome:
    """This call's trials, the study's size after them, and the study's best trial with its full params."""

    trials: list[optuna.trial.FrozenTrial]
    n_study_trials: int
    best: optuna.trial.FrozenTrial
    best_params: dict[str, Any]

    def count(self, state: optuna.trial.TrialState) -> int:
        """This call's trials that ended in `state`."""
        return sum(t.state == state for t in self.trials)

    @property
    def seconds_per_trial(self) -> float:
        """Mean wall time of this call's finished trials (NaN if none finished)."""
        finished = [t for t in self.trials if t.datetime_complete is not None]
        if not finished:
            return float("nan")
        # `finished` have a completion time, and a finished trial has started
        return float(np.mean([(cast("datetime", t.datetime_complete) - cast("datetime", t.datetime_start))
                              .total_seconds() for t in finished]))


def run_trials(setup: TuneSetup, trials: int | None, timeout: float | None,
               log: Callable[[str], None]) -> SearchOutcome:
    """Add trials to the study (inside the active MLflow run, which becomes each trial's parent).

    Args:
        setup: the prepared run.
        trials: trials to add (None: until `timeout`).
        timeout: stop starting trials after this many seconds.
        log: gets one line a finished trial.

    Raises:
        TuneSetupError: the study has no complete trial afterwards.
    """
    mine: list[int] = []
    setup.study.optimize(_objective(setup, mine), n_trials=trials, timeout=timeout, callbacks=[_reporter(log)])
    all_trials = setup.study.get_trials(deepcopy=False)
    try:
        best = setup.study.best_trial
    except ValueError as exc:
        raise TuneSetupError(f"study {setup.study_name!r} has no complete trial yet") from exc
    # the objective records the full params; rebuild them for a trial that lacks the record
    best_params = dict(best.user_attrs.get("params") or {**setup.base_params, **best.params})
    return SearchOutcome(trials=[t for t in all_trials if t.number in set(mine)], n_study_trials=len(all_trials),
                         best=best, best_params=best_params)


def _objective(setup: TuneSetup, mine: list[int]) -> Callable[[optuna.Trial], float]:
    """The objective: the grouped CV MAE on the tuning part; records each trial's number in `mine`."""
    import mlflow
    import optuna

    def objective(trial: optuna.Trial) -> float:
        params = {**setup.base_params, **suggest_params(trial)}
        trial.set_user_attr("params", params)
        mine.append(trial.number)
        pruned: optuna.TrialPruned | None = None
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.set_tags({"sulfml.workflows.tune": "trial", "sulfml.workflows.tune.study": setup.study_name,
                             "sulfml.workflows.tune.trial": str(trial.number)})
            mlflow.log_params({f"xgb.{k}": v for k, v in params.items()} | {"trial": trial.number})

            def on_fold(fold: int, fold_mae: float, running: float) -> None:
                mlflow.log_metric("fold_mae", fold_mae, step=fold)
                trial.report(running, step=fold)
                if trial.should_prune():
                    mlflow.log_metric("running_mae", running)
                    raise optuna.TrialPruned(f"running MAE {running:.4f} after fold {fold}")

            try:
                value, _ = cv_mae(setup.tuning, params, setup.config, setup.n_jobs, on_fold)
            except optuna.TrialPruned as exc:
                # leave the `with` normally: a pruned trial is a finished run, not a failed one
                pruned = exc
                mlflow.set_tag("sulfml.workflows.tune.state", "PRUNED")
            except Exception:
                mlflow.set_tag("sulfml.workflows.tune.state", "FAIL")
                raise
            else:
                mlflow.log_metric("cv_mae", value)
                mlflow.set_tag("sulfml.workflows.tune.state", "COMPLETE")
        if pruned is not None:
            raise pruned
        return value

    return objective


def _reporter(log: Callable[[str], None]) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """A study callback that logs each finished trial's score and the best so far."""
    import optuna

    def report(study: optuna.Study, ft: optuna.trial.FrozenTrial) -> None:
        # called with a finished trial: both times are set
        secs = (cast("datetime", ft.datetime_complete) - cast("datetime", ft.datetime_start)).total_seconds()
        value = f"CV MAE {ft.value:.4f}" if ft.state == optuna.trial.TrialState.COMPLETE else ft.state.name
        try:
            best = f"best {study.best_value:.4f} (trial {study.best_trial.number})"
        except ValueError:
            best = "no complete trial yet"
        log(f"trial {ft.number}: {value}; {best} ({secs:.1f} s)")

    return report
