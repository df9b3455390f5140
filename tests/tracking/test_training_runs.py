"""Training logs one MLflow run per target, registers both models and moves `champion` by the rule."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from sulfml.config import RunConfig
from sulfml.service.serving import PYFUNC_NAME
from sulfml.tracking.bundle import Bundle, PresetMismatchError
from sulfml.tracking.registry import ALIAS, MODEL_NAMES, champion, list_models, maybe_promote
from sulfml.tracking.store import configure
from sulfml.workflows.train import train


def _train(cfg, data, tmp_path, **kw):
    return train(cfg, data_dir=data, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                 models_dir=tmp_path / "models", log=lambda s: None, **kw)


@pytest.mark.slow
def test_train_tracks_registers_promotes_and_exports(mini_data_dir, small_config, tmp_path):
    first = _train(small_config, mini_data_dir, tmp_path)
    assert [r.target for r in first] == ["log10_sigma", "ea_eV"]
    assert all(r.promoted and "no champion" in r.reason for r in first)

    configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["sulfml"], output_format="list")
    assert sorted(r.data.tags["sulfml.target"] for r in runs) == ["ea_eV", "log10_sigma"]
    client = mlflow.MlflowClient()
    for run in runs:
        assert {"cv_mae", "cv_rmse", "cv_r2", "cv_spearman"} <= set(run.data.metrics)
        assert run.data.params["preset"] == "composition-v1" and run.data.params["xgb.n_estimators"] == "30"
        arts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert arts == {"plots/parity.png", "plots/feature_importance.png"}
        assert {a.path for a in client.list_artifacts(run.info.run_id, "config")} >= {"config/small.toml"}
        assert run.inputs.dataset_inputs and run.inputs.dataset_inputs[0].dataset.digest
        assert len(client.get_metric_history(run.info.run_id, "cv_fold_mae")) == 3
    for name in MODEL_NAMES.values():
        assert str(champion(name).version) == "1"
    _served_pair_is("1", "1")

    # same config, same data: identical metrics, and an equal score does not take the alias
    second = _train(small_config, mini_data_dir, tmp_path)
    for a, b in zip(first, second, strict=True):
        assert a.metrics == b.metrics
        assert not b.promoted and b.version == "2"
    assert all(str(champion(n).version) == "1" for n in MODEL_NAMES.values())
    _served_pair_is("1", "1")  # the new pair's pyfunc is registered, the champion stays
    assert client.get_model_version(PYFUNC_NAME, "2").tags["log10_sigma_version"] == "2"

    # --promote moves it whatever the score
    third = _train(small_config, mini_data_dir, tmp_path, promote=True)
    assert all(r.promoted for r in third)
    assert all(str(champion(n).version) == "3" for n in MODEL_NAMES.values())
    _served_pair_is("3", "3")
    listed = list_models()
    assert len(listed) == 6 and sum(ALIAS in r["aliases"] for r in listed) == 2

    bundle = Bundle.from_dir(tmp_path / "models")
    card = bundle.models["log10_sigma"].card
    assert card["registered_version"] == 3 and card["preset"] == "composition-v1"
    assert card["metrics"]["cv_mae"] == pytest.approx(third[0].metrics["mae"])
    assert {"feature_names", "data_hash", "package_version", "trained_at"} <= set(card)
    assert not any(c in n for n in card["feature_names"] for c in "[]<")
    assert json.loads((tmp_path / "models" / "ea_eV" / "model.json").read_text())["learner"]


@pytest.mark.slow
def test_promotion_rule(mini_data_dir, small_config, tmp_path):
    res = _train(small_config, mini_data_dir, tmp_path)
    sigma = res[0]
    data_hash = mlflow.MlflowClient().get_model_version(MODEL_NAMES["log10_sigma"], "1").tags["data_hash"]
    # a worse score on the same data keeps the champion; a better one takes it
    assert not maybe_promote("log10_sigma", "1", sigma.metrics["mae"] + 1, data_hash)[0]
    ok, why = maybe_promote("log10_sigma", "1", sigma.metrics["mae"] - 1, data_hash)
    assert ok and "beats" in why
    # a score on other data is not comparable
    ok, why = maybe_promote("log10_sigma", "1", 0.0, "other-data")
    assert not ok and "other data" in why


def test_bundle_refuses_another_preset(trained):
    bundle = Bundle.from_dir(trained["models"])

    X = pd.DataFrame([[0.0] * len(bundle.models["ea_eV"].card["feature_names"])],
                     columns=bundle.models["ea_eV"].card["feature_names"])
    assert bundle.models["ea_eV"].predict(X, bundle.preset).shape == (1,)
    with pytest.raises(PresetMismatchError):
        bundle.models["ea_eV"].predict(X, "structure-v1")
    with pytest.raises(PresetMismatchError):
        bundle.models["ea_eV"].predict(X.iloc[:, 1:], bundle.preset)


@pytest.mark.slow
def test_knn_config_trains_exports_and_predicts(mini_data_dir, small_config, tmp_path):
    from sulfml import Predictor

    cfg = tmp_path / "knn.toml"
    cfg.write_text(small_config.read_text().replace('preset = "composition-v1"', 'preset = "chemistry-v1"')
                   .replace("[targets.ea_eV]\n", "[targets.log10_sigma.knn]\nk = 3\n[targets.ea_eV]\n")
                   .replace("[targets.ea_eV]\n", '[targets.ea_eV]\nobjective = "reg:absoluteerror"\n')
                   + "[targets.ea_eV.knn]\nk = 4\n")
    results = _train(cfg, mini_data_dir, tmp_path)
    bundle = Bundle.from_dir(tmp_path / "models")
    assert bundle.preset == "chemistry-v1"
    for r, (target, model) in zip(results, bundle.models.items(), strict=True):
        knn = model.card["knn"]
        assert knn["k"] == (3 if target == "log10_sigma" else 4)
        assert len(knn["reference_y"]) == len(knn["reference_x"]) == model.card["n_train"]
        assert all(c.startswith("elem_frac_") for c in knn["columns"])
        # the booster sees the preset's columns plus the six neighbour columns; the card lists the preset's
        import xgboost as xgb

        booster = xgb.Booster(model_file=str(tmp_path / "models" / target / "model.json"))
        assert booster.feature_names == [*model.card["feature_names"], *knn["features"]]
        assert r.metrics["mae"] > 0
    out = Predictor(bundle, "test").predict(["Li6PS5Cl", "Li3PS4"])
    assert out["log10_sigma"].notna().all() and out["ea_eV"].notna().all()


def _served_pair_is(sigma: str, ea: str) -> None:
    """`sulfml@champion`, the pyfunc model, serves the per-target champions' pair."""
    mv = mlflow.MlflowClient().get_model_version_by_alias(PYFUNC_NAME, ALIAS)
    assert (mv.tags["log10_sigma_version"], mv.tags["ea_eV_version"]) == (sigma, ea)
    for target, name in MODEL_NAMES.items():
        assert mv.tags[f"{target}_version"] == str(champion(name).version)


@pytest.mark.slow
def test_a_model_trained_on_the_users_files_names_them_in_its_cards(mini_data_dir, small_config, tmp_path):
    from sulfml.data.sources import sha256_of

    mine = tmp_path / "mine.csv"
    mine.write_text("formula,sigma_S_cm,doi\nLi6PS5Cl,2.4e-3,10.5555/lab.1\nLi10GeP2S12,4.5e-3,10.5555/lab.1\n")
    _train(small_config, mini_data_dir, tmp_path, extra_data=[str(mine)])
    bundle = Bundle.from_dir(tmp_path / "models")
    for model in bundle.models.values():
        assert model.card["extra_data"] == [{"name": "mine.csv", "sha256": sha256_of(mine)}]
        assert model.card["config_digest"] != RunConfig.from_toml(small_config).digest
    configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["sulfml"], output_format="list")
    assert {r.data.params["extra_data"] for r in runs} == {"mine.csv"}
