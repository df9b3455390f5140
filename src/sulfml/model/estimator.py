"""The regressor every target uses, built from a config's `[targets.<target>]` table: XGBoost, optionally with
out-of-fold nearest-neighbour target features (its `knn` sub-table with `k` > 0, see `sulfml.model.knn`) and
optionally a seed bag of such models saved as one booster (`bag` > 1, see `sulfml.model.bagging`)."""

from __future__ import annotations

from typing import Any

from xgboost import XGBRegressor

from sulfml.config import KNN_DEFAULTS
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
# A target's settings that are not XGBoost's: its kNN table, its bag size and its neural member.
NOT_XGBOOST = ("knn", "bag", "neural")
# Keys of the old layout, where the kNN settings rode among the XGBoost parameters.
_MOVED = {"knn_k": "k", "knn_folds": "folds"}


def make_regressor(params: dict[str, Any], seed: int, n_jobs: int | None = None):
    """An `XGBRegressor` with histogram trees, seeded, on at most the available cores; with `params["knn"]["k"]`
    > 0, a `KnnFeatureRegressor` around it (k neighbours, `folds` inner folds, see `KNN_DEFAULTS`); with
    `params["bag"]` > 1, that many models of different seeds averaged into one booster.

    Args:
        params: a target's parameters as `RunConfig.params` holds them: XGBoost hyperparameters (missing ones
            take `DEFAULTS`; `objective` defaults to squared error), an optional `knn` table and `bag`.
        seed: random state.
        n_jobs: threads; defaults to every available core, never more.

    Raises:
        ValueError: `knn_k`/`knn_folds` among the parameters (they live in the `knn` table).
    """
    moved = sorted(set(params) & set(_MOVED))
    if moved:
        raise ValueError(f"{', '.join(moved)} moved to the parameters' knn table "
                         f"({', '.join(_MOVED[k] for k in moved)})")
    merged = {"objective": "reg:squarederror", **DEFAULTS,
              **{k: v for k, v in params.items() if k not in NOT_XGBOOST}}
    xgb_params = {"tree_method": "hist", "random_state": seed, "n_jobs": resolve_n_jobs(n_jobs), **merged}
    knn = {**KNN_DEFAULTS, **(params.get("knn") or {})}
    bag = int(params.get("bag", 1))
    if int(knn["k"]) > 0:
        from sulfml.model.knn import KnnFeatureRegressor

        return KnnFeatureRegressor(xgb_params=xgb_params, k=int(knn["k"]), folds=int(knn["folds"]), seed=seed,
                                   bag=bag)
    if bag > 1:
        from sulfml.model.bagging import BaggedRegressor

        return BaggedRegressor(xgb_params=xgb_params, bag=bag)
    return XGBRegressor(**xgb_params)
