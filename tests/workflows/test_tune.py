"""`sulfml tune`: same CV as `sulfml train`, MLflow parent and child runs, resume, seeding, the written config."""

from __future__ import annotations

import math

import mlflow
import numpy as np
import optuna
import pytest

from sulfml.cli import main
from sulfml.config import RunConfig
from sulfml.model.train import cross_validate, featurize_materials, training_set
from sulfml.tracking.store import configure
from sulfml.workflows.train import train
from sulfml.workflows.tune import (
    EXPERIMENT,
    SEARCH_SPACE,
    TuneSetupError,
    cv_mae,
    describe_search_space,
    holdout_split,
    mask_url,
    suggest_params,
    tune,
)


def _tune(cfg, data, tmp_path, **kw):
    kw.setdefault("trials", 3)
    kw.setdefault("storage", f"sqlite:///{tmp_path / 'optuna.db'}")
    kw.setdefault("output_config", tmp_path / "tuned.toml")
    # one thread: the mini data is too small to gain from more
    return tune("ea", config_path=cfg, data_dir=data, n_jobs=1, log=lambda s: None, **kw)


def _runs(uri=None):
    configure(uri, experiment=EXPERIMENT)
    return mlflow.search_runs(experiment_names=[EXPERIMENT], output_format="list")


@pytest.fixture
def ea_set(mini_data_dir, small_config):
    from sulfml.data.table import aggregate_materials, build_table

    config = RunConfig.from_toml(small_config)
    materials = aggregate_materials(build_table(mini_data_dir).measurements, config.data.aggregation)
    return training_set(materials, featurize_materials(materials, config.preset), "ea_eV", config), config


def test_objective_is_the_cv_of_train(ea_set):
    ts, config = ea_set
    trial = optuna.trial.FixedTrial({"n_estimators": 150, "learning_rate": 0.1, "max_depth": 4,
                                     "min_child_weight": 1.0, "subsample": 0.7, "colsample_bytree": 0.5,
                                     "gamma": 1e-4, "reg_alpha": 1e-3, "reg_lambda": 1.0})
    for params in (config.params["ea_eV"], suggest_params(trial)):
        seen: list[tuple[int, float, float]] = []
        value, folds = cv_mae(ts, params, config, n_jobs=1, on_fold=lambda *a, s=seen: s.append(a))
        ref = cross_validate(ts, params, config, n_jobs=1)
        assert value == ref.metrics["mae"] and folds == ref.fold_mae
        assert [k for k, _, _ in seen] == list(range(config.cv.n_splits))
        assert seen[-1][2] == pytest.approx(value, rel=1e-12)


def test_search_space_is_declared_once():
    params = suggest_params(optuna.trial.FixedTrial({k: r.low for k, r in SEARCH_SPACE.items()}))
    assert set(params) == set(SEARCH_SPACE)
    assert all(type(params[k]) is r.kind for k, r in SEARCH_SPACE.items())
    assert len(describe_search_space().splitlines()) == len(SEARCH_SPACE)


def test_holdout_split_takes_whole_groups():
    groups = np.repeat([f"p{i}" for i in range(20)], [1 + i % 4 for i in range(20)])
    tune_idx, hold_idx = holdout_split(groups, 0.2, seed=3)
    assert sorted(np.concatenate([tune_idx, hold_idx])) == list(range(len(groups)))
    assert not set(groups[tune_idx]) & set(groups[hold_idx])
    assert len(set(groups[hold_idx])) == 4
    again = holdout_split(groups, 0.2, seed=3)
    assert np.array_equal(again[1], hold_idx)
    assert not np.array_equal(holdout_split(groups, 0.2, seed=4)[1], hold_idx)
    with pytest.raises(TuneSetupError):
        holdout_split(groups, 1.0, seed=3)


def test_mask_url():
    masked = mask_url("postgresql+psycopg2://tuner:s3cret@db.example:5432/optuna")
    assert "s3cret" not in masked and "tuner" in masked and "db.example:5432/optuna" in masked
    assert mask_url("sqlite:///./optuna.db") == "sqlite:///./optuna.db"


