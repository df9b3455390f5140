"""The polymorph benchmark: pairs of space groups of one composition, scored leave-pair-out by their order."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sulfml.config import RunConfig
from sulfml.data.table import AGGREGATION_PER_POLYMORPH, build_table
from sulfml.workflows.benchmarks import BENCHMARKS, BenchmarkData, run_benchmark
from sulfml.workflows.benchmarks import polymorphs as poly

# Compositions of the mini data that Laskowski measures again in another space group (216), and by how much
# (decades) its value differs from OBELiX's (space group 1): two pairs far apart, one close.
SHIFTED = {"Li6PS5Cl": 1.5, "Li10GeP2S12": -2.0, "Li3PS4": 0.2}


def _with_polymorphs(table):
    m = table.measurements.copy()
    las = (m["source"] == "laskowski") & m["raw_formula"].isin(SHIFTED) & m["log10_sigma"].notna()
    m.loc[las, "space_group_number"] = 216.0
    m.loc[las, "state"] = "crystalline"
    m.loc[las, "log10_sigma"] = [
        float(m.loc[(m["source"] == "obelix") & (m["raw_formula"] == f), "log10_sigma"].iloc[0]) + SHIFTED[f]
        for f in m.loc[las, "raw_formula"]]
    return replace(table, measurements=m)


@pytest.fixture
def bench_data(mini_data_dir, small_config) -> BenchmarkData:
    return BenchmarkData(table=_with_polymorphs(build_table(mini_data_dir)), config=RunConfig.from_toml(small_config))


def _rows(spec) -> pd.DataFrame:
    """Measurement rows: (composition key, space group, paper, log10 σ, censored, state[, tags])."""
    return pd.DataFrame([{
        "source": "obelix", "source_row_id": str(i), "formula": key, "raw_formula": key,
        "composition": json.dumps({"Li": 1.0, key: 1.0}), "composition_key": f"Li:0.5,{key}:0.5", "additive": None,
        "notation": "plain", "tags": tags[0] if tags else "", "family": None, "state": state,
        "space_group_number": sg, "paper": paper, "log10_sigma": y, "censored": cens, "room_temperature": True,
        "cif_path": None,
    } for i, (key, sg, paper, y, cens, state, *tags) in enumerate(spec)])


def test_polymorph_groups_take_one_median_per_paper_then_per_space_group():
    m = _rows([
        ("Cl", 1, "p1", -3.0, False, "crystalline"), ("Cl", 1, "p1", -3.0, False, "crystalline"),
        ("Cl", 1, "p1", -3.0, False, "crystalline"), ("Cl", 1, "p2", -5.0, False, "unknown"),
        ("Cl", 1, "p3", -4.5, False, "crystalline"),   # papers p1, p2, p3: -3, -5, -4.5 -> -4.5 (not -3)
        ("Cl", 2, "p4", -2.0, False, "crystalline", "glass-ceramic;sintered"), ("Cl", 2, "p5", -20.0, True, "crystalline"),  # censored: out
        ("Cl", 3, "p6", -1.0, False, "glass"),         # a glass has no space group of its own
        ("Cl", float("nan"), "p7", -1.0, False, "crystalline"),
        ("Br", 1, "p8", -3.0, False, "crystalline"),   # one space group only: no pair
        ("Br", 2, "p9", -3.0, True, "crystalline"),
    ])
    g = poly.polymorph_groups(m).set_index("space_group_number")
    assert list(g.index) == [1.0, 2.0] and set(g["composition_key"]) == {"Li:0.5,Cl:0.5"}
    assert g.loc[1.0, "log10_sigma"] == -4.5 and g.loc[1.0, "n_papers"] == 3
    assert g.loc[2.0, "log10_sigma"] == -2.0 and g.loc[2.0, "n_papers"] == 1
    assert (g["state"] == "crystalline").all()
    # both polymorphs are predicted from the same composition and text, whatever their own rows say
    assert g[["composition", "notation", "tags", "family"]].nunique().max() == 1
    pairs = poly.polymorph_pairs(poly.polymorph_groups(m))
    assert len(pairs) == 1 and pairs.loc[0, "difference"] == pytest.approx(-2.5)


def test_a_tie_is_a_wrong_call():
    assert list(poly.sign_right([1.0, -1.0, 1.0, 2.0], [0.3, -0.1, -0.2, 0.0])) == [True, True, False, False]


def test_the_presets_compared():
    assert poly.presets_compared("chemistry-v3") == ("structure-v2", "chemistry-v3")
    assert poly.presets_compared("structure-v2") == ("structure-v2", "chemistry-v3")
    assert poly.presets_compared("composition-v1") == ("structure-v2", "composition-v1")


def test_polymorphs_benchmark_scores_pairs_leave_pair_out(bench_data, tmp_path):
    assert "polymorphs" in BENCHMARKS
    out = tmp_path / "polymorphs"
    result = run_benchmark("polymorphs", bench_data, out, seeds=[7], log=lambda s: None)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_compositions"] == 3 and metrics["n_pairs"] == 3 and metrics["n_pairs_apart"] == 2
    # the composition preset gives both polymorphs one answer: every pair a tie, none right
    assert metrics["n_ties_composition"] == 2 and metrics["sign_accuracy_composition"] == 0.0
    assert metrics["sign_accuracy"] == metrics["n_sign_right"] / 2
    assert metrics["info"]["leave_out"].startswith("one composition") and metrics["n_fits"] == 4
    assert metrics["info"]["presets"] == {"structure": "structure-v2", "composition": "composition-v1"}
    # the structure model learns each polymorph apart, the composition model one value per composition
    assert metrics["info"]["aggregations"] == {"structure": AGGREGATION_PER_POLYMORPH,
                                               "composition": bench_data.config.data.aggregation}
    pairs = pd.DataFrame(metrics["info"]["pairs"])
    assert set(pairs["formula"]) == {"Li6PS5Cl", "Li10GeP2S12"}
    assert metrics["n_ties"] == int((pairs["pred_structure"] == 0).sum())
    assert list(pairs["right_structure"]) == list(np.sign(pairs["pred_structure"]) == np.sign(pairs["difference"]))

    preds = pd.read_csv(out / "predictions.csv")
    assert len(preds) == 4 == metrics["n"] and set(preds["space_group_number"]) == {1.0, 216.0}
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(preds["y_pred"] - preds["y_true"])))
    for _, part in preds.groupby("composition_key"):  # one answer per composition without the space group
        assert part["y_pred_composition"].nunique() == 1

    # each fit never saw its held-out composition nor any paper that measured it
    train = pd.read_csv(out / "training_set.csv", dtype={"source_row_id": str})
    meas = bench_data.table.measurements.astype({"source_row_id": str})
    audit = train.merge(meas, on=["source", "source_row_id"], suffixes=("", "_m"))
    assert len(audit) == len(train) and set(train["held_out"]) == {0, 1}
    for unit, part in preds.groupby("held_out"):
        tested = meas[meas["composition_key"].isin(set(part["composition_key"]))]
        trained = audit[audit["held_out"] == unit]
        assert not set(trained["composition_key"]) & set(tested["composition_key"])
        dois = {d for ds in tested["doi"].dropna() for d in ds.split("|")}
        assert not {d for ds in trained["doi"].dropna() for d in ds.split("|")} & dois
    assert result.metrics["n_pairs_apart"] == 2


def test_many_compositions_are_held_out_in_folds(bench_data, monkeypatch):
    monkeypatch.setattr(poly, "MAX_FITS", 1)
    monkeypatch.setattr(poly, "FOLDS", 2)
    result = poly.polymorphs(bench_data)
    assert "2 folds" in result.info["leave_out"] and result.metrics["n_fits"] == 4
    assert result.metrics["n_pairs_apart"] == 2 and result.metrics["sign_accuracy_composition"] == 0.0


def test_no_polymorphs_gives_an_empty_score(mini_data_dir, small_config):
    result = poly.polymorphs(BenchmarkData(table=build_table(mini_data_dir), config=RunConfig.from_toml(small_config)))
    assert result.metrics["n_pairs"] == 0 and result.metrics["n"] == 0 and np.isnan(result.metrics["sign_accuracy"])


def test_with_the_network_each_side_scores_its_blend_at_weights_chosen_on_its_training_rows(
        bench_data, stand_in_network, with_network, check_blended_run):
    trees = BENCHMARKS["polymorphs"](bench_data)
    blended = BENCHMARKS["polymorphs"](replace(bench_data, config=with_network(bench_data.config)))
    weights = blended.metrics["blend_weights"]
    assert len(weights["structure"]) == len(weights["composition"]) == blended.metrics["n_fits"] // 2
    check_blended_run(trees, blended, stand_in_network, {
        "y_pred": lambda p, w: [w["structure"][int(k)] for k in p["held_out"]],
        "y_pred_composition": lambda p, w: [w["composition"][int(k)] for k in p["held_out"]]})
