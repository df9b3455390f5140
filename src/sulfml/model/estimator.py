"""The XGBoost regressor every target uses, built from a config's hyperparameters."""

from __future__ import annotations

import os
from typing import Any

from xgboost import XGBRegressor

DEFAULTS: dict[str, Any] = {
    "n_estimators": 400,
    "learning_rate": 0.05,
    "max_depth": 5,
    "min_child_weight": 1.0,
    "subsample": 0.8,
    "colsample_bytree": 0.6,
    "reg_lambda": 1.0,
    "reg_alpha": 0.0,
}


def available_cpus() -> int:
    """The cores this process may use (never more than the machine has)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def make_regressor(params: dict[str, Any], seed: int, n_jobs: int | None = None) -> XGBRegressor:
    """An `XGBRegressor` with histogram trees, seeded, on at most the available cores.

    Args:
        params: hyperparameters; missing ones take `DEFAULTS`.
        seed: random state.
        n_jobs: threads; defaults to `available_cpus()`.
    """
    merged = {**DEFAULTS, **params}
    return XGBRegressor(
        objective="reg:squarederror",
        tree_method="hist",
        random_state=seed,
        n_jobs=min(n_jobs or available_cpus(), available_cpus()),
        **merged,
    )
