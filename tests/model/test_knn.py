"""Nearest-neighbour target features and the regressor that uses them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from xgboost import XGBRegressor

from sulfml.model.estimator import make_regressor
from sulfml.model.knn import (
    KNN_FEATURES,
    KnnFeatureRegressor,
    _out_of_fold,
    neighbour_features,
)
from sulfml.model.knn_features import neighbour_array


def test_neighbour_features_on_a_known_case():
    ref = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    y = np.array([1.0, 2.0, 10.0])
    f = neighbour_features(ref, y, np.array([[0.1, 0.0]]), k=2)[0]
    assert f[0] == 1.0  # nearest is the first row
    assert f[1] == pytest.approx(1.5)
    w = np.array([1 / (0.1 + 1e-3), 1 / (0.9 + 1e-3)])
    assert f[2] == pytest.approx((w @ [1.0, 2.0]) / w.sum())
    assert f[3] == pytest.approx(0.1) and f[4] == pytest.approx(0.5) and f[5] == pytest.approx(0.5)
    # k larger than the reference set uses every row
    assert neighbour_features(ref, y, np.array([[0.0, 0.0]]), k=10)[0][1] == pytest.approx(13 / 3)


def test_out_of_fold_features_never_see_their_own_row():
    # every row is unique and far apart: if a row were its own neighbour, distance 0 would appear
    x = np.eye(20) * 5.0
    y = np.arange(20.0)
    oof = _out_of_fold(x, y, k=1, folds=5, seed=0)
    assert np.all(oof[:, 3] > 0)
    assert not np.any(oof[:, 0] == y)


def frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    frac = rng.dirichlet(np.ones(4), size=n)
    X = pd.DataFrame({"other": rng.normal(size=n), **{f"elem_frac_{e}": frac[:, i]
                                                       for i, e in enumerate(("Li", "P", "S", "Cl"))}})
    y = 10 * frac[:, 0] - 3 * frac[:, 3] + rng.normal(scale=0.1, size=n)
    return X, y


def test_make_regressor_switches_on_knn_k():
    assert isinstance(make_regressor({}, 1), XGBRegressor)
    assert isinstance(make_regressor({"knn": {"k": 0}}, 1), XGBRegressor)
    m = make_regressor({"knn": {"k": 3, "folds": 4}, "max_depth": 2}, 7, n_jobs=1)
    assert isinstance(m, KnnFeatureRegressor)
    assert (m.k, m.folds, m.seed) == (3, 4, 7)
    assert m.xgb_params["max_depth"] == 2 and "knn" not in m.xgb_params
    assert make_regressor({"knn": {"k": 3}}, 7).folds == 5
    with pytest.raises(ValueError, match="knn_k moved"):  # the old layout is refused, not passed to XGBoost
        make_regressor({"knn_k": 3}, 7)
    assert m.xgb_params["objective"] == "reg:squarederror"
    assert make_regressor({"objective": "reg:absoluteerror"}, 1).get_params()["objective"] == "reg:absoluteerror"


def test_fit_predict_clone_and_stored_reference_agree():
    X, y = frame()
    m = make_regressor({"knn": {"k": 3}, "n_estimators": 30}, 0, n_jobs=1)
    m.fit(X, y)
    pred = m.predict(X.iloc[:5])
    assert pred.shape == (5,)
    # the trees see the six neighbour columns after the preset's columns
    assert m.get_booster().feature_names == [*X.columns, *KNN_FEATURES]
    # a clone is unfitted, with the same parameters, and refits to the same model
    c = clone(m)
    assert not hasattr(c, "xgb_")
    np.testing.assert_allclose(c.fit(X, y).predict(X.iloc[:5]), pred, rtol=1e-6)
    # the JSON reference set gives the same neighbour columns as the fitted model
    spec = json.loads(json.dumps(m.to_dict()))
    np.testing.assert_allclose(neighbour_array(X.iloc[:5].to_numpy(), list(X.columns), spec),
                               m.neighbour_columns(X.iloc[:5])[list(KNN_FEATURES)].to_numpy())
    # numpy input at predict time works by position
    np.testing.assert_allclose(m.predict(X.iloc[:5].to_numpy()), pred, rtol=1e-6)


def test_fit_needs_element_fraction_columns():
    X, y = frame()
    m = KnnFeatureRegressor({"n_estimators": 5}, k=3)
    with pytest.raises(ValueError, match="elem_frac_"):
        m.fit(X[["other"]], y)
    with pytest.raises(TypeError):
        m.fit(X.to_numpy(), y)


def test_bundle_round_trip_uses_the_reference_set(tmp_path):
    import pandas as pd

    from sulfml.model.conformal import calibrate
    from sulfml.model.cv import grouped_folds
    from sulfml.model.domain import DomainModel
    from sulfml.tracking.bundle import LoadedModel, save_model

    X, y = frame()
    m = make_regressor({"knn": {"k": 3}, "n_estimators": 30}, 0, n_jobs=1).fit(X, y)
    folds = grouped_folds(np.arange(len(y)) % 10, 5, 0)
    mats = pd.DataFrame({"formula": [f"m{i}" for i in range(len(y))], "log10_sigma": y})
    domain, dist = DomainModel.fit(X, mats, {c: 1.0 for c in X.columns}, folds)
    interval = calibrate(m.predict(X), dist, y, np.ones(len(y), bool)).to_dict()
    card = {"target": "log10_sigma", "preset": "p", "feature_names": list(X.columns), "knn": m.to_dict(),
            "interval": interval}
    save_model(m, card, domain, tmp_path)
    loaded = LoadedModel.from_dir(tmp_path)
    np.testing.assert_allclose(loaded.predict(X.iloc[:7], "p"), m.predict(X.iloc[:7]), rtol=1e-5)


def _exact_nearest(query: np.ndarray, ref: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The rule `nearest` promises, by brute force: sort every reference by (distance, index)."""
    d = np.sqrt(((query[:, None, :] - ref[None]) ** 2).sum(-1))
    idx = np.array([np.lexsort((np.arange(len(ref)), row))[:k] for row in d])
    return idx, np.take_along_axis(d, idx, axis=1)


