"""Calibrated prediction intervals: normalised split-conformal on grouped out-of-fold predictions, with a
scale that grows with the distance to the training data.

Every training material's out-of-fold prediction comes from a model that never saw its paper, so calibrating
on them makes the intervals hold for new papers, not only new rows. The interval is ŷ ± q·s: the scale s is an
additive model of log |residual|, fitted distance first (the kNN distance in the model's own kNN feature space
when it has one), then the prediction on what distance leaves. In that order a query far from the training
data (a family no source holds) gets a wide interval even when it is predicted to conduct well: fitted
prediction first, "good conductors have small errors" (true near well-studied materials) took the credit that
belongs to distance. Beyond the farthest calibration rows the scale keeps growing with distance, linearly at
the rate of the curve's end, instead of holding its end value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# The scale's possible inputs. `knn_distance` is the applicability domain's distance (`DomainModel`);
# `knn_distance_mean` the model's kNN target feature of that name (element-fraction space).
DIFFICULTY_INPUTS = ("prediction", "knn_distance", "knn_distance_mean")
LEGACY_INPUTS = ("prediction", "knn_distance")  # cards that do not name their inputs
# The share of in-domain calibration rows whose interval is called usable: an interval wider than their 80th
# percentile is too wide (the card's `interval.max_width`; `sulfml predict Li2S LiCl` shows two it refuses).
WIDTH_QUANTILE = 0.8
_EPS = 1e-8  # floor on the predicted residual scale


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


def end_slope(xs: np.ndarray, ys: np.ndarray) -> float:
    """The least-squares slope of the upper half of a curve's knots, never below 0 (one noisy end segment
    alone does not set it)."""
    half = max(2, (len(xs) + 1) // 2)
    xs, ys = xs[-half:], ys[-half:]
    if len(xs) < 2 or np.ptp(xs) <= 0:
        return 0.0
    return max(float(np.polyfit(xs, ys, 1)[0]), 0.0)


def _curve(z: np.ndarray, xs: np.ndarray, ys: np.ndarray, extend: bool) -> np.ndarray:
    """The curve at z: linear between knots, held below the first; beyond the last, held or (`extend`) rising
    so that the scale grows linearly with z, at the relative rate of the curve's end (`end_slope`)."""
    out = np.interp(z, xs, ys)
    if extend:
        beyond = z > xs[-1]
        out[beyond] += np.log1p(end_slope(xs, ys) * (z[beyond] - xs[-1]))
    return out


