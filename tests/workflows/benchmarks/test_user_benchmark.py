"""The user benchmark: the user's rows scored by leave-one-paper-out, never trained on what a fold tests."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sulfml.config import RunConfig
from sulfml.data.table import build_table
from sulfml.errors import UserError
from sulfml.workflows.benchmarks import BenchmarkData, run_benchmark
from sulfml.workflows.benchmarks.user import user

# Three papers (two DOIs, one reference), a row with no paper, a row away from room temperature, and a
# composition (Li3PS4) that the mini data's public sources also hold.
USER_CSV = """\
formula,sigma_S_cm,temperature_C,ea_eV,state,doi,ref
Li6PS5Cl,2.4e-3,25,0.33,crystalline,10.5555/lab.1,
Li6PS5Br,1.1e-3,25,0.36,crystalline,10.5555/lab.1,
Li6PS5Cl,9.1e-3,60,0.33,crystalline,10.5555/lab.1,
75Li2S-25P2S5,2.0e-4,,0.42,glass,,Notebook B
Li7P3S11,3.2e-3,,0.30,glass-ceramic,,Notebook B
Li10GeP2S12,4.5e-3,25,0.25,crystalline,10.5555/lab.2,
Li10SnP2S12,2.1e-3,25,0.27,crystalline,10.5555/lab.2,
Li4SnS4,7.0e-5,25,,,,
"""
PAPERS = {"10.5555/lab.1", "Notebook B", "10.5555/lab.2"}


@pytest.fixture
def bench_data(mini_data_dir, small_config, tmp_path) -> BenchmarkData:
    path = tmp_path / "mine.csv"
    path.write_text(USER_CSV)
    config = RunConfig.from_toml(small_config).with_extra([path])
    return BenchmarkData(table=build_table(mini_data_dir, extra=config.data.extra), config=config)


def _dois(frame: pd.DataFrame) -> set[str]:
    return {d for ds in frame["doi"].dropna() for d in str(ds).split("|") if d}


def test_a_fold_never_trains_on_its_papers_rows_or_what_shares_a_group_with_them(bench_data, tmp_path):
    out = tmp_path / "user"
    run_benchmark("user", bench_data, out, seeds=[7], log=lambda s: None)
    preds = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    train = pd.read_csv(out / "training_set.csv", dtype={"source_row_id": str})
    meas = bench_data.table.measurements.astype({"source_row_id": str})
    mine = meas[meas["source"] == "user"]

    # every room-temperature user row is scored once, in its own paper's fold; the 60 °C row is not
    rt = mine[mine["room_temperature"]]
    assert sorted(preds["id"]) == sorted(rt["source_row_id"]) and preds["id"].is_unique
    assert "mine.csv:3" not in set(preds["id"])
    assert set(preds["paper"]) == PAPERS | {p for p in rt["paper"] if p.startswith("composition:")}
    assert preds.groupby("paper")["fold"].nunique().eq(1).all() and preds["fold"].nunique() == len(set(preds["paper"]))

    audit = train.merge(meas, on=["source", "source_row_id"], suffixes=("", "_m"))
    assert len(audit) == len(train)
    for fold, part in preds.groupby("fold"):
        paper = part["paper"].iloc[0]
        tested = rt[rt["source_row_id"].isin(set(part["id"]))]
        trained = audit[audit["fold"] == fold]
        assert len(trained) and set(trained["held_out_paper"]) == {paper}
        assert not set(trained["paper"]) & {paper}  # the held-out paper's rows never appear
        assert not set(trained["source_row_id"]) & set(tested["source_row_id"])
        assert not set(trained["composition_key"]) & set(tested["composition_key"])
        assert not _dois(trained) & _dois(tested)
        assert (trained["source"] != "user").any()  # public data
    # the user's other papers are trained on: the DOI paper lab.2 while lab.1 is held out
    fold_lab1 = preds.loc[preds["paper"] == "10.5555/lab.1", "fold"].iloc[0]
    assert "10.5555/lab.2" in set(audit.loc[audit["fold"] == fold_lab1, "paper"])


def test_the_public_rows_of_a_held_out_composition_leave_training_too(bench_data):
    result = user(bench_data)
    train = result.training_set
    meas = bench_data.table.measurements
    # Li6PS5Cl is in the mini data's public sources: the fold of lab.1 trains on none of it
    keys = set(meas.loc[(meas["source"] == "user") & (meas["formula"] == "Li6PS5Cl"), "composition_key"])
    fold = int(result.predictions.loc[result.predictions["paper"] == "10.5555/lab.1", "fold"].iloc[0])
    in_fold = train[train["fold"] == fold].merge(meas, on=["source", "source_row_id"], suffixes=("", "_m"))
    assert (meas.loc[meas["source"] != "user", "composition_key"].isin(keys)).any()
    assert not in_fold["composition_key"].isin(keys).any()


def test_its_scores_are_those_of_its_predictions(bench_data, tmp_path):
    out = tmp_path / "user"
    run_benchmark("user", bench_data, out, seeds=[7, 42], log=lambda s: None)
    metrics = json.loads((out / "metrics.json").read_text())
    preds = pd.read_csv(out / "predictions.csv")
    first = preds[preds["seed"] == 7]
    y, p = first["y_true"], first["y_pred"]
    assert metrics["per_seed"]["7"]["mae"] == pytest.approx(np.mean(np.abs(p - y)))
    assert metrics["per_seed"]["7"]["spearman"] == pytest.approx(y.rank().corr(p.rank()))
    assert metrics["mae"] == pytest.approx(metrics["spread"]["mae"]["mean"])
    assert metrics["seeds"] == [7, 42] and metrics["n"] == len(first) == 7
    assert metrics["n_papers"] == 4 and PAPERS <= set(metrics["by_paper"])
    assert metrics["by_paper"]["Notebook B"]["n"] == 2
    assert metrics["by_state"]["glass"]["n"] == 1
    assert metrics["info"]["not_scored"] == {"not at room temperature": 1, "no Li in the composition": 0}
    assert (out / "parity.png").exists()


def test_without_the_users_rows_it_says_why(mini_data_dir, small_config):
    data = BenchmarkData(table=build_table(mini_data_dir), config=RunConfig.from_toml(small_config))
    with pytest.raises(UserError, match="no measurements of the user's own were kept") as info:
        user(data)
    assert "--" not in str(info.value)


def test_benchmark_user_needs_the_users_measurements(capsys, mini_data_dir, small_config, tmp_path):
    from sulfml.cli import main

    args = ["benchmark", "user", "--config", str(small_config), "--data-dir", str(mini_data_dir),
            "-o", str(tmp_path / "out")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--extra-data" in err and "Traceback" not in err
    assert main([*args, "--extra-data", str(tmp_path / "nope.csv")]) == 2
    assert "measurements file not found" in capsys.readouterr().err


def test_with_the_network_each_paper_is_scored_by_the_blend_at_a_weight_chosen_on_its_training_rows(
        bench_data, stand_in_network, with_network, check_blended_run):
    trees = user(bench_data)
    blended = user(BenchmarkData(bench_data.table, with_network(bench_data.config)))
    assert len(blended.metrics["blend_weights"]["log10_sigma"]) == blended.info["folds"] == len(PAPERS) + 1
    check_blended_run(trees, blended, stand_in_network,
                      {"y_pred": lambda p, w: [w["log10_sigma"][int(k)] for k in p["fold"]]})
    assert any(w > 0 for w in stand_in_network.weights())