@pytest.mark.slow
def test_tune_tracks_resumes_and_writes_a_config_train_reproduces(mini_data_dir, small_config, tmp_path, capsys):
    first = _tune(small_config, mini_data_dir, tmp_path)
    assert (first.n_trials, first.n_study_trials, first.sampler_seed) == (3, 3, 7)
    assert first.n_complete + first.n_pruned == 3 and first.study_name == "sulfml-ea_eV-small"
    for v in (first.best_cv_mae, first.base_cv_mae, first.holdout_mae_best, first.holdout_mae_base,
              first.all_data_cv_mae, first.base_all_data_cv_mae, first.seconds_per_trial):
        assert math.isfinite(v) and v >= 0
    assert first.n_holdout > 0 and first.n_tuning > first.n_holdout

    runs = _runs()
    parents = [r for r in runs if r.data.tags.get("sulfml.workflows.tune") == "study"]
    children = [r for r in runs if r.data.tags.get("sulfml.workflows.tune") == "trial"]
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert parent.info.run_id == first.parent_run_id
    assert {"target", "study", "storage", "seed", "n_trials", "config.digest"} <= set(parent.data.params)
    assert parent.data.params["config.digest"] == RunConfig.from_toml(small_config).digest
    assert {"best_trial", "best_cv_mae", "holdout_mae_base", "holdout_mae_best", "all_data_cv_mae"} \
        <= set(parent.data.metrics)
    assert parent.data.metrics["all_data_cv_mae"] == first.all_data_cv_mae
    client = mlflow.MlflowClient()
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "config")] == ["config/tuned.toml"]
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        state = child.data.tags["sulfml.workflows.tune.state"]
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "fold_mae")]
        if state == "COMPLETE":
            assert steps == [0, 1, 2] and "cv_mae" in child.data.metrics
        else:
            assert state == "PRUNED" and steps and "cv_mae" not in child.data.metrics
        assert {"xgb.n_estimators", "xgb.learning_rate", "trial"} <= set(child.data.params)
    values = {int(c.data.tags["sulfml.workflows.tune.trial"]): c.data.metrics.get("cv_mae") for c in children}
    assert min(v for v in values.values() if v is not None) == first.best_cv_mae

    # the same study again, through the command: 2 more trials, a new sampler seed
    code = main(["tune", "--target", "ea", "--trials", "2", "--storage", f"sqlite:///{tmp_path / 'optuna.db'}",
                 "--config", str(small_config), "--data-dir", str(mini_data_dir), "--n-jobs", "1",
                 "--output-config", str(tmp_path / "tuned.toml")])
    out = capsys.readouterr().out
    assert code == 0 and "2 trials" in out and "5 in study" in out and "sampler seed 10" in out
    study = optuna.load_study(study_name="sulfml-ea_eV-small", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3, 4]
    runs = _runs()
    assert sum(r.data.tags.get("sulfml.workflows.tune") == "study" for r in runs) == 2
    assert sum(r.data.tags.get("sulfml.workflows.tune") == "trial" for r in runs) == 5

    # the written config: the best params in full, and `sulfml train` reports the all-data CV MAE exactly
    tuned = RunConfig.from_toml(tmp_path / "tuned.toml")
    best = study.best_trial
    assert tuned.name == "tuned-ea_eV" and tuned.params["ea_eV"] == best.user_attrs["params"]
    assert set(tuned.params["ea_eV"]) >= set(SEARCH_SPACE)
    assert tuned.params["log10_sigma"] == RunConfig.from_toml(small_config).params["log10_sigma"]
    all_data = [line for line in out.splitlines() if "CV MAE on all data" in line][0]
    reported = float(all_data.rsplit("best ", 1)[1])
    results = train(tmp_path / "tuned.toml", data_dir=mini_data_dir, models_dir=tmp_path / "models",
                    export=False, log=lambda s: None)
    assert {r.target: r for r in results}["ea_eV"].metrics["mae"] == reported

    # a study scored on other data (here another hold-out) refuses more trials
    with pytest.raises(TuneSetupError, match="another setup"):
        _tune(small_config, mini_data_dir, tmp_path, holdout_fraction=0.3)


@pytest.mark.slow
def test_same_seed_same_trials(mini_data_dir, small_config, tmp_path):
    a = _tune(small_config, mini_data_dir, tmp_path, study_name="a", seed=11)
    b = _tune(small_config, mini_data_dir, tmp_path, study_name="b", seed=11)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    values = [[(t.params, t.value, t.state) for t in optuna.load_study(study_name=n, storage=storage).trials]
              for n in ("a", "b")]
    assert values[0] == values[1] and len(values[0]) == 3
    assert (a.best_cv_mae, a.all_data_cv_mae, a.holdout_mae_best) == (b.best_cv_mae, b.all_data_cv_mae,
                                                                      b.holdout_mae_best)


@pytest.mark.slow
def test_pruned_trials_are_logged(mini_data_dir, small_config, tmp_path, monkeypatch):
    # prune from the first trial on, so that a few cheap trials are enough to see one pruned
    monkeypatch.setattr("sulfml.workflows.tune.study.PRUNER_STARTUP_TRIALS", 0)
    monkeypatch.setattr("sulfml.workflows.tune.study.PRUNER_WARMUP_STEPS", 0)
    res = _tune(small_config, mini_data_dir, tmp_path, trials=6, seed=1)
    assert res.n_pruned >= 1 and res.n_complete + res.n_pruned == 6
    client = mlflow.MlflowClient()
    pruned = [r for r in _runs() if r.data.tags.get("sulfml.workflows.tune.state") == "PRUNED"]
    assert len(pruned) == res.n_pruned
    for run in pruned:
        assert run.info.status == "FINISHED" and "running_mae" in run.data.metrics
        assert 1 <= len(client.get_metric_history(run.info.run_id, "fold_mae")) < 3


def test_cli_usage_errors(capsys, tmp_path, small_config):
    assert main(["tune", "--target", "ea", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    assert main(["tune", "--target", "ea", "--config", str(small_config), "--trials", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
