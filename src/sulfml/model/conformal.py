"""Calibrated prediction intervals: MAPIE's normalised split-conformal method on grouped out-of-fold predictions.

Every training material's out-of-fold prediction comes from a model that never saw its paper, so calibrating
on them makes the intervals hold for new papers, not only new rows. The interval is ŷ ± q·s(ŷ, d): the scale
s grows where the model's errors were large (poor conductors) and where the query is far from the training
data (kNN distance d), so it is wider where data are sparse.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

DIFFICULTY_INPUTS = ("prediction", "knn_distance")


def _knots(z: np.ndarray, n_bins: int) -> np.ndarray:
    qs = np.unique(np.quantile(z, np.linspace(0, 1, n_bins + 1)))
    return qs if len(qs) >= 2 else np.array([z.min(), z.min() + 1.0])


def _binned_curve(z: np.ndarray, t: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-linear curve through (median z, mean t) of quantile bins of z."""
    edges = _knots(z, n_bins)
    which = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, len(edges) - 2)
    xs, ys = [], []
    for b in range(len(edges) - 1):
        sel = which == b
        if sel.any():
            xs.append(float(np.median(z[sel])))
            ys.append(float(np.mean(t[sel])))
    xs_arr, ys_arr = np.array(xs), np.array(ys)
    order = np.argsort(xs_arr, kind="stable")
    return xs_arr[order], ys_arr[order]


class DifficultyCurves:
    """Additive, piecewise-linear model of log |residual| from (prediction, kNN distance).

    Deliberately low-capacity (a few knots per input) so it cannot overfit the residuals it is fitted on,
    and small enough to store exactly as JSON. `Difficulty` is the same as a scikit-learn estimator, for
    MAPIE; predictions only need this class, so they do not import scikit-learn.
    """

    def __init__(self, n_bins: int = 6):
        self.n_bins = n_bins

    def fit(self, Z: np.ndarray, t: np.ndarray) -> DifficultyCurves:
        """Fit on Z = [prediction, distance] columns and t = log |residual| (MAPIE passes the log)."""
        Z, t = np.asarray(Z, float), np.asarray(t, float)
        self.intercept_ = float(np.mean(t))
        rest = t - self.intercept_
        self.curves_ = []
        for j in range(Z.shape[1]):
            xs, ys = _binned_curve(Z[:, j], rest, self.n_bins)
            self.curves_.append((xs, ys))
            rest = rest - np.interp(Z[:, j], xs, ys)
        self.n_features_in_ = Z.shape[1]
        return self

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """log of the expected |residual| (np.interp holds the end values beyond the knots)."""
        Z = np.asarray(Z, float)
        out = np.full(len(Z), self.intercept_)
        for j, (xs, ys) in enumerate(self.curves_):
            out += np.interp(Z[:, j], xs, ys)
        return out

    def to_dict(self) -> dict:
        """JSON form, enough to rebuild the exact same function."""
        return {"intercept": self.intercept_, "inputs": list(DIFFICULTY_INPUTS[: self.n_features_in_]),
                "curves": [{"x": xs.tolist(), "y": ys.tolist()} for xs, ys in self.curves_]}

    @classmethod
    def from_dict(cls, d: dict) -> DifficultyCurves:
        """Rebuild from `to_dict` output."""
        obj = cls()
        obj.intercept_ = float(d["intercept"])
        obj.curves_ = [(np.asarray(c["x"], float), np.asarray(c["y"], float)) for c in d["curves"]]
        obj.n_features_in_ = len(obj.curves_)
        return obj


