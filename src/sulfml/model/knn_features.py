"""The nearest-neighbour target features themselves: numbers only, so the predict path can compute them from a
stored reference set without importing scikit-learn or matminer (the regressor that learns with them is in
`sulfml.model.knn`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

KNN_FEATURES: tuple[str, ...] = (
    "knn_y_nearest", "knn_y_mean", "knn_y_weighted_mean", "knn_distance_nearest", "knn_distance_mean",
    "knn_y_std",
)
_EPS = 1e-3  # distance offset of the inverse-distance weights (an identical composition has distance 0)


def neighbour_features(ref_x: np.ndarray, ref_y: np.ndarray, query_x: np.ndarray, k: int) -> np.ndarray:
    """The `KNN_FEATURES` of each query row from its k nearest reference rows (Euclidean distance).

    Ties are broken by reference order (stable sort), so results are deterministic.

    Returns:
        An array of shape (len(query_x), 6).
    """
    ref_x, query_x, ref_y = np.asarray(ref_x, float), np.asarray(query_x, float), np.asarray(ref_y, float)
    if len(ref_y) == 0:
        raise ValueError("no reference rows")
    k = min(k, len(ref_y))
    d2 = (np.sum(query_x**2, 1)[:, None] + np.sum(ref_x**2, 1)[None, :] - 2.0 * query_x @ ref_x.T)
    dist = np.sqrt(np.maximum(d2, 0.0))
    # sort only the k nearest: a full sort per row dominates for large batches
    near = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < dist.shape[1] else np.argsort(dist, axis=1)
    near = np.sort(near, axis=1)  # reference order first, so the stable sort below breaks ties by it
    order = np.argsort(np.take_along_axis(dist, near, axis=1), axis=1, kind="stable")
    idx = np.take_along_axis(near, order, axis=1)
    d = np.take_along_axis(dist, idx, axis=1)
    yn = ref_y[idx]
    w = 1.0 / (d + _EPS)
    return np.column_stack([yn[:, 0], yn.mean(1), (yn * w).sum(1) / w.sum(1), d[:, 0], d.mean(1), yn.std(1)])


_DENSE: dict[int, tuple[dict, np.ndarray]] = {}


def _dense_reference(spec: dict[str, Any]) -> np.ndarray:
    # Built once per loaded card: streaming predictions call this for every chunk. The cache holds the
    # spec itself, so its id cannot be reused by another object while cached.
    hit = _DENSE.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    ref = np.zeros((len(spec["reference_x"]), len(spec["columns"])))
    for i, row in enumerate(spec["reference_x"]):
        for j, v in row:
            ref[i, j] = v
    _DENSE[id(spec)] = (spec, ref)
    return ref


def neighbour_frame(features: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """The `KNN_FEATURES` of a feature frame from a stored reference set (`KnnFeatureRegressor.to_dict`)."""
    cols = spec["columns"]
    ref = _dense_reference(spec)
    query = np.nan_to_num(features[cols].to_numpy(float))
    values = neighbour_features(ref, np.asarray(spec["reference_y"], float), query, int(spec["k"]))
    return pd.DataFrame(values, columns=spec["features"], index=features.index)
