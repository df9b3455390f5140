"""XGBoost tree ensembles evaluated in NumPy from the model's JSON, bit-for-bit equal to XGBoost's predictions.

Used for small batches (one formula from the command line), so that a cold `sulfml predict` need not load
XGBoost at all; large batches go to XGBoost's C library (`sulfml.model.native`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Below this many rows the NumPy walk is faster than loading XGBoost's library and model; above it XGBoost wins.
SMALL_BATCH = 256


@dataclass(frozen=True)
class Forest:
    """The trees of a `gbtree` regression model with a single target, as padded arrays (trees × nodes)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    value: np.ndarray  # split threshold, or the leaf value at leaves (float32, as XGBoost stores them)
    default_left: np.ndarray
    base_score: np.float32
    n_features: int

    @classmethod
    def from_json(cls, path: str | Path) -> Forest:
        """Read XGBoost's JSON model from a file (see `from_bytes`)."""
        return cls.from_bytes(Path(path).read_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Forest:
        """XGBoost's JSON model from its bytes (see `from_model`).

        Raises:
            ValueError: not JSON, or a model `from_model` refuses.
        """
        return cls.from_model(json.loads(data))

    @classmethod
    def from_model(cls, model: dict) -> Forest:
        """XGBoost's JSON model, parsed (the bundle parses the bytes it checked against the card).

        Raises:
            ValueError: a model this evaluator does not handle (not gbtree, several targets or classes,
                categorical splits, an objective with a link function).
        """
        learner = model["learner"]
        params = learner["learner_model_param"]
        booster = learner["gradient_booster"]
        objective = learner["objective"]["name"]
        if booster.get("name") != "gbtree" or objective not in ("reg:squarederror", "reg:absoluteerror",
                                                                 "reg:pseudohubererror", "reg:quantileerror"):
            raise ValueError(f"unsupported model: booster {booster.get('name')!r}, objective {objective!r}")
        if int(params.get("num_class", 0)) > 1 or int(params.get("num_target", 1)) > 1:
            raise ValueError("unsupported model: several classes or targets")
        trees = booster["model"]["trees"]
        if any(any(t.get("split_type") or []) for t in trees):
            raise ValueError("unsupported model: categorical splits")
        width = max((len(t["left_children"]) for t in trees), default=1)
        shape = (len(trees), width)
        left, right = np.full(shape, -1, np.int32), np.full(shape, -1, np.int32)
        feature, value = np.zeros(shape, np.int32), np.zeros(shape, np.float32)
        default_left = np.zeros(shape, bool)
        for i, t in enumerate(trees):
            n = len(t["left_children"])
            left[i, :n], right[i, :n] = t["left_children"], t["right_children"]
            feature[i, :n] = t["split_indices"]
            value[i, :n] = np.asarray(t["split_conditions"], np.float64).astype(np.float32)
            default_left[i, :n] = np.asarray(t["default_left"], bool)
        base = np.float32(float(str(params["base_score"]).strip("[]").split(",")[0]))
        return cls(left, right, feature, value, default_left, base, int(params["num_feature"]))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions for float rows (NaN = missing), as float32 like XGBoost's: base score plus the leaf of
        each tree, added in tree order in float32; a split sends x < threshold left, missing values the
        default way."""
        X = np.asarray(X, np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got shape {X.shape}")
        n, n_trees = len(X), len(self.left)
        # All trees walk together, one level per step: a handful of array operations instead of a Python
        # loop over the trees.
        tree = np.arange(n_trees)[None, :]
        rows = np.arange(n)[:, None]
        node = np.zeros((n, n_trees), np.int32)
        while True:
            left = self.left[tree, node]
            inner = left >= 0
            if not inner.any():
                break
            x = X[rows, self.feature[tree, node]]
            go_left = np.where(np.isnan(x), self.default_left[tree, node], x < self.value[tree, node])
            node = np.where(inner, np.where(go_left, left, self.right[tree, node]), node)
        # XGBoost adds the leaves to the base score one tree after the other, in float32: a running sum.
        terms = np.concatenate([np.full((n, 1), self.base_score, np.float32), self.value[tree, node]], axis=1)
        return np.cumsum(terms, axis=1, dtype=np.float32)[:, -1] if n else np.zeros(0, np.float32)
