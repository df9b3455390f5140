"""Conformal intervals: MAPIE's calibration served exactly, coverage on new draws, width that adapts."""

from __future__ import annotations

import numpy as np
import pytest

from sulfml.model.conformal import Calibration, PredictionColumn, calibrate, coverage_and_width


def _draw(rng, n):
    pred = rng.uniform(-8, -2, n)
    dist = rng.uniform(0, 1, n)
    # errors grow for poor conductors and far from the data, as in the real residuals
    noise_sd = 0.2 + 0.25 * (-2 - pred) + 1.0 * dist
    return pred, dist, pred + rng.normal(0, 1, n) * noise_sd


def test_served_interval_is_mapies_interval():
    from mapie.conformity_scores import ResidualNormalisedScore
    from mapie.regression import SplitConformalRegressor

    from sulfml.model.conformal import Difficulty

    rng = np.random.default_rng(1)
    pred, dist, y = _draw(rng, 600)
    use = np.ones(len(y), bool)
    cal = calibrate(pred, dist, y, use, confidence=0.8, seed=3)
    Z = np.column_stack([pred, dist])
    score = ResidualNormalisedScore(residual_estimator=Difficulty(), split_size=0.3, random_state=3)
    mapie = SplitConformalRegressor(estimator=PredictionColumn().fit(Z), confidence_level=0.8,
                                    conformity_score=score, prefit=True).conformalize(Z, y)
    new_pred, new_dist, _ = _draw(np.random.default_rng(2), 50)
    point, bounds = mapie.predict_interval(np.column_stack([new_pred, new_dist]))
    hw = cal.halfwidth(new_pred, new_dist)
    assert np.allclose(point - hw, bounds[:, 0, 0]) and np.allclose(point + hw, bounds[:, 1, 0])
    again = Calibration.from_dict(cal.to_dict())
    assert np.array_equal(again.halfwidth(new_pred, new_dist), hw)


def test_coverage_holds_on_new_draws_and_width_adapts():
    rng = np.random.default_rng(5)
    pred, dist, y = _draw(rng, 2000)
    cal = calibrate(pred, dist, y, np.ones(len(y), bool), confidence=0.9, seed=0)
    p2, d2, y2 = _draw(rng, 4000)
    hw = cal.halfwidth(p2, d2)
    cw = coverage_and_width(y2, p2 - hw, p2 + hw)
    assert abs(cw["coverage"] - 0.9) < 0.03
    # wider for poor conductors and far from the data, narrower for good conductors near it
    assert cal.halfwidth(np.array([-7.5]), np.array([0.9]))[0] > 2 * cal.halfwidth(np.array([-2.5]), np.array([0.1]))[0]
    const = np.quantile(np.abs(y - pred), 0.9)
    assert cw["median_width"] < 2 * const


def test_rows_left_out_of_calibration_do_not_count():
    rng = np.random.default_rng(7)
    pred, dist, y = _draw(rng, 500)
    y_bad = y.copy()
    y_bad[:100] = -15.0   # like censored substitutes: huge "errors" that are not errors
    use = np.arange(500) >= 100
    a = calibrate(pred, dist, y_bad, use, seed=0)
    b = calibrate(pred[100:], dist[100:], y[100:], np.ones(400, bool), seed=0)
    assert a.quantile == pytest.approx(b.quantile) and a.n_calibration == b.n_calibration == 280


def test_too_few_rows_is_a_clear_error():
    with pytest.raises(ValueError, match="too few"):
        calibrate(np.zeros(5), np.zeros(5), np.ones(5), np.ones(5, bool))
