"""Logging one target's training run: params, config, dataset, CV metrics, plots, the MLflow model and the
sulfml bundle files, and registering that model as a new version."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sulfml.model.train import TargetModel
from sulfml.tracking.bundle import TARGET_DIRS, save_model
from sulfml.tracking.registry import MODEL_NAMES
from sulfml.tracking.store import retry_locked


def _flat_params(tm: TargetModel) -> dict[str, object]:
    """The run's params: the target's XGBoost params (`xgb.*`) and what else identifies the fit."""
    cfg = tm.config
    params = {f"xgb.{k}": v for k, v in cfg.params.get(tm.target, {}).items() if k != "neural"}
    if tm.neural is not None:  # the network's parameters as it was trained (defaults filled in), and its share
        params.update({f"neural.{k}": v for k, v in tm.neural.weights.meta.get("params", {}).items()})
        params.update({"neural.blend": tm.neural.blend, "neural.weight": tm.neural.weight})
    params.update({
        "config.name": cfg.name, "config.digest": cfg.digest, "seed": cfg.seed, "preset": cfg.preset,
        "sources": ",".join(cfg.data.sources), "aggregation": cfg.data.aggregation,
        **({"extra_data": ",".join(Path(p).name for p in cfg.data.extra)} if cfg.data.extra else {}),
        "censoring": f"{cfg.censoring.strategy}:{cfg.censoring.log10_value}",
        "cv.n_splits": cfg.cv.n_splits, "cv.group_by": cfg.cv.group_by, "n_train": len(tm.training.y),
        "n_features": len(tm.feature_names),
    })
    return params


def log_training_run(tm: TargetModel, config_path: str | Path | None = None) -> tuple[str, str]:
    """Log one target's run, register its model, and return (run_id, registered version).

    The run holds params, the config file, the preset, the dataset (with its digest), the CV metrics,
    a parity plot, a feature-importance plot, the MLflow model (signature and input example, saved in
    XGBoost's JSON format: the trees alone), and the sulfml bundle files under `bundle/` (with the neural
    member's `network.npz` when the target has one; the pyfunc model serves the blend from them).
    """
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas  # `mlflow.data.from_pandas`, visible to mypy
    from mlflow.models import infer_signature

    from sulfml.model.plots import importance_plot, parity_plot

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
        dataset = from_pandas(frame.reset_index(drop=True), name=f"sulfml-{tm.target}", targets=tm.target)
        mlflow.log_input(dataset, context="training", tags={"data_hash": ts.data_hash})
        metrics = {f"cv_{k}": v for k, v in tm.cv.metrics.items() if np.isfinite(v)}
        if tm.neural is not None:  # `cv_*` are the blend's; the members' own out-of-fold MAEs beside them
            metrics |= {f"oof_mae_{member}": v for member, v in tm.neural.oof_mae.items()}
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
        if tm.neural is not None and tm.trees_cv is not None:  # y_oof is the blend of these two
            oof = oof.assign(y_oof_trees=tm.trees_cv.oof, y_oof_network=tm.neural.oof)
        oof_path = Path(tmp) / "cv_predictions.csv"
        oof.to_csv(oof_path, index=False)
        mlflow.log_artifact(str(oof_path), artifact_path="cv")
        card = tm.card() | {"registered_model": MODEL_NAMES[tm.target], "run_id": run.info.run_id}
        bundle_dir = save_model(tm.regressor, card, tm.domain, Path(tmp) / "bundle" / TARGET_DIRS[tm.target],
                                network=None if tm.neural is None else tm.neural.weights)
        mlflow.log_artifacts(str(bundle_dir), artifact_path="bundle")
        example = ts.X.head(3)
        regressor: Any = tm.regressor
        if hasattr(regressor, "neighbour_columns"):  # KnnFeatureRegressor: log its trees with their full input
            example = regressor.neighbour_columns(example)
        trees = getattr(regressor, "xgb_", regressor)  # the inner XGBRegressor of a kNN or bagged regressor
        info = mlflow.xgboost.log_model(
            trees, name="model", model_format="json", input_example=example,
            signature=infer_signature(example, trees.predict(example)),
        )
    version = retry_locked(mlflow.register_model, info.model_uri, MODEL_NAMES[tm.target],
                           tags={"data_hash": ts.data_hash, "run_id": run.info.run_id})
    client = mlflow.MlflowClient()
    retry_locked(client.set_model_version_tag, MODEL_NAMES[tm.target], version.version, "cv_mae",
                 repr(float(tm.cv.metrics['mae'])))
    retry_locked(client.set_model_version_tag, MODEL_NAMES[tm.target], version.version, "source_run_id",
                 run.info.run_id)
    return run.info.run_id, str(version.version)