class PredictionColumnBase:
    """A 'fitted' regressor whose prediction is column 0 of its input (`PredictionColumn` for scikit-learn).

    It lets MAPIE conformalize precomputed out-of-fold predictions: the calibration matrix is
    [prediction, distance], so the base prediction is that column and the difficulty model sees both.
    """

    def fit(self, Z: np.ndarray, y: np.ndarray | None = None) -> PredictionColumnBase:
        """Nothing to learn."""
        self.n_features_in_ = np.asarray(Z).shape[1]
        return self

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Column 0 of Z."""
        return np.asarray(Z, float)[:, 0]


@dataclass(frozen=True)
class Calibration:
    """A fitted conformal calibration: interval = prediction ± quantile · exp(difficulty).

    Attributes:
        confidence: nominal coverage, e.g. 0.9.
        quantile: the conformal quantile of the normalised scores (with MAPIE's finite-sample correction).
        difficulty: the scale model.
        n_calibration: rows the quantile was taken over.
        n_difficulty: rows the scale model was fitted on (disjoint from the calibration rows).
    """

    confidence: float
    quantile: float
    difficulty: DifficultyCurves
    n_calibration: int
    n_difficulty: int

    METHOD = ("MAPIE SplitConformalRegressor + ResidualNormalisedScore on paper-grouped out-of-fold "
              "predictions; scale = additive piecewise-linear model of log|residual| on (prediction, kNN distance)")

    def halfwidth(self, prediction: np.ndarray, distance: np.ndarray) -> np.ndarray:
        """Half-width of the interval at each (prediction, distance)."""
        Z = np.column_stack([np.asarray(prediction, float), np.asarray(distance, float)])
        return self.quantile * np.maximum(np.exp(self.difficulty.predict(Z)), _EPS)

    def to_dict(self) -> dict:
        """JSON form stored in the model card."""
        return {"method": self.METHOD, "coverage": self.confidence, "quantile": self.quantile,
                "difficulty": self.difficulty.to_dict(), "n_calibration": self.n_calibration,
                "n_difficulty": self.n_difficulty}

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        """Rebuild from a card's `interval` section."""
        return cls(confidence=float(d["coverage"]), quantile=float(d["quantile"]),
                   difficulty=DifficultyCurves.from_dict(d["difficulty"]), n_calibration=int(d["n_calibration"]),
                   n_difficulty=int(d["n_difficulty"]))


_EPS = 1e-8  # MAPIE's floor on the predicted residual scale


@functools.cache
def _sklearn_classes() -> dict[str, type]:
    from sklearn.base import BaseEstimator, RegressorMixin

    class Difficulty(DifficultyCurves, BaseEstimator, RegressorMixin):
        __doc__ = DifficultyCurves.__doc__

    class PredictionColumn(PredictionColumnBase, BaseEstimator, RegressorMixin):
        __doc__ = PredictionColumnBase.__doc__

    for cls in (Difficulty, PredictionColumn):
        cls.__module__ = __name__
    return {"Difficulty": Difficulty, "PredictionColumn": PredictionColumn}


def __getattr__(name: str):
    """`Difficulty` and `PredictionColumn`, the scikit-learn estimators, are built on first use."""
    if name in ("Difficulty", "PredictionColumn"):
        return _sklearn_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def calibrate(oof_prediction: np.ndarray, oof_distance: np.ndarray, y: np.ndarray, use: np.ndarray,
              confidence: float = 0.9, seed: int = 0, difficulty_share: float = 0.3) -> Calibration:
    """Conformalize out-of-fold predictions with MAPIE.

    Args:
        oof_prediction: each training row's prediction by the CV model that did not see its paper.
        oof_distance: each row's kNN distance to the training rows of the other folds.
        y: true values.
        use: rows to calibrate on (censored values, which are only bounds, are left out).
        confidence: nominal coverage.
        seed: seeds MAPIE's split between fitting the scale model and taking the quantile.
        difficulty_share: share of the rows that fits the scale model; the rest calibrate.
    """
    from mapie.conformity_scores import ResidualNormalisedScore
    from mapie.regression import SplitConformalRegressor

    Z = np.column_stack([oof_prediction, oof_distance])[use]
    yy = np.asarray(y, float)[use]
    n_cal = len(yy) - math.ceil(len(yy) * difficulty_share)
    if n_cal < math.ceil(1 / (1 - confidence)):
        raise ValueError(f"too few materials to calibrate {confidence:.0%} intervals: {len(yy)} usable rows, of "
                         f"which {n_cal} calibrate; at least {math.ceil(1 / (1 - confidence))} are needed")
    classes = _sklearn_classes()
    score = ResidualNormalisedScore(residual_estimator=classes["Difficulty"](), split_size=difficulty_share,
                                    random_state=seed)
    mapie = SplitConformalRegressor(estimator=classes["PredictionColumn"]().fit(Z), confidence_level=confidence,
                                    conformity_score=score, prefit=True)
    mapie.conformalize(Z, yy)
    difficulty = score.residual_estimator_
    # Read MAPIE's corrected quantile back from its own interval at the calibration points.
    pred, bounds = mapie.predict_interval(Z)
    scale = np.maximum(np.exp(difficulty.predict(Z)), _EPS)
    q = float(np.median((bounds[:, 1, 0] - pred) / scale))
    n_diff = math.ceil(len(yy) * difficulty_share)  # sklearn's train_test_split rounds the test share up
    return Calibration(confidence=confidence, quantile=q, difficulty=difficulty,
                       n_calibration=len(yy) - n_diff, n_difficulty=n_diff)


def coverage_and_width(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, float]:
    """Empirical coverage and median / mean width of intervals."""
    y, lo, hi = (np.asarray(a, float) for a in (y, lo, hi))
    inside = (y >= lo) & (y <= hi)
    return {"coverage": float(inside.mean()) if len(y) else float("nan"),
            "median_width": float(np.median(hi - lo)) if len(y) else float("nan"),
            "mean_width": float(np.mean(hi - lo)) if len(y) else float("nan"), "n": int(len(y))}
