"""Every benchmark scores what the config trains: with the neural member on, each fold's answer is the blend of
its trees and its network, at a weight chosen on that fold's training rows (the network a stand-in)."""

from __future__ import annotations

import numpy as np
import pytest

from sulfml.config import RunConfig
from sulfml.data.table import build_table
from sulfml.workflows.benchmarks import BENCHMARKS, BenchmarkData, run_benchmark
from sulfml.workflows.benchmarks.suites import LOFO_FAMILIES

# every benchmark fitted through the blend path, fold by fold: the slow lane's (tests/model/test_blend.py keeps the
# blend's rule in the fast lane)
pytestmark = pytest.mark.slow


@pytest.fixture
def bench_data(mini_data_dir, small_config) -> BenchmarkData:
    return BenchmarkData(table=build_table(mini_data_dir), config=RunConfig.from_toml(small_config))


def _by_fold(key: str, column: str = "fold"):
    return lambda p, w: [w[key][int(f)] for f in p[column]]


# per benchmark: its prediction columns, and how each row's weight is found (its fold's)
ANSWERS = {
    "obelix": {"y_pred": lambda p, w: [w["log10_sigma"][0]] * len(p)},
    "review": {"y_pred": lambda p, w: [w["log10_sigma"][0]] * len(p),
               "ea_pred": lambda p, w: [w["ea_eV"][0]] * len(p)},
    "ea": {"y_pred": _by_fold("ea_eV")},
    "sulfides": {"y_pred": _by_fold("log10_sigma")},
    "family": {"y_pred": lambda p, w: [w["log10_sigma_lofo"][LOFO_FAMILIES.index(f)] for f in p["family"]]},
    "intervals": {},  # scored through the calibrated model: its answer is the blend around which the interval is
}


@pytest.mark.parametrize("name", list(ANSWERS))
def test_a_benchmark_with_the_network_scores_the_blend_at_weights_chosen_on_its_training_rows(
        name, bench_data, stand_in_network, with_network, check_blended_run):
    trees = BENCHMARKS[name](bench_data)
    assert not stand_in_network.members  # the trees alone fit no network
    blended = BENCHMARKS[name](BenchmarkData(bench_data.table, with_network(bench_data.config)))
    check_blended_run(trees, blended, stand_in_network, ANSWERS[name])
    if name != "obelix":  # its one fit gives the stand-in no share on the mini data: see the next test
        assert any(w > 0 for w in stand_in_network.weights())
    if name == "intervals":  # a weight per outer fold and target, and per held-out family
        w = blended.metrics["blend_weights"]
        assert len(w["log10_sigma"]) == len(w["ea_eV"]) == bench_data.config.cv.n_splits
        assert len(w["log10_sigma_family"]) == len(blended.metrics["sigma_family_by_family"])
    if name == "family":  # the grouped-CV comparison is blended too
        assert len(blended.metrics["blend_weights"]["log10_sigma_grouped_cv"]) == bench_data.config.cv.n_splits
        assert not np.array_equal(blended.predictions["y_pred_grouped_cv"], trees.predictions["y_pred_grouped_cv"])


def test_a_fixed_weight_is_the_blend_of_every_fit(bench_data, stand_in_network, with_network, check_blended_run):
    trees = BENCHMARKS["obelix"](bench_data)
    blended = BENCHMARKS["obelix"](BenchmarkData(bench_data.table, with_network(bench_data.config, 0.4)))
    assert blended.metrics["blend_weights"] == {"log10_sigma": [0.4]} and not stand_in_network.chooser
    check_blended_run(trees, blended, stand_in_network, ANSWERS["obelix"])
    assert blended.metrics["mae"] != trees.metrics["mae"]


def test_temperature_predicts_through_the_blended_bundle(bench_data, stand_in_network, with_network):
    trees = BENCHMARKS["temperature"](bench_data)
    blended = BENCHMARKS["temperature"](BenchmarkData(bench_data.table, with_network(bench_data.config)))
    w = blended.metrics["blend_weights"]
    assert sorted(w["log10_sigma"] + w["ea_eV"]) == sorted(stand_in_network.weights())
    assert len(w["log10_sigma"]) == len(set(blended.predictions["fold"])) == len(w["ea_eV"])
    assert not np.allclose(blended.predictions["y_pred"], trees.predictions["y_pred"])


def test_the_weights_are_written_per_seed(bench_data, stand_in_network, with_network, tmp_path):
    import json

    data = BenchmarkData(bench_data.table, with_network(bench_data.config))
    run_benchmark("sulfides", data, tmp_path / "out", log=lambda s: None, seeds=[7, 8])
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    per_seed = [metrics["per_seed"][s]["blend_weights"]["log10_sigma"] for s in ("7", "8")]
    assert [len(w) for w in per_seed] == [5, 5] and sorted(per_seed[0] + per_seed[1]) == sorted(
        stand_in_network.weights())


def test_a_network_that_cannot_be_trained_stops_the_benchmark_before_any_fit(bench_data, monkeypatch, tmp_path,
                                                                             with_network):
    from sulfml.errors import ConfigError
    from sulfml.model import blend as blend_module

    monkeypatch.setattr(blend_module, "torch_available", lambda: False)
    data = BenchmarkData(bench_data.table, with_network(bench_data.config))
    with pytest.raises(ConfigError, match=r"pip install 'sulfml\[neural\]'"):
        run_benchmark("sulfides", data, tmp_path / "out", log=lambda s: None, seeds=[7])
    assert not (tmp_path / "out").exists()
