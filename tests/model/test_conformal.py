"""Conformal intervals: coverage on new draws, width that adapts to distance (also beyond the data), exact JSON,
cards from before."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sulfml.model.conformal import Calibration, calibrate, conformal_quantile, coverage_and_width


def _draw(rng, n):
    pred = rng.uniform(-8, -2, n)
    dist = rng.uniform(0, 1, n)
    # errors grow for poor conductors and far from the data, as in the real residuals
    noise_sd = 0.2 + 0.25 * (-2 - pred) + 1.0 * dist
    return pred, dist, pred + rng.normal(0, 1, n) * noise_sd


def test_json_round_trip_is_exact():
    rng = np.random.default_rng(1)
    pred, dist, y = _draw(rng, 600)
    knn = dist / 10 + rng.uniform(0, 0.01, 600)
    cal = calibrate(pred, dist, y, np.ones(len(y), bool), confidence=0.8, seed=3, knn_distance_mean=knn,
                    threshold=0.8)
    assert cal.inputs == ("knn_distance_mean", "prediction") and cal.max_width is not None
    again = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    new_pred, new_dist, _ = _draw(np.random.default_rng(2), 50)
    new_knn = new_dist / 10
    new_knn[:3] = [0.5, 1.0, -0.1]  # beyond the knots on both sides
    assert np.array_equal(again.halfwidth(new_pred, new_dist, new_knn), cal.halfwidth(new_pred, new_dist, new_knn))
    assert again.to_dict() == cal.to_dict() and again.max_width == cal.max_width
    with pytest.raises(ValueError, match="knn_distance_mean"):
        cal.halfwidth(new_pred, new_dist)


def test_coverage_holds_on_new_draws_and_width_adapts():
    rng = np.random.default_rng(5)
    pred, dist, y = _draw(rng, 2000)
    cal = calibrate(pred, dist, y, np.ones(len(y), bool), confidence=0.9, seed=0)
    assert cal.inputs == ("knn_distance", "prediction")
    p2, d2, y2 = _draw(rng, 4000)
    hw = cal.halfwidth(p2, d2)
    cw = coverage_and_width(y2, p2 - hw, p2 + hw)
    assert abs(cw["coverage"] - 0.9) < 0.03
    # wider for poor conductors and far from the data, narrower for good conductors near it
    assert cal.halfwidth(np.array([-7.5]), np.array([0.9]))[0] > 2 * cal.halfwidth(np.array([-2.5]), np.array([0.1]))[0]
    const = np.quantile(np.abs(y - pred), 0.9)
    assert cw["median_width"] < 2 * const


def test_far_queries_get_wider_intervals_beyond_the_calibration_data():
    rng = np.random.default_rng(3)
    pred, dist, y = _draw(rng, 1500)
    use = np.ones(len(y), bool)
    grows = calibrate(pred, dist, y, use, seed=0, extend=True)
    holds = calibrate(pred, dist, y, use, seed=0, extend=False)
    d = np.array([0.5, 1.0, 2.0, 4.0])
    p = np.full(4, -4.0)
    hw = grows.halfwidth(p, d)
    assert np.all(np.diff(hw) > 0) and hw[3] > 1.5 * hw[1]
    # held end values (the old rule) give the same interval at 2 and at 4 as at the last knot
    flat = holds.halfwidth(p, d)
    assert flat[2] == pytest.approx(flat[3])
    # within the calibration data's distances the two differ only by their quantiles (the farthest calibration
    # rows, beyond the last knot, have other scales)
    assert grows.halfwidth(p[:1], d[:1])[0] == pytest.approx(holds.halfwidth(p[:1], d[:1])[0], rel=0.05)


def test_distance_first_keeps_far_good_conductors_wide():
    # Near the data good conductors have small errors; far from it (a new family) they do not. Fitted prediction
    # first, the scale credits "good conductor" with the small errors and is narrow for a far good conductor.
    rng = np.random.default_rng(11)
    n = 3000
    dist = rng.exponential(0.1, n)
    pred = np.where(dist < 0.1, rng.uniform(-4, -2, n), rng.uniform(-9, -2, n))  # good conductors are well studied
    y = pred + rng.normal(0, 1, n) * (0.2 + 4 * dist)
    use = np.ones(n, bool)
    first = calibrate(pred, dist, y, use, seed=0)
    assert first.inputs == ("knn_distance", "prediction")
    legacy = calibrate(pred, dist, y, use, seed=0, inputs=("prediction", "knn_distance"), extend=False)
    far_good = (np.array([-2.5]), np.array([0.4]))
    truth = 1.645 * (0.2 + 4 * 0.4)   # the 90 % half-width of that query's own errors
    assert first.halfwidth(*far_good)[0] > legacy.halfwidth(*far_good)[0]
    assert abs(first.halfwidth(*far_good)[0] - truth) < abs(legacy.halfwidth(*far_good)[0] - truth)


def test_width_rule_is_a_quantile_of_calibration_widths_in_the_domain():
    rng = np.random.default_rng(4)
    pred, dist, y = _draw(rng, 1000)
    cal = calibrate(pred, dist, y, np.ones(len(y), bool), seed=0, threshold=0.5, width_quantile=0.95)
    assert cal.max_width is not None and cal.width_quantile == 0.95
    near = 2 * cal.halfwidth(pred[dist <= 0.5], dist[dist <= 0.5])
    # about 5 % of the in-domain widths (of calibration rows; these rows include the scale's) exceed it
    assert 0.01 < np.mean(cal.too_wide(near)) < 0.10
    # taken within the domain only: far rows' widths do not raise it
    everywhere = calibrate(pred, dist, y, np.ones(len(y), bool), seed=0, width_quantile=0.95)
    assert everywhere.max_width is not None and everywhere.max_width > cal.max_width
    assert cal.too_wide(np.array([cal.max_width + 0.01]))[0] and not cal.too_wide(np.array([cal.max_width]))[0]


def test_cards_from_before_the_bins_and_the_width_rule_still_load():
    old = {"method": "MAPIE ...", "coverage": 0.9, "quantile": 1.7, "n_calibration": 70, "n_difficulty": 30,
           "difficulty": {"intercept": -0.5, "inputs": ["prediction", "knn_distance"],
                          "curves": [{"x": [-8.0, -2.0], "y": [0.4, -0.4]}, {"x": [0.0, 1.0], "y": [-0.3, 0.3]}]}}
    cal = Calibration.from_dict(old)
    hw = cal.halfwidth(np.array([-8.0, -2.0, -2.0]), np.array([0.0, 1.0, 5.0]))
    assert hw == pytest.approx(1.7 * np.exp(np.array([-0.5 + 0.4 - 0.3, -0.5 - 0.4 + 0.3, -0.5 - 0.4 + 0.3])))
    assert cal.max_width is None and not cal.too_wide(np.array([1e9]))[0]
    assert Calibration.from_dict(cal.to_dict()).halfwidth(np.array([-3.0]), np.array([0.5])) == \
        pytest.approx(cal.halfwidth(np.array([-3.0]), np.array([0.5])))


def test_conformal_quantile_is_the_finite_sample_rank():
    scores = np.arange(1, 20, dtype=float)  # 19 scores: rank ceil(20 * 0.9) = 18
    assert conformal_quantile(scores, 0.9) == 18.0
    assert conformal_quantile(scores[:5], 0.9) == float("inf")


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


def test_a_calibration_says_whether_it_reads_the_domain_distance():
    # the predict path leaves the domain distance uncomputed for a model whose interval does not read it
    rng = np.random.default_rng(6)
    pred, dist, y = _draw(rng, 400)
    with_knn = calibrate(pred, dist, y, np.ones(len(y), bool), seed=0, knn_distance_mean=dist / 10)
    without = calibrate(pred, dist, y, np.ones(len(y), bool), seed=0)
    assert not with_knn.uses_domain_distance
    assert np.array_equal(with_knn.halfwidth(pred, np.full(len(pred), np.nan), dist / 10),
                          with_knn.halfwidth(pred, dist, dist / 10))
    assert without.uses_domain_distance
    assert not np.array_equal(without.halfwidth(pred, dist * 3), without.halfwidth(pred, dist))
