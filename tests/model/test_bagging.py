"""A seed bag saved as one booster predicts the mean of its members, through every evaluator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sulfml.config import RunConfig
from sulfml.errors import ConfigError
from sulfml.model.bagging import BaggedRegressor, fit_bag, member_seeds, merge_boosters
from sulfml.model.estimator import make_regressor
from sulfml.model.knn import KnnFeatureRegressor
from sulfml.model.trees import Forest

xgb = pytest.importorskip("xgboost")


def _rows(n: int = 160, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frac = rng.dirichlet(np.ones(3), size=n)
    X = pd.DataFrame({"elem_frac_Li": frac[:, 0], "elem_frac_P": frac[:, 1], "elem_frac_S": frac[:, 2],
                      "noise": rng.normal(size=n)})
    X.loc[rng.random(n) < 0.1, "noise"] = np.nan
    y = -6 + 5 * frac[:, 0] - 2 * frac[:, 1] + rng.normal(scale=0.2, size=n)
    return X, y


PARAMS = {"n_estimators": 25, "max_depth": 3, "subsample": 0.7, "colsample_bytree": 0.8, "n_jobs": 1,
          "tree_method": "hist"}


@pytest.mark.parametrize("objective", ["reg:squarederror", "reg:absoluteerror"])
def test_merged_booster_predicts_the_members_mean(objective):
    X, y = _rows()
    members = [xgb.XGBRegressor(objective=objective, random_state=s, **PARAMS).fit(X, y) for s in (1, 2, 3)]
    merged = merge_boosters([m.get_booster() for m in members])
    mean = np.mean([m.predict(X) for m in members], axis=0)
    got = merged.inplace_predict(X.to_numpy(np.float32), missing=np.nan, validate_features=False)
    np.testing.assert_allclose(got, mean, atol=1e-5)
    assert merged.num_boosted_rounds() == 3 * PARAMS["n_estimators"]
    # contributions stay additive: they sum to the merged prediction
    contribs = merged.predict(xgb.DMatrix(X, missing=np.nan), pred_contribs=True)
    np.testing.assert_allclose(contribs.sum(axis=1), got, atol=1e-4)
    # the NumPy tree evaluator reads the merged JSON like any other
    forest = Forest.from_bytes(bytes(merged.save_raw("json")))
    np.testing.assert_allclose(forest.predict(X.to_numpy(float)), got, atol=1e-5)


def test_members_differ_by_seed_and_a_bag_of_one_is_the_plain_model():
    X, y = _rows()
    assert member_seeds(42, 3) == [42, 1042, 2042]
    plain = xgb.XGBRegressor(random_state=7, **PARAMS).fit(X, y).predict(X)
    one = fit_bag({"random_state": 7, **PARAMS}, [X], y).predict(X)
    np.testing.assert_array_equal(one, plain)
    three = fit_bag({"random_state": 7, **PARAMS}, [X] * 3, y).predict(X)
    assert not np.allclose(three, plain)  # subsampling with other seeds gives other trees


def test_merge_refuses_boosters_of_other_features():
    X, y = _rows()
    a = xgb.XGBRegressor(**PARAMS).fit(X, y).get_booster()
    b = xgb.XGBRegressor(**PARAMS).fit(X.rename(columns={"noise": "other"}), y).get_booster()
    with pytest.raises(ValueError, match="feature_names"):
        merge_boosters([a, b])
    with pytest.raises(ValueError, match="at least one"):
        merge_boosters([])


def test_make_regressor_builds_bags_from_the_config():
    X, y = _rows()
    knn = make_regressor({**PARAMS, "knn": {"k": 3, "folds": 3}, "bag": 2}, seed=5, n_jobs=1)
    assert isinstance(knn, KnnFeatureRegressor) and knn.bag == 2
    knn.fit(X, y)
    assert knn.get_booster().num_boosted_rounds() == 2 * PARAMS["n_estimators"]
    plain = make_regressor({**PARAMS, "bag": 3}, seed=5, n_jobs=1)
    assert isinstance(plain, BaggedRegressor)
    assert plain.fit(X, y).get_booster().num_boosted_rounds() == 3 * PARAMS["n_estimators"]
    assert np.isfinite(plain.predict(X)).all()


def test_config_takes_a_bag_size_and_refuses_a_bad_one(tmp_path):
    base = RunConfig.from_dict({"name": "x", "targets": {"log10_sigma": {"bag": 4}}})
    assert base.params["log10_sigma"]["bag"] == 4
    with pytest.raises(ConfigError, match="bag"):
        RunConfig.from_dict({"name": "x", "targets": {"log10_sigma": {"bag": 0}}})