class DifficultyCurves:
    """Additive, piecewise-linear model of log |residual| from named inputs, fitted one input after the other
    (each on what the ones before left).

    Deliberately low-capacity (a few knots per input) so it cannot overfit the residuals it is fitted on,
    and small enough to store exactly as JSON. Inputs listed in `extend` keep rising beyond their last knot
    (a query farther than any calibration row gets a wider interval, not the same one).
    """

    def __init__(self, inputs: tuple[str, ...] = LEGACY_INPUTS, n_bins: int = 6, extend: tuple[str, ...] = ()):
        self.inputs = tuple(inputs)
        self.n_bins = n_bins
        self.extend = tuple(extend)

    def fit(self, Z: np.ndarray, t: np.ndarray) -> DifficultyCurves:
        """Fit on Z (one column per input, in `inputs` order) and t = log |residual|."""
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
        """log of the expected |residual|."""
        Z = np.asarray(Z, float)
        out = np.full(len(Z), self.intercept_)
        for j, (xs, ys) in enumerate(self.curves_):
            out += _curve(Z[:, j], xs, ys, self.inputs[j] in self.extend)
        return out

    def to_dict(self) -> dict:
        """JSON form, enough to rebuild the exact same function."""
        return {"intercept": self.intercept_, "inputs": list(self.inputs),
                "curves": [{"x": xs.tolist(), "y": ys.tolist()}
                           | ({"extend": "linear"} if self.inputs[j] in self.extend else {})
                           for j, (xs, ys) in enumerate(self.curves_)]}

    @classmethod
    def from_dict(cls, d: dict) -> DifficultyCurves:
        """Rebuild from `to_dict` output (cards without `inputs` are (prediction, knn_distance); curves without
        `extend` hold their end values, as before)."""
        curves = d["curves"]
        inputs = tuple(d.get("inputs") or LEGACY_INPUTS[: len(curves)])
        unknown = sorted(set(inputs) - set(DIFFICULTY_INPUTS))
        if len(inputs) != len(curves) or unknown:
            raise ValueError(f"difficulty inputs {list(inputs)} do not match its {len(curves)} curves"
                             + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
        obj = cls(inputs, extend=tuple(i for i, c in zip(inputs, curves, strict=True) if c.get("extend") == "linear"))
        obj.intercept_ = float(d["intercept"])
        obj.curves_ = [(np.asarray(c["x"], float), np.asarray(c["y"], float)) for c in curves]
        obj.n_features_in_ = len(obj.curves_)
        return obj


@dataclass(frozen=True)
class Calibration:
    """A fitted conformal calibration: interval = prediction ± quantile · exp(difficulty).

    Attributes:
        confidence: nominal coverage, e.g. 0.9.
        quantile: the conformal quantile of the normalised scores (finite-sample rank).
        difficulty: the scale model.
        n_calibration: rows the quantile was taken over.
        n_difficulty: rows the scale model was fitted on (disjoint from the calibration rows).
        max_width: widest interval (2 × half-width, in the target's units) still called usable: the
            `width_quantile` of the calibration rows' widths within the domain; None: no width rule
            (calibrations from before it).
        width_quantile: the quantile that set `max_width`.
        method: the method text of a loaded card (empty: this version's `METHOD`).
    """

    confidence: float
    quantile: float
    difficulty: DifficultyCurves
    n_calibration: int
    n_difficulty: int
    max_width: float | None = None
    width_quantile: float | None = None
    method: str = field(default="", compare=False)

    METHOD = ("normalised split-conformal on paper-grouped out-of-fold predictions; scale = additive "
              "piecewise-linear model of log|residual|, fitted distance first (kNN distance in the model's kNN "
              "feature space, else the domain distance), then the prediction; the distance curve keeps rising "
              "beyond the farthest calibration row")

    @property
    def inputs(self) -> tuple[str, ...]:
        """The difficulty model's inputs, in its fit order."""
        return self.difficulty.inputs

    @property
    def uses_domain_distance(self) -> bool:
        """Whether `halfwidth` reads the applicability domain's distance (else it may be left uncomputed)."""
        return "knn_distance" in self.inputs

    def halfwidth(self, prediction: np.ndarray, distance: np.ndarray,
                  knn_distance_mean: np.ndarray | None = None) -> np.ndarray:
        """Half-width of the interval at each row.

        Args:
            prediction: the model's predictions.
            distance: the applicability domain's kNN distance (`DomainModel.distance`).
            knn_distance_mean: the model's kNN target feature of that name; needed only when the calibration's
                `inputs` name it.
        """
        given = {"prediction": prediction, "knn_distance": distance, "knn_distance_mean": knn_distance_mean}
        missing = [name for name in self.inputs if given[name] is None]
        if missing:
            raise ValueError(f"this calibration's scale needs {', '.join(missing)}")
        Z = np.column_stack([np.asarray(given[name], float) for name in self.inputs])
        return self.quantile * np.maximum(np.exp(self.difficulty.predict(Z)), _EPS)

    def too_wide(self, width: np.ndarray) -> np.ndarray:
        """Whether each interval width exceeds `max_width` (never, without a width rule)."""
        width = np.asarray(width, float)
        return width > self.max_width if self.max_width is not None else np.zeros(width.shape, bool)

    def to_dict(self) -> dict:
        """JSON form stored in the model card."""
        out = {"method": self.method or self.METHOD, "coverage": self.confidence, "quantile": self.quantile,
               "difficulty": self.difficulty.to_dict(), "n_calibration": self.n_calibration,
               "n_difficulty": self.n_difficulty}
        if self.max_width is not None:
            out |= {"max_width": self.max_width, "width_quantile": self.width_quantile}
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        """Rebuild from a card's `interval` section (older cards: no width rule)."""
        max_width, wq = d.get("max_width"), d.get("width_quantile")
        return cls(confidence=float(d["coverage"]), quantile=float(d["quantile"]),
                   difficulty=DifficultyCurves.from_dict(d["difficulty"]), n_calibration=int(d["n_calibration"]),
                   n_difficulty=int(d["n_difficulty"]), max_width=None if max_width is None else float(max_width),
                   width_quantile=None if wq is None else float(wq), method=str(d.get("method", "")))


def conformal_quantile(scores: np.ndarray, confidence: float) -> float:
    """The split-conformal quantile: the ⌈(n + 1)·confidence⌉-th smallest score (inf when n is too small)."""
    s = np.sort(np.asarray(scores, float))
    rank = math.ceil((len(s) + 1) * confidence)
    return float(s[rank - 1]) if rank <= len(s) else float("inf")


def calibrate(oof_prediction: np.ndarray, oof_distance: np.ndarray, y: np.ndarray, use: np.ndarray,
              confidence: float = 0.9, seed: int = 0, difficulty_share: float = 0.3,
              knn_distance_mean: np.ndarray | None = None, inputs: tuple[str, ...] | None = None,
              extend: bool = True, threshold: float | None = None,
              width_quantile: float = WIDTH_QUANTILE) -> Calibration:
    """Conformalize out-of-fold predictions.

    A random `difficulty_share` of the usable rows fits the scale model; the rest give the normalised
    scores |y − ŷ| / s, whose conformal quantile sets the width.

    Args:
        oof_prediction: each training row's prediction by the CV model that did not see its paper.
        oof_distance: each row's domain kNN distance to the training rows of the other folds.
        y: true values.
        use: rows to calibrate on (censored values, which are only bounds, are left out).
        confidence: nominal coverage.
        seed: seeds the split between fitting the scale model and taking the quantile.
        difficulty_share: share of the rows that fits the scale model; the rest calibrate.
        knn_distance_mean: each row's out-of-fold `knn_distance_mean` (the model's kNN feature); the scale's
            distance when given, else `oof_distance` is.
        inputs: the scale's inputs in fit order (default: the distance, then the prediction).
        extend: the distance curve keeps rising beyond the farthest calibration distance.
        threshold: the domain's distance threshold: the width rule is taken over calibration rows within it.
        width_quantile: the quantile of those rows' widths that becomes `max_width`.
    """
    use = np.asarray(use, bool)
    given = {"prediction": oof_prediction, "knn_distance": oof_distance, "knn_distance_mean": knn_distance_mean}
    if inputs is None:
        inputs = ("knn_distance_mean" if knn_distance_mean is not None else "knn_distance", "prediction")
    missing = [name for name in inputs if given[name] is None]
    if missing:
        raise ValueError(f"calibrating on {', '.join(inputs)} needs {', '.join(missing)}")
    Z = np.column_stack([np.asarray(given[name], float) for name in inputs])[use]
    yy = np.asarray(y, float)[use]
    n_diff = math.ceil(len(yy) * difficulty_share)
    n_cal = len(yy) - n_diff
    if n_cal < math.ceil(1 / (1 - confidence)):
        raise ValueError(f"too few materials to calibrate {confidence:.0%} intervals: {len(yy)} usable rows, of "
                         f"which {n_cal} calibrate; at least {math.ceil(1 / (1 - confidence))} are needed")
    order = np.random.default_rng(seed).permutation(len(yy))
    fit_rows, cal_rows = order[:n_diff], order[n_diff:]
    residual = np.abs(yy - np.asarray(oof_prediction, float)[use])
    distances = ("knn_distance", "knn_distance_mean")
    difficulty = DifficultyCurves(tuple(inputs), extend=tuple(i for i in inputs if i in distances) if extend else ())
    difficulty.fit(Z[fit_rows], np.log(np.maximum(residual[fit_rows], _EPS)))
    scale = np.maximum(np.exp(difficulty.predict(Z[cal_rows])), _EPS)
    quantile = conformal_quantile(residual[cal_rows] / scale, confidence)
    widths = 2 * quantile * scale
    if threshold is not None:
        widths = widths[np.asarray(oof_distance, float)[use][cal_rows] <= threshold]
    max_width = float(np.quantile(widths, width_quantile)) if len(widths) else None
    return Calibration(confidence=confidence, quantile=quantile, difficulty=difficulty, n_calibration=n_cal,
                       n_difficulty=n_diff, max_width=max_width,
                       width_quantile=width_quantile if max_width is not None else None)


def coverage_and_width(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, float]:
    """Empirical coverage and median / mean width of intervals."""
    y, lo, hi = (np.asarray(a, float) for a in (y, lo, hi))
    inside = (y >= lo) & (y <= hi)
    return {"coverage": float(inside.mean()) if len(y) else float("nan"),
            "median_width": float(np.median(hi - lo)) if len(y) else float("nan"),
            "mean_width": float(np.mean(hi - lo)) if len(y) else float("nan"), "n": int(len(y))}
