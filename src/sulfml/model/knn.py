"""Nearest-neighbour target features: what the k most similar training compositions measured.

`KnnFeatureRegressor` is the XGBoost regressor with six extra columns computed from the `elem_frac_*`
feature columns (the fractional composition, preset `composition-v2`):

* on its own training rows, out of fold (shuffled K-fold inside `fit`), so no row sees its own target;
* on new rows, from every training row (the reference set, kept in the model).

A benchmark or a CV fold fits the regressor on its training rows only, so the neighbours of a test row are
never test rows. The reference set is plain numbers (`to_dict`/`from_dict`, stored in the model card as JSON),
and the trees are an ordinary `XGBRegressor` saved as XGBoost native JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from sulfml.featurize.rules import ELEMENT_FRACTION_PREFIX
from sulfml.model.bagging import fit_bag, member_seeds
from sulfml.model.knn_features import KNN_FEATURES, neighbour_features


def fraction_columns(columns) -> list[int]:
    """Positions of the `elem_frac_*` columns."""
    return [i for i, c in enumerate(columns) if str(c).startswith(ELEMENT_FRACTION_PREFIX)]


def _out_of_fold(x: np.ndarray, y: np.ndarray, k: int, folds: int, seed: int) -> np.ndarray:
    out = np.empty((len(y), len(KNN_FEATURES)))
    order = np.random.default_rng(seed).permutation(len(y))
    for part in np.array_split(order, min(folds, len(y))):
        mask = np.ones(len(y), bool)
        mask[part] = False
        out[part] = neighbour_features(x[mask], y[mask], x[part], k)
    return out


class KnnFeatureRegressor(RegressorMixin, BaseEstimator):
    """XGBoost on the features plus out-of-fold nearest-neighbour target features.

    Args:
        xgb_params: keyword arguments of the inner `XGBRegressor` (objective, seed, threads included).
        k: neighbours per row.
        folds: K of the shuffled K-fold that gives the training rows their neighbour features.
        seed: shuffles those folds.
        bag: models averaged (`sulfml.model.bagging`); member i draws its subsamples and its training rows'
            inner folds from its own seed, and all of them share the reference set.
    """

    def __init__(self, xgb_params: dict[str, Any] | None = None, k: int = 5, folds: int = 5, seed: int = 42,
                 bag: int = 1):
        self.xgb_params = xgb_params
        self.k = k
        self.folds = folds
        self.seed = seed
        self.bag = bag

    def _augment(self, X, knn: np.ndarray) -> pd.DataFrame:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, float),
                                                                    columns=self.feature_names_in_)
        extra = pd.DataFrame(knn, columns=list(KNN_FEATURES), index=frame.index)
        return pd.concat([frame, extra], axis=1)

    def _fractions(self, X) -> np.ndarray:
        arr = X.to_numpy(float) if isinstance(X, pd.DataFrame) else np.asarray(X, float)
        return np.nan_to_num(arr[:, self.fraction_index_])

    def fit(self, X, y, sample_weight=None):
        """Fit on a feature frame that has `elem_frac_*` columns (preset `composition-v2`).

        `sample_weight` weighs the rows in the trees' loss only; every row is a neighbour alike.
        """

        if not isinstance(X, pd.DataFrame):
            raise TypeError("KnnFeatureRegressor.fit needs a DataFrame with the preset's column names")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.fraction_index_ = fraction_columns(X.columns)
        if not self.fraction_index_:
            raise ValueError(f"no {ELEMENT_FRACTION_PREFIX}* columns: use a preset with element fractions")
        y = np.asarray(y, float)
        self.reference_x_ = self._fractions(X)
        self.reference_y_ = y
        frames = [self._augment(X, _out_of_fold(self.reference_x_, y, self.k, self.folds, s))
                  for s in member_seeds(self.seed, self.bag)]
        self.xgb_ = fit_bag({"random_state": self.seed, **(self.xgb_params or {})}, frames, y, sample_weight)
        return self

    def neighbour_columns(self, X) -> pd.DataFrame:
        """X plus the `KNN_FEATURES` from the reference set: what the trees predict from."""
        return self._augment(X, neighbour_features(self.reference_x_, self.reference_y_, self._fractions(X),
                                                   self.k))

    def predict(self, X) -> np.ndarray:
        """Predictions for new rows (never used for the training rows' own features)."""
        return self.xgb_.predict(self.neighbour_columns(X))

    def get_booster(self):
        """The inner booster (saved as XGBoost native JSON)."""
        return self.xgb_.get_booster()

    def to_dict(self) -> dict[str, Any]:
        """The reference set as JSON-able numbers, sparse (most element fractions are 0)."""
        names = [str(self.feature_names_in_[i]) for i in self.fraction_index_]
        rows = [[[int(j), float(v)] for j, v in enumerate(r) if v != 0.0] for r in self.reference_x_]
        return {"k": int(self.k), "columns": names, "reference_x": rows,
                "reference_y": [float(v) for v in self.reference_y_], "features": list(KNN_FEATURES)}
