"""The sulfides benchmark: leak-free folds over the Li sulfides, trained on everything else; its scores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sulfml.config import RunConfig
from sulfml.data.table import build_table
from sulfml.workflows.benchmarks import BenchmarkData, run_benchmark
from sulfml.workflows.benchmarks.sulfides import FAMILY_ORDER, STATE_ORDER, sulfide_metrics


@pytest.fixture
def bench_data(mini_data_dir, small_config) -> BenchmarkData:
    return BenchmarkData(table=build_table(mini_data_dir), config=RunConfig.from_toml(small_config))


def _dois(frame: pd.DataFrame) -> set[str]:
    return {d for ds in frame["doi"].dropna() for d in str(ds).split("|") if d}


def test_sulfides_tests_every_sulfide_and_never_trains_on_a_test_folds_papers_or_compositions(bench_data, tmp_path):
    out = tmp_path / "sulfides"
    run_benchmark("sulfides", bench_data, out, seeds=[7], log=lambda s: None)
    preds = pd.read_csv(out / "predictions.csv")
    train = pd.read_csv(out / "training_set.csv", dtype={"source_row_id": str})
    meas = bench_data.table.measurements.astype({"source_row_id": str})
    rt = meas[meas["room_temperature"]]

    # every Li material holding S is tested once, and nothing else is
    comps = rt.drop_duplicates("material_key").set_index("material_key")["composition"].map(json.loads)
    sulfides = {k for k, c in comps.items() if {"Li", "S"} <= set(c)}
    assert set(preds["id"]) == sulfides and preds["id"].is_unique

    audit = train.merge(meas, on=["source", "source_row_id"], suffixes=("", "_m"))
    assert len(audit) == len(train)
    for fold, part in preds.groupby("fold"):
        tested = rt[rt["material_key"].isin(set(part["id"]))]
        trained = audit[audit["test_fold"].fillna(-1) != fold]   # an empty test_fold: trained on in every fold
        assert len(trained) and not set(trained["material_key"]) & set(part["id"])
        assert not set(trained["composition_key"]) & set(tested["composition_key"])
        assert not _dois(trained) & _dois(tested)
        # the other chemistries are trained on too
        assert (~trained["material_key"].isin(sulfides)).any()


def test_sulfides_scores_are_those_of_its_predictions(bench_data, tmp_path):
    out = tmp_path / "sulfides"
    run_benchmark("sulfides", bench_data, out, seeds=[7], log=lambda s: None)
    metrics = json.loads((out / "metrics.json").read_text())
    preds = pd.read_csv(out / "predictions.csv")
    y, p = preds["y_true"], preds["y_pred"]
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(p - y)))
    assert metrics["call_accuracy_above_1e-4"] == pytest.approx(np.mean((y > -4) == (p > -4)))
    assert metrics["call_accuracy_above_1e-3"] == pytest.approx(np.mean((y > -3) == (p > -3)))
    assert set(metrics["by_family"]) == set(FAMILY_ORDER)   # metrics.json sorts its keys
    assert sum(v["n"] for v in metrics["by_family"].values()) == metrics["n"]
    lgps = preds[preds["family"] == "LGPS"]
    assert len(lgps) and metrics["by_family"]["LGPS"]["mae"] == pytest.approx(np.mean(np.abs(lgps["y_pred"] -
                                                                                            lgps["y_true"])))
    # every material has a state (unknown when no source says), and every tested material is scored by it
    assert sum(v["n"] for v in metrics["by_state"].values()) == metrics["n"]
    assert set(metrics["by_state"]) <= {"crystalline", "glass", "glass-ceramic", "unknown"}


def test_sulfide_metrics_by_state_and_calls_on_an_inline_table():
    predictions = pd.DataFrame({
        "y_true": [-3.5, -2.5, -5.0, -2.0, -6.0],
        "y_pred": [-4.5, -2.8, -3.5, -2.0, -6.5],
        "y_mean_predictor": [-4.0] * 5,
        "censored": [False] * 5,
        "family": ["argyrodite", "LGPS", "Li2S-P2S5", "Li2S-P2S5", "other"],
        "state": ["crystalline", "crystalline", "glass", None, "glass-ceramic"],
    })
    m = sulfide_metrics(predictions)
    assert m["mae"] == pytest.approx((1.0 + 0.3 + 1.5 + 0.0 + 0.5) / 5)
    # above 1e-4: measured T T F T F, predicted F T T T F; above 1e-3: measured F T F T F, predicted F T F T F
    assert m["call_accuracy_above_1e-4"] == pytest.approx(3 / 5) and m["share_above_1e-4"] == pytest.approx(3 / 5)
    assert m["call_accuracy_above_1e-3"] == pytest.approx(1.0)
    assert list(m["by_state"]) == list(STATE_ORDER)
    assert m["by_state"]["crystalline"] == {"n": 2, "mae": pytest.approx(0.65)}
    assert m["by_state"]["glass"] == {"n": 1, "mae": pytest.approx(1.5)}
    assert m["by_state"]["unknown"] == {"n": 1, "mae": pytest.approx(0.0)}   # a missing state is unknown
    assert m["by_family"]["Li2S-P2S5"] == {"n": 2, "mae": pytest.approx(0.75)}
    assert m["by_family"]["thio-LISICON"]["n"] == 0 and np.isnan(m["by_family"]["thio-LISICON"]["mae"])
    assert "by_state" not in sulfide_metrics(predictions.drop(columns="state"))


def test_sulfides_reports_by_state_when_the_materials_have_a_state(bench_data, tmp_path, monkeypatch):
    from sulfml.workflows.benchmarks import sulfides as module

    aggregate = module.aggregate_materials

    def with_state(measurements, strategy):   # the materials table as it will be once it carries `state`
        mats = aggregate(measurements, strategy)
        glass = mats["notation"].eq("glass").to_numpy()
        return mats.assign(state=np.where(glass, "glass", "crystalline"))

    monkeypatch.setattr(module, "aggregate_materials", with_state)
    result = run_benchmark("sulfides", bench_data, tmp_path / "s", seeds=[7], log=lambda s: None)
    by_state = result.metrics["by_state"]
    preds = result.predictions
    assert by_state["glass"]["n"] == int((preds["state"] == "glass").sum()) > 0
    assert by_state["crystalline"]["n"] + by_state["glass"]["n"] == result.metrics["n"]
    assert "by_state" not in result.info
