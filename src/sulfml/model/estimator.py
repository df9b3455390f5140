"""The regressor every target uses, built from a config's hyperparameters: XGBoost, optionally with
out-of-fold nearest-neighbour target features (`knn_k` > 0, see `sulfml.model.knn`)."""

from __future__ import annotations

from typing import Any

from xgboost import XGBRegressor

from sulfml.cpus import resolve_n_jobs

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
# Config keys that configure the neighbour features rather than XGBoost.
KNN_KEYS = ("knn_k", "knn_folds")


def make_regressor(params: dict[str, Any], seed: int, n_jobs: int | None = None):
    """An `XGBRegressor` with histogram trees, seeded, on at most the available cores; with `knn_k` > 0 in
    `params`, a `KnnFeatureRegressor` around it (k = `knn_k` neighbours, `knn_folds` inner folds, default 5).

    Args:
        params: hyperparameters; missing ones take `DEFAULTS`. `objective` defaults to squared error.
        seed: random state.
        n_jobs: threads; defaults to every available core, never more.
    """
    merged = {"objective": "reg:squarederror", **DEFAULTS,
              **{k: v for k, v in params.items() if k not in KNN_KEYS}}
    xgb_params = {"tree_method": "hist", "random_state": seed, "n_jobs": resolve_n_jobs(n_jobs), **merged}
    k = int(params.get("knn_k", 0) or 0)
    if k > 0:
        from sulfml.model.knn import KnnFeatureRegressor

        return KnnFeatureRegressor(xgb_params=xgb_params, k=k, folds=int(params.get("knn_folds", 5)), seed=seed)
    return XGBRegressor(**xgb_params)
