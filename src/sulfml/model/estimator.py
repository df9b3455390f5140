"""The XGBoost regressor every target uses, built from a config's hyperparameters."""

from __future__ import annotations

from typing import Any

from xgboost import XGBRegressor

from sulfml.resources import resolve_n_jobs

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


def make_regressor(params: dict[str, Any], seed: int, n_jobs: int | None = None) -> XGBRegressor:
    """An `XGBRegressor` with histogram trees, seeded, on at most the available cores.

    Args:
        params: hyperparameters; missing ones take `DEFAULTS`.
        seed: random state.
        n_jobs: threads; defaults to every available core, never more.
    """
    merged = {**DEFAULTS, **params}
    return XGBRegressor(
        objective="reg:squarederror",
        tree_method="hist",
        random_state=seed,
        n_jobs=resolve_n_jobs(n_jobs),
        **merged,
    )
