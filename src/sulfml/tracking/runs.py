"""MLflow: one run per target, registered models, and the `champion` alias that predictions follow."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from sulfml.model.train import TargetModel
from sulfml.tracking.bundle import BUNDLE_FILES, CARD_FILE, TARGET_DIRS, save_model

EXPERIMENT = "sulfml"
ALIAS = "champion"
MODEL_NAMES = {"log10_sigma": "sulfml-log10-sigma", "ea_eV": "sulfml-ea"}


def tracking_uri(uri: str | None = None) -> str:
    """The store to use: `uri`, else $MLFLOW_TRACKING_URI, else `sqlite:///<cwd>/mlflow.db`."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def configure(uri: str | None = None, experiment: str = EXPERIMENT) -> str:
    """Point MLflow at the store and experiment; returns the URI used."""
    import mlflow

    resolved = tracking_uri(uri)
    # a bar per downloaded bundle file is noise on the terminal and in CI logs
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    mlflow.set_experiment(experiment)
    return resolved


def _flat_params(tm: TargetModel) -> dict[str, object]:
    cfg = tm.config
    params = {f"xgb.{k}": v for k, v in cfg.params.get(tm.target, {}).items()}
    params.update({
        "config.name": cfg.name, "config.digest": cfg.digest, "seed": cfg.seed, "preset": cfg.preset,
        "sources": ",".join(cfg.data.sources), "aggregation": cfg.data.aggregation,
        "censoring": f"{cfg.censoring.strategy}:{cfg.censoring.log10_value}",
        "cv.n_splits": cfg.cv.n_splits, "cv.group_by": cfg.cv.group_by, "n_train": len(tm.training.y),
        "n_features": len(tm.feature_names),
    })
    return params


def log_training_run(tm: TargetModel, config_path: str | Path | None = None) -> tuple[str, str]:
    """Log one target's run, register its model, and return (run_id, registered version).

    The run holds params, the config file, the preset, the dataset (with its digest), the CV metrics,
    a parity plot, a feature-importance plot, the MLflow model (signature and input example, saved in
    XGBoost's JSON format), and the sulfml bundle files under `bundle/`.
    """
    import mlflow
    from mlflow.models import infer_signature

    from sulfml.plots import importance_plot, parity_plot

    ts = tm.training
    with mlflow.start_run(run_name=f"{tm.target}:{tm.config.name}") as run, \
            tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"sulfml.target": tm.target, "sulfml.preset": tm.config.preset,
                         "sulfml.data_hash": ts.data_hash})
        mlflow.log_params(_flat_params(tm))
        if config_path:
            mlflow.log_artifact(str(config_path), artifact_path="config")
        mlflow.log_text(tm.config.to_toml(), "config/resolved.toml")
        frame = ts.materials[["material_key", "formula", "paper", "sources"]].assign(**{tm.target: ts.y})
        dataset = mlflow.data.from_pandas(frame.reset_index(drop=True), name=f"sulfml-{tm.target}",
                                          targets=tm.target)
        mlflow.log_input(dataset, context="training", tags={"data_hash": ts.data_hash})
        metrics = {f"cv_{k}": v for k, v in tm.cv.metrics.items() if np.isfinite(v)}
        mlflow.log_metrics(metrics)
        for k, mae in enumerate(tm.cv.fold_mae):
            mlflow.log_metric("cv_fold_mae", mae, step=k)
        parity = parity_plot(ts.y, tm.cv.oof, Path(tmp) / "parity.png", target=tm.target, censored=ts.censored,
                             title=f"{tm.target}: grouped {tm.config.cv.n_splits}-fold CV, "
                                   f"MAE {tm.cv.metrics['mae']:.3f}")
        imp = tm.regressor.get_booster().get_score(importance_type="gain")
        imps = [imp.get(n, 0.0) for n in tm.feature_names]
        importance = importance_plot(list(tm.feature_names), imps, Path(tmp) / "feature_importance.png",
                                     title=f"{tm.target}: top features")
        mlflow.log_artifact(str(parity), artifact_path="plots")
        mlflow.log_artifact(str(importance), artifact_path="plots")
        oof = ts.materials[["material_key", "formula"]].assign(y_true=ts.y, y_oof=tm.cv.oof)
        oof_path = Path(tmp) / "cv_predictions.csv"
        oof.to_csv(oof_path, index=False)
        mlflow.log_artifact(str(oof_path), artifact_path="cv")
        card = tm.card() | {"registered_model": MODEL_NAMES[tm.target], "run_id": run.info.run_id}
        bundle_dir = save_model(tm.regressor, card, tm.domain, Path(tmp) / "bundle" / TARGET_DIRS[tm.target])
        mlflow.log_artifacts(str(bundle_dir), artifact_path="bundle")
        example = ts.X.head(3)
        trees = tm.regressor
        if hasattr(trees, "neighbour_columns"):  # KnnFeatureRegressor: log its trees with their full input
            example, trees = trees.neighbour_columns(example), trees.xgb_
        info = mlflow.xgboost.log_model(
            trees, name="model", model_format="json", input_example=example,
            signature=infer_signature(example, trees.predict(example)),
        )
    version = mlflow.register_model(info.model_uri, MODEL_NAMES[tm.target],
                                    tags={"data_hash": ts.data_hash, "run_id": run.info.run_id})
    client = mlflow.MlflowClient()
    client.set_model_version_tag(MODEL_NAMES[tm.target], version.version, "cv_mae", repr(float(tm.cv.metrics['mae'])))
    client.set_model_version_tag(MODEL_NAMES[tm.target], version.version, "source_run_id", run.info.run_id)
    return run.info.run_id, str(version.version)


