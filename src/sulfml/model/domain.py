"""The applicability domain: how far a query is from the training materials in the model's own feature space,
and which known materials are nearest.

Distances use the model's most important features (by XGBoost gain), robustly standardised and weighted by
their gain share. The threshold is a quantile of the distances that held-out training materials (other folds,
so other papers) show to the rest, so 'outside' means 'farther than new papers usually are'.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from sulfml.featurize.rules import ELEMENT_FRACTION_PREFIX, FLAG_LABELS, STATE_DERIVED_LABELS, STATE_LABELS

IDENTITY_LABELS = frozenset((*STATE_LABELS, *FLAG_LABELS))

LABEL_COLUMNS = ("formula", "state", "space_group", "log10_sigma", "censored", "ea_eV", "sources", "evidence",
                 "material_key", "ea_evidence", "polymorphs")
# not shown as they are
_INTERNAL_LABELS = frozenset(("evidence", "material_key", "ea_evidence", "polymorphs"))
_Z_CLIP = 10.0  # one extreme feature must not dominate every distance
# Weight of what makes a material itself (its element fractions, state and synthesis flags) in the distance,
# beside the important features (whose weights add up to 1): never zero, so that two different materials
# never sit at distance 0 (Li2PS3 and Li7P3S11 glasses can share every important feature).
COMPOSITION_WEIGHT = 0.1
# Weight of the state (and the glass flags it sets): a tie-breaker only, so that the same composition in
# another state comes right after the material itself (a plain Li10GeP2S12, state unknown, is next to the
# crystalline one the data hold), and before a different composition.
STATE_WEIGHT = 1e-10  # sqrt: 1e-5 per column, far below any composition difference, far above rounding
_DECIMALS = 7  # of the stored coordinates: a material's own row stays far closer than any other composition


@dataclass(frozen=True)
class DomainModel:
    """Reference materials in a weighted, standardised feature space, with a distance threshold.

    Attributes:
        features: names of the features the distance uses (a subset of the model's).
        center, scale, weights: per-feature standardisation and gain weights.
        matrix: the standardised training materials (rows) in those features.
        labels: per training material: formula, state, measured log10 σ (and whether censored), Ea, sources,
            the evidence (the [paper, log10 σ] measurements its value is the median of), its material key
            (`sulfml.chem.composition.material_key`), its Ea evidence ([paper, Ea] pairs), its space group
            when every measurement names the same one, and its polymorphs (JSON, per space group the same
            aggregation: `sulfml.data.table.aggregate_materials`).
        k: neighbours averaged into the distance.
        threshold: the `quantile` of held-out materials' distances; farther is outside the domain.
        quantile: the quantile that set the threshold.
    """

    features: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    matrix: np.ndarray
    labels: dict[str, list]
    k: int
    threshold: float
    quantile: float

    @classmethod
    def fit(cls, X: pd.DataFrame, materials: pd.DataFrame, importance: Mapping[str, float],
            folds: Iterable[tuple[np.ndarray, np.ndarray]], k: int = 5, n_features: int = 32,
            quantile: float = 0.95) -> tuple[DomainModel, np.ndarray]:
        """Build the domain of a training set.

        Args:
            X: training features (rows aligned with `materials`).
            materials: the training materials (formula, log10_sigma, censored, ea_eV, sources, paper).
            importance: feature -> gain of the fitted model; the top `n_features` are used.
            folds: the grouped CV folds; held-out distances are measured fold by fold.
            k: neighbours averaged.
            n_features: how many of the most important features span the space.
            quantile: threshold quantile of the held-out distances.

        Returns:
            (the domain, each training row's held-out kNN distance).
        """
        ranked = sorted(((g, f) for f, g in importance.items()
                         if f in X.columns and g > 0 and f not in STATE_DERIVED_LABELS), reverse=True)
        top = tuple(f for _, f in ranked[:n_features]) or tuple(X.columns[:n_features])
        gains = np.array([importance.get(f, 1.0) for f in top], float)
        raw = X.loc[:, list(top)].to_numpy(float)
        center = np.nan_to_num(np.nanmedian(raw, axis=0)) if len(raw) else np.zeros(len(top))
        q75, q25 = (np.nan_to_num(np.nanpercentile(raw, p, axis=0)) for p in (75, 25))
        scale = (q75 - q25) / 1.349
        std = np.nan_to_num(np.nanstd(raw, axis=0))
        scale = np.where(scale > 1e-12, scale, np.where(std > 1e-12, std, 1.0))
        weights = gains / gains.sum()
        # The element fractions, flags and state the training materials have, as they are (centre 0, scale 1).
        identity = [c for c in X.columns if (str(c).startswith(ELEMENT_FRACTION_PREFIX) or c in IDENTITY_LABELS)
                    and c not in top and bool((X[c].to_numpy(float) != 0).any())]
        features = top + tuple(identity)
        center = np.concatenate([center, np.zeros(len(identity))])
        scale = np.concatenate([scale, np.ones(len(identity))])
        weights = np.concatenate([weights, [STATE_WEIGHT if c in STATE_DERIVED_LABELS else COMPOSITION_WEIGHT
                                            for c in identity]])
        labels = {c: _json_list(materials[c]) if c in materials else [None] * len(materials)
                  for c in LABEL_COLUMNS}
        if "additive" in materials:  # Li3PS4 with 10 wt% SiO2 is not Li3PS4
            labels["formula"] = [f"{f} + {a}" if isinstance(a, str) and a else f
                                 for f, a in zip(labels["formula"], materials["additive"], strict=True)]
        partial = cls(features, center, scale, weights, np.zeros((0, len(features)), np.float32), labels, k,
                      float("inf"), quantile)
        Z = partial.transform(X)
        held_out = np.full(len(X), np.nan)
        for train_idx, test_idx in folds:
            held_out[test_idx] = _knn(Z[test_idx], Z[train_idx], k)[0]
        threshold = float(np.nanquantile(held_out, quantile))
        return cls(features, center, scale, weights, Z, labels, k, threshold, quantile), held_out

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Standardised, weighted coordinates of feature rows (unknown values sit at the centre)."""
        return self._coordinates(X.loc[:, list(self.features)].to_numpy(float))

    def _coordinates(self, raw: np.ndarray) -> np.ndarray:
        z = raw - self.center
        z /= self.scale
        if not np.isfinite(z).all():
            np.nan_to_num(z, copy=False)
        np.clip(z, -_Z_CLIP, _Z_CLIP, out=z)
        z *= np.sqrt(self.weights)
        return z

    def distance(self, X: pd.DataFrame, n_neighbors: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean distance to the k nearest training materials, and the nearest `n_neighbors` of them.

        Returns:
            (mean kNN distance per row, neighbour indices (rows × n_neighbors), their distances).
        """
        return _knn(self.transform(X), self._matrix64, self.k, n_neighbors)

    def distance_array(self, X: np.ndarray, columns: Sequence[str], n_neighbors: int = 3
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`distance` of a feature matrix whose columns are named by `columns`."""
        position = {c: j for j, c in enumerate(columns)}
        raw = np.asarray(X, float)[:, [position[f] for f in self.features]]
        return _knn(self._coordinates(raw), self._matrix64, self.k, n_neighbors)

    def distance_to(self, X: np.ndarray, columns: Sequence[str], materials: np.ndarray) -> np.ndarray:
        """The distance of each feature row (columns named by `columns`) to one training material each."""
        position = {c: j for j, c in enumerate(columns)}
        raw = np.asarray(X, float)[:, [position[f] for f in self.features]]
        diff = self._coordinates(raw) - self._matrix64[np.asarray(materials, int)]
        return np.sqrt(np.square(diff).sum(axis=1))

    @cached_property
    def _matrix64(self) -> np.ndarray:
        # One float64 copy per model, so the nearest-neighbour search can cache its tree on it.
        return self.matrix.astype(float)

    def neighbors(self, idx: Sequence[Sequence[int]] | np.ndarray,
                  dist: Sequence[Sequence[float]] | np.ndarray) -> list[list[dict]]:
        """The labelled nearest materials of each query row, nearest first (`material`, with `distance`)."""
        materials: dict[int, dict] = {}  # a material near many rows is described once (its lists are shared)

        def material(j: int) -> dict:
            if j not in materials:
                materials[j] = self.material(j)
            return materials[j]

        return [[{**material(int(j)), "distance": round(float(d), 6)} for j, d in zip(row_idx, row_d, strict=True)]
                for row_idx, row_d in zip(idx, dist, strict=True)]

    def material(self, j: int) -> dict:
        """Training material `j` as a neighbour: formula, state, space group (None: not known), measured log10 σ (`censored`: an upper bound),
        Ea, sources, every paper (DOI or review reference) behind the value, and the measurements themselves:
        `log10_sigma` is the median of `measurements` (the training data's aggregation)."""
        out = {c: self.labels[c][j] for c in LABEL_COLUMNS if c not in _INTERNAL_LABELS}
        if out["space_group"] is not None:  # stored as a JSON number
            out["space_group"] = int(out["space_group"])
        evidence = self.labels["evidence"][j]
        measured = json.loads(evidence) if isinstance(evidence, str) and evidence else []
        out["papers"] = list(dict.fromkeys(p for p, _ in measured if p))
        out["n_papers"] = len(out["papers"])
        out["measurements"] = [{"paper": p, "log10_sigma": v} for p, v in measured]
        polymorphs = self.labels["polymorphs"][j]
        if isinstance(polymorphs, str) and polymorphs:
            # each space group's own median, when the data name more than one (or some rows name none)
            listed = [{"space_group": p["space_group"], "log10_sigma": p["log10_sigma"], "censored": p["censored"],
                       "n_papers": p["n_papers"]} for p in json.loads(polymorphs)]
            if len(listed) > 1:
                out["polymorphs"] = listed
        return out

    def to_dict(self) -> dict:
        """JSON form (the bundle's `domain.json`)."""
        return {"features": list(self.features), "center": self.center.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist(), "matrix": np.round(self.matrix.astype(float), _DECIMALS).tolist(),
                "labels": self.labels, "k": self.k, "threshold": self.threshold, "quantile": self.quantile}

    @classmethod
    def from_dict(cls, d: dict) -> DomainModel:
        """Rebuild from `to_dict` output."""
        n = len(d["features"])
        matrix = np.asarray(d["matrix"], float).reshape(-1, n)
        rows = len(matrix)
        # bundles from before the state and the evidence were labels have neither
        labels = {c: list(d["labels"].get(c) or [None] * rows) for c in LABEL_COLUMNS}
        return cls(tuple(d["features"]), np.asarray(d["center"], float), np.asarray(d["scale"], float),
                   np.asarray(d["weights"], float), matrix, labels,
                   int(d["k"]), float(d["threshold"]), float(d["quantile"]))


def _json_list(series: pd.Series) -> list:
    out = []
    for v in series.tolist():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not np.isfinite(v):
            v = None
        out.append(v)
    return out


def _knn(queries: np.ndarray, refs: np.ndarray, k: int, n_neighbors: int = 0,
         chunk: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean distance to the k nearest refs (and the n_neighbors nearest), in chunks of queries."""
    from sulfml.model.knn_features import nearest, query_blocks

    n = len(queries)
    nn = min(n_neighbors, len(refs))
    mean = np.full(n, np.nan)
    idx = np.zeros((n, nn), int)
    dist = np.zeros((n, nn))
    if not len(refs) or not n:
        return mean, idx, dist
    # In float64: a near-duplicate's small distance is a difference of large squares, which float32 would
    # round differently for each batch size (BLAS picks its kernel by shape).
    queries, refs = np.asarray(queries, float), np.asarray(refs, float)
    for block in query_blocks(n, chunk):
        near, nd = nearest(queries[block], refs, max(k, nn))
        mean[block] = nd[:, :k].mean(axis=1)
        if nn:
            idx[block] = near[:, :nn]
            dist[block] = nd[:, :nn]
    return mean, idx, dist
