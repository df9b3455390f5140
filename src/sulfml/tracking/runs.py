"""MLflow: one run per target, registered models, and the `champion` alias that predictions follow."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from sulfml.errors import StoreBusyError, StoreError, UserError
from sulfml.model.train import TargetModel
from sulfml.tracking.bundle import TARGET_DIRS, save_model, write_card
from sulfml.tracking.integrity import (
    CHECKSUMMED,
    BundleError,
    read_card,
    read_verified,
    scan_for_pickles,
)

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
    try:
        with _store_init_lock(resolved):
            # the first use of a sqlite store creates and migrates its tables: one process at a time
            retry_locked(mlflow.set_experiment, experiment)
            retry_locked(mlflow.MlflowClient().search_registered_models, max_results=1)
    except Exception as exc:
        if isinstance(exc, KeyboardInterrupt | UserError):
            raise
        reason = getattr(exc, "message", None) or str(exc)
        raise StoreError(f"cannot use the MLflow store {_masked(resolved)}: "
                                 f"{type(exc).__name__}: {' '.join(reason.split())[:300]}") from exc
    return resolved


def _masked(uri: str) -> str:
    """The URI with any password hidden."""
    import re

    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", uri)


@contextlib.contextmanager
def _store_init_lock(uri: str):
    """An exclusive lock on `<db>.lock` beside a local sqlite store (a no-op for other stores)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: rely on the retries alone
        yield
        return
    db = Path(uri[len(prefix):].split("?")[0])
    try:
        fh = open(db.with_name(db.name + ".lock"), "a")  # noqa: SIM115 - held for the block
    except OSError:  # e.g. no such directory: MLflow says so when it opens the store
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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
    version = retry_locked(mlflow.register_model, info.model_uri, MODEL_NAMES[tm.target],
                           tags={"data_hash": ts.data_hash, "run_id": run.info.run_id})
    client = mlflow.MlflowClient()
    retry_locked(client.set_model_version_tag, MODEL_NAMES[tm.target], version.version, "cv_mae",
                 repr(float(tm.cv.metrics['mae'])))
    retry_locked(client.set_model_version_tag, MODEL_NAMES[tm.target], version.version, "source_run_id",
                 run.info.run_id)
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
    retry_locked(client.set_registered_model_alias, name, ALIAS, version)
    return True, why


def promote(name: str, version: str) -> None:
    """Point `champion` of a registered model at a version."""
    import mlflow

    retry_locked(mlflow.MlflowClient().set_registered_model_alias, name, ALIAS, str(version))


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
    """Copy the aliased version of both models, as bundle files, into `dest/<target>/`.

    The registry's files are checked (no pickles, card schema, checksums) and the new bundle is built in a
    temporary directory beside `dest`, loaded once, then swapped into place in one step: a process killed
    at any point leaves `dest` as it was or fully replaced, never half written.

    Raises:
        MlflowException: no version holds the alias.
        BundleError: a registry artifact was tampered with or is damaged; `dest` is left untouched.
    """
    import mlflow

    from sulfml.tracking.bundle import Bundle

    dest = Path(dest)
    client = mlflow.MlflowClient()
    versions = {target: retry_locked(client.get_model_version_by_alias, name, alias)
                for target, name in MODEL_NAMES.items()}
    if dest.exists() and not dest.is_dir():
        raise BundleError(f"cannot export the models to {dest}: it is a file, not a directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f".{dest.name}.new-*"):  # left by an export killed an hour ago or more
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.new-", dir=dest.parent))
    try:
        if dest.is_dir():  # keep what is not ours (models/README.md)
            for item in dest.iterdir():
                if item.name in TARGET_DIRS.values():
                    continue
                if item.is_dir() and not item.is_symlink():
                    shutil.copytree(item, staging / item.name, symlinks=True)
                else:
                    shutil.copy2(item, staging / item.name, follow_symlinks=False)
        for target, mv in versions.items():
            _export_version(mv, staging / TARGET_DIRS[target], alias)
        Bundle.from_dir(staging)  # what lands in dest loads
        staging.chmod(0o755)
        _swap_into_place(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after the swap, this holds the previous bundle
    return dest


def _export_version(mv, out: Path, alias: str) -> None:
    """Download one registered version's bundle files into `out`, checked against its own card."""
    import mlflow

    run_id = mv.tags.get("source_run_id") or mv.run_id
    where = f"registry artifact {mv.name} v{mv.version} (run {run_id})"
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(retry_locked(mlflow.artifacts.download_artifacts, run_id=run_id, artifact_path="bundle",
                                dst_path=tmp))
        scan_for_pickles(src, where)
        card = read_card(src, where, "logged by an older sulfml; retrain to register a version with "
                                     "checksummed files")
        for name in CHECKSUMMED:
            (out / name).write_bytes(read_verified(src / name, card, where))
    card.update({"registered_version": int(mv.version), "alias": alias})
    write_card(card, out)


def _swap_into_place(new: Path, dest: Path) -> None:
    """Make `new` become `dest`; afterwards `new` holds the old `dest` (if there was one).

    On Linux, renameat2(RENAME_EXCHANGE) swaps the two directories atomically. Elsewhere two renames are
    used, with a window of microseconds in which `dest` is absent.
    """
    if not dest.exists():
        os.rename(new, dest)
        return
    if _exchange(new, dest):
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    os.rmdir(old)
    os.rename(dest, old)
    os.rename(new, dest)
    os.rename(old, new)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


T = TypeVar("T")
_RETRY_WAITS = (0.2, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0)


def _transient(exc: BaseException) -> bool:
    """A store error that goes away when retried: sqlite busy, or two processes racing to create one thing."""
    text = str(exc).lower()
    return any(s in text for s in ("database is locked", "database table is locked", "unable to open database",
                                   "already exists", "unique constraint failed"))


def retry_locked(fn: Callable[..., T], *args, **kwargs) -> T:
    """Call an MLflow function, retrying while a sqlite store is locked by another process.

    Two `sulfml train` processes writing one local sqlite store meet "database is locked" (and, on a fresh
    store, both create the same tables or experiment). Waits up to ~20 s in total, then raises a clear
    error instead of a traceback.
    """
    for wait in (*_RETRY_WAITS, None):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not _transient(exc):
                raise
            if wait is None:
                raise StoreBusyError(f"the MLflow store stayed locked by another process: {exc}") from exc
            time.sleep(wait)
    raise AssertionError("unreachable")

