"""The NumPy tree walk gives XGBoost's predictions bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from xgboost import XGBRegressor

from sulfml.model.trees import Forest


@pytest.mark.parametrize("objective", ["reg:squarederror", "reg:absoluteerror"])
def test_forest_equals_xgboost(tmp_path, objective):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 9))
    X[rng.random(X.shape) < 0.15] = np.nan  # missing values take the default branch
    y = np.nansum(X[:, :3], axis=1) + rng.normal(scale=0.1, size=300)
    model = XGBRegressor(n_estimators=40, max_depth=5, objective=objective, n_jobs=1).fit(X, y)
    path = tmp_path / "model.json"
    model.get_booster().save_model(path)
    forest = Forest.from_json(path)
    queries = np.vstack([X, rng.normal(size=(50, 9)), np.full((1, 9), np.nan)]).astype(np.float32)
    want = model.get_booster().inplace_predict(queries, missing=np.nan)
    np.testing.assert_array_equal(forest.predict(queries), want)
    np.testing.assert_array_equal(forest.predict(queries[:1]), want[:1])
    assert forest.predict(queries[:0]).shape == (0,)
    with pytest.raises(ValueError, match="expected 9 features"):
        forest.predict(queries[:, :5])
