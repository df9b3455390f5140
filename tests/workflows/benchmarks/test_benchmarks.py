"""The leakage rule, censored scoring, and every benchmark's files on the mini data."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sulfml.config import RunConfig
from sulfml.data.table import build_table
from sulfml.errors import BundleError, ConfigError, UserError
from sulfml.parse.formula import composition_key, parse_formula
from sulfml.workflows.benchmarks import (
    BENCHMARKS,
    BenchmarkData,
    BenchmarkResult,
    benchmark_config,
    run_benchmark,
)
from sulfml.workflows.benchmarks.core import (
    censored_aware_mae,
    check_seeds,
    combine_seeds,
    default_seeds,
    exclude_leaks,
    scores,
)


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


# `user` scores the user's own rows, which this table does not hold: test_user_benchmark.py runs it with them;
# `polymorphs` needs compositions in two space groups, which it has not: test_polymorphs.py gives it some.
@pytest.mark.parametrize("name", [n for n in BENCHMARKS if n not in ("user", "polymorphs")])
def test_benchmark_writes_its_files_and_never_tests_on_training(name, bench_data, tmp_path):
    out = tmp_path / name
    result = run_benchmark(name, bench_data, out, log=lambda s: None, seeds=[7])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seeds"] == [7] and metrics["per_seed"]["7"]["mae"] == metrics["mae"] == result.metrics["mae"]
    headline = result.predictions
    if "target" in headline:   # a benchmark of both targets: the headline metrics are of its main target
        headline = headline[headline["target"] == result.target]
    if "folds" in headline:    # intervals: the headline is the grouped folds'; the family folds' rows follow
        headline = headline[headline["folds"] == "grouped"]
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
        assert metrics["n_cif_subset"] + metrics["n_no_cif"] == 6
        assert set(metrics["by_structure"]) == {"CIF", "CIF, uncensored", "no CIF", "no CIF, uncensored"}
        assert metrics["n_no_cif_uncensored"] == int((~preds["has_cif"] & ~preds["censored"]).sum())
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
        # coverage is what the intervals really hold on the held-out rows, on grouped and on family folds
        grouped, fam = preds[preds["folds"] == "grouped"], preds[preds["folds"] == "family"]
        unc = grouped[(grouped["target"] == "log10_sigma") & ~grouped["censored"]]
        assert metrics["sigma_coverage"] == pytest.approx(unc["covered"].mean())
        assert set(preds["target"]) == {"log10_sigma", "ea_eV"}
        for (target, fold), part in grouped.groupby(["target", "fold"]):
            audit = train[(train["target"] == target) & train["held_out_family"].isna()]
            assert not set(audit.loc[audit["test_fold"] != fold, "material_key"]) & set(part["id"])
        from sulfml.workflows.benchmarks.suites import LOFO_FAMILIES

        fam_unc = fam[~fam["censored"]]
        assert len(fam_unc) and set(fam["held_out_family"]) <= set(LOFO_FAMILIES)
        assert metrics["sigma_family_coverage"] == pytest.approx(fam_unc["covered"].mean())
        assert metrics["sigma_family_n"] == len(fam_unc)
        assert metrics["sigma_family_median_width"] == pytest.approx((fam_unc["y_hi"] - fam_unc["y_lo"]).median())
        assert set(metrics["sigma_family_by_family"]) == set(fam["held_out_family"])
        for family, part in fam.groupby("held_out_family"):
            # a held-out family's materials are never among its model's training materials
            audit = train[train["held_out_family"] == family]
            assert len(audit) and not set(audit["material_key"]) & set(part["id"])
    if name == "temperature":
        from sulfml.data.table import RT_RANGE_K

        assert not preds["temperature_K"].between(*RT_RANGE_K).any() and "by_temperature" in metrics
        # the benchmark predicts through the Predictor: a test material is never known first
        assert (preds["basis"] == "model").all() and metrics["n_known_first"] == 0
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


def _result(mae: float, fam_mae: float, training: pd.DataFrame) -> BenchmarkResult:
    metrics = {"mae": mae, "n": 10, "by_family": {"LGPS": {"n": 3, "mae": fam_mae}}, "empty": float("nan")}
    return BenchmarkResult("x", "log10_sigma", metrics, pd.DataFrame({"id": ["a"], "y_true": [0.0], "y_pred": [mae]}),
                           training, {"note": "info"})


def test_combined_seeds_report_the_mean_and_spread_of_each_seeds_numbers():
    same = pd.DataFrame({"formula": ["Li3PS4", "Li6PS5Cl"]})
    combined = combine_seeds({42: _result(1.0, 2.0, same), 7: _result(1.3, 2.6, same.copy()),
                              2026: _result(1.6, 3.1, same.copy())})
    m = combined.metrics
    assert m["seeds"] == [42, 7, 2026] and m["n"] == 10 and isinstance(m["n"], int)
    assert m["mae"] == pytest.approx(1.3) and m["per_seed"]["7"]["mae"] == 1.3
    assert m["spread"]["mae"] == pytest.approx({"mean": 1.3, "std": 0.3, "min": 1.0, "max": 1.6})
    assert m["by_family"]["LGPS"]["mae"] == pytest.approx(7.7 / 3)
    assert m["spread"]["by_family.LGPS.mae"]["std"] == pytest.approx(np.std([2.0, 2.6, 3.1], ddof=1))
    assert np.isnan(m["empty"]) and np.isnan(m["spread"]["empty"]["mean"])
    assert list(combined.predictions["seed"]) == [42, 7, 2026]
    assert combined.training_set.equals(same)   # the same rows for every seed: written once
    other = pd.DataFrame({"formula": ["Li3PS4"]})
    per_seed = combine_seeds({42: _result(1.0, 2.0, same), 7: _result(1.3, 2.6, other)}).training_set
    assert list(per_seed["seed"]) == [42, 42, 7] and list(per_seed["formula"]) == ["Li3PS4", "Li6PS5Cl", "Li3PS4"]
    one = combine_seeds({5: _result(1.0, 2.0, same)}).metrics["spread"]["mae"]
    assert one["mean"] == one["min"] == one["max"] == 1.0 and np.isnan(one["std"])   # no spread from one seed


def test_seeds_default_to_the_configs_seed_and_two_more():
    assert default_seeds(RunConfig(seed=42)) == (42, 7, 2026)
    assert default_seeds(RunConfig(seed=7)) == (7, 42, 2026)
    assert default_seeds(RunConfig(seed=42), 1) == (42,)
    assert default_seeds(RunConfig(seed=0), 5) == (0, 42, 7, 2026, 1)
    with pytest.raises(UserError, match="at least one seed"):
        default_seeds(RunConfig(), 0)
    with pytest.raises(UserError, match="more than once: 3"):
        check_seeds([3, 4, 3])
    with pytest.raises(UserError, match="non-negative"):
        check_seeds([-1])


def test_a_benchmark_over_two_seeds_writes_each_seeds_scores_and_their_spread(bench_data, tmp_path):
    out = tmp_path / "two"
    run_benchmark("ea", bench_data, out, seeds=[7, 8], log=lambda s: None)
    metrics = json.loads((out / "metrics.json").read_text())
    preds = pd.read_csv(out / "predictions.csv")
    per_seed = [float(np.mean(np.abs(g["y_pred"] - g["y_true"]))) for _, g in preds.groupby("seed", sort=False)]
    assert sorted(preds["seed"].unique()) == [7, 8] and per_seed[0] != per_seed[1]
    assert [metrics["per_seed"][s]["mae"] for s in ("7", "8")] == pytest.approx(per_seed)
    assert metrics["mae"] == pytest.approx(np.mean(per_seed))
    assert metrics["spread"]["mae"] == pytest.approx({"mean": np.mean(per_seed), "std": np.std(per_seed, ddof=1),
                                                      "min": min(per_seed), "max": max(per_seed)})
    train = pd.read_csv(out / "training_set.csv")
    assert set(train["seed"]) == {7, 8}   # the folds differ by seed, so each seed's training rows are kept


def _card(bundle, target):
    return bundle / target / "card.json"


def test_without_a_config_the_benchmark_runs_the_config_of_the_shipped_model(tmp_path):
    import shutil

    from sulfml.tracking.bundle import shipped_bundle_dir

    shipped = json.loads(_card(shipped_bundle_dir(), "log10_sigma").read_text())["config_name"]
    config, origin = benchmark_config()
    assert config.name == shipped and origin["bundle_config_name"] == shipped
    assert origin["config_path"].endswith(f"{shipped}.toml") and "trained with" in origin["config_source"]
    given, origin = benchmark_config("smoke")
    assert given.name == "smoke" and origin["config_source"] == "given"

    bundle = tmp_path / "bundle"
    shutil.copytree(shipped_bundle_dir(), bundle)

    def name_config(target, name):
        card = json.loads(_card(bundle, target).read_text())
        _card(bundle, target).write_text(json.dumps(card | {"config_name": name}))

    for target in ("log10_sigma", "ea_eV"):
        name_config(target, "smoke")
    config, origin = benchmark_config(bundle_dir=bundle)
    assert config.name == "smoke" and origin["bundle_config_name"] == "smoke"
    name_config("ea_eV", "default")
    with pytest.raises(BundleError, match="do not name one run config"):
        benchmark_config(bundle_dir=bundle)
    for target in ("log10_sigma", "ea_eV"):
        name_config(target, "no-such-config")
    with pytest.raises(ConfigError, match="trained with config 'no-such-config', which is not a shipped config"):
        benchmark_config(bundle_dir=bundle)


@pytest.mark.slow
def test_benchmark_cli_without_a_config_runs_the_shipped_models_config_and_says_which(mini_data_dir, tmp_path,
                                                                                       capsys):
    from sulfml.cli import main
    from sulfml.tracking.bundle import Bundle

    shipped, _ = Bundle.from_dir().trained_with
    out = tmp_path / "o"
    assert main(["benchmark", "ea", "--output", str(out), "--seeds", "1", "--data-dir", str(mini_data_dir)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["info"]["config"] == shipped and metrics["info"]["bundle_config_name"] == shipped
    assert metrics["seeds"] == [RunConfig.from_toml(metrics["info"]["config_path"]).seed]
    assert f"config {shipped} " in capsys.readouterr().out
    assert main(["benchmark", "ea", "--output", str(out), "--seeds", "0", "--config", "smoke",
                 "--data-dir", str(mini_data_dir)]) == 2
    assert "at least one seed" in capsys.readouterr().err


@pytest.mark.slow
def test_intervals_report_family_folds_with_the_smoke_config(mini_data_dir):
    """The shipped kind of model (kNN features, their distance in the calibration) on grouped and family folds."""
    from sulfml.config import resolve_config
    from sulfml.workflows.benchmarks.suites import LOFO_FAMILIES
    from sulfml.workflows.benchmarks.trust import intervals

    data = BenchmarkData(table=build_table(mini_data_dir), config=RunConfig.from_toml(resolve_config("smoke")))
    result = intervals(data)
    m, preds = result.metrics, result.predictions
    fam = preds[(preds["folds"] == "family") & ~preds["censored"].astype(bool)]
    assert set(fam["held_out_family"]) <= set(LOFO_FAMILIES) and m["sigma_family_n"] == len(fam) > 0
    assert m["sigma_family_coverage"] == pytest.approx(fam["covered"].mean())
    for family, part in fam.groupby("held_out_family"):
        assert m["sigma_family_by_family"][family]["coverage"] == pytest.approx(part["covered"].mean())
    assert (fam["y_lo"] < fam["y_pred"]).all() and (fam["y_pred"] < fam["y_hi"]).all()
    assert 0.0 <= m["sigma_coverage"] <= 1.0 and m["sigma_median_width"] > 0


def test_obelix_structure_subsets_split_cif_entries_and_censored_ones():
    from sulfml.workflows.benchmarks.suites import structure_subsets

    y_true = np.array([-3.0, -15.0, -4.0, -5.0])
    y_pred = np.array([-3.5, -10.0, -4.0, -6.0])
    cens = np.array([False, True, False, False])
    cif = np.array([True, True, False, False])
    m = structure_subsets(y_true, y_pred, cens, cif)
    assert m["mae_cif_subset"] == pytest.approx(2.75) and m["n_cif_subset"] == 2
    assert m["mae_cif_subset_uncensored"] == pytest.approx(0.5) and m["n_cif_subset_uncensored"] == 1
    assert m["mae_no_cif"] == pytest.approx(0.5) == m["mae_no_cif_uncensored"] and m["n_no_cif"] == 2
    assert m["by_structure"]["CIF"] == {"n": 2, "mae": m["mae_cif_subset"]}


def test_obelix_gives_each_test_entry_its_structure(bench_data, monkeypatch):
    from sulfml.workflows.benchmarks import core, suites

    seen = {}
    real = core.FittedTarget.predict_interval

    def spy(self, frame):
        seen["frame"], seen["preset"] = frame, self.preset
        return real(self, frame)

    monkeypatch.setattr(core.FittedTarget, "predict_interval", spy)
    data = replace(bench_data, config=replace(bench_data.config, preset="structure-v2"))
    result = suites.obelix(data)
    frame = seen["frame"]
    assert seen["preset"] == "structure-v2" and len(frame) == result.metrics["n"]
    assert frame["space_group_number"].notna().all() and "cif_path" in frame
    X = core.featurize_materials(frame, "structure-v2")
    assert X["sg_number"].notna().all()
    assert "structure_inputs" in result.info