@pytest.mark.parametrize("k", [1, 5, 20])
def test_nearest_follows_distance_then_reference_order(k, monkeypatch):
    from sulfml.model import knn_features

    rng = np.random.default_rng(4)
    base = rng.random((200, 8)) * (rng.random((200, 8)) > 0.6)
    # copies of rows, as when several papers measured one composition: they must come in reference order
    ref = np.vstack([base, base[:30], base[5:15], base[5:15], base[5:15]])
    query = np.vstack([rng.random((1200, 8)) * (rng.random((1200, 8)) > 0.6), ref[:40], ref[230:240]])
    want_idx, want_d = _exact_nearest(query, ref, k)
    results = {}
    for method, tree_from in (("tree", 1), ("matrix", 10**9)):
        monkeypatch.setattr(knn_features, "_TREE_FROM", tree_from)
        results[method] = knn_features.nearest(query, ref, k)
        np.testing.assert_array_equal(results[method][0], want_idx, err_msg=method)
        np.testing.assert_allclose(results[method][1], want_d, atol=1e-7, err_msg=method)
    # not vacuous: queries equal to a copied row have tied neighbours
    assert (want_d[:, 0] == 0).sum() >= 50


def test_nearest_handles_fewer_references_than_k():
    from sulfml.model.knn_features import nearest

    ref = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0]])
    idx, d = nearest(np.array([[0.0, 1.0], [2.0, 0.1]]), ref, 5)
    assert idx.tolist() == [[0, 1, 2], [2, 0, 1]]
    assert d[0, 0] == 0.0 and d[0, 2] == pytest.approx(np.sqrt(5.0))


@pytest.mark.parametrize("tree_from", [1, 10**9], ids=["tree", "matrix"])
def test_nearest_ranks_equidistant_analogues_by_reference_order(tree_from, monkeypatch):
    # Li3MCl6 analogues: references that differ only in an element the query lacks are exactly as far from
    # it, more of them than the search returns; the k nearest must still be the first ones in reference order
    from sulfml.model import knn_features

    monkeypatch.setattr(knn_features, "_TREE_FROM", tree_from)
    calls = []
    every_tie = knn_features._every_tie
    monkeypatch.setattr(knn_features, "_every_tie", lambda *a: calls.append(len(a[0])) or every_tie(*a))
    rng = np.random.default_rng(11)
    n_el = 40
    ref = []
    for amount in (0.1, 0.15, 0.2):
        for m in range(4, n_el):  # Li, Cl and one of 36 metals: 36 equidistant analogues per amount
            row = np.zeros(n_el)
            row[0], row[1], row[m] = 0.3, 0.6 - amount, amount + 0.1
            ref.append(row)
    ref = np.array(ref)[rng.permutation(3 * (n_el - 4))]
    query = np.zeros((1100, n_el))
    query[:, 0] = rng.choice([0.3, 0.25], 1100)
    query[:, 1] = rng.choice([0.5, 0.45, 0.4], 1100)
    query[:, 2] = rng.choice([0.2, 0.1, 0.0], 1100)  # an element no reference has
    for k in (1, 5, 20):
        calls.clear()
        idx, d = knn_features.nearest(query, ref, k)
        want_idx, want_d = _exact_nearest(query, ref, k)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(d, want_d)
        assert sum(calls) >= 1000, "the rows were not ranked again over their ties"


@pytest.mark.parametrize("n", [0, 1, 1023, 2048, 2049, 5000, 100_001])
def test_query_blocks_cover_the_rows_in_order_in_blocks_of_about_one_size(n):
    from sulfml.model.knn_features import query_blocks

    blocks = query_blocks(n, 2048)
    assert [i for b in blocks for i in range(n)[b]] == list(range(n))
    sizes = [b.stop - b.start for b in blocks]
    assert all(0 < s <= 2048 for s in sizes)
    assert not sizes or max(sizes) - min(sizes) <= 1  # no short last block (it would search the slow way)