def champion(name: str):
    """The model version holding the `champion` alias, or None."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.MlflowClient().get_model_version_by_alias(name, ALIAS)
    except MlflowException:
        return None


def maybe_promote(target: str, version: str, cv_mae: float, data_hash: str, force: bool = False) -> tuple[bool, str]:
    """Move `champion` to `version` if forced, if there is none, or if it beats the champion on the same data.

    Returns:
        (promoted, reason).
    """
    import mlflow

    name = MODEL_NAMES[target]
    client = mlflow.MlflowClient()
    current = champion(name)
    if force:
        why = "promoted: --promote given"
    elif current is None:
        why = "promoted: there was no champion"
    else:
        cur_hash = current.tags.get("data_hash")
        cur_mae = float(current.tags.get("cv_mae", "inf"))
        if cur_hash != data_hash:
            return False, (f"kept champion v{current.version}: it was trained on other data ({cur_hash}), "
                           "so the CV scores are not comparable; use --promote to replace it")
        if not cv_mae < cur_mae:
            return False, f"kept champion v{current.version}: its CV MAE {cur_mae:.4f} <= {cv_mae:.4f}"
        why = f"promoted: CV MAE {cv_mae:.4f} beats champion v{current.version} ({cur_mae:.4f}) on the same data"
    client.set_registered_model_alias(name, ALIAS, version)
    return True, why


def promote(name: str, version: str) -> None:
    """Point `champion` of a registered model at a version."""
    import mlflow

    mlflow.MlflowClient().set_registered_model_alias(name, ALIAS, str(version))


def list_models() -> list[dict]:
    """Every version of the sulfml models with its aliases, CV MAE and data hash."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    out = []
    for target, name in MODEL_NAMES.items():
        try:
            versions = client.search_model_versions(f"name='{name}'")
            # search results leave aliases empty; the registered model holds them
            aliases = client.get_registered_model(name).aliases
        except MlflowException:
            continue
        for v in sorted(versions, key=lambda v: int(v.version)):
            out.append({
                "name": name, "target": target, "version": int(v.version),
                "aliases": sorted(a for a, ver in aliases.items() if str(ver) == str(v.version)),
                "cv_mae": float(v.tags["cv_mae"]) if "cv_mae" in v.tags else None,
                "data_hash": v.tags.get("data_hash"), "run_id": v.run_id or v.tags.get("source_run_id"),
                "created": pd.Timestamp(v.creation_timestamp, unit="ms").isoformat(),
            })
    return out


def download_champions(dest: str | Path, alias: str = ALIAS) -> Path:
    """Copy the aliased version of both models, as bundle files, into `dest/<target>/`."""
    import mlflow

    dest = Path(dest)
    client = mlflow.MlflowClient()
    for target, name in MODEL_NAMES.items():
        mv = client.get_model_version_by_alias(name, alias)
        run_id = mv.tags.get("source_run_id") or mv.run_id
        out = dest / TARGET_DIRS[target]
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="bundle", dst_path=tmp))
            card = json.loads((src / CARD_FILE).read_text())
            card.update({"registered_version": int(mv.version), "alias": alias})
            (out / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True))
            for name in BUNDLE_FILES:
                if name != CARD_FILE:
                    (out / name).write_bytes((src / name).read_bytes())
    return dest
