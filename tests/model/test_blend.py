"""The neural member: the blend rule, the weight chosen on out-of-fold predictions, and a target trained with it
(the network's fits replaced by a stand-in, so these run in a moment and without torch)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sulfml.config import RunConfig
from sulfml.errors import ConfigError
from sulfml.featurize.rules import STATE_LABELS
from sulfml.model import blend as blend_module
from sulfml.model.blend import BLEND_GRID, blend, check_neural_config, choose_weight, network_predict
from sulfml.model.conformal import calibrate
from sulfml.model.neural import NetworkFit, NetworkParams
from sulfml.model.neural_forward import predict
from sulfml.model.train import TrainingSet, fit_target, predict_with_halfwidth

floats = st.floats(-10, 10, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(data=st.lists(st.tuples(floats, floats, floats), min_size=1, max_size=30))
def test_the_chosen_weight_has_the_lowest_out_of_fold_mae_of_the_grid(data):
    y, trees, net = (np.array(c) for c in zip(*data, strict=True))
    w = choose_weight(y, trees, net)
    assert w in BLEND_GRID
    mae = {g: np.mean(np.abs(blend(trees, net, g) - y)) for g in BLEND_GRID}
    assert mae[w] == min(mae.values())
    assert all(mae[g] > mae[w] for g in BLEND_GRID if g < w)  # the smaller weight wins a tie


def test_the_weight_goes_to_the_member_that_is_right():
    y = np.linspace(-8, -2, 20)
    noise = np.random.default_rng(0).normal(0, 1, 20)
    assert choose_weight(y, y + noise, y) == 1.0
    assert choose_weight(y, y, y + noise) == 0.0
    assert np.array_equal(blend(y, y + noise, 0.0), y) and np.allclose(blend(y + noise, y, 1.0), y)


@pytest.fixture
def fake_fits(monkeypatch, random_network_weights):
    """`fit_network` replaced: each call records its training rows and returns a random network."""
    calls = []

    def fit_network(compositions, y, params=None, seed=0, context=None, context_names=()):
        assert isinstance(params, NetworkParams) and tuple(context_names) == STATE_LABELS
        assert context is not None and context.shape == (len(y), len(STATE_LABELS))
        calls.append({"compositions": [json.dumps(c, sort_keys=True) if isinstance(c, dict) else c
                                       for c in compositions], "params": params, "seed": seed})
        y = np.asarray(y)
        return NetworkFit(random_network_weights(len(calls), float(np.mean(y)), float(np.std(y))), np.zeros(len(y)),
                          0.5)

    monkeypatch.setattr("sulfml.model.neural.fit_network", fit_network)
    return calls


def training_set(n: int = 60) -> TrainingSet:
    """Made-up materials of a few Li-P-S(-Cl) compositions, ten papers, a censored row."""
    rng = np.random.default_rng(1)
    li, cl = rng.uniform(1, 7, n), rng.uniform(0, 2, n)
    comps = [json.dumps({"Li": round(a, 2), "P": 1.0, "S": 4.0, "Cl": round(b, 2)}) for a, b in zip(li, cl, strict=True)]
    states = np.array(["crystalline", "glass", None], dtype=object)[np.arange(n) % 3]
    materials = pd.DataFrame({"composition": comps, "state": states, "material_key": [f"m{i}" for i in range(n)],
                              "formula": comps, "log10_sigma": -6 + 0.5 * li - cl, "censored": np.arange(n) == 5,
                              "paper": [f"p{i % 10}" for i in range(n)], "ea_eV": np.nan})
    X = pd.DataFrame({"li": li, "cl": cl, "noise": rng.normal(size=n)})
    y = materials["log10_sigma"].to_numpy(float).copy()
    y[5] = -15.0
    return TrainingSet("log10_sigma", materials, X, y, materials["paper"].to_numpy(), materials["censored"].to_numpy())


CONFIG = {"name": "blend", "seed": 3, "cv": {"n_splits": 3, "interval_coverage": 0.8},
          "domain": {"k": 3, "n_features": 3},
          "targets": {"log10_sigma": {"n_estimators": 20, "max_depth": 2}}}


def test_a_target_with_the_network_blends_its_out_of_fold_predictions_and_calibrates_on_the_blend(fake_fits):
    ts = training_set()
    config = RunConfig.from_dict({**CONFIG, "targets": {"log10_sigma": {
        **CONFIG["targets"]["log10_sigma"], "neural": {"epochs": 2, "d_model": 8, "n_heads": 2}}}})
    tm = fit_target(ts, config)
    member, trees = tm.neural, tm.trees_cv
    assert member is not None and trees is not None
    # one fit per fold, each without its fold's rows, then one on every row; the config's parameters
    assert len(fake_fits) == config.cv.n_splits + 1
    assert all(f["params"] == NetworkParams(epochs=2, d_model=8, n_heads=2) and f["seed"] == 3 for f in fake_fits)
    assert len(fake_fits[-1]["compositions"]) == len(ts.y)
    assert sum(len(f["compositions"]) for f in fake_fits[:-1]) == (config.cv.n_splits - 1) * len(ts.y)
    # the trees' CV is the one without the network; the network's out-of-fold predictions come from the fold fits
    tree_only = fit_target(ts, RunConfig.from_dict(CONFIG))
    np.testing.assert_array_equal(trees.oof, tree_only.cv.oof)
    assert tree_only.neural is None and "neural" not in tree_only.card()
    assert np.isfinite(member.oof).all() and not np.allclose(member.oof, trees.oof)
    # the weight is chosen on those, and the CV metrics and the intervals are the blend's
    assert member.weight == choose_weight(ts.y, trees.oof, member.oof)
    blended = blend(trees.oof, member.oof, member.weight)
    np.testing.assert_array_equal(tm.cv.oof, blended)
    assert tm.cv.metrics["mae"] == pytest.approx(np.mean(np.abs(blended - ts.y)))
    assert member.oof_mae == pytest.approx({"trees": trees.metrics["mae"], "blend": tm.cv.metrics["mae"],
                                            "network": np.mean(np.abs(member.oof - ts.y))})
    again = calibrate(blended, _held_out(tm), ts.y, ~ts.censored,
                      config.cv.interval_coverage, config.seed, threshold=tm.domain.threshold)
    assert tm.calibration.to_dict() == again.to_dict()
    card = tm.card()
    assert card["metrics"]["cv_mae"] == tm.cv.metrics["mae"]
    assert card["neural"]["weight"] == member.weight and card["neural"]["oof_mae"] == member.oof_mae
    # the final network predicts as the NumPy forward does with the state one-hot
    comps = ts.materials["composition"].tolist()[:5]
    states = ts.materials["state"].tolist()[:5]
    from sulfml.featurize.descriptors import material_state

    np.testing.assert_allclose(network_predict(member.weights, comps, states),
                               predict(member.weights, comps, material_state(states)), rtol=0, atol=1e-12)


def _held_out(tm) -> np.ndarray:
    """Each training row's held-out domain distance, as `fit_target` measured it (the domain is the trees')."""
    from sulfml.model.cv import grouped_folds
    from sulfml.model.domain import DomainModel

    ts = tm.training
    folds = grouped_folds(ts.groups, tm.config.cv.n_splits, tm.config.seed)
    importance = tm.regressor.get_booster().get_score(importance_type="gain")
    _, held = DomainModel.fit(ts.X, ts.materials, importance, folds, k=tm.config.domain.k,
                              n_features=tm.config.domain.n_features, quantile=tm.config.domain.quantile)
    return held


def test_a_fixed_weight_is_kept(fake_fits):
    ts = training_set()
    config = RunConfig.from_dict({**CONFIG, "targets": {"log10_sigma": {
        **CONFIG["targets"]["log10_sigma"], "neural": {"blend": 0.3}}}})
    tm = fit_target(ts, config)
    assert tm.neural is not None and tm.neural.weight == 0.3 and tm.neural.blend == 0.3
    assert tm.trees_cv is not None
    np.testing.assert_allclose(tm.cv.oof, 0.7 * tm.trees_cv.oof + 0.3 * tm.neural.oof, rtol=0, atol=1e-12)
    # new rows (the benchmarks' intervals) are predicted as the blend, the interval around it
    rows, X = ts.materials.iloc[:7], ts.X.iloc[:7]
    distance = tm.domain.distance(X)[0]
    pred, hw = predict_with_halfwidth(tm.regressor, tm.calibration, X, distance, tm.neural, rows)
    net = network_predict(tm.neural.weights, rows["composition"].tolist(), rows["state"].tolist())
    np.testing.assert_allclose(pred, 0.7 * tm.regressor.predict(X) + 0.3 * net, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(hw, tm.calibration.halfwidth(pred, distance))
    with pytest.raises(ValueError, match="neural member"):
        predict_with_halfwidth(tm.regressor, tm.calibration, X, distance, tm.neural)


def test_a_network_without_torch_is_a_user_error_naming_the_extra(monkeypatch):
    config = RunConfig.from_dict({"targets": {"log10_sigma": {"neural": {}}}})
    monkeypatch.setattr(blend_module, "torch_available", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'sulfml\[neural\]'") as info:
        check_neural_config(config, "mine.toml")
    assert "mine.toml" in str(info.value) and "log10_sigma" in str(info.value)
    check_neural_config(RunConfig.from_dict({}), "mine.toml")  # no network asked for: nothing to check
    off = RunConfig.from_dict({"targets": {"log10_sigma": {"neural": {"enabled": False}}}})
    check_neural_config(off, "mine.toml")


def test_parameters_that_do_not_fit_together_are_refused_before_training():
    config = RunConfig.from_dict({"targets": {"ea_eV": {"neural": {"d_model": 30, "n_heads": 4}}}})
    with pytest.raises(ConfigError, match=r"mine.toml: \[targets.ea_eV.neural\]: d_model \(30\)"):
        check_neural_config(config, "mine.toml")


def test_training_without_torch_stops_with_one_line_before_reading_data(small_config, tmp_path, monkeypatch, capsys):
    from sulfml.cli import main

    small_config.write_text(small_config.read_text() + "\n[targets.log10_sigma.neural]\nepochs = 2\n")
    monkeypatch.setattr(blend_module, "torch_available", lambda: False)
    # no data directory at all: the check comes before any data is read
    code = main(["train", "--config", str(small_config), "--data-dir", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "small.toml" in err and "pip install 'sulfml[neural]'" in err
