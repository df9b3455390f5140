"""The applicability domain: distances in the model's weighted feature space, threshold, neighbours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sulfml.model.cv import grouped_folds
from sulfml.model.domain import DomainModel


@pytest.fixture
def space():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 4)), columns=["a", "b", "noise", "unused"])
    X.loc[5, "b"] = np.nan
    mats = pd.DataFrame({"formula": [f"Li{i}S" for i in range(120)], "log10_sigma": rng.uniform(-8, -2, 120),
                         "censored": False, "ea_eV": np.nan, "sources": "obelix", "paper": "p"})
    groups = np.repeat(np.arange(24), 5)
    folds = grouped_folds(groups, 4, seed=1)
    return X, mats, folds


def test_threshold_neighbours_and_round_trip(space):
    X, mats, folds = space
    dom, held = DomainModel.fit(X, mats, {"a": 5.0, "b": 3.0, "noise": 1.0}, folds, k=3, n_features=2)
    assert dom.features == ("a", "b")                 # the two most important features only
    assert np.isfinite(held).all() and dom.threshold == pytest.approx(np.quantile(held, 0.95))
    query = X.iloc[[7]].copy()
    far = query.copy()
    far["a"] = 50.0
    d, idx, nd = dom.distance(pd.concat([query, far]), n_neighbors=2)
    assert idx[0, 0] == 7 and nd[0, 0] == pytest.approx(0.0, abs=1e-5)
    assert d[0] < dom.threshold < d[1]
    assert nd[1, 0] <= nd[1, 1]
    nb = dom.neighbors(idx, nd)
    assert nb[0][0]["formula"] == "Li7S" and nb[0][0]["log10_sigma"] == pytest.approx(mats.loc[7, "log10_sigma"])
    # changing a feature the domain ignores does not move the distance
    moved = query.assign(unused=99.0)
    assert dom.distance(moved)[0][0] == pytest.approx(d[0])
    again = DomainModel.from_dict(dom.to_dict())
    assert np.allclose(again.distance(query)[0], d[0], atol=1e-4) and again.threshold == dom.threshold


def test_importance_weights_distances(space):
    X, mats, folds = space
    heavy_a, _ = DomainModel.fit(X, mats, {"a": 100.0, "b": 1.0}, folds, n_features=2)
    heavy_b, _ = DomainModel.fit(X, mats, {"a": 1.0, "b": 100.0}, folds, n_features=2)
    shifted = X.iloc[[0]].assign(a=X["a"].iloc[0] + 3.0)
    assert heavy_a.distance(shifted)[0][0] > heavy_b.distance(shifted)[0][0]
