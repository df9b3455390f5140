"""The leakage rule, censored scoring, and every benchmark's files on the mini data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sulfml.config import RunConfig
from sulfml.data.table import build_table
from sulfml.parse.formula import composition_key, parse_formula
from sulfml.workflows.benchmarks import BENCHMARKS, BenchmarkData, run_benchmark
from sulfml.workflows.benchmarks.core import censored_aware_mae, exclude_leaks, scores


def _rows(spec):
    return pd.DataFrame([{"formula": f, "composition_key": composition_key(parse_formula(f).composition),
                          "doi": d, "source": s} for f, d, s in spec])


def test_leaky_training_rows_are_removed():
    test = _rows([("Li6PS5Cl", "10.1/test-a", "obelix"), ("Li3PS4", "10.1/test-b|10.1/test-c", "obelix")])
    train = _rows([
        ("Li6PS5Cl", "10.1/other", "laskowski"),          # same composition
        ("Li12P2S10Cl2", None, "liverpool"),              # same composition, other scale
        ("0.75Li2S-0.25P2S5", "10.1/x", "laskowski"),     # Li3PS4 written as a glass
        ("Li7P3S11", "10.1/test-c", "laskowski"),         # same paper as a test row
        ("Li10GeP2S12", "10.1/x|10.1/test-a", "obelix"),  # one of its papers is a test paper
        ("Li6PS5Br", "10.1/fine", "liverpool"),           # neither
        ("Li6.001PS5Cl", None, "laskowski"),              # differs below the 3rd decimal of the fraction
    ])
    kept, removed = exclude_leaks(train, test)
    assert list(kept["formula"]) == ["Li6PS5Br"]
    why = dict(zip(removed["formula"], removed["leak"], strict=True))
    assert why == {"Li6PS5Cl": "composition", "Li12P2S10Cl2": "composition", "0.75Li2S-0.25P2S5": "composition",
                   "Li7P3S11": "paper", "Li10GeP2S12": "paper", "Li6.001PS5Cl": "composition"}


def test_metrics_and_censored_scoring_on_a_tiny_case():
    y_true = np.array([-3.0, -4.0, -10.0])     # the last one is "<1E-10"
    y_pred = np.array([-3.5, -4.0, -12.0])
    cens = np.array([False, False, True])
    assert censored_aware_mae(y_true, y_pred, cens) == pytest.approx(0.5 / 3)   # below the bound: exact
    assert censored_aware_mae(y_true, np.array([-3.5, -4.0, -9.0]), cens) == pytest.approx(1.5 / 3)
    obelix_style = np.where(cens, -15.0, y_true)
    m = scores(obelix_style, y_pred)
    assert m["mae"] == pytest.approx((0.5 + 0 + 3.0) / 3) and m["n"] == 3
    assert m["rmse"] == pytest.approx(np.sqrt((0.25 + 9.0) / 3))


@pytest.fixture
def bench_data(mini_data_dir, small_config) -> BenchmarkData:
    return BenchmarkData(table=build_table(mini_data_dir), config=RunConfig.from_toml(small_config))


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_benchmark_writes_its_files_and_never_tests_on_training(name, bench_data, tmp_path):
    out = tmp_path / name
    result = run_benchmark(name, bench_data, out, log=lambda s: None)
    metrics = json.loads((out / "metrics.json").read_text())
    headline = result.predictions
    if "target" in headline:   # a benchmark of both targets: the headline metrics are of its main target
        headline = headline[headline["target"] == result.target]
    assert {"mae", "rmse", "r2", "spearman", "n"} <= set(metrics) and metrics["n"] == len(headline)
    preds = pd.read_csv(out / "predictions.csv")
    assert {"id", "formula", "y_true", "y_pred"} <= set(preds.columns)
    train = pd.read_csv(out / "training_set.csv")
    assert {"formula", "doi", "source"} <= set(train.columns) and len(train)
    assert (out / "parity.png").stat().st_size > 1000
    if name in ("obelix", "review"):
        m = bench_data.table.measurements
        test_rows = m[(m["source"] == "obelix") & (m["split"] == "test")] if name == "obelix" else \
            m[m["source"] == "review"]
        train_rows = m.merge(train[["source", "source_row_id"]].astype(str), on=["source", "source_row_id"])
        assert not set(train_rows["composition_key"]) & set(test_rows["composition_key"])
        test_dois = {d for ds in test_rows["doi"].dropna() for d in ds.split("|")}
        assert not {d for ds in train_rows["doi"].dropna() for d in ds.split("|")} & test_dois
    if name == "obelix":
        assert metrics["n"] == 6 and metrics["n_censored"] == 2
        assert metrics["mae_censored_aware"] <= metrics["mae"] + 1e-9
        assert preds.loc[preds["censored"], "y_true"].eq(-15.0).all()
    if name == "ea":
        assert "mae_mean_predictor" in metrics and set(preds["fold"]) == set(range(5))
    if name in ("obelix", "intervals"):
        lo, hi = preds["y_lo"], preds["y_hi"]
        assert (lo <= preds["y_pred"] + 1e-9).all() and (preds["y_pred"] <= hi + 1e-9).all()
        key = "interval_coverage" if name == "obelix" else "sigma_coverage"
        assert 0.0 <= metrics[key] <= 1.0
    if name == "intervals":
        # coverage is what the intervals really hold on the held-out rows
        unc = preds[(preds["target"] == "log10_sigma") & ~preds["censored"]]
        assert metrics["sigma_coverage"] == pytest.approx(unc["covered"].mean())
        assert set(preds["target"]) == {"log10_sigma", "ea_eV"}
        for (target, fold), part in preds.groupby(["target", "fold"]):
            audit = train[train["target"] == target]
            assert not set(audit.loc[audit["test_fold"] != fold, "material_key"]) & set(part["id"])
    if name == "temperature":
        from sulfml.data.table import RT_RANGE_K

        assert not preds["temperature_K"].between(*RT_RANGE_K).any() and "by_temperature" in metrics
        m = bench_data.table.measurements
        held = m[m["source_row_id"].astype(str).isin(preds["id"].astype(str)) & (m["source"] == "liverpool")]
        audit = train.astype({"source_row_id": str}).merge(m.astype({"source_row_id": str}),
                                                           on=["source", "source_row_id"])
        for fold, part in preds.groupby("fold"):
            keys = set(held[held["source_row_id"].astype(str).isin(part["id"].astype(str))]["composition_key"])
            assert keys and not keys & set(audit.loc[audit["test_fold"] == fold, "composition_key"])


def test_leak_groups_join_materials_sharing_any_paper_or_composition():
    from sulfml.model.cv import group_labels
    from sulfml.workflows.benchmarks.core import leak_groups

    materials = pd.DataFrame({
        "paper": ["10.1/a", "10.1/c", "10.1/e", "10.1/f", "Ref. 12"],
        "papers": ["10.1/a|10.1/b", "10.1/c", "10.1/e", "10.1/f", "Ref. 12"],
        "dois": ["10.1/a|10.1/b", "10.1/b|10.1/c", "10.1/e", None, None],
        "composition_key": ["Li3PS4", "Li7P3S11", "Li7P3S11", "Li6PS5Cl", "Li3InCl6"],
    })
    groups = leak_groups(materials)
    # the first three are chained by the DOI 10.1/b and by the composition Li7P3S11; the others stand alone
    assert groups[0] == groups[1] == groups[2]
    assert len({groups[0], groups[3], groups[4]}) == 3
    # grouping by the first paper alone would have split the chain
    assert len(set(group_labels(materials)[:3])) == 3


def test_benchmark_cli_unknown_config_is_usage_error(mini_data_dir, tmp_path, capsys):
    from sulfml.cli import main

    code = main(["benchmark", "ea", "--output", str(tmp_path / "o"), "--config", str(tmp_path / "none.toml"),
                 "--data-dir", str(mini_data_dir)])
    assert code == 2 and "config file not found" in capsys.readouterr().err
