"""Scoring params: the grouped CV MAE of `sulfml train`, the hold-out MAE, and the final comparison of the
best and the base params on the hold-out and on all data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sulfml.config import RunConfig

if TYPE_CHECKING:
    from sulfml.model.train import TrainingSet
    from sulfml.workflows.tune.setup import TuneSetup


@dataclass(frozen=True)
class Scores:
    """The best and the base params scored on data the study never saw, and on all data.

    Attributes:
        base_cv_mae: grouped CV MAE of the base params on the tuning part.
        holdout_mae_best, holdout_mae_base: MAE on the hold-out after fitting on the tuning part.
        all_data_cv_mae, base_all_data_cv_mae: grouped CV MAE on all data (what `sulfml train` reports).
    """

    base_cv_mae: float
    holdout_mae_best: float
    holdout_mae_base: float
    all_data_cv_mae: float
    base_all_data_cv_mae: float


def cv_mae(
    ts: TrainingSet,
    params: dict[str, Any],
    config: RunConfig,
    n_jobs: int | None = None,
    on_fold: Callable[[int, float, float], None] | None = None,
) -> tuple[float, tuple[float, ...]]:
    """The grouped CV MAE of `sulfml train` (`cross_validate`), with a hook after each fold.

    Args:
        ts: the training set.
        params: XGBoost hyperparameters.
        config: supplies folds and seed.
        n_jobs: XGBoost threads.
        on_fold: called as `on_fold(fold, fold_mae, running_mae)` after each fold; it may raise
            `optuna.TrialPruned` to stop.

    Returns:
        (CV MAE, MAE of each fold).
    """
    from sulfml.model.train import cross_validate

    cv = cross_validate(ts, params, config, n_jobs, on_fold=on_fold)
    return cv.metrics["mae"], cv.fold_mae


def holdout_mae(tuning: TrainingSet, holdout: TrainingSet, params: dict[str, Any], config: RunConfig,
                n_jobs: int | None = None) -> float:
    """Fit on the tuning part, return the MAE on the hold-out (censored rows at their substitute, as in CV)."""
    from sulfml.model.estimator import make_regressor

    model = make_regressor(params, config.seed, n_jobs)
    model.fit(tuning.X, tuning.y)
    return float(np.mean(np.abs(model.predict(holdout.X) - holdout.y)))


def score(setup: TuneSetup, best_params: dict[str, Any], log: Callable[[str], None]) -> Scores:
    """Score the best and the base params on the hold-out and by grouped CV on all data."""
    config, n_jobs = setup.config, setup.n_jobs
    log("scoring the best and the base params on the hold-out and on all data ...")
    base_cv, _ = cv_mae(setup.tuning, setup.base_params, config, n_jobs)
    hold_best = holdout_mae(setup.tuning, setup.holdout, best_params, config, n_jobs)
    hold_base = holdout_mae(setup.tuning, setup.holdout, setup.base_params, config, n_jobs)
    # exactly what `sulfml train --config <output>` will compute and report
    all_best, _ = cv_mae(setup.full, best_params, config, n_jobs)
    all_base, _ = cv_mae(setup.full, setup.base_params, config, n_jobs)
    return Scores(base_cv_mae=base_cv, holdout_mae_best=hold_best, holdout_mae_base=hold_base,
                  all_data_cv_mae=all_best, base_all_data_cv_mae=all_base)
